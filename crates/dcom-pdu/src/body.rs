//! The PDU bodies (C706 12.6.4, MS-RPCE 2.2.2): everything between the common header and the authentication
//! verifier.

use core::fmt;

use bytes::Bytes;
use uuid::{Uuid, uuid};

use crate::error::{PduError, PduErrorKind};
use crate::status::Status;
use crate::syntax::{BtfnBitmask, SyntaxId};
use crate::wire::{Reader, Writer, pad_to};

/// Largest count an 8-bit list count (`n_context_elem`, `n_transfer_syn`, `n_results`, `n_protocols`) holds.
const MAX_U8_COUNT: usize = u8::MAX as usize;

fn count_u8(len: usize, offset: usize, context: &'static str) -> Result<u8, PduError> {
    u8::try_from(len)
        .map_err(|_| PduError::new(PduErrorKind::TooManyElements { count: len, max: MAX_U8_COUNT }, offset, context))
}

/// rpcconn_request_hdr_t body (C706 12.6.4.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// `alloc_hint`: a hint of the total stub size of the call, never trusted as an allocation size.
    pub alloc_hint: u32,
    /// `p_cont_id`: presentation context.
    pub p_cont_id: u16,
    /// `opnum`.
    pub opnum: u16,
    /// `object`: present iff PFC_OBJECT_UUID is set (C706 12.6.4.9); the encoder sets the flag from this field.
    pub object: Option<Uuid>,
    /// Stub data (possibly sealed, possibly ending with a verification trailer), without auth padding.
    pub stub: Bytes,
}

impl Request {
    /// Offset of the stub from the start of the PDU: 24, or 40 with an object UUID.
    #[must_use]
    pub const fn stub_offset(&self) -> usize {
        if self.object.is_some() { 40 } else { 24 }
    }
}

/// rpcconn_response_hdr_t body (C706 12.6.4.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// `alloc_hint`.
    pub alloc_hint: u32,
    /// `p_cont_id`.
    pub p_cont_id: u16,
    /// `cancel_count`.
    pub cancel_count: u8,
    /// `reserved`: 0 when sent, kept as received.
    pub reserved: u8,
    /// Stub data without auth padding.
    pub stub: Bytes,
}

/// rpcconn_fault_hdr_t body (C706 12.6.4.7, MS-RPCE 2.2.2.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fault {
    /// `alloc_hint`.
    pub alloc_hint: u32,
    /// `p_cont_id`.
    pub p_cont_id: u16,
    /// `cancel_count`.
    pub cancel_count: u8,
    /// `reserved`; MS-RPCE 2.2.2.8: bit 0x01 flags extended error information in the stub.
    pub flags: u8,
    /// `status`.
    pub status: Status,
    /// `reserved2` (alignment padding): 0 when sent, kept as received.
    pub reserved2: u32,
    /// Stub data: MS-RPCE 2.2.2.8 extended error info, otherwise ignored by clients.
    pub stub: Bytes,
}

impl Fault {
    /// MS-RPCE 2.2.2.8: extended error information present.
    pub const FLAG_EXTENDED_ERROR_PRESENT: u8 = 0x01;

    /// A fault with `status` and no stub.
    #[must_use]
    pub const fn new(p_cont_id: u16, status: Status) -> Self {
        Self { alloc_hint: 0, p_cont_id, cancel_count: 0, flags: 0, status, reserved2: 0, stub: Bytes::new() }
    }

    /// Whether extended error information is flagged (MS-RPCE 2.2.2.8).
    #[must_use]
    pub const fn has_extended_error(&self) -> bool {
        self.flags & Self::FLAG_EXTENDED_ERROR_PRESENT != 0
    }
}

/// `p_cont_elem_t`: one presentation context offered in bind / alter_context (C706 12.6.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextElem {
    /// `p_cont_id`.
    pub p_cont_id: u16,
    /// `reserved` after `n_transfer_syn`: 0 when sent, kept as received.
    pub reserved: u8,
    /// `abstract_syntax`: the interface.
    pub abstract_syntax: SyntaxId,
    /// `transfer_syntaxes[n_transfer_syn]` (at most 255).
    pub transfer_syntaxes: Vec<SyntaxId>,
}

impl ContextElem {
    /// A context offering `transfer_syntaxes` for `abstract_syntax`.
    #[must_use]
    pub const fn new(p_cont_id: u16, abstract_syntax: SyntaxId, transfer_syntaxes: Vec<SyntaxId>) -> Self {
        Self { p_cont_id, reserved: 0, abstract_syntax, transfer_syntaxes }
    }

    fn size(&self) -> usize {
        4usize.saturating_add(SyntaxId::SIZE.saturating_mul(self.transfer_syntaxes.len().saturating_add(1)))
    }
}

/// `p_cont_list_t` (C706 12.6.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ContextList {
    /// `reserved` (u8) after `n_context_elem`.
    pub reserved: u8,
    /// `reserved2` (u16).
    pub reserved2: u16,
    /// `p_cont_elem[n_context_elem]` (at most 255).
    pub elems: Vec<ContextElem>,
}

impl ContextList {
    /// A list with zero reserved fields.
    #[must_use]
    pub const fn new(elems: Vec<ContextElem>) -> Self {
        Self { reserved: 0, reserved2: 0, elems }
    }

    fn size(&self) -> usize {
        self.elems.iter().fold(4usize, |acc, e| acc.saturating_add(e.size()))
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, PduError> {
        let n = r.u8("p_cont_list_t.n_context_elem")?;
        let reserved = r.u8("p_cont_list_t.reserved")?;
        let reserved2 = r.u16("p_cont_list_t.reserved2")?;
        // INVARIANT: n <= 255, so the capacity is bounded.
        let mut elems = Vec::with_capacity(usize::from(n).min(r.remaining() / (4 + 2 * SyntaxId::SIZE)));
        for _ in 0..n {
            let p_cont_id = r.u16("p_cont_elem_t.p_cont_id")?;
            let n_ts = r.u8("p_cont_elem_t.n_transfer_syn")?;
            let reserved = r.u8("p_cont_elem_t.reserved")?;
            let abstract_syntax = SyntaxId::read(r)?;
            let mut transfer_syntaxes = Vec::with_capacity(usize::from(n_ts).min(r.remaining() / SyntaxId::SIZE));
            for _ in 0..n_ts {
                transfer_syntaxes.push(SyntaxId::read(r)?);
            }
            elems.push(ContextElem { p_cont_id, reserved, abstract_syntax, transfer_syntaxes });
        }
        Ok(Self { reserved, reserved2, elems })
    }

    fn write(&self, w: &mut Writer<'_>, offset: usize) -> Result<(), PduError> {
        w.u8(count_u8(self.elems.len(), offset, "p_cont_list_t.n_context_elem")?);
        w.u8(self.reserved);
        w.u16(self.reserved2);
        for e in &self.elems {
            w.u16(e.p_cont_id);
            w.u8(count_u8(e.transfer_syntaxes.len(), offset, "p_cont_elem_t.n_transfer_syn")?);
            w.u8(e.reserved);
            e.abstract_syntax.write(w);
            for ts in &e.transfer_syntaxes {
                ts.write(w);
            }
        }
        Ok(())
    }
}

/// rpcconn_bind_hdr_t / rpcconn_alter_context_hdr_t body (C706 12.6.4.3, 12.6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bind {
    /// `max_xmit_frag`.
    pub max_xmit_frag: u16,
    /// `max_recv_frag`.
    pub max_recv_frag: u16,
    /// `assoc_group_id`.
    pub assoc_group_id: u32,
    /// `p_context_elem`.
    pub contexts: ContextList,
    /// Bytes after the context list and before the auth padding. Empty from conforming peers; impacket's
    /// third-leg alter_context repeats the p_cont_list here, which Windows tolerates.
    pub trailing: Bytes,
}

impl Bind {
    /// A bind body offering `contexts`.
    #[must_use]
    pub const fn new(max_xmit_frag: u16, max_recv_frag: u16, assoc_group_id: u32, contexts: Vec<ContextElem>) -> Self {
        Self {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            contexts: ContextList::new(contexts),
            trailing: Bytes::new(),
        }
    }

    fn size(&self) -> usize {
        8usize.saturating_add(self.contexts.size()).saturating_add(self.trailing.len())
    }
}

/// `p_cont_def_result_t`: the result of one offered context (C706 12.6.3.1, MS-RPCE 2.2.2.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResultCode(pub u16);

impl ResultCode {
    /// acceptance (0).
    pub const ACCEPTANCE: Self = Self(0);
    /// user_rejection (1).
    pub const USER_REJECTION: Self = Self(1);
    /// provider_rejection (2).
    pub const PROVIDER_REJECTION: Self = Self(2);
    /// negotiate_ack (3): answer to a bind-time feature negotiation offer (MS-RPCE 2.2.2.4).
    pub const NEGOTIATE_ACK: Self = Self(3);

    /// The name, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "acceptance",
            1 => "user_rejection",
            2 => "provider_rejection",
            3 => "negotiate_ack",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResultCode({}: {})", self.0, self.name())
    }
}

/// `p_provider_reason_t` (C706 12.6.3.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderReason(pub u16);

impl ProviderReason {
    /// reason_not_specified (0).
    pub const NOT_SPECIFIED: Self = Self(0);
    /// abstract_syntax_not_supported (1).
    pub const ABSTRACT_SYNTAX_NOT_SUPPORTED: Self = Self(1);
    /// proposed_transfer_syntaxes_not_supported (2).
    pub const PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED: Self = Self(2);
    /// local_limit_exceeded (3).
    pub const LOCAL_LIMIT_EXCEEDED: Self = Self(3);

    /// The name, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "reason_not_specified",
            1 => "abstract_syntax_not_supported",
            2 => "proposed_transfer_syntaxes_not_supported",
            3 => "local_limit_exceeded",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for ProviderReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderReason({}: {})", self.0, self.name())
    }
}

/// `p_result_t` (C706 12.6.3.1, MS-RPCE 2.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextResult {
    /// `result`.
    pub result: ResultCode,
    /// `reason`: a [`ProviderReason`], or for `negotiate_ack` the accepted BTFN bitmask (MS-RPCE 2.2.2.4).
    pub reason: u16,
    /// `transfer_syntax`: the accepted syntax, zero otherwise.
    pub transfer_syntax: SyntaxId,
}

impl ContextResult {
    /// Acceptance of `transfer_syntax`.
    #[must_use]
    pub const fn accept(transfer_syntax: SyntaxId) -> Self {
        Self { result: ResultCode::ACCEPTANCE, reason: 0, transfer_syntax }
    }

    /// Provider rejection for `reason`.
    #[must_use]
    pub const fn reject(reason: ProviderReason) -> Self {
        Self { result: ResultCode::PROVIDER_REJECTION, reason: reason.0, transfer_syntax: SyntaxId::NIL }
    }

    /// negotiate_ack carrying the accepted feature bits in `reason` (MS-RPCE 3.3.1.5.3).
    #[must_use]
    pub const fn negotiate_ack(bitmask: u16) -> Self {
        Self { result: ResultCode::NEGOTIATE_ACK, reason: bitmask, transfer_syntax: SyntaxId::NIL }
    }

    /// The provider reason (meaningful for rejections).
    #[must_use]
    pub const fn provider_reason(&self) -> ProviderReason {
        ProviderReason(self.reason)
    }

    /// For a negotiate_ack, the accepted bind-time features.
    #[must_use]
    pub const fn btfn_bitmask(&self) -> Option<BtfnBitmask> {
        if self.result.0 == ResultCode::NEGOTIATE_ACK.0 { Some(BtfnBitmask(self.reason as u64)) } else { None }
    }
}

/// `p_result_list_t` (C706 12.6.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResultList {
    /// `reserved` (u8) after `n_results`.
    pub reserved: u8,
    /// `reserved2` (u16).
    pub reserved2: u16,
    /// `p_results[n_results]` (at most 255).
    pub results: Vec<ContextResult>,
}

impl ResultList {
    /// A list with zero reserved fields.
    #[must_use]
    pub const fn new(results: Vec<ContextResult>) -> Self {
        Self { reserved: 0, reserved2: 0, results }
    }
}

/// rpcconn_bind_ack_hdr_t / rpcconn_alter_context_response_hdr_t body (C706 12.6.4.4, 12.6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindAck {
    /// `max_xmit_frag`.
    pub max_xmit_frag: u16,
    /// `max_recv_frag`.
    pub max_recv_frag: u16,
    /// `assoc_group_id`.
    pub assoc_group_id: u32,
    /// `sec_addr.port_spec`: the secondary address (port as ASCII digits with a trailing NUL, or empty), without
    /// its length prefix (`port_any_t`, C706 12.6.3.1).
    pub sec_addr: Bytes,
    /// The padding octets that align the result list to 4; written as zeros when their length does not match the
    /// required alignment (for example after `sec_addr` was changed).
    pub sec_addr_padding: Bytes,
    /// `p_result_list`.
    pub results: ResultList,
    /// Bytes after the result list and before the auth padding (none from conforming peers).
    pub trailing: Bytes,
}

impl BindAck {
    /// A bind_ack body.
    #[must_use]
    pub const fn new(
        max_xmit_frag: u16,
        max_recv_frag: u16,
        assoc_group_id: u32,
        sec_addr: Bytes,
        results: Vec<ContextResult>,
    ) -> Self {
        Self {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            sec_addr,
            sec_addr_padding: Bytes::new(),
            results: ResultList::new(results),
            trailing: Bytes::new(),
        }
    }

    /// The port_spec without its trailing NUL, if it is ASCII.
    #[must_use]
    pub fn sec_addr_str(&self) -> Option<&str> {
        let s = self.sec_addr.strip_suffix(&[0u8]).unwrap_or(&self.sec_addr);
        core::str::from_utf8(s).ok()
    }

    fn pad_len(&self) -> usize {
        // C706 12.6.4.4: "pad: restore 4-octet alignment" after port_any_t, counted from the start of the PDU
        // (the header is 16 bytes, the fixed fields 8, the port_any_t length 2).
        pad_to(26usize.saturating_add(self.sec_addr.len()), 4)
    }

    fn size(&self) -> usize {
        10usize
            .saturating_add(self.sec_addr.len())
            .saturating_add(self.pad_len())
            .saturating_add(4)
            .saturating_add(self.results.results.len().saturating_mul(4 + SyntaxId::SIZE))
            .saturating_add(self.trailing.len())
    }
}

/// `version_t`: a protocol version in bind_nak (C706 12.6.3.1, MS-RPCE 2.2.1.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// `major`.
    pub major: u8,
    /// `minor`.
    pub minor: u8,
}

/// `p_reject_reason_t` of bind_nak (C706 12.6.3.1, MS-RPCE 2.2.2.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RejectReason(pub u16);

impl RejectReason {
    /// REASON_NOT_SPECIFIED (0).
    pub const NOT_SPECIFIED: Self = Self(0);
    /// TEMPORARY_CONGESTION (1).
    pub const TEMPORARY_CONGESTION: Self = Self(1);
    /// LOCAL_LIMIT_EXCEEDED (2).
    pub const LOCAL_LIMIT_EXCEEDED: Self = Self(2);
    /// CALLED_PADDR_UNKNOWN (3).
    pub const CALLED_PADDR_UNKNOWN: Self = Self(3);
    /// PROTOCOL_VERSION_NOT_SUPPORTED (4).
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: Self = Self(4);
    /// DEFAULT_CONTEXT_NOT_SUPPORTED (5).
    pub const DEFAULT_CONTEXT_NOT_SUPPORTED: Self = Self(5);
    /// USER_DATA_NOT_READABLE (6).
    pub const USER_DATA_NOT_READABLE: Self = Self(6);
    /// NO_PSAP_AVAILABLE (7).
    pub const NO_PSAP_AVAILABLE: Self = Self(7);
    /// AUTHENTICATION_TYPE_NOT_RECOGNIZED (8), MS-RPCE 2.2.2.5.
    pub const AUTHENTICATION_TYPE_NOT_RECOGNIZED: Self = Self(8);
    /// INVALID_CHECKSUM (9), MS-RPCE 2.2.2.5.
    pub const INVALID_CHECKSUM: Self = Self(9);

    /// The name, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "reason_not_specified",
            1 => "temporary_congestion",
            2 => "local_limit_exceeded",
            3 => "called_paddr_unknown",
            4 => "protocol_version_not_supported",
            5 => "default_context_not_supported",
            6 => "user_data_not_readable",
            7 => "no_psap_available",
            8 => "authentication_type_not_recognized",
            9 => "invalid_checksum",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RejectReason({}: {})", self.0, self.name())
    }
}

/// rpcconn_bind_nak_hdr_t body (C706 12.6.4.5, MS-RPCE 2.2.2.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindNak {
    /// `provider_reject_reason`.
    pub provider_reject_reason: RejectReason,
    /// `versions` (`p_rt_versions_supported_t`); `None` when the PDU ends after the reject reason, as Samba
    /// sends for reasons other than protocol_version_not_supported.
    pub versions: Option<Vec<Version>>,
    /// MS-RPCE 2.2.2.9 optional `Signature`: present when at least 16 bytes follow the versions.
    pub signature: Option<Uuid>,
    /// Bytes after the signature: extended error information (MS-EERR) when the signature says so.
    pub trailing: Bytes,
}

impl BindNak {
    /// MS-RPCE 2.2.1.1.2: signature announcing extended error information.
    pub const EXTENDED_ERROR_SIGNATURE: Uuid = uuid!("90740320-fad0-11d3-82d7-009027b130ab");

    /// A bind_nak listing version 5.0 as supported (C706 12.6.4.5).
    #[must_use]
    pub fn new(reason: RejectReason) -> Self {
        Self {
            provider_reject_reason: reason,
            versions: Some(vec![Version { major: 5, minor: 0 }]),
            signature: None,
            trailing: Bytes::new(),
        }
    }

    /// Whether the signature announces extended error information (MS-RPCE 2.2.1.1.2).
    #[must_use]
    pub fn has_extended_error(&self) -> bool {
        self.signature == Some(Self::EXTENDED_ERROR_SIGNATURE)
    }

    fn size(&self) -> usize {
        let versions = self.versions.as_ref().map_or(0, |v| v.len().saturating_mul(2).saturating_add(1));
        2usize
            .saturating_add(versions)
            .saturating_add(if self.signature.is_some() { 16 } else { 0 })
            .saturating_add(self.trailing.len())
    }
}

/// rpcconn_rpc_auth_3_hdr_t body (MS-RPCE 2.2.2.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Auth3 {
    /// `pad` (4 bytes): any value, ignored on receipt (Windows writes its max_xmit_frag / max_recv_frag).
    pub pad: [u8; 4],
    /// Bytes after `pad` and before the auth padding (none from conforming peers).
    pub trailing: Bytes,
}

impl Default for Auth3 {
    fn default() -> Self {
        Self { pad: [0; 4], trailing: Bytes::new() }
    }
}

/// Body of a PDU that has only a header and an optional verifier: shutdown (C706 12.6.4.11), co_cancel
/// (12.6.4.6), orphaned (12.6.4.8). `trailing` keeps unexpected body bytes for exact re-encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Empty {
    /// Body bytes (none from conforming peers).
    pub trailing: Bytes,
}

/// The body of a connection-oriented PDU, by packet type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PduBody {
    /// request (0).
    Request(Request),
    /// response (2).
    Response(Response),
    /// fault (3).
    Fault(Fault),
    /// bind (11).
    Bind(Bind),
    /// bind_ack (12).
    BindAck(BindAck),
    /// bind_nak (13).
    BindNak(BindNak),
    /// alter_context (14): same layout as bind.
    AlterContext(Bind),
    /// alter_context_resp (15): same layout as bind_ack.
    AlterContextResp(BindAck),
    /// rpc_auth_3 (16).
    Auth3(Auth3),
    /// shutdown (17).
    Shutdown(Empty),
    /// co_cancel (18).
    CoCancel(Empty),
    /// orphaned (19).
    Orphaned(Empty),
}

impl PduBody {
    /// The packet type of this body.
    #[must_use]
    pub const fn ptype(&self) -> crate::PacketType {
        use crate::PacketType as T;
        match self {
            Self::Request(_) => T::REQUEST,
            Self::Response(_) => T::RESPONSE,
            Self::Fault(_) => T::FAULT,
            Self::Bind(_) => T::BIND,
            Self::BindAck(_) => T::BIND_ACK,
            Self::BindNak(_) => T::BIND_NAK,
            Self::AlterContext(_) => T::ALTER_CONTEXT,
            Self::AlterContextResp(_) => T::ALTER_CONTEXT_RESP,
            Self::Auth3(_) => T::AUTH3,
            Self::Shutdown(_) => T::SHUTDOWN,
            Self::CoCancel(_) => T::CO_CANCEL,
            Self::Orphaned(_) => T::ORPHANED,
        }
    }

    /// Size of the fixed part of a body of type `ptype` (what must precede any auth padding), given the
    /// PFC_OBJECT_UUID flag; `None` for types this codec does not decode.
    pub(crate) const fn fixed_size(ptype: crate::PacketType, object_uuid: bool) -> Option<usize> {
        Some(match ptype.0 {
            0 => {
                if object_uuid {
                    24
                } else {
                    8
                }
            }
            2 => 8,
            3 => 16,
            11 | 14 => 12,
            12 | 15 => 14,
            13 => 2,
            16 => 4,
            17..=19 => 0,
            _ => return None,
        })
    }

    /// Encoded size of the body.
    #[must_use]
    pub fn size(&self) -> usize {
        match self {
            Self::Request(b) => (b.stub_offset() - 16).saturating_add(b.stub.len()),
            Self::Response(b) => 8usize.saturating_add(b.stub.len()),
            Self::Fault(b) => 16usize.saturating_add(b.stub.len()),
            Self::Bind(b) | Self::AlterContext(b) => b.size(),
            Self::BindAck(b) | Self::AlterContextResp(b) => b.size(),
            Self::BindNak(b) => b.size(),
            Self::Auth3(b) => 4usize.saturating_add(b.trailing.len()),
            Self::Shutdown(b) | Self::CoCancel(b) | Self::Orphaned(b) => b.trailing.len(),
        }
    }

    /// Decodes the body of type `ptype` from `frame[start..end]`; slices share `frame`'s buffer.
    pub(crate) fn decode(
        frame: &Bytes,
        start: usize,
        end: usize,
        ptype: crate::PacketType,
        object_uuid: bool,
        order: crate::ByteOrder,
    ) -> Result<Self, PduError> {
        let region = frame.get(start..end).ok_or_else(|| {
            PduError::new(PduErrorKind::Truncated { needed: end.saturating_sub(start), available: 0 }, start, "body")
        })?;
        let mut r = Reader::new(region, start, order);
        let rest = |r: &Reader<'_>| frame.slice(r.pos()..end);
        let body = match ptype.0 {
            0 => {
                let alloc_hint = r.u32("request.alloc_hint")?;
                let p_cont_id = r.u16("request.p_cont_id")?;
                let opnum = r.u16("request.opnum")?;
                // C706 12.6.4.9: the object field is present iff PFC_OBJECT_UUID is set.
                let object = if object_uuid { Some(r.uuid("request.object")?) } else { None };
                Self::Request(Request { alloc_hint, p_cont_id, opnum, object, stub: rest(&r) })
            }
            2 => {
                let alloc_hint = r.u32("response.alloc_hint")?;
                let p_cont_id = r.u16("response.p_cont_id")?;
                let cancel_count = r.u8("response.cancel_count")?;
                let reserved = r.u8("response.reserved")?;
                Self::Response(Response { alloc_hint, p_cont_id, cancel_count, reserved, stub: rest(&r) })
            }
            3 => {
                let alloc_hint = r.u32("fault.alloc_hint")?;
                let p_cont_id = r.u16("fault.p_cont_id")?;
                let cancel_count = r.u8("fault.cancel_count")?;
                let flags = r.u8("fault.reserved")?;
                let status = Status(r.u32("fault.status")?);
                let reserved2 = r.u32("fault.reserved2")?;
                Self::Fault(Fault { alloc_hint, p_cont_id, cancel_count, flags, status, reserved2, stub: rest(&r) })
            }
            11 | 14 => {
                let max_xmit_frag = r.u16("bind.max_xmit_frag")?;
                let max_recv_frag = r.u16("bind.max_recv_frag")?;
                let assoc_group_id = r.u32("bind.assoc_group_id")?;
                let contexts = ContextList::read(&mut r)?;
                let b = Bind { max_xmit_frag, max_recv_frag, assoc_group_id, contexts, trailing: rest(&r) };
                if ptype.0 == 11 { Self::Bind(b) } else { Self::AlterContext(b) }
            }
            12 | 15 => {
                let max_xmit_frag = r.u16("bind_ack.max_xmit_frag")?;
                let max_recv_frag = r.u16("bind_ack.max_recv_frag")?;
                let assoc_group_id = r.u32("bind_ack.assoc_group_id")?;
                let sec_len = r.u16("bind_ack.sec_addr.length")?;
                let sec_start = r.pos();
                r.take(usize::from(sec_len), "bind_ack.sec_addr.port_spec")?;
                let sec_addr = frame.slice(sec_start..r.pos());
                let pad_start = r.pos();
                r.take(pad_to(pad_start, 4), "bind_ack.pad")?;
                let sec_addr_padding = frame.slice(pad_start..r.pos());
                let n = r.u8("p_result_list_t.n_results")?;
                let reserved = r.u8("p_result_list_t.reserved")?;
                let reserved2 = r.u16("p_result_list_t.reserved2")?;
                let mut results = Vec::with_capacity(usize::from(n).min(r.remaining() / (4 + SyntaxId::SIZE)));
                for _ in 0..n {
                    let result = ResultCode(r.u16("p_result_t.result")?);
                    let reason = r.u16("p_result_t.reason")?;
                    let transfer_syntax = SyntaxId::read(&mut r)?;
                    results.push(ContextResult { result, reason, transfer_syntax });
                }
                let b = BindAck {
                    max_xmit_frag,
                    max_recv_frag,
                    assoc_group_id,
                    sec_addr,
                    sec_addr_padding,
                    results: ResultList { reserved, reserved2, results },
                    trailing: rest(&r),
                };
                if ptype.0 == 12 { Self::BindAck(b) } else { Self::AlterContextResp(b) }
            }
            13 => {
                let provider_reject_reason = RejectReason(r.u16("bind_nak.provider_reject_reason")?);
                let versions = if r.remaining() == 0 {
                    None
                } else {
                    let n = r.u8("p_rt_versions_supported_t.n_protocols")?;
                    let mut v = Vec::with_capacity(usize::from(n).min(r.remaining() / 2));
                    for _ in 0..n {
                        let major = r.u8("version_t.major")?;
                        let minor = r.u8("version_t.minor")?;
                        v.push(Version { major, minor });
                    }
                    Some(v)
                };
                // MS-RPCE 2.2.2.9: the Signature is present iff frag_length >= L + 16.
                let signature = if r.remaining() >= 16 { Some(r.uuid("bind_nak.signature")?) } else { None };
                Self::BindNak(BindNak { provider_reject_reason, versions, signature, trailing: rest(&r) })
            }
            16 => {
                let pad = r.array::<4>("auth3.pad")?;
                Self::Auth3(Auth3 { pad, trailing: rest(&r) })
            }
            17 => Self::Shutdown(Empty { trailing: rest(&r) }),
            18 => Self::CoCancel(Empty { trailing: rest(&r) }),
            19 => Self::Orphaned(Empty { trailing: rest(&r) }),
            other => {
                return Err(PduError::new(PduErrorKind::UnsupportedPacketType { ptype: other }, 2, "ptype"));
            }
        };
        Ok(body)
    }

    /// Appends the body; `offset` is the PDU-relative offset where it starts (16), for error reports.
    pub(crate) fn encode(&self, w: &mut Writer<'_>, offset: usize) -> Result<(), PduError> {
        match self {
            Self::Request(b) => {
                w.u32(b.alloc_hint);
                w.u16(b.p_cont_id);
                w.u16(b.opnum);
                if let Some(object) = &b.object {
                    w.uuid(object);
                }
                w.bytes(&b.stub);
            }
            Self::Response(b) => {
                w.u32(b.alloc_hint);
                w.u16(b.p_cont_id);
                w.u8(b.cancel_count);
                w.u8(b.reserved);
                w.bytes(&b.stub);
            }
            Self::Fault(b) => {
                w.u32(b.alloc_hint);
                w.u16(b.p_cont_id);
                w.u8(b.cancel_count);
                w.u8(b.flags);
                w.u32(b.status.0);
                w.u32(b.reserved2);
                w.bytes(&b.stub);
            }
            Self::Bind(b) | Self::AlterContext(b) => {
                w.u16(b.max_xmit_frag);
                w.u16(b.max_recv_frag);
                w.u32(b.assoc_group_id);
                b.contexts.write(w, offset)?;
                w.bytes(&b.trailing);
            }
            Self::BindAck(b) | Self::AlterContextResp(b) => {
                w.u16(b.max_xmit_frag);
                w.u16(b.max_recv_frag);
                w.u32(b.assoc_group_id);
                let len = u16::try_from(b.sec_addr.len()).map_err(|_| {
                    PduError::new(PduErrorKind::LengthOverflow { len: b.sec_addr.len() }, offset, "bind_ack.sec_addr")
                })?;
                w.u16(len);
                w.bytes(&b.sec_addr);
                let pad = b.pad_len();
                if b.sec_addr_padding.len() == pad {
                    w.bytes(&b.sec_addr_padding);
                } else {
                    w.zeros(pad);
                }
                w.u8(count_u8(b.results.results.len(), offset, "p_result_list_t.n_results")?);
                w.u8(b.results.reserved);
                w.u16(b.results.reserved2);
                for res in &b.results.results {
                    w.u16(res.result.0);
                    w.u16(res.reason);
                    res.transfer_syntax.write(w);
                }
                w.bytes(&b.trailing);
            }
            Self::BindNak(b) => {
                w.u16(b.provider_reject_reason.0);
                if let Some(versions) = &b.versions {
                    w.u8(count_u8(versions.len(), offset, "p_rt_versions_supported_t.n_protocols")?);
                    for v in versions {
                        w.u8(v.major);
                        w.u8(v.minor);
                    }
                }
                if let Some(sig) = &b.signature {
                    w.uuid(sig);
                }
                w.bytes(&b.trailing);
            }
            Self::Auth3(b) => {
                w.bytes(&b.pad);
                w.bytes(&b.trailing);
            }
            Self::Shutdown(b) | Self::CoCancel(b) | Self::Orphaned(b) => w.bytes(&b.trailing),
        }
        Ok(())
    }
}

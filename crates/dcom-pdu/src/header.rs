//! The 16-byte common header of every connection-oriented PDU (C706 12.6.1, MS-RPCE 2.2.2.1-2.2.2.3).

use core::fmt;

use crate::error::{PduError, PduErrorKind};
use crate::wire::Reader;

/// Integer byte order selected by the high nibble of `drep[0]` (C706 14.1, NDR format label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Integer representation 0.
    Big,
    /// Integer representation 1.
    Little,
}

/// The 4-byte data representation format label `packed_drep` (C706 14.1).
///
/// All four bytes are kept as received so that a decoded header re-encodes identically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRep(pub [u8; 4]);

impl DataRep {
    /// Little-endian integers, ASCII characters, IEEE floats: what Windows sends.
    pub const LITTLE_ENDIAN: Self = Self([0x10, 0, 0, 0]);
    /// Big-endian integers, ASCII characters, IEEE floats.
    pub const BIG_ENDIAN: Self = Self([0x00, 0, 0, 0]);

    /// The label for `order` with ASCII characters and IEEE floats.
    #[must_use]
    pub const fn for_order(order: ByteOrder) -> Self {
        match order {
            ByteOrder::Big => Self::BIG_ENDIAN,
            ByteOrder::Little => Self::LITTLE_ENDIAN,
        }
    }

    /// The integer byte order, or `None` if the high nibble of `drep[0]` is neither 0 nor 1 (C706 14.1).
    #[must_use]
    pub const fn byte_order(self) -> Option<ByteOrder> {
        match self.0[0] >> 4 {
            0 => Some(ByteOrder::Big),
            1 => Some(ByteOrder::Little),
            _ => None,
        }
    }

    /// Character representation, low nibble of `drep[0]`: 0 ASCII, 1 EBCDIC.
    #[must_use]
    pub const fn char_rep(self) -> u8 {
        self.0[0] & 0x0f
    }

    /// Floating-point representation `drep[1]`: 0 IEEE, 1 VAX, 2 Cray, 3 IBM.
    #[must_use]
    pub const fn float_rep(self) -> u8 {
        self.0[1]
    }
}

/// `PTYPE`: the packet type (C706 12.6.4 and MS-RPCE 2.2.2.10 for rpc_auth_3).
///
/// An open newtype: values a peer may send that this codec does not know are representable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketType(pub u8);

impl PacketType {
    /// request (0).
    pub const REQUEST: Self = Self(0);
    /// ping (1), connectionless only.
    pub const PING: Self = Self(1);
    /// response (2).
    pub const RESPONSE: Self = Self(2);
    /// fault (3).
    pub const FAULT: Self = Self(3);
    /// working (4), connectionless only.
    pub const WORKING: Self = Self(4);
    /// nocall (5), connectionless only.
    pub const NOCALL: Self = Self(5);
    /// reject (6), connectionless only.
    pub const REJECT: Self = Self(6);
    /// ack (7), connectionless only.
    pub const ACK: Self = Self(7);
    /// cl_cancel (8), connectionless only.
    pub const CL_CANCEL: Self = Self(8);
    /// fack (9), connectionless only.
    pub const FACK: Self = Self(9);
    /// cancel_ack (10), connectionless only.
    pub const CANCEL_ACK: Self = Self(10);
    /// bind (11).
    pub const BIND: Self = Self(11);
    /// bind_ack (12).
    pub const BIND_ACK: Self = Self(12);
    /// bind_nak (13).
    pub const BIND_NAK: Self = Self(13);
    /// alter_context (14).
    pub const ALTER_CONTEXT: Self = Self(14);
    /// alter_context_resp (15).
    pub const ALTER_CONTEXT_RESP: Self = Self(15);
    /// rpc_auth_3 (16), MS-RPCE 2.2.2.10.
    pub const AUTH3: Self = Self(16);
    /// shutdown (17).
    pub const SHUTDOWN: Self = Self(17);
    /// co_cancel (18).
    pub const CO_CANCEL: Self = Self(18);
    /// orphaned (19).
    pub const ORPHANED: Self = Self(19);
    /// rts (20), MS-RPCH 2.2.3.6.1 (RPC over HTTP only).
    pub const RTS: Self = Self(20);

    /// The C706 name of the packet type, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "request",
            1 => "ping",
            2 => "response",
            3 => "fault",
            4 => "working",
            5 => "nocall",
            6 => "reject",
            7 => "ack",
            8 => "cl_cancel",
            9 => "fack",
            10 => "cancel_ack",
            11 => "bind",
            12 => "bind_ack",
            13 => "bind_nak",
            14 => "alter_context",
            15 => "alter_context_resp",
            16 => "auth3",
            17 => "shutdown",
            18 => "co_cancel",
            19 => "orphaned",
            20 => "rts",
            _ => "unknown",
        }
    }

    /// bind, bind_ack, alter_context and alter_context_resp: the PDUs on which flag 0x04 means
    /// PFC_SUPPORT_HEADER_SIGN rather than PFC_PENDING_CANCEL (MS-RPCE 2.2.2.3).
    #[must_use]
    pub const fn is_bind_family(self) -> bool {
        matches!(self.0, 11 | 12 | 14 | 15)
    }

    /// Whether this codec decodes the type as a connection-oriented PDU.
    #[must_use]
    pub const fn is_connection_oriented(self) -> bool {
        matches!(self.0, 0 | 2 | 3 | 11..=19)
    }
}

impl fmt::Debug for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PacketType({}: {})", self.0, self.name())
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `pfc_flags` (C706 12.6.3.1, MS-RPCE 2.2.2.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PfcFlags(pub u8);

impl PfcFlags {
    /// First fragment of a call.
    pub const FIRST_FRAG: Self = Self(0x01);
    /// Last fragment of a call.
    pub const LAST_FRAG: Self = Self(0x02);
    /// 0x04 on PDUs other than bind, bind_ack, alter_context, alter_context_resp: a cancel was pending at the
    /// sender (C706 12.6.3.1).
    pub const PENDING_CANCEL: Self = Self(0x04);
    /// 0x04 on bind, bind_ack, alter_context, alter_context_resp: the sender supports header signing
    /// (MS-RPCE 2.2.2.3).
    pub const SUPPORT_HEADER_SIGN: Self = Self(0x04);
    /// Reserved (0x08).
    pub const RESERVED_1: Self = Self(0x08);
    /// Concurrent multiplexing of calls on the association (0x10).
    pub const CONC_MPX: Self = Self(0x10);
    /// On fault PDUs: the call did not execute (0x20).
    pub const DID_NOT_EXECUTE: Self = Self(0x20);
    /// `maybe` call semantics (0x40).
    pub const MAYBE: Self = Self(0x40);
    /// A request carries an object UUID after the opnum (0x80).
    pub const OBJECT_UUID: Self = Self(0x80);
    /// A single-fragment PDU: FIRST_FRAG | LAST_FRAG.
    pub const FIRST_AND_LAST: Self = Self(0x03);

    /// Whether every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both flag sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` with the bits of `other` cleared.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// `self` with the bits of `other` set or cleared.
    #[must_use]
    pub const fn with(self, other: Self, on: bool) -> Self {
        if on { self.union(other) } else { self.difference(other) }
    }
}

impl fmt::Debug for PfcFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PfcFlags({:#04x})", self.0)
    }
}

/// The common header (C706 12.6.1): `rpc_vers`, `rpc_vers_minor`, `PTYPE`, `pfc_flags`, `packed_drep`,
/// `frag_length`, `auth_length`, `call_id`. Multi-byte fields follow the byte order of `drep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// `rpc_vers`: 5.
    pub rpc_vers: u8,
    /// `rpc_vers_minor`: 0 or 1.
    pub rpc_vers_minor: u8,
    /// `PTYPE`.
    pub ptype: PacketType,
    /// `pfc_flags`.
    pub pfc_flags: PfcFlags,
    /// `packed_drep`.
    pub drep: DataRep,
    /// `frag_length`: total PDU length including this header.
    pub frag_len: u16,
    /// `auth_length`: length of the auth_value (not counting the 8-byte sec_trailer).
    pub auth_len: u16,
    /// `call_id`.
    pub call_id: u32,
}

impl Header {
    /// Size of the common header.
    pub const SIZE: usize = 16;

    /// A version 5.0 little-endian header with zero lengths.
    #[must_use]
    pub const fn new(ptype: PacketType, pfc_flags: PfcFlags, call_id: u32) -> Self {
        Self {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype,
            pfc_flags,
            drep: DataRep::LITTLE_ENDIAN,
            frag_len: 0,
            auth_len: 0,
            call_id,
        }
    }

    /// The byte order of multi-byte fields; `Little` if `drep` is invalid (only possible for a header built by hand).
    #[must_use]
    pub const fn byte_order(&self) -> ByteOrder {
        match self.drep.byte_order() {
            Some(order) => order,
            None => ByteOrder::Little,
        }
    }

    /// PFC_SUPPORT_HEADER_SIGN: bit 0x04 on bind, bind_ack, alter_context, alter_context_resp (MS-RPCE 2.2.2.3).
    #[must_use]
    pub const fn support_header_sign(&self) -> bool {
        self.ptype.is_bind_family() && self.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN)
    }

    /// PFC_PENDING_CANCEL: bit 0x04 on every other PDU type (C706 12.6.3.1, MS-RPCE 2.2.2.3).
    #[must_use]
    pub const fn pending_cancel(&self) -> bool {
        !self.ptype.is_bind_family() && self.pfc_flags.contains(PfcFlags::PENDING_CANCEL)
    }

    /// PFC_FIRST_FRAG.
    #[must_use]
    pub const fn is_first_frag(&self) -> bool {
        self.pfc_flags.contains(PfcFlags::FIRST_FRAG)
    }

    /// PFC_LAST_FRAG.
    #[must_use]
    pub const fn is_last_frag(&self) -> bool {
        self.pfc_flags.contains(PfcFlags::LAST_FRAG)
    }

    /// Decodes and validates the first 16 bytes of `buf` (which may be longer).
    ///
    /// Checks `rpc_vers` 5 and `rpc_vers_minor` 0|1 (C706 12.6.1, MS-RPCE 1.7), the integer representation
    /// in `drep[0]` (C706 14.1) and `frag_length >= 16`. The packet type is not checked here.
    pub fn decode(buf: &[u8]) -> Result<Self, PduError> {
        // The byte order is needed before the lengths can be read: read the fixed single-byte fields first.
        let mut r = Reader::new(buf, 0, ByteOrder::Little);
        let rpc_vers = r.u8("rpc_vers")?;
        let rpc_vers_minor = r.u8("rpc_vers_minor")?;
        let ptype = PacketType(r.u8("ptype")?);
        let pfc_flags = PfcFlags(r.u8("pfc_flags")?);
        let drep = DataRep(r.array::<4>("packed_drep")?);
        // C706 12.6.1: rpc_vers 5; MS-RPCE 1.7: rpc_vers_minor 0 or 1.
        if rpc_vers != 5 || rpc_vers_minor > 1 {
            return Err(PduError::new(
                PduErrorKind::UnsupportedVersion { major: rpc_vers, minor: rpc_vers_minor },
                0,
                "common header",
            ));
        }
        let Some(order) = drep.byte_order() else {
            return Err(PduError::new(PduErrorKind::InvalidDataRep { drep0: drep.0[0] }, 4, "packed_drep"));
        };
        let mut r = Reader::new(r.rest(), r.pos(), order);
        let frag_len = r.u16("frag_length")?;
        let auth_len = r.u16("auth_length")?;
        let call_id = r.u32("call_id")?;
        if usize::from(frag_len) < Self::SIZE {
            return Err(PduError::new(PduErrorKind::FragLenTooSmall { frag_len }, 8, "frag_length"));
        }
        Ok(Self { rpc_vers, rpc_vers_minor, ptype, pfc_flags, drep, frag_len, auth_len, call_id })
    }

    /// Appends the 16 header bytes exactly as the fields say (no length is recomputed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 16 header bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 16] {
        let (frag_len, auth_len, call_id) = match self.byte_order() {
            ByteOrder::Little => (self.frag_len.to_le_bytes(), self.auth_len.to_le_bytes(), self.call_id.to_le_bytes()),
            ByteOrder::Big => (self.frag_len.to_be_bytes(), self.auth_len.to_be_bytes(), self.call_id.to_be_bytes()),
        };
        let [d0, d1, d2, d3] = self.drep.0;
        let [f0, f1] = frag_len;
        let [a0, a1] = auth_len;
        let [c0, c1, c2, c3] = call_id;
        [
            self.rpc_vers,
            self.rpc_vers_minor,
            self.ptype.0,
            self.pfc_flags.0,
            d0,
            d1,
            d2,
            d3,
            f0,
            f1,
            a0,
            a1,
            c0,
            c1,
            c2,
            c3,
        ]
    }
}

/// Framing helper for a byte stream: decodes the common header once 16 bytes are buffered.
///
/// Returns `Ok(None)` while fewer than 16 bytes are available; the caller then waits for
/// `header.frag_len` bytes and passes exactly that many to [`crate::Pdu::decode`].
/// Errors (bad version, bad drep, `frag_length < 16`) mean the stream cannot be framed and must be closed.
pub fn peek_header(buf: &[u8]) -> Result<Option<Header>, PduError> {
    if buf.len() < Header::SIZE {
        return Ok(None);
    }
    Header::decode(buf).map(Some)
}

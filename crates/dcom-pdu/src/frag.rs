//! Fragmentation of request/response stubs and reassembly of received fragments (C706 12.4, MS-RPCE 3.3.1.5.1,
//! MS-RPCE 2.2.2.11 for the per-fragment auth trailer).

use core::ops::Range;

use bytes::{Bytes, BytesMut};
use uuid::Uuid;

use crate::auth::{AuthLevel, AuthType, AuthVerifier, SecTrailer};
use crate::body::{PduBody, Request, Response};
use crate::error::{PduError, PduErrorKind};
use crate::header::{Header, PacketType, PfcFlags};
use crate::pdu::Pdu;
use crate::wire::pad_to;

/// Size of the auth trailer a security provider adds to every fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTrailerSize {
    /// `auth_length`: the auth_value (signature) size, e.g. 16 for NTLM.
    pub auth_len: u16,
    /// Alignment of the stub the provider needs before the sec_trailer (MS-RPCE 2.2.2.11: 16 for NTLM and
    /// Kerberos seal); 1..=256.
    pub pad_align: usize,
}

/// What [`plan_fragments`] needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentSpec {
    /// The negotiated max_xmit_frag: no fragment may be longer (C706 12.6.3.1).
    pub max_xmit_frag: u16,
    /// Header plus fixed body size: 24 for request and response, 40 for a request with object UUID.
    pub header_size: usize,
    /// The auth trailer added to every fragment (MS-RPCE 2.2.2.11), if any.
    pub auth: Option<AuthTrailerSize>,
}

/// One planned fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentPlan {
    /// The part of the stub this fragment carries.
    pub range: Range<usize>,
    /// PFC_FIRST_FRAG and/or PFC_LAST_FRAG.
    pub pfc_flags: PfcFlags,
    /// `alloc_hint`: stub bytes from the start of this fragment to the end of the call (as Windows sends).
    pub alloc_hint: u32,
    /// Auth padding after this fragment's stub (0 without auth).
    pub auth_pad_len: u8,
}

/// Splits `stub_len` stub bytes into fragments of at most `max_xmit_frag` bytes each.
///
/// With an auth trailer, every fragment but the last carries a multiple of `pad_align` stub bytes (so needs no
/// padding), and the last is padded to `pad_align` (MS-RPCE 2.2.2.11: "the sec_trailer structure MUST be present
/// in every fragment"). An empty stub gives one empty fragment.
pub fn plan_fragments(stub_len: usize, spec: &FragmentSpec) -> Result<Vec<FragmentPlan>, PduError> {
    let too_small =
        || PduError::new(PduErrorKind::FragmentSizeTooSmall { max_xmit_frag: spec.max_xmit_frag }, 0, "fragment plan");
    let (overhead, align) = match spec.auth {
        None => (0, 1),
        Some(a) => {
            let align = a.pad_align.clamp(1, 256);
            (SecTrailer::SIZE.saturating_add(usize::from(a.auth_len)), align)
        }
    };
    let avail = usize::from(spec.max_xmit_frag)
        .checked_sub(spec.header_size)
        .and_then(|v| v.checked_sub(overhead))
        .ok_or_else(too_small)?;
    let chunk = avail - avail % align;
    if chunk == 0 {
        return Err(too_small());
    }
    let mut plans = Vec::with_capacity(stub_len / chunk + 1);
    let mut start = 0usize;
    loop {
        let end = start.saturating_add(chunk).min(stub_len);
        let first = start == 0;
        let last = end == stub_len;
        let pad = if spec.auth.is_some() { pad_to(end - start, align) } else { 0 };
        // INVARIANT: pad < align <= 256.
        let auth_pad_len = u8::try_from(pad).unwrap_or(u8::MAX);
        let flags = PfcFlags(0).with(PfcFlags::FIRST_FRAG, first).with(PfcFlags::LAST_FRAG, last);
        let alloc_hint = u32::try_from(stub_len - start).unwrap_or(u32::MAX);
        plans.push(FragmentPlan { range: start..end, pfc_flags: flags, alloc_hint, auth_pad_len });
        if last {
            return Ok(plans);
        }
        start = end;
    }
}

/// The call a stub belongs to, for [`build_fragments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A request.
    Request {
        /// `p_cont_id`.
        p_cont_id: u16,
        /// `opnum`.
        opnum: u16,
        /// `object`.
        object: Option<Uuid>,
    },
    /// A response.
    Response {
        /// `p_cont_id`.
        p_cont_id: u16,
    },
}

/// The verifier template for [`build_fragments`]: auth_value is filled with `auth_len` zeros for the security
/// layer to overwrite after signing or sealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTemplate {
    /// `auth_type`.
    pub auth_type: AuthType,
    /// `auth_level`.
    pub auth_level: AuthLevel,
    /// `auth_context_id`.
    pub auth_context_id: u32,
    /// Sizes.
    pub size: AuthTrailerSize,
}

/// Builds the request or response PDUs carrying `stub` in fragments of at most `max_xmit_frag` bytes
/// (zero-copy: each fragment's stub is a slice of `stub`). `extra_flags` (e.g. PFC_CONC_MPX) are added to each.
pub fn build_fragments(
    call_id: u32,
    kind: CallKind,
    stub: &Bytes,
    max_xmit_frag: u16,
    extra_flags: PfcFlags,
    auth: Option<AuthTemplate>,
) -> Result<Vec<Pdu>, PduError> {
    let header_size = match kind {
        CallKind::Request { object: Some(_), .. } => 40,
        _ => 24,
    };
    let spec = FragmentSpec { max_xmit_frag, header_size, auth: auth.map(|a| a.size) };
    let plans = plan_fragments(stub.len(), &spec)?;
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let part = stub.slice(plan.range.clone());
        let body = match kind {
            CallKind::Request { p_cont_id, opnum, object } => {
                PduBody::Request(Request { alloc_hint: plan.alloc_hint, p_cont_id, opnum, object, stub: part })
            }
            CallKind::Response { p_cont_id } => PduBody::Response(Response {
                alloc_hint: plan.alloc_hint,
                p_cont_id,
                cancel_count: 0,
                reserved: 0,
                stub: part,
            }),
        };
        let mut pdu = Pdu::new(call_id, plan.pfc_flags.union(extra_flags), body);
        if let Some(a) = auth {
            let value = Bytes::from(vec![0u8; usize::from(a.size.auth_len)]);
            pdu = pdu.with_auth(AuthVerifier::new(
                a.auth_type,
                a.auth_level,
                a.auth_context_id,
                plan.auth_pad_len,
                value,
            ));
        }
        out.push(pdu);
    }
    Ok(out)
}

/// Limits that bound what a peer can make a [`Reassembler`] allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Largest reassembled stub in bytes.
    pub max_stub_size: usize,
    /// Largest number of fragments per call.
    pub max_fragments: usize,
}

impl Default for ReassemblyLimits {
    /// 4 MiB and 4096 fragments.
    fn default() -> Self {
        Self { max_stub_size: 4 * 1024 * 1024, max_fragments: 4096 }
    }
}

/// A received request or response fragment, its stub already verified/unsealed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// request or response.
    pub ptype: PacketType,
    /// `pfc_flags`.
    pub pfc_flags: PfcFlags,
    /// `call_id`.
    pub call_id: u32,
    /// `p_cont_id`.
    pub p_cont_id: u16,
    /// `opnum` (requests).
    pub opnum: Option<u16>,
    /// `object` (requests).
    pub object: Option<Uuid>,
    /// `alloc_hint`: informative only.
    pub alloc_hint: u32,
    /// Stub bytes of this fragment.
    pub stub: Bytes,
}

impl Fragment {
    /// The fragment of a decoded request or response PDU, with its stub as decoded.
    pub fn from_pdu(pdu: &Pdu) -> Result<Self, PduError> {
        let h = &pdu.header;
        match &pdu.body {
            PduBody::Request(r) => Ok(Self {
                ptype: PacketType::REQUEST,
                pfc_flags: h.pfc_flags,
                call_id: h.call_id,
                p_cont_id: r.p_cont_id,
                opnum: Some(r.opnum),
                object: r.object,
                alloc_hint: r.alloc_hint,
                stub: r.stub.clone(),
            }),
            PduBody::Response(r) => Ok(Self {
                ptype: PacketType::RESPONSE,
                pfc_flags: h.pfc_flags,
                call_id: h.call_id,
                p_cont_id: r.p_cont_id,
                opnum: None,
                object: None,
                alloc_hint: r.alloc_hint,
                stub: r.stub.clone(),
            }),
            _ => Err(PduError::new(PduErrorKind::NotFragmentable { ptype: h.ptype.0 }, 2, "reassembly")),
        }
    }
}

/// A reassembled call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteCall {
    /// request or response.
    pub ptype: PacketType,
    /// `call_id`.
    pub call_id: u32,
    /// `p_cont_id`.
    pub p_cont_id: u16,
    /// `opnum` (requests).
    pub opnum: Option<u16>,
    /// `object` (requests).
    pub object: Option<Uuid>,
    /// `pfc_flags` of the first fragment.
    pub first_flags: PfcFlags,
    /// The whole stub.
    pub stub: Bytes,
    /// Number of fragments.
    pub fragments: usize,
}

#[derive(Debug)]
struct InProgress {
    first: Fragment,
    buf: BytesMut,
    fragments: usize,
}

/// Collects the fragments of one call (C706 12.4: fragments of a call arrive in order, the first with
/// PFC_FIRST_FRAG, the last with PFC_LAST_FRAG). `alloc_hint` is never used as an allocation size.
///
/// One reassembler handles one call at a time; with concurrent multiplexing keep one per call_id. After an
/// error the partial call is discarded.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    state: Option<InProgress>,
}

impl Reassembler {
    /// A reassembler with `limits`.
    #[must_use]
    pub const fn new(limits: ReassemblyLimits) -> Self {
        Self { limits, state: None }
    }

    /// The call_id being reassembled, if any.
    #[must_use]
    pub fn in_progress(&self) -> Option<u32> {
        self.state.as_ref().map(|s| s.first.call_id)
    }

    /// Discards a partial call.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Adds a fragment; returns the call once its last fragment arrived.
    pub fn push(&mut self, frag: Fragment) -> Result<Option<CompleteCall>, PduError> {
        let result = self.push_inner(frag);
        if result.is_err() {
            self.state = None;
        }
        result
    }

    fn push_inner(&mut self, frag: Fragment) -> Result<Option<CompleteCall>, PduError> {
        let err = |kind| Err(PduError::new(kind, 0, "reassembly"));
        if frag.ptype != PacketType::REQUEST && frag.ptype != PacketType::RESPONSE {
            return err(PduErrorKind::NotFragmentable { ptype: frag.ptype.0 });
        }
        let first = frag.pfc_flags.contains(PfcFlags::FIRST_FRAG);
        let last = frag.pfc_flags.contains(PfcFlags::LAST_FRAG);
        let Some(state) = self.state.as_mut() else {
            if !first {
                return err(PduErrorKind::MissingFirstFragment);
            }
            if frag.stub.len() > self.limits.max_stub_size {
                return err(PduErrorKind::ReassemblyTooLarge { limit: self.limits.max_stub_size });
            }
            if self.limits.max_fragments == 0 {
                return err(PduErrorKind::TooManyFragments { limit: 0 });
            }
            if last {
                return Ok(Some(complete(&frag, frag.stub.clone(), 1)));
            }
            let buf = BytesMut::from(&frag.stub[..]);
            self.state = Some(InProgress { first: frag, buf, fragments: 1 });
            return Ok(None);
        };
        if frag.call_id != state.first.call_id {
            return err(PduErrorKind::CallIdMismatch { expected: state.first.call_id, got: frag.call_id });
        }
        if first {
            return err(PduErrorKind::UnexpectedFirstFragment);
        }
        if frag.ptype != state.first.ptype {
            return err(PduErrorKind::FragmentMismatch { field: "ptype" });
        }
        if frag.p_cont_id != state.first.p_cont_id {
            return err(PduErrorKind::FragmentMismatch { field: "p_cont_id" });
        }
        if frag.opnum != state.first.opnum {
            return err(PduErrorKind::FragmentMismatch { field: "opnum" });
        }
        if state.fragments >= self.limits.max_fragments {
            return err(PduErrorKind::TooManyFragments { limit: self.limits.max_fragments });
        }
        let total = state.buf.len().saturating_add(frag.stub.len());
        if total > self.limits.max_stub_size {
            return err(PduErrorKind::ReassemblyTooLarge { limit: self.limits.max_stub_size });
        }
        state.buf.extend_from_slice(&frag.stub);
        state.fragments += 1;
        if !last {
            return Ok(None);
        }
        let Some(done) = self.state.take() else {
            return Ok(None);
        };
        Ok(Some(complete(&done.first, done.buf.freeze(), done.fragments)))
    }
}

fn complete(first: &Fragment, stub: Bytes, fragments: usize) -> CompleteCall {
    CompleteCall {
        ptype: first.ptype,
        call_id: first.call_id,
        p_cont_id: first.p_cont_id,
        opnum: first.opnum,
        object: first.object,
        first_flags: first.pfc_flags,
        stub,
        fragments,
    }
}

/// Auth padding that aligns `body_len` bytes (counted from the start of the PDU body: the stub for requests and
/// responses) to `align` before the sec_trailer (MS-RPCE 2.2.2.11): 16 for NTLM/Kerberos sealed stubs, 4 after
/// bind, alter_context and auth3 bodies. `align` is clamped to 1..=256.
#[must_use]
pub fn auth_pad_len(body_len: usize, align: usize) -> u8 {
    // INVARIANT: the padding is below the clamped alignment, at most 255.
    u8::try_from(pad_to(body_len, align.clamp(1, 256))).unwrap_or(u8::MAX)
}

/// Header size in front of a fragment's stub: [`Header::SIZE`] + 8, plus 16 with an object UUID.
#[must_use]
pub const fn stub_header_size(object_uuid: bool) -> usize {
    Header::SIZE + 8 + if object_uuid { 16 } else { 0 }
}

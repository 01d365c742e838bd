//! The client side of a connection-oriented association, sans-IO (MS-RPCE 3.3.2, C706 chapter 12).
//!
//! [`ClientConnection::bind`] and [`ClientConnection::alter_context`] start handshakes,
//! [`ClientConnection::request`] starts calls, [`ClientConnection::receive`] takes received bytes and
//! [`ClientConnection::poll_event`] reports bound contexts, responses, KDC exchanges the caller must perform and
//! the end of the connection. [`ClientConnection::take_output`] returns the bytes to send.

use core::fmt;
use std::collections::{HashMap, HashSet, VecDeque};

use bytes::{Bytes, BytesMut};
use dcom_auth::{ClientContext, KdcRequest, Protection, ProtectionConfig, Step};
use dcom_pdu::{
    Auth3, AuthLevel, AuthType, AuthVerifier, Bind, BindAck, BtfnBitmask, ByteOrder, CallKind, ContextElem, DataRep,
    Empty, Fragment, Header, PacketType, Pdu, PduBody, PfcFlags, Reassembler, ReassemblyLimits, ResultCode, Status,
    SyntaxId, VerificationTrailer, VtCommand, VtHeader2, auth_pad_len, build_fragments,
};
use tracing::{debug, warn};
use uuid::Uuid;

use crate::error::{CallError, CloseReason};
use crate::framing::{EncodeError, FrameBuffer, encode_protected};
use crate::{DEFAULT_FRAG_SIZE, MIN_FRAG_SIZE, SUPPORTED_BTFN};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Largest fragment we send (the server may lower it).
    pub max_xmit_frag: u16,
    /// Largest fragment we accept.
    pub max_recv_frag: u16,
    /// Propose PFC_SUPPORT_HEADER_SIGN on authenticated binds (MS-RPCE 3.3.1.5.2.2).
    pub header_signing: bool,
    /// Offer bind-time feature negotiation (MS-RPCE 3.3.1.5.3).
    pub btfn: bool,
    /// Append the verification trailer to protected requests (MS-RPCE 3.3.1.5.2.2, 2.2.2.13).
    pub verification_trailer: bool,
    /// Largest response accepted.
    pub max_response_size: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_xmit_frag: DEFAULT_FRAG_SIZE,
            max_recv_frag: DEFAULT_FRAG_SIZE,
            header_signing: true,
            btfn: true,
            verification_trailer: true,
            max_response_size: 64 * 1024 * 1024,
        }
    }
}

/// A security context the client brings to a bind or alter_context.
pub struct ClientSecurity {
    /// The initiator context (not yet stepped).
    pub context: Box<dyn ClientContext>,
    /// The authentication level to use.
    pub level: AuthLevel,
    /// `auth_context_id` (distinct per security context on one connection).
    pub context_id: u32,
}

impl fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("auth_type", &self.context.auth_type())
            .field("level", &self.level)
            .field("context_id", &self.context_id)
            .finish()
    }
}

/// An accepted presentation context: use it to send calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PresentationContext {
    /// `p_cont_id`.
    pub id: u16,
    /// The interface.
    pub interface: SyntaxId,
    /// NDR64 was chosen by the server.
    pub ndr64: bool,
}

/// What a finished bind or alter_context gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// For each requested interface in order: the accepted context, or `None` when the server refused it.
    pub contexts: Vec<(SyntaxId, Option<PresentationContext>)>,
    /// The security context completed by this handshake.
    pub security_context: Option<u32>,
    /// The association group id.
    pub assoc_group: u32,
    /// Bind-time features the server accepted.
    pub btfn: BtfnBitmask,
    /// Header signing in use.
    pub header_signing: bool,
    /// Negotiated max_xmit_frag.
    pub max_xmit_frag: u16,
    /// Negotiated max_recv_frag.
    pub max_recv_frag: u16,
}

/// What the connection reports.
#[derive(Debug)]
pub enum ClientEvent {
    /// A bind or alter_context completed (or failed: the error tells why; the connection may still be usable
    /// after a failed alter_context).
    Bound(Result<Bound, CallError>),
    /// The security context `context_id` needs a KDC exchange: perform it and call
    /// [`ClientConnection::kdc_reply`].
    Kdc {
        /// The security context.
        context_id: u32,
        /// The request.
        request: KdcRequest,
    },
    /// A call finished.
    Response {
        /// `call_id` returned by [`ClientConnection::request`].
        call_id: u32,
        /// The response stub or the error.
        result: Result<Bytes, CallError>,
    },
}

struct SecCtx {
    auth_type: AuthType,
    level: AuthLevel,
    context: Option<Box<dyn ClientContext>>,
    protection: Option<Protection>,
    /// A response came back on a request whose verification trailer carried bitmask1 under this context: the
    /// server has seen it, later requests leave it out (as Windows and Samba do).
    bitmask1_verified: bool,
}

/// Which verification trailer commands a request carried ([MS-RPCE 2.2.2.13]): a verified response to it marks
/// them as seen by the server.
#[derive(Debug, Clone, Copy, Default)]
struct VtSent {
    bitmask1: bool,
    pcontext: bool,
}

#[derive(Debug)]
struct Handshake {
    call_id: u32,
    /// (interface, [(p_cont_id, transfer syntax)]) per requested interface.
    offered: Vec<(SyntaxId, Vec<(u16, SyntaxId)>)>,
    security: Option<u32>,
    first: bool,
    /// Result of the bind_ack / alter_context_resp that carried the contexts.
    result: Option<Bound>,
    /// Waiting for a response PDU to the last leg sent.
    awaiting: bool,
}

#[derive(Debug)]
struct Pending {
    p_cont_id: u16,
    security: Option<u32>,
    reassembler: Reassembler,
    cancelled: bool,
    vt: VtSent,
}

/// One client connection.
pub struct ClientConnection {
    config: ClientConfig,
    frames: FrameBuffer,
    next_call_id: u32,
    next_p_cont_id: u16,
    assoc_group: u32,
    bound: bool,
    max_xmit: u16,
    max_recv: u16,
    header_sign: bool,
    /// The bind offered PFC_SUPPORT_HEADER_SIGN (what bitmask1 tells the server, [MS-RPCE 2.2.2.13.2]).
    offered_header_sign: bool,
    btfn: BtfnBitmask,
    contexts: HashMap<u16, PresentationContext>,
    /// (presentation context, security context) pairs whose pcontext command the server has answered.
    verified_pcontexts: HashSet<(u16, u32)>,
    security: HashMap<u32, SecCtx>,
    handshake: Option<Handshake>,
    pending: HashMap<u32, Pending>,
    events: VecDeque<ClientEvent>,
    out: Vec<u8>,
    close: Option<CloseReason>,
}

impl fmt::Debug for ClientConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConnection")
            .field("bound", &self.bound)
            .field("assoc_group", &self.assoc_group)
            .field("contexts", &self.contexts)
            .field("security_contexts", &self.security.len())
            .field("pending", &self.pending.len())
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

fn local(detail: impl Into<String>) -> CallError {
    CallError::Local(detail.into())
}

impl ClientConnection {
    /// A new connection; `assoc_group` 0 asks for a new association group, another value joins that group.
    #[must_use]
    pub fn new(config: ClientConfig, assoc_group: u32) -> Self {
        let frames = FrameBuffer::new(config.max_recv_frag.max(MIN_FRAG_SIZE));
        Self {
            max_xmit: config.max_xmit_frag.max(MIN_FRAG_SIZE),
            max_recv: config.max_recv_frag.max(MIN_FRAG_SIZE),
            config,
            frames,
            next_call_id: 1,
            next_p_cont_id: 0,
            assoc_group,
            bound: false,
            header_sign: false,
            offered_header_sign: false,
            btfn: BtfnBitmask(0),
            contexts: HashMap::new(),
            verified_pcontexts: HashSet::new(),
            security: HashMap::new(),
            handshake: None,
            pending: HashMap::new(),
            events: VecDeque::new(),
            out: Vec::new(),
            close: None,
        }
    }

    /// The association group (0 until bound).
    #[must_use]
    pub const fn assoc_group(&self) -> u32 {
        self.assoc_group
    }

    /// Whether the bind completed.
    #[must_use]
    pub const fn is_bound(&self) -> bool {
        self.bound
    }

    /// Whether a bind or alter_context is in progress.
    #[must_use]
    pub const fn handshake_in_progress(&self) -> bool {
        self.handshake.is_some()
    }

    /// Calls waiting for a response.
    #[must_use]
    pub fn pending_calls(&self) -> usize {
        self.pending.len()
    }

    /// Why the connection ended, once it has.
    #[must_use]
    pub const fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    /// Takes the bytes to send.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn alloc_call_id(&mut self) -> u32 {
        let id = self.next_call_id;
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        id
    }

    /// Starts the bind: offers each interface (with NDR 2.0, and NDR64 too when `ndr64`), bind-time feature
    /// negotiation, and the security context if any. Completion is reported as [`ClientEvent::Bound`].
    pub fn bind(
        &mut self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
    ) -> Result<(), CallError> {
        if self.bound || self.handshake.is_some() {
            return Err(local("the connection is already bound"));
        }
        self.start_handshake(interfaces, ndr64, security, true)
    }

    /// Adds presentation contexts and/or a new security context on a bound connection (alter_context).
    pub fn alter_context(
        &mut self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
    ) -> Result<(), CallError> {
        if !self.bound {
            return Err(local("alter_context before bind"));
        }
        if self.handshake.is_some() {
            return Err(local("another bind or alter_context is in progress"));
        }
        self.start_handshake(interfaces, ndr64, security, false)
    }

    fn start_handshake(
        &mut self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
        first: bool,
    ) -> Result<(), CallError> {
        if let Some(r) = &self.close {
            return Err(CallError::ConnectionLost(r.clone()));
        }
        let mut offered = Vec::with_capacity(interfaces.len());
        for iface in interfaces {
            let mut ids = vec![(self.next_p_cont_id, SyntaxId::NDR20)];
            self.next_p_cont_id = self.next_p_cont_id.wrapping_add(1);
            if ndr64 {
                ids.push((self.next_p_cont_id, SyntaxId::NDR64));
                self.next_p_cont_id = self.next_p_cont_id.wrapping_add(1);
            }
            offered.push((*iface, ids));
        }
        let sec_id = match security {
            Some(s) => {
                if self.security.contains_key(&s.context_id) {
                    return Err(local(format!("security context id {} already in use", s.context_id)));
                }
                let id = s.context_id;
                self.security.insert(
                    id,
                    SecCtx {
                        auth_type: s.context.auth_type(),
                        level: s.level,
                        context: Some(s.context),
                        protection: None,
                        bitmask1_verified: false,
                    },
                );
                Some(id)
            }
            None => None,
        };
        let call_id = self.alloc_call_id();
        self.handshake = Some(Handshake { call_id, offered, security: sec_id, first, result: None, awaiting: false });
        match sec_id {
            None => {
                self.send_bind_pdu(None);
                Ok(())
            }
            Some(id) => {
                let step = self.step_security(id, None);
                self.after_step(id, step);
                Ok(())
            }
        }
    }

    fn step_security(&mut self, id: u32, input: Option<&[u8]>) -> Result<Step, String> {
        let ctx = self.security.get_mut(&id).and_then(|s| s.context.as_mut()).ok_or("security context gone")?;
        ctx.step(input).map_err(|e| e.to_string())
    }

    /// Gives the KDC's reply to the security context that asked for it.
    pub fn kdc_reply(&mut self, context_id: u32, reply: &[u8]) {
        let step = match self.security.get_mut(&context_id).and_then(|s| s.context.as_mut()) {
            Some(ctx) => ctx.resume_kdc(reply).map_err(|e| e.to_string()),
            None => Err("no such security context".into()),
        };
        self.after_step(context_id, step);
    }

    /// Acts on a security step during a handshake.
    fn after_step(&mut self, id: u32, step: Result<Step, String>) {
        let Some(hs) = self.handshake.as_ref() else {
            return;
        };
        let sent_any = hs.result.is_some();
        match step {
            Err(e) => self.handshake_failed(CallError::Security(e)),
            Ok(Step::NeedsKdc(request)) => self.events.push_back(ClientEvent::Kdc { context_id: id, request }),
            Ok(Step::Continue { token }) => {
                if sent_any {
                    // A further leg: alter_context carries it (MS-RPCE 3.3.1.5.2.1).
                    self.send_alter_leg(id, Bytes::from(token));
                } else {
                    self.send_bind_pdu(Some((id, Bytes::from(token))));
                }
            }
            Ok(Step::Complete { token }) => {
                if !sent_any {
                    // A one-leg mechanism: the whole context comes in the bind.
                    if let Err(e) = self.establish(id) {
                        self.handshake_failed(CallError::Security(e));
                        return;
                    }
                    let token = token.map(Bytes::from).unwrap_or_default();
                    self.send_bind_pdu(Some((id, token)));
                    return;
                }
                if let Err(e) = self.establish(id) {
                    self.handshake_failed(CallError::Security(e));
                    return;
                }
                match token {
                    // MS-RPCE 3.3.1.5.2.1: a last leg that needs no answer (NTLM's AUTHENTICATE, Kerberos' DCE-style
                    // AP-REP, SPNEGO around either) goes in rpc_auth_3, which has no response; Windows and Samba
                    // servers expect it there and fault an alter_context that carries it.
                    Some(t) if self.security.get(&id).is_some_and(|s| s.auth_type != AuthType::GSS_SCHANNEL) => {
                        self.send_auth3(id, Bytes::from(t));
                        self.handshake_done();
                    }
                    // Our Schannel wire form (docs/SCHANNEL.md) answers its last leg, so it travels in alter_context.
                    Some(t) => self.send_alter_leg(id, Bytes::from(t)),
                    None => self.handshake_done(),
                }
            }
        }
    }

    fn establish(&mut self, id: u32) -> Result<(), String> {
        let header_sign = self.header_sign;
        let sec = self.security.get_mut(&id).ok_or("security context gone")?;
        let ctx = sec.context.as_mut().ok_or("security context already established")?;
        let config = ProtectionConfig { auth_type: sec.auth_type, level: sec.level, context_id: id, header_sign };
        let protection = Protection::for_context(ctx.as_mut(), config).map_err(|e| e.to_string())?;
        sec.protection = Some(protection);
        sec.context = None;
        debug!(
            context_id = id,
            auth_type = sec.auth_type.0,
            level = sec.level.0,
            header_sign,
            "security context established"
        );
        Ok(())
    }

    fn trailer_for(&self, id: u32) -> Option<(AuthType, AuthLevel)> {
        self.security.get(&id).map(|s| (s.auth_type, s.level))
    }

    fn send_bind_pdu(&mut self, auth: Option<(u32, Bytes)>) {
        let mut elems = self.offered_elems();
        let Some(hs) = self.handshake.as_mut() else {
            return;
        };
        hs.awaiting = true;
        if hs.first && self.config.btfn {
            // MS-RPCE 3.3.1.5.3: one extra context whose transfer syntax carries the feature bits.
            let id = self.next_p_cont_id;
            self.next_p_cont_id = self.next_p_cont_id.wrapping_add(1);
            let iface = hs.offered.first().map_or(SyntaxId::NIL, |o| o.0);
            elems.push(ContextElem::new(id, iface, vec![SyntaxId::btfn(SUPPORTED_BTFN)]));
        }
        let body = Bind::new(self.max_xmit, self.max_recv, self.assoc_group, elems);
        let mut flags = PfcFlags::FIRST_AND_LAST;
        let call_id = hs.call_id;
        let body = if hs.first {
            flags = flags.union(PfcFlags::CONC_MPX);
            if auth.is_some() && self.config.header_signing {
                flags = flags.union(PfcFlags::SUPPORT_HEADER_SIGN);
                self.offered_header_sign = true;
            }
            PduBody::Bind(body)
        } else {
            PduBody::AlterContext(body)
        };
        let pdu = self.attach(Pdu::new(call_id, flags, body), auth);
        self.push_pdu(&pdu);
    }

    fn attach(&self, pdu: Pdu, auth: Option<(u32, Bytes)>) -> Pdu {
        let Some((id, token)) = auth else {
            return pdu;
        };
        let Some((auth_type, level)) = self.trailer_for(id) else {
            return pdu;
        };
        let pad = auth_pad_len(pdu.body.size(), 4);
        pdu.with_auth(AuthVerifier::new(auth_type, level, id, pad, token))
    }

    fn send_alter_leg(&mut self, id: u32, token: Bytes) {
        let call_id = match self.handshake.as_mut() {
            Some(hs) => {
                hs.awaiting = true;
                hs.call_id
            }
            None => return,
        };
        let elems = self.offered_elems();
        let body = Bind::new(self.max_xmit, self.max_recv, self.assoc_group, elems);
        let pdu =
            self.attach(Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, PduBody::AlterContext(body)), Some((id, token)));
        self.push_pdu(&pdu);
    }

    /// The context elements of the current handshake's bind or alter_context legs.
    ///
    /// C706 12.6.4.1: an alter_context presents at least one context. Every leg re-presents the contexts of
    /// this handshake (the server answers them as already known); a security-only handshake presents a context
    /// the connection already has. Windows and Samba fault an alter_context without contexts.
    fn offered_elems(&self) -> Vec<ContextElem> {
        let mut elems = Vec::new();
        let Some(hs) = self.handshake.as_ref() else {
            return elems;
        };
        for (iface, ids) in &hs.offered {
            for (pid, ts) in ids {
                elems.push(ContextElem::new(*pid, *iface, vec![*ts]));
            }
        }
        if elems.is_empty()
            && !hs.first
            && let Some(pc) = self.contexts.values().min_by_key(|c| c.id)
        {
            let ts = if pc.ndr64 { SyntaxId::NDR64 } else { SyntaxId::NDR20 };
            elems.push(ContextElem::new(pc.id, pc.interface, vec![ts]));
        }
        elems
    }

    fn send_auth3(&mut self, id: u32, token: Bytes) {
        let call_id = self.handshake.as_ref().map_or(0, |h| h.call_id);
        let pdu = self
            .attach(Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, PduBody::Auth3(Auth3::default())), Some((id, token)));
        self.push_pdu(&pdu);
    }

    fn push_pdu(&mut self, pdu: &Pdu) {
        if let Err(e) = pdu.encode(&mut self.out) {
            warn!(error = %e, "cannot encode an outgoing pdu");
        }
    }

    fn handshake_failed(&mut self, e: CallError) {
        if let Some(hs) = self.handshake.take()
            && let Some(id) = hs.security
        {
            self.security.remove(&id);
        }
        self.events.push_back(ClientEvent::Bound(Err(e)));
    }

    fn handshake_done(&mut self) {
        let Some(hs) = self.handshake.take() else {
            return;
        };
        let Some(mut bound) = hs.result else {
            self.events.push_back(ClientEvent::Bound(Err(CallError::Protocol("handshake without result".into()))));
            return;
        };
        bound.security_context = hs.security;
        for (_, ctx) in bound.contexts.iter().filter_map(|(i, c)| c.map(|c| (i, c))) {
            self.contexts.insert(ctx.id, ctx);
        }
        self.bound = true;
        self.events.push_back(ClientEvent::Bound(Ok(bound)));
    }

    /// Sends a call on presentation context `ctx`, protected by security context `security` (or
    /// unauthenticated). Returns its call_id; the result comes as [`ClientEvent::Response`].
    pub fn request(
        &mut self,
        ctx: PresentationContext,
        security: Option<u32>,
        opnum: u16,
        object: Option<Uuid>,
        stub: Bytes,
    ) -> Result<u32, CallError> {
        if let Some(r) = &self.close {
            return Err(CallError::ConnectionLost(r.clone()));
        }
        let Some(pres) = self.contexts.get(&ctx.id).copied() else {
            return Err(CallError::NotBound(format!("presentation context {} is not bound", ctx.id)));
        };
        let call_id = self.alloc_call_id();
        let (template, protects) = match security {
            None => (None, false),
            Some(id) => match self.security.get(&id).and_then(|s| s.protection.as_ref()) {
                Some(p) => (p.auth_template(), p.protects_pdus()),
                None => return Err(CallError::NotBound(format!("security context {id} is not established"))),
            },
        };
        let mut vt = VtSent::default();
        let stub = match security {
            Some(id) if protects && self.config.verification_trailer => {
                vt = self.vt_needed(id, pres.id);
                self.with_verification_trailer(stub, vt, call_id, &pres, opnum)
            }
            _ => stub,
        };
        let kind = CallKind::Request { p_cont_id: pres.id, opnum, object };
        let pdus = build_fragments(call_id, kind, &stub, self.max_xmit, PfcFlags(0), template)
            .map_err(|e| local(e.to_string()))?;
        let protection = security.and_then(|id| self.security.get_mut(&id)).and_then(|s| s.protection.as_mut());
        encode_protected(&mut self.out, &pdus, protection).map_err(|e| match e {
            EncodeError::Encode(e) => local(e.to_string()),
            EncodeError::Protect(e) => CallError::Security(e.to_string()),
        })?;
        let limits = ReassemblyLimits { max_stub_size: self.config.max_response_size, max_fragments: 1 << 20 };
        self.pending.insert(
            call_id,
            Pending { p_cont_id: pres.id, security, reassembler: Reassembler::new(limits), cancelled: false, vt },
        );
        Ok(call_id)
    }

    /// Which commands the next request on (`security`, `p_cont_id`) carries. [MS-RPCE 2.2.2.13] asks for the
    /// trailer where the security provider cannot protect parts of the PDU; like Windows and Samba we send
    /// bitmask1 and pcontext until a response under the context shows the server has checked them, and header2
    /// only when the header itself is not signed (header signing protects it, [MS-RPCE 3.3.1.5.2.2]).
    fn vt_needed(&self, security: u32, p_cont_id: u16) -> VtSent {
        VtSent {
            bitmask1: self.offered_header_sign && !self.security.get(&security).is_some_and(|s| s.bitmask1_verified),
            pcontext: !self.verified_pcontexts.contains(&(p_cont_id, security)),
        }
    }

    /// MS-RPCE 3.3.1.5.2.2 / 2.2.2.13: bitmask1 and pcontext as `vt` says, header2 without header signing, after
    /// the stub aligned to 4. Nothing is appended when no command is needed.
    fn with_verification_trailer(
        &self,
        stub: Bytes,
        vt: VtSent,
        call_id: u32,
        pres: &PresentationContext,
        opnum: u16,
    ) -> Bytes {
        let transfer = if pres.ndr64 { SyntaxId::NDR64 } else { SyntaxId::NDR20 };
        let mut commands = Vec::with_capacity(3);
        if vt.bitmask1 {
            commands.push(VtCommand::Bitmask1 { must_process: false, bits: dcom_pdu::CLIENT_SUPPORT_HEADER_SIGNING });
        }
        if vt.pcontext {
            commands.push(VtCommand::Pcontext {
                must_process: false,
                interface_id: pres.interface,
                transfer_syntax: transfer,
            });
        }
        if !self.header_sign {
            commands.push(VtCommand::Header2 {
                must_process: false,
                header: VtHeader2 {
                    ptype: PacketType::REQUEST,
                    reserved1: 0,
                    reserved2: 0,
                    drep: DataRep::LITTLE_ENDIAN,
                    call_id,
                    p_cont_id: pres.id,
                    opnum,
                },
            });
        }
        if commands.is_empty() {
            return stub;
        }
        let vt = VerificationTrailer { commands };
        let mut v = stub.to_vec();
        if let Err(e) = vt.append_to(&mut v, 0, ByteOrder::Little) {
            warn!(error = %e, "cannot append the verification trailer");
            return stub;
        }
        Bytes::from(v)
    }

    /// Cancels a call: sends co_cancel (C706 12.6.4.6) and reports the call as cancelled at once; a late
    /// response is dropped.
    pub fn cancel(&mut self, call_id: u32) {
        let Some(p) = self.pending.get_mut(&call_id) else {
            return;
        };
        if p.cancelled {
            return;
        }
        p.cancelled = true;
        let pdu = Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, PduBody::CoCancel(Empty::default()));
        self.push_pdu(&pdu);
        self.events.push_back(ClientEvent::Response { call_id, result: Err(CallError::Cancelled) });
    }

    /// Abandons a call without telling the server (per-call timeout): the response is dropped when it comes.
    pub fn abandon(&mut self, call_id: u32, error: CallError) {
        if let Some(p) = self.pending.get_mut(&call_id)
            && !p.cancelled
        {
            p.cancelled = true;
            self.events.push_back(ClientEvent::Response { call_id, result: Err(error) });
        }
    }

    /// Marks the connection as lost: every pending call and handshake fails with `reason`.
    pub fn closed(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason.clone());
        }
        if self.handshake.is_some() {
            self.handshake_failed(CallError::ConnectionLost(reason.clone()));
        }
        let mut ids: Vec<u32> = self.pending.keys().copied().collect();
        ids.sort_unstable();
        for call_id in ids {
            if let Some(p) = self.pending.remove(&call_id)
                && !p.cancelled
            {
                self.events.push_back(ClientEvent::Response {
                    call_id,
                    result: Err(CallError::ConnectionLost(reason.clone())),
                });
            }
        }
    }

    /// Handles received bytes; an error means the connection is unusable (pending calls were failed).
    pub fn receive(&mut self, data: &[u8]) -> Result<(), CloseReason> {
        if let Some(r) = &self.close {
            return Err(r.clone());
        }
        self.frames.extend(data);
        loop {
            let (header, frame) = match self.frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => {
                    let r = CloseReason::from(e);
                    self.closed(r.clone());
                    return Err(r);
                }
            };
            if let Err(r) = self.handle_frame(header, frame) {
                self.closed(r.clone());
                return Err(r);
            }
        }
    }

    fn handle_frame(&mut self, header: Header, frame: BytesMut) -> Result<(), CloseReason> {
        match header.ptype {
            PacketType::BIND_ACK | PacketType::ALTER_CONTEXT_RESP | PacketType::BIND_NAK => {
                self.on_handshake_reply(header, frame.freeze())
            }
            PacketType::FAULT if self.handshake.as_ref().is_some_and(|h| h.call_id == header.call_id && h.awaiting) => {
                self.on_handshake_fault(&header, frame.freeze())
            }
            PacketType::RESPONSE | PacketType::FAULT => self.on_response(header, frame),
            PacketType::SHUTDOWN => Err(CloseReason::ServerShutdown),
            other => {
                Err(CloseReason::Protocol { status: None, detail: format!("unexpected {} from server", other.name()) })
            }
        }
    }

    fn on_handshake_reply(&mut self, header: Header, frame: Bytes) -> Result<(), CloseReason> {
        let Some(hs) = self.handshake.as_mut() else {
            return Err(CloseReason::Protocol { status: None, detail: "unsolicited bind reply".into() });
        };
        if header.call_id != hs.call_id || !hs.awaiting {
            return Err(CloseReason::Protocol { status: None, detail: "bind reply for another call".into() });
        }
        hs.awaiting = false;
        let pdu = Pdu::decode(frame)?;
        let ack = match &pdu.body {
            PduBody::BindNak(nak) => {
                let reason = nak.provider_reject_reason;
                self.handshake_failed(CallError::ConnectionLost(CloseReason::BindRejected(reason)));
                return Err(CloseReason::BindRejected(reason));
            }
            PduBody::BindAck(a) if hs.first => a.clone(),
            PduBody::AlterContextResp(a) if !hs.first || hs.result.is_some() => a.clone(),
            _ => return Err(CloseReason::Protocol { status: None, detail: "bind reply of the wrong type".into() }),
        };
        if hs.result.is_none() {
            let bound = self.apply_ack(&header, &ack)?;
            if let Some(hs) = self.handshake.as_mut() {
                hs.result = Some(bound);
            }
        }
        let sec = self.handshake.as_ref().and_then(|h| h.security);
        match (sec, &pdu.auth) {
            (None, _) => {
                self.handshake_done();
                Ok(())
            }
            (Some(id), auth) => {
                let established = self.security.get(&id).is_some_and(|s| s.protection.is_some());
                if established {
                    // The response to our last leg: nothing more to feed.
                    self.handshake_done();
                    return Ok(());
                }
                let token = auth.as_ref().map(|a| a.auth_value.clone()).unwrap_or_default();
                if let Some(a) = auth
                    && a.trailer.auth_context_id != id
                {
                    return Err(CloseReason::Security("bind reply for another security context".into()));
                }
                let step = self.step_security(id, Some(&token));
                self.after_step(id, step);
                Ok(())
            }
        }
    }

    /// A fault in answer to a bind or alter_context leg (Windows and Samba fault a leg they cannot accept, e.g.
    /// `nca_s_fault_sec_pkg_error` or `nca_s_fault_access_denied`): the handshake fails with the typed fault.
    /// After a failed bind the connection is unusable and closes; after a failed alter_context the contexts already
    /// established stay usable, as the server keeps the connection open ([MS-RPCE 3.3.1.5.2.1]).
    fn on_handshake_fault(&mut self, header: &Header, frame: Bytes) -> Result<(), CloseReason> {
        let pdu = Pdu::decode(frame)?;
        let PduBody::Fault(f) = &pdu.body else {
            return Err(CloseReason::Protocol { status: None, detail: "fault pdu without a fault body".into() });
        };
        let did_not_execute = header.pfc_flags.contains(PfcFlags::DID_NOT_EXECUTE);
        let first = self.handshake.as_ref().is_some_and(|h| h.first);
        warn!(status = %f.status, first, "the server faulted a bind leg");
        self.handshake_failed(CallError::Fault { status: f.status, did_not_execute });
        if first {
            return Err(CloseReason::Protocol { status: Some(f.status), detail: "the server faulted the bind".into() });
        }
        Ok(())
    }

    fn apply_ack(&mut self, header: &Header, ack: &BindAck) -> Result<Bound, CloseReason> {
        let Some(hs) = self.handshake.as_ref() else {
            return Err(CloseReason::Protocol { status: None, detail: "no handshake".into() });
        };
        let first = hs.first;
        let offered = hs.offered.clone();
        if first {
            // C706 12.6.4.4: the server's values bound ours.
            if ack.max_xmit_frag < MIN_FRAG_SIZE || ack.max_recv_frag < MIN_FRAG_SIZE {
                return Err(CloseReason::Protocol { status: None, detail: "bind_ack fragment size below 1432".into() });
            }
            self.max_xmit = self.max_xmit.min(ack.max_recv_frag);
            // The bind_ack's max_xmit_frag is the size the server will send. Samba (like Windows 2012 R2) raises
            // anything below 2048 to 2048 and sends fragments that large, so we accept what it announced even
            // when it exceeds what we offered; the frame buffer stays bounded by that 16-bit value.
            self.max_recv = ack.max_xmit_frag.max(MIN_FRAG_SIZE);
            self.frames.set_max_frag(self.config.max_recv_frag.max(self.max_recv).max(MIN_FRAG_SIZE));
            self.assoc_group = ack.assoc_group_id;
            // MS-RPCE 3.3.1.5.2.2: header signing only when the bind_ack echoes it.
            self.header_sign = self.config.header_signing && header.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
        }
        let results = &ack.results.results;
        let mut idx = 0usize;
        let mut contexts = Vec::with_capacity(offered.len());
        for (iface, ids) in &offered {
            let mut chosen = None;
            for (id, ts) in ids {
                let Some(r) = results.get(idx) else {
                    return Err(CloseReason::Protocol { status: None, detail: "fewer results than contexts".into() });
                };
                idx += 1;
                if r.result == ResultCode::ACCEPTANCE && r.transfer_syntax == *ts {
                    // Prefer NDR64 when the server accepted both.
                    if chosen.is_none() || *ts == SyntaxId::NDR64 {
                        chosen =
                            Some(PresentationContext { id: *id, interface: *iface, ndr64: *ts == SyntaxId::NDR64 });
                    }
                }
            }
            contexts.push((*iface, chosen));
        }
        if first
            && self.config.btfn
            && let Some(bits) = results.get(idx).and_then(|r| r.btfn_bitmask())
        {
            self.btfn = bits;
        }
        Ok(Bound {
            contexts,
            security_context: None,
            assoc_group: self.assoc_group,
            btfn: self.btfn,
            header_signing: self.header_sign,
            max_xmit_frag: self.max_xmit,
            max_recv_frag: self.max_recv,
        })
    }

    fn on_response(&mut self, header: Header, mut frame: BytesMut) -> Result<(), CloseReason> {
        let call_id = header.call_id;
        let Some(pending) = self.pending.get_mut(&call_id) else {
            // A response to a call we never made (or already failed) is a protocol error (C706 12.6.4.10) unless
            // it belongs to a cancelled call, which was removed only after its last fragment.
            return Err(CloseReason::Protocol { status: None, detail: format!("response for unknown call {call_id}") });
        };
        let security = pending.security;
        if let Some(id) = security {
            let Some(p) = self.security.get_mut(&id).and_then(|s| s.protection.as_mut()) else {
                return Err(CloseReason::Security(format!("security context {id} vanished")));
            };
            if let Err(e) = p.unprotect_frame(&mut frame) {
                // A response that fails its check cannot be trusted, nor can the rest of the stream.
                return Err(CloseReason::Security(format!("call {call_id}: {e}")));
            }
        }
        let pdu = Pdu::decode(frame.freeze())?;
        let last = header.pfc_flags.contains(PfcFlags::LAST_FRAG);
        if let PduBody::Fault(f) = &pdu.body {
            let did_not_execute = header.pfc_flags.contains(PfcFlags::DID_NOT_EXECUTE);
            self.finish(call_id, Err(CallError::Fault { status: f.status, did_not_execute }));
            return Ok(());
        }
        let fragment = Fragment::from_pdu(&pdu)?;
        let Some(pending) = self.pending.get_mut(&call_id) else {
            return Ok(());
        };
        if fragment.p_cont_id != pending.p_cont_id {
            self.finish(call_id, Err(CallError::Protocol("response on another presentation context".into())));
            return Ok(());
        }
        match pending.reassembler.push(fragment) {
            Ok(Some(done)) => self.finish(call_id, Ok(done.stub)),
            Ok(None) if last => self.finish(call_id, Err(CallError::Protocol("incomplete response".into()))),
            Ok(None) => {}
            Err(e) => self.finish(call_id, Err(CallError::Protocol(e.to_string()))),
        }
        Ok(())
    }

    fn finish(&mut self, call_id: u32, result: Result<Bytes, CallError>) {
        if let Some(p) = self.pending.remove(&call_id)
            && !p.cancelled
        {
            // A verified response (not a fault) to a request that carried bitmask1 or pcontext: the server
            // accepted them; later requests under the same contexts leave them out.
            if result.is_ok()
                && let Some(id) = p.security
            {
                if p.vt.pcontext {
                    self.verified_pcontexts.insert((p.p_cont_id, id));
                }
                if p.vt.bitmask1
                    && let Some(s) = self.security.get_mut(&id)
                {
                    s.bitmask1_verified = true;
                }
            }
            self.events.push_back(ClientEvent::Response { call_id, result });
        }
    }

    /// A status to show for a connection that ended before a bind_ack.
    #[must_use]
    pub fn bind_status(&self) -> Option<Status> {
        match &self.close {
            Some(CloseReason::Protocol { status, .. }) => *status,
            _ => None,
        }
    }
}

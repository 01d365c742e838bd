//! The server side of a connection-oriented association, sans-IO (MS-RPCE 3.3.3, C706 chapter 12).
//!
//! Feed received bytes with [`ServerConnection::receive`], take [`ServerEvent`]s with
//! [`ServerConnection::poll_event`], answer calls with [`ServerConnection::respond`] and send what
//! [`ServerConnection::take_output`] returns. Nothing here reads a clock, draws randomness or does I/O.
//!
//! Security state rules enforced here (each check cites its spec section):
//! - the auth type, level and context id of a security context never change once set (MS-RPCE 3.3.1.5.2.2);
//! - a request on a security context whose handshake has not completed is refused;
//! - a verifier at the wrong place, with wrong lengths or bad padding is a protocol error;
//! - the verification trailer must match the request's header and presentation context (MS-RPCE 3.3.3.5.2);
//! - a PDU that fails its signature or sequence check ends the connection.

use core::fmt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use dcom_auth::{AuthErrorKind, Identity, ImpersonationLevel, Protection, ProtectionConfig, ServerContext, Step};
use dcom_pdu::{
    AuthLevel, AuthType, AuthVerifier, Bind, BindAck, BindNak, BtfnBitmask, CallKind, ContextResult, DataRep, Empty,
    Fault, Fragment, Header, PacketType, Pdu, PduBody, PfcFlags, ProviderReason, Reassembler, ReassemblyLimits,
    RejectReason, Status, SyntaxId, VerificationTrailer, auth_pad_len, build_fragments,
};
use tracing::{debug, warn};
use uuid::Uuid;

use crate::error::CloseReason;
use crate::framing::{EncodeError, FrameBuffer, encode_protected};
use crate::group::AssociationGroups;
use crate::{DEFAULT_FRAG_SIZE, MIN_FRAG_SIZE, SUPPORTED_BTFN};

/// Who may call an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// The lowest authentication level accepted (NONE accepts unauthenticated calls).
    pub min_level: AuthLevel,
    /// Providers accepted (`None`: every provider the server has).
    pub providers: Option<Vec<AuthType>>,
    /// Largest request stub accepted for this interface.
    pub max_stub_size: usize,
}

impl Default for SecurityPolicy {
    /// Unauthenticated calls allowed, every provider, 4 MiB stubs.
    fn default() -> Self {
        Self { min_level: AuthLevel::NONE, providers: None, max_stub_size: 4 * 1024 * 1024 }
    }
}

impl SecurityPolicy {
    /// Whether a call at `level` through `provider` (None when unauthenticated) passes.
    #[must_use]
    pub fn allows(&self, level: AuthLevel, provider: Option<AuthType>) -> bool {
        let level_ok = effective_level(level) >= effective_level(self.min_level);
        let provider_ok = match (provider, &self.providers) {
            (None, _) | (_, None) => true,
            (Some(p), Some(list)) => list.contains(&p),
        };
        level_ok && provider_ok
    }
}

/// MS-RPCE 2.2.1.1.8: DEFAULT means CONNECT; CALL is processed as PKT on connection-oriented RPC.
fn effective_level(level: AuthLevel) -> AuthLevel {
    match level {
        AuthLevel::DEFAULT => AuthLevel::CONNECT,
        AuthLevel::CALL => AuthLevel::PKT,
        l => l,
    }
}

/// A registered interface, as the association needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceEntry {
    /// Interface UUID and version (a bind matches on UUID and major version, minor version not above ours).
    pub syntax: SyntaxId,
    /// Whether the interface's stubs can be NDR64 (chosen when the client offers it).
    pub ndr64: bool,
    /// Number of operations: opnums `0..opnums` exist (C706 nca_s_op_rng_error above).
    pub opnums: u16,
    /// Who may call it; `None` uses [`ServerConfig::default_policy`].
    pub policy: Option<SecurityPolicy>,
}

/// What the association asks the server it belongs to.
pub trait ServerHooks: Send + Sync + fmt::Debug {
    /// The registered interface matching `abstract_syntax` (MS-RPCE 3.3.3.4.1.1: same UUID and major version,
    /// minor version not above the registered one).
    fn interface(&self, abstract_syntax: &SyntaxId) -> Option<InterfaceEntry>;
    /// A fresh acceptor context for `auth_type` at `level`, `None` when the server has no such provider (or the
    /// provider refuses the level, as schannel does below PKT_PRIVACY).
    fn security_context(&self, auth_type: AuthType, level: AuthLevel) -> Option<Box<dyn ServerContext>>;
}

/// Connection limits and settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest fragment we accept (negotiated down with the client's max_xmit_frag).
    pub max_recv_frag: u16,
    /// Largest fragment we send (negotiated down with the client's max_recv_frag).
    pub max_xmit_frag: u16,
    /// Calls being reassembled or executed at once on one connection; more get `rpc_s_server_too_busy`.
    pub max_calls_in_flight: usize,
    /// Largest reassembled request stub.
    pub max_request_size: usize,
    /// Largest number of fragments of one request.
    pub max_fragments: usize,
    /// Largest number of security contexts per connection.
    pub max_security_contexts: usize,
    /// Largest number of presentation contexts per connection.
    pub max_presentation_contexts: usize,
    /// Accept PFC_SUPPORT_HEADER_SIGN (MS-RPCE 3.3.1.5.2.2).
    pub header_signing: bool,
    /// The secondary address put in bind_ack (the listening port, as decimal digits).
    pub secondary_address: String,
    /// Policy of interfaces without their own.
    pub default_policy: SecurityPolicy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_recv_frag: DEFAULT_FRAG_SIZE,
            max_xmit_frag: DEFAULT_FRAG_SIZE,
            max_calls_in_flight: 64,
            max_request_size: 4 * 1024 * 1024,
            max_fragments: 4096,
            max_security_contexts: 16,
            max_presentation_contexts: 64,
            header_signing: true,
            secondary_address: String::new(),
            default_policy: SecurityPolicy::default(),
        }
    }
}

/// The security a call arrived with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSecurity {
    /// The caller; the explicit anonymous identity for unauthenticated calls.
    pub identity: Identity,
    /// The provider (`AuthType::NONE` when unauthenticated).
    pub auth_type: AuthType,
    /// The authentication level of the security context (NONE when unauthenticated).
    pub level: AuthLevel,
    /// The impersonation level the client asked for.
    pub impersonation: ImpersonationLevel,
    /// Whether the client asked for mutual authentication.
    pub mutual_auth: bool,
    /// The security context id (`auth_context_id`), `None` when unauthenticated.
    pub context_id: Option<u32>,
    /// Whether the request's header was covered by the signature (header signing negotiated).
    pub header_signed: bool,
}

/// A complete request, ready for its handler.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    /// `call_id`; answer with [`ServerConnection::respond`].
    pub call_id: u32,
    /// Presentation context.
    pub p_cont_id: u16,
    /// The interface (from the presentation context).
    pub interface: SyntaxId,
    /// NDR64 negotiated for this presentation context.
    pub ndr64: bool,
    /// The request's data representation.
    pub drep: DataRep,
    /// `opnum`.
    pub opnum: u16,
    /// `object` UUID, when PFC_OBJECT_UUID was set.
    pub object: Option<Uuid>,
    /// The request stub, decrypted, without the verification trailer.
    pub stub: Bytes,
    /// The security of the call.
    pub security: CallSecurity,
    /// The association group.
    pub assoc_group: u32,
}

/// What the connection reports.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// A call to execute.
    Call(Box<IncomingCall>),
    /// The client cancelled a call (co_cancel, C706 12.6.4.6): its handler may stop; a response is still due.
    Cancel {
        /// The call.
        call_id: u32,
    },
    /// The client abandoned a call (orphaned, C706 12.6.4.8): no response is sent.
    Orphaned {
        /// The call.
        call_id: u32,
    },
    /// A security context completed its handshake.
    Authenticated {
        /// `auth_context_id`.
        context_id: u32,
        /// The caller.
        identity: Identity,
        /// The provider.
        auth_type: AuthType,
        /// The level.
        level: AuthLevel,
    },
}

/// The answer to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The response stub.
    Response(Bytes),
    /// A fault with this status (the call executed, so PFC_DID_NOT_EXECUTE is not set).
    Fault(Status),
    /// A fault for a call that was refused before it ran (server too busy, no handler): C706 12.6.3.5
    /// `PFC_DID_NOT_EXECUTE` is set, so the client knows it may retry.
    NotExecuted(Status),
}

enum SecState {
    Pending(Box<dyn ServerContext>),
    Established { protection: Protection, identity: Identity, impersonation: ImpersonationLevel, mutual: bool },
}

struct SecCtx {
    auth_type: AuthType,
    level: AuthLevel,
    state: SecState,
}

#[derive(Debug, Clone)]
struct PresContext {
    abstract_syntax: SyntaxId,
    transfer: SyntaxId,
    entry: InterfaceEntry,
}

#[derive(Debug)]
struct InFlight {
    p_cont_id: u16,
    /// `Some(id)`: the security context whose protection the response uses.
    auth_context: Option<u32>,
    orphaned: bool,
}

#[derive(Debug)]
struct Assembling {
    call_id: u32,
    reassembler: Reassembler,
    auth_context: Option<u32>,
    drep: DataRep,
    header: Header,
}

/// One server connection.
pub struct ServerConnection {
    config: Arc<ServerConfig>,
    hooks: Arc<dyn ServerHooks>,
    groups: Arc<AssociationGroups>,
    frames: FrameBuffer,
    bound: bool,
    assoc_group: Option<u32>,
    max_xmit: u16,
    max_recv: u16,
    header_sign: bool,
    btfn: BtfnBitmask,
    contexts: HashMap<u16, PresContext>,
    security: HashMap<u32, SecCtx>,
    assembling: Option<Assembling>,
    in_flight: HashMap<u32, InFlight>,
    events: VecDeque<ServerEvent>,
    out: Vec<u8>,
    close: Option<CloseReason>,
}

impl fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConnection")
            .field("bound", &self.bound)
            .field("assoc_group", &self.assoc_group)
            .field("contexts", &self.contexts.len())
            .field("security_contexts", &self.security.len())
            .field("in_flight", &self.in_flight.len())
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

/// The outcome of handling one PDU: keep going, or close (after sending what is queued).
type Handled = Result<(), CloseReason>;

fn proto(status: Option<Status>, detail: impl Into<String>) -> CloseReason {
    CloseReason::Protocol { status, detail: detail.into() }
}

impl ServerConnection {
    /// A new connection of the server described by `config` and `hooks`.
    #[must_use]
    pub fn new(config: Arc<ServerConfig>, hooks: Arc<dyn ServerHooks>, groups: Arc<AssociationGroups>) -> Self {
        // C706 12.6.3.1: before the bind is negotiated, accept fragments up to our own maximum.
        let frames = FrameBuffer::new(config.max_recv_frag.max(MIN_FRAG_SIZE));
        Self {
            max_xmit: MIN_FRAG_SIZE,
            max_recv: MIN_FRAG_SIZE,
            config,
            hooks,
            groups,
            frames,
            bound: false,
            assoc_group: None,
            header_sign: false,
            btfn: BtfnBitmask(0),
            contexts: HashMap::new(),
            security: HashMap::new(),
            assembling: None,
            in_flight: HashMap::new(),
            events: VecDeque::new(),
            out: Vec::new(),
            close: None,
        }
    }

    /// The association group, once bound.
    #[must_use]
    pub const fn assoc_group(&self) -> Option<u32> {
        self.assoc_group
    }

    /// Calls being reassembled or executed.
    #[must_use]
    pub fn calls_in_flight(&self) -> usize {
        self.in_flight.len() + usize::from(self.assembling.is_some())
    }

    /// Why the connection must close, once it must: send [`Self::take_output`] first, then close.
    #[must_use]
    pub const fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    /// Bytes buffered from the client that do not yet form a whole PDU.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.frames.buffered()
    }

    /// Takes the bytes to send.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// Whether bytes are waiting to be sent.
    #[must_use]
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Queues a shutdown PDU (C706 12.6.4.11: the server asks the client to close the connection).
    pub fn shutdown(&mut self) {
        let pdu = Pdu::new(0, PfcFlags::FIRST_AND_LAST, PduBody::Shutdown(Empty::default()));
        self.push_pdu(&pdu);
    }

    /// Handles received bytes. After an error the connection is closed: every later call returns it again.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), CloseReason> {
        if let Some(r) = &self.close {
            return Err(r.clone());
        }
        self.frames.extend(data);
        loop {
            let frame = match self.frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => {
                    if let Some(call_id) = self.unsupported_version_bind(&e) {
                        // C706 12.6.4.3 / MS-RPCE 3.3.3.4.1: a bind of another protocol version gets bind_nak
                        // with reason protocol_version_not_supported (and the versions we support), then closes.
                        let reason =
                            self.bind_nak(call_id, RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED, e.to_string());
                        return Err(self.fail(reason));
                    }
                    // C706 12.6.3.1: a PDU larger than the negotiated size cannot be framed; close.
                    return Err(self.fail(proto(None, e.to_string())));
                }
            };
            if let Err(reason) = self.handle_frame(frame.0, frame.1) {
                return Err(self.fail(reason));
            }
        }
    }

    /// The call_id of an unbound connection's first PDU when it is a bind whose version we do not speak.
    fn unsupported_version_bind(&self, e: &dcom_pdu::PduError) -> Option<u32> {
        if self.bound || !matches!(e.kind(), dcom_pdu::PduErrorKind::UnsupportedVersion { .. }) {
            return None;
        }
        let raw = self.frames.pending_bytes();
        // C706 12.6.3.1: ptype at offset 2, packed_drep at 4, call_id at 12 in the drep's byte order.
        if raw.get(2).copied() != Some(PacketType::BIND.0) {
            return None;
        }
        let id: [u8; 4] = raw.get(12..16)?.try_into().ok()?;
        let big = raw.get(4).is_some_and(|d| d & 0xf0 == 0);
        Some(if big { u32::from_be_bytes(id) } else { u32::from_le_bytes(id) })
    }

    fn fail(&mut self, reason: CloseReason) -> CloseReason {
        warn!(reason = %reason, "closing connection");
        self.close = Some(reason.clone());
        if let Some(g) = self.assoc_group.take() {
            self.groups.leave(g);
        }
        reason
    }

    /// Ends the connection from the transport side (peer closed, timeout): leaves the association group.
    pub fn closed(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
        if let Some(g) = self.assoc_group.take() {
            self.groups.leave(g);
        }
    }

    fn push_pdu(&mut self, pdu: &Pdu) {
        if let Err(e) = pdu.encode(&mut self.out) {
            // INVARIANT: every PDU we build fits the wire fields; report rather than panic if not.
            warn!(error = %e, "cannot encode an outgoing pdu");
        }
    }

    fn send_fault(&mut self, call_id: u32, p_cont_id: u16, status: Status, did_not_execute: bool) {
        let flags = PfcFlags::FIRST_AND_LAST.with(PfcFlags::DID_NOT_EXECUTE, did_not_execute);
        let pdu = Pdu::new(call_id, flags, PduBody::Fault(Fault::new(p_cont_id, status)));
        debug!(call_id, status = %status, "fault");
        self.push_pdu(&pdu);
    }

    /// Sends a fault for `call_id` and returns the close reason that goes with it.
    fn fault_close(&mut self, call_id: u32, status: Status, detail: impl Into<String>) -> CloseReason {
        self.send_fault(call_id, 0, status, true);
        proto(Some(status), detail)
    }

    fn handle_frame(&mut self, header: Header, frame: BytesMut) -> Handled {
        match header.ptype {
            PacketType::BIND => self.on_bind(header, frame.freeze()),
            PacketType::ALTER_CONTEXT => self.on_alter_context(header, frame.freeze()),
            PacketType::AUTH3 => self.on_auth3(header, frame.freeze()),
            PacketType::REQUEST => self.on_request(header, frame),
            PacketType::CO_CANCEL => {
                self.require_bound(header.call_id)?;
                if self.in_flight.contains_key(&header.call_id) {
                    self.events.push_back(ServerEvent::Cancel { call_id: header.call_id });
                }
                Ok(())
            }
            PacketType::ORPHANED => {
                self.require_bound(header.call_id)?;
                // C706 12.6.4.8: the client abandons the call: drop a partial request, send nothing for it.
                if self.assembling.as_ref().is_some_and(|a| a.call_id == header.call_id) {
                    self.assembling = None;
                }
                if let Some(c) = self.in_flight.get_mut(&header.call_id) {
                    c.orphaned = true;
                    self.events.push_back(ServerEvent::Orphaned { call_id: header.call_id });
                }
                // MS-RPCE 3.3.1.5.3: without "keep connection on orphan" the connection closes.
                if self.btfn.contains(BtfnBitmask::KEEP_CONNECTION_ON_ORPHAN) {
                    Ok(())
                } else {
                    Err(CloseReason::Protocol { status: None, detail: "orphaned without keep-connection".into() })
                }
            }
            other => {
                // C706 12.6.4: a client sends only the types above; anything else is a protocol error.
                Err(self.fault_close(
                    header.call_id,
                    Status::NCA_S_PROTO_ERROR,
                    format!("unexpected {} from client", other.name()),
                ))
            }
        }
    }

    fn require_bound(&mut self, call_id: u32) -> Handled {
        if self.bound { Ok(()) } else { Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "pdu before bind")) }
    }

    fn bind_nak(&mut self, call_id: u32, reason: RejectReason, detail: impl Into<String>) -> CloseReason {
        let pdu = Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, PduBody::BindNak(BindNak::new(reason)));
        self.push_pdu(&pdu);
        CloseReason::Protocol { status: None, detail: format!("bind_nak {}: {}", reason.name(), detail.into()) }
    }

    fn on_bind(&mut self, header: Header, frame: Bytes) -> Handled {
        let call_id = header.call_id;
        if self.bound {
            // C706 12.6.4.3: one bind per connection; a second one is a protocol error.
            return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, "second bind on a bound connection"));
        }
        // MS-RPCE 2.2.2.11: a verifier that cannot be located (auth_length without room for it, auth_pad_length
        // past the body) makes the bind unusable; Windows and Samba answer bind_nak
        // protocol_version_not_supported.
        if let Err(e) = Pdu::auth_layout(&header, &frame) {
            return Err(self.bind_nak(call_id, RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED, e.to_string()));
        }
        let pdu = match Pdu::decode(frame) {
            Ok(p) => p,
            Err(e) => return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, e.to_string())),
        };
        let PduBody::Bind(bind) = &pdu.body else {
            return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, "bind body"));
        };
        // C706 12.6.4.3: a bind presents at least one context.
        if bind.contexts.elems.is_empty() {
            return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, "bind without presentation contexts"));
        }
        if header.rpc_vers_minor > 1 {
            return Err(self.bind_nak(call_id, RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED, "minor version"));
        }
        // C706 12.6.3.1 / MS-RPCE 3.3.1.5.5: fragment sizes below MustRecvFragSize are refused.
        if bind.max_xmit_frag < MIN_FRAG_SIZE || bind.max_recv_frag < MIN_FRAG_SIZE {
            return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, "fragment size below 1432"));
        }
        // MS-RPCE 3.3.3.4.1.1: assoc_group_id 0 creates a group; a known id joins it; an unknown one is refused.
        let group = if bind.assoc_group_id == 0 {
            self.groups.create()
        } else if self.groups.join(bind.assoc_group_id) {
            bind.assoc_group_id
        } else {
            return Err(self.bind_nak(call_id, RejectReason::NOT_SPECIFIED, "unknown association group"));
        };
        self.assoc_group = Some(group);
        let max_recv = self.config.max_recv_frag.min(bind.max_xmit_frag).max(MIN_FRAG_SIZE);
        self.max_xmit = self.config.max_xmit_frag.min(bind.max_recv_frag).max(MIN_FRAG_SIZE);
        self.max_recv = max_recv;
        self.frames.set_max_frag(max_recv);
        let results = self.negotiate_contexts(bind);
        let mut flags = PfcFlags::FIRST_AND_LAST;
        if header.pfc_flags.contains(PfcFlags::CONC_MPX) {
            flags = flags.union(PfcFlags::CONC_MPX);
        }
        let mut auth = None;
        if let Some(verifier) = &pdu.auth {
            // MS-RPCE 3.3.1.5.2.2: header signing is used when the client proposes it and we echo it.
            let sign = header.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN) && self.config.header_signing;
            match self.start_security(verifier, sign) {
                Ok(token) => {
                    self.header_sign = sign;
                    if sign {
                        flags = flags.union(PfcFlags::SUPPORT_HEADER_SIGN);
                    }
                    auth = token.map(|t| (verifier.trailer, t));
                }
                Err((reason, detail)) => return Err(self.bind_nak(call_id, reason, detail)),
            }
        }
        self.bound = true;
        let ack =
            BindAck::new(max_recv, self.max_xmit, group, secondary_address(&self.config.secondary_address), results);
        let body = PduBody::BindAck(ack);
        let pdu = with_token(Pdu::new(call_id, flags, body), auth);
        debug!(call_id, assoc_group = group, max_recv, max_xmit = self.max_xmit, "bind_ack");
        self.push_pdu(&pdu);
        Ok(())
    }

    /// Negotiates the presentation contexts of a bind or alter_context (C706 12.6.4.3, MS-RPCE 3.3.1.5.3).
    fn negotiate_contexts(&mut self, bind: &Bind) -> Vec<ContextResult> {
        let mut results = Vec::with_capacity(bind.contexts.elems.len());
        for elem in &bind.contexts.elems {
            // MS-RPCE 3.3.1.5.3: a BTFN transfer syntax asks which bind-time features we support.
            if let Some(bits) = elem.transfer_syntaxes.iter().find_map(SyntaxId::btfn_bitmask) {
                let agreed = BtfnBitmask(bits.0 & SUPPORTED_BTFN.0);
                self.btfn = self.btfn.union(agreed);
                // INVARIANT: SUPPORTED_BTFN fits 16 bits.
                results.push(ContextResult::negotiate_ack(u16::try_from(agreed.0).unwrap_or(0)));
                continue;
            }
            let result = self.negotiate_one(elem.p_cont_id, &elem.abstract_syntax, &elem.transfer_syntaxes);
            results.push(result);
        }
        results
    }

    fn negotiate_one(&mut self, id: u16, abstract_syntax: &SyntaxId, offered: &[SyntaxId]) -> ContextResult {
        let Some(entry) = self.hooks.interface(abstract_syntax) else {
            return ContextResult::reject(ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED);
        };
        // MS-RPCE 3.3.1.5.3 / 2.2.5: NDR64 when offered and the interface supports it, else NDR 2.0.
        let transfer = if entry.ndr64 && offered.contains(&SyntaxId::NDR64) {
            SyntaxId::NDR64
        } else if offered.contains(&SyntaxId::NDR20) {
            SyntaxId::NDR20
        } else {
            return ContextResult::reject(ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED);
        };
        if let Some(existing) = self.contexts.get(&id) {
            // C706 12.6.4.1: an existing context id keeps its syntaxes; a different request is refused.
            if existing.abstract_syntax != *abstract_syntax || existing.transfer != transfer {
                return ContextResult::reject(ProviderReason::LOCAL_LIMIT_EXCEEDED);
            }
            return ContextResult::accept(transfer);
        }
        if self.contexts.len() >= self.config.max_presentation_contexts {
            return ContextResult::reject(ProviderReason::LOCAL_LIMIT_EXCEEDED);
        }
        self.contexts.insert(id, PresContext { abstract_syntax: *abstract_syntax, transfer, entry });
        ContextResult::accept(transfer)
    }

    /// Starts a security context from the verifier of a bind or alter_context; returns the token to send back.
    fn start_security(
        &mut self,
        verifier: &AuthVerifier,
        header_sign: bool,
    ) -> Result<Option<Bytes>, (RejectReason, String)> {
        let t = verifier.trailer;
        // MS-RPCE 2.2.1.1.8: levels are 1..=6; NONE with a verifier makes no sense.
        if t.auth_level.0 < AuthLevel::CONNECT.0 || t.auth_level.0 > AuthLevel::PKT_PRIVACY.0 {
            return Err((RejectReason::NOT_SPECIFIED, format!("authentication level {}", t.auth_level.0)));
        }
        if self.security.contains_key(&t.auth_context_id) {
            return Err((RejectReason::NOT_SPECIFIED, "security context id already in use".into()));
        }
        if self.security.len() >= self.config.max_security_contexts {
            return Err((RejectReason::LOCAL_LIMIT_EXCEEDED, "too many security contexts".into()));
        }
        let Some(mut ctx) = self.hooks.security_context(t.auth_type, t.auth_level) else {
            return Err((RejectReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED, format!("auth type {}", t.auth_type.0)));
        };
        let step = ctx.step(&verifier.auth_value).map_err(|e| (RejectReason::INVALID_CHECKSUM, e.to_string()))?;
        let mut entry = SecCtx { auth_type: t.auth_type, level: t.auth_level, state: SecState::Pending(ctx) };
        let token = self
            .advance(&mut entry, t.auth_context_id, step, header_sign)
            .map_err(|e| (RejectReason::INVALID_CHECKSUM, e))?;
        self.security.insert(t.auth_context_id, entry);
        Ok(token)
    }

    /// Applies a step result to a security context; completes it when the mechanism is done.
    fn advance(&mut self, entry: &mut SecCtx, id: u32, step: Step, header_sign: bool) -> Result<Option<Bytes>, String> {
        let token = match step {
            Step::Continue { token } => return Ok(Some(Bytes::from(token))),
            Step::Complete { token } => token.map(Bytes::from),
            Step::NeedsKdc(_) => return Err("acceptor asked for a KDC exchange".into()),
        };
        let SecState::Pending(ctx) = &mut entry.state else {
            return Err("security context already established".into());
        };
        let identity = ctx.identity().cloned().ok_or("completed context without identity")?;
        let requested = ctx.requested().unwrap_or_default();
        let config = ProtectionConfig { auth_type: entry.auth_type, level: entry.level, context_id: id, header_sign };
        let protection = Protection::for_context(ctx.as_mut(), config).map_err(|e| e.to_string())?;
        debug!(context_id = id, auth_type = entry.auth_type.0, level = entry.level.0, principal = %identity.principal,
            "security context established");
        self.events.push_back(ServerEvent::Authenticated {
            context_id: id,
            identity: identity.clone(),
            auth_type: entry.auth_type,
            level: entry.level,
        });
        entry.state = SecState::Established {
            protection,
            identity,
            impersonation: requested.impersonation,
            mutual: requested.mutual_auth,
        };
        Ok(token)
    }

    /// Continues a pending security context with `verifier` (third leg in alter_context or auth3).
    ///
    /// Errors carry the fault status of an alter_context leg: a change of auth type or level is
    /// `rpc_s_sec_pkg_error` (the leg is not for this mechanism), a token the mechanism refuses (wrong password,
    /// bad ticket) is `rpc_s_access_denied`.
    fn continue_security(&mut self, verifier: &AuthVerifier) -> Result<Option<Bytes>, (Status, String)> {
        let t = verifier.trailer;
        let Some(mut entry) = self.security.remove(&t.auth_context_id) else {
            return Err((Status::RPC_S_ACCESS_DENIED, format!("unknown security context {}", t.auth_context_id)));
        };
        // MS-RPCE 3.3.1.5.2.2: an established context cannot be re-authenticated or changed.
        if matches!(entry.state, SecState::Established { .. }) {
            return Err((
                Status::RPC_S_ACCESS_DENIED,
                format!("security context {} is already established", t.auth_context_id),
            ));
        }
        // MS-RPCE 3.3.1.5.2.2: auth type and level of a context cannot change between legs.
        if entry.auth_type != t.auth_type || entry.level != t.auth_level {
            return Err((
                Status::RPC_S_SEC_PKG_ERROR,
                format!(
                    "security context {} changed from type {} level {} to type {} level {}",
                    t.auth_context_id, entry.auth_type.0, entry.level.0, t.auth_type.0, t.auth_level.0
                ),
            ));
        }
        let step = match &mut entry.state {
            SecState::Pending(ctx) => {
                ctx.step(&verifier.auth_value).map_err(|e| (Status::RPC_S_ACCESS_DENIED, e.to_string()))?
            }
            SecState::Established { .. } => {
                return Err((
                    Status::RPC_S_ACCESS_DENIED,
                    format!("security context {} is already established", t.auth_context_id),
                ));
            }
        };
        let token = self
            .advance(&mut entry, t.auth_context_id, step, self.header_sign)
            .map_err(|d| (Status::RPC_S_ACCESS_DENIED, d))?;
        self.security.insert(t.auth_context_id, entry);
        Ok(token)
    }

    fn on_alter_context(&mut self, header: Header, frame: Bytes) -> Handled {
        let call_id = header.call_id;
        self.require_bound(call_id)?;
        let pdu = match Pdu::decode(frame) {
            Ok(p) => p,
            Err(e) => return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, e.to_string())),
        };
        let PduBody::AlterContext(bind) = &pdu.body else {
            return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "alter_context body"));
        };
        // C706 12.6.4.1: an alter_context presents at least one context (clients re-present an existing one to
        // carry a further authentication leg).
        if bind.contexts.elems.is_empty() {
            return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "alter_context without contexts"));
        }
        let results = self.negotiate_contexts(bind);
        let mut auth = None;
        if let Some(verifier) = &pdu.auth {
            let id = verifier.trailer.auth_context_id;
            let outcome = if self.security.contains_key(&id) {
                self.continue_security(verifier)
            } else {
                // A new security context on this connection (MS-RPCE 3.3.1.5.4: security context multiplexing).
                self.start_security(verifier, self.header_sign).map_err(|(_, d)| (Status::RPC_S_ACCESS_DENIED, d))
            };
            match outcome {
                Ok(token) => auth = token.map(|t| (verifier.trailer, t)),
                Err((status, detail)) => {
                    // MS-RPCE 3.3.3.4.2: a failed alter_context handshake gets a fault; the context is gone.
                    self.security.remove(&id);
                    return Err(self.fault_close(call_id, status, detail));
                }
            }
        }
        let ack = BindAck::new(self.max_recv, self.max_xmit, self.assoc_group.unwrap_or(0), Bytes::new(), results);
        let pdu = with_token(Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, PduBody::AlterContextResp(ack)), auth);
        self.push_pdu(&pdu);
        Ok(())
    }

    fn on_auth3(&mut self, header: Header, frame: Bytes) -> Handled {
        self.require_bound(header.call_id)?;
        let pdu = Pdu::decode(frame).map_err(|e| proto(None, e.to_string()))?;
        // MS-RPCE 2.2.2.10: rpc_auth_3 carries the last leg; it has no response. A failure closes the connection
        // (there is no call to fault).
        let Some(verifier) = &pdu.auth else {
            return Err(proto(None, "rpc_auth_3 without verifier"));
        };
        match self.continue_security(verifier) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(CloseReason::Security("rpc_auth_3 leg wants another round trip".into())),
            Err((_, detail)) => {
                self.security.remove(&verifier.trailer.auth_context_id);
                Err(CloseReason::Security(detail))
            }
        }
    }

    fn on_request(&mut self, header: Header, mut frame: BytesMut) -> Handled {
        let call_id = header.call_id;
        self.require_bound(call_id)?;
        // MS-RPCE 2.2.2.11: locate the verifier before anything else; a malformed one is a protocol error.
        let layout = match Pdu::auth_layout(&header, &frame) {
            Ok(l) => l,
            Err(e) => return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, e.to_string())),
        };
        let auth_context = match self.security_for(layout.as_ref().map(|l| l.trailer.auth_context_id)) {
            Ok(c) => c,
            Err((status, detail)) => return Err(self.fault_close(call_id, status, detail)),
        };
        if let Some(id) = auth_context {
            let Some(SecCtx { state: SecState::Established { protection, .. }, .. }) = self.security.get_mut(&id)
            else {
                return Err(self.fault_close(call_id, Status::RPC_S_ACCESS_DENIED, "security context not established"));
            };
            if let Err(e) = protection.unprotect_frame(&mut frame) {
                let status = match e.kind() {
                    // MS-RPCE 3.3.3.5.1 / 2.2.2.11: a sec_trailer whose auth_type or auth_level differs from the
                    // context's is an attempt to change the security of an established context: access denied.
                    AuthErrorKind::TrailerMismatch => Status::RPC_S_ACCESS_DENIED,
                    AuthErrorKind::VerifierMismatch => Status::NCA_S_PROTO_ERROR,
                    _ => Status::RPC_S_SEC_PKG_ERROR,
                };
                return Err(self.fault_close(call_id, status, format!("request verifier: {e}")));
            }
        } else if layout.is_some() {
            // A verifier on an unauthenticated connection.
            return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "verifier without security context"));
        }
        let pdu = match Pdu::decode(frame.freeze()) {
            Ok(p) => p,
            Err(e) => return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, e.to_string())),
        };
        let fragment = match Fragment::from_pdu(&pdu) {
            Ok(f) => f,
            Err(e) => return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, e.to_string())),
        };
        let first = header.pfc_flags.contains(PfcFlags::FIRST_FRAG);
        if first {
            if self.assembling.is_some() {
                // C706 12.4: the fragments of one request are contiguous on a connection.
                return Err(self.fault_close(
                    call_id,
                    Status::NCA_S_PROTO_ERROR,
                    "new call while a request is incomplete",
                ));
            }
            if self.in_flight.contains_key(&call_id) {
                return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "call_id already in use"));
            }
            if self.in_flight.len() >= self.config.max_calls_in_flight {
                // A limit, not a protocol error: refuse this call and keep the connection.
                self.send_fault(call_id, fragment.p_cont_id, Status::RPC_S_SERVER_TOO_BUSY, true);
                if !header.pfc_flags.contains(PfcFlags::LAST_FRAG) {
                    return Err(proto(Some(Status::RPC_S_SERVER_TOO_BUSY), "fragmented call over the in-flight limit"));
                }
                return Ok(());
            }
            let limits = ReassemblyLimits {
                max_stub_size: self.config.max_request_size,
                max_fragments: self.config.max_fragments,
            };
            self.assembling = Some(Assembling {
                call_id,
                reassembler: Reassembler::new(limits),
                auth_context,
                drep: header.drep,
                header,
            });
        } else {
            match &self.assembling {
                Some(a) if a.call_id == call_id && a.auth_context == auth_context => {}
                Some(a) if a.call_id == call_id => {
                    return Err(self.fault_close(
                        call_id,
                        Status::NCA_S_PROTO_ERROR,
                        "fragment on another security context",
                    ));
                }
                _ => return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "fragment of an unknown call")),
            }
        }
        let Some(assembling) = self.assembling.as_mut() else {
            return Err(self.fault_close(call_id, Status::NCA_S_PROTO_ERROR, "reassembly state"));
        };
        let complete = match assembling.reassembler.push(fragment) {
            Ok(c) => c,
            Err(e) => {
                self.assembling = None;
                // A request over the reassembly size limit is refused with rpc_s_access_denied and the connection
                // closes, as Samba's server does (MS-RPCE 3.3.3.5.1 leaves the status to the implementation);
                // other fragment errors are protocol errors (C706 12.6.4.9).
                let status = match e.kind() {
                    dcom_pdu::PduErrorKind::ReassemblyTooLarge { .. } => Status::RPC_S_ACCESS_DENIED,
                    _ => Status::NCA_S_PROTO_ERROR,
                };
                return Err(self.fault_close(call_id, status, e.to_string()));
            }
        };
        let Some(call) = complete else {
            return Ok(());
        };
        let Some(assembling) = self.assembling.take() else {
            return Ok(());
        };
        self.dispatch(assembling, call.p_cont_id, call.opnum.unwrap_or(0), call.object, call.stub)
    }

    /// Picks the security context of a request (MS-RPCE 3.3.3.5.1): the one named by the sec_trailer, or for a
    /// request without verifier a CONNECT-level context (whose requests carry none), or none at all.
    fn security_for(&self, named: Option<u32>) -> Result<Option<u32>, (Status, String)> {
        if let Some(id) = named {
            return match self.security.get(&id) {
                None => Err((Status::RPC_S_ACCESS_DENIED, format!("unknown security context {id}"))),
                // MS-RPCE 3.3.3.5.1: a request on a context still in its handshake (before rpc_auth_3) breaks
                // the protocol sequence: nca_proto_error, and the connection closes.
                Some(SecCtx { state: SecState::Pending(_), .. }) => {
                    Err((Status::NCA_S_PROTO_ERROR, format!("security context {id} has not completed")))
                }
                Some(_) => Ok(Some(id)),
            };
        }
        if self.security.is_empty() {
            return Ok(None);
        }
        // Without a verifier: only a CONNECT-level (or NONE) established context can carry the call.
        let mut ids: Vec<_> = self.security.iter().collect();
        ids.sort_by_key(|(id, _)| **id);
        for (id, ctx) in ids {
            if effective_level(ctx.level) <= AuthLevel::CONNECT {
                return match ctx.state {
                    SecState::Established { .. } => Ok(Some(*id)),
                    SecState::Pending(_) => {
                        Err((Status::NCA_S_PROTO_ERROR, format!("security context {id} has not completed")))
                    }
                };
            }
        }
        Err((Status::RPC_S_ACCESS_DENIED, "request without verifier on a protected connection".into()))
    }

    fn dispatch(
        &mut self,
        assembling: Assembling,
        p_cont_id: u16,
        opnum: u16,
        object: Option<Uuid>,
        stub: Bytes,
    ) -> Handled {
        let call_id = assembling.call_id;
        // MS-RPCE 3.3.3.5.1: an unknown presentation context gets nca_s_unk_if... as Windows and Samba answer.
        let Some(pres) = self.contexts.get(&p_cont_id).cloned() else {
            self.send_fault(call_id, p_cont_id, Status::NCA_S_UNK_IF, true);
            return Ok(());
        };
        let (security, header_signed) = self.call_security(assembling.auth_context);
        let policy = pres.entry.policy.clone().unwrap_or_else(|| self.config.default_policy.clone());
        let provider = assembling.auth_context.map(|_| security.auth_type);
        if !policy.allows(security.level, provider) {
            debug!(call_id, level = security.level.0, "call refused by the interface's security policy");
            self.send_fault(call_id, p_cont_id, Status::RPC_S_ACCESS_DENIED, true);
            return Ok(());
        }
        if stub.len() > policy.max_stub_size {
            self.send_fault(call_id, p_cont_id, Status::NCA_S_FAULT_REMOTE_NO_MEMORY, true);
            return Ok(());
        }
        // MS-RPCE 3.3.3.5.2 / 2.2.2.13: a verification trailer must match the request it ends.
        // The trailer is marshalled little-endian by Samba's client even in a big-endian request (it is built
        // apart from the stub); read it in the request's order only when it does not read little-endian.
        let order = assembling.drep.byte_order().unwrap_or(dcom_pdu::ByteOrder::Little);
        let found = match (VerificationTrailer::find(&stub, dcom_pdu::ByteOrder::Little), order) {
            (Ok(Some(vt)), _) => Ok(Some(vt)),
            (le, dcom_pdu::ByteOrder::Big) => match VerificationTrailer::find(&stub, order) {
                Ok(Some(vt)) => Ok(Some(vt)),
                other => le.and(other),
            },
            (le, _) => le,
        };
        let stub = match found {
            Ok(None) => stub,
            Ok(Some((offset, vt))) => {
                if let Err(detail) =
                    self.check_vt(&vt, &assembling.header, p_cont_id, opnum, &pres, security.context_id.is_some())
                {
                    return Err(self.fault_close(call_id, Status::RPC_S_ACCESS_DENIED, detail));
                }
                stub.slice(..offset)
            }
            Err(e) => return Err(self.fault_close(call_id, Status::RPC_S_ACCESS_DENIED, e.to_string())),
        };
        if opnum >= pres.entry.opnums {
            self.send_fault(call_id, p_cont_id, Status::NCA_S_OP_RNG_ERROR, true);
            return Ok(());
        }
        self.in_flight.insert(call_id, InFlight { p_cont_id, auth_context: assembling.auth_context, orphaned: false });
        let call = IncomingCall {
            call_id,
            p_cont_id,
            interface: pres.abstract_syntax,
            ndr64: pres.transfer == SyntaxId::NDR64,
            drep: assembling.drep,
            opnum,
            object,
            stub,
            security: CallSecurity { header_signed, ..security },
            assoc_group: self.assoc_group.unwrap_or(0),
        };
        self.events.push_back(ServerEvent::Call(Box::new(call)));
        Ok(())
    }

    fn call_security(&self, id: Option<u32>) -> (CallSecurity, bool) {
        if let Some(id) = id
            && let Some(SecCtx {
                auth_type,
                level,
                state: SecState::Established { identity, impersonation, mutual, protection },
            }) = self.security.get(&id)
        {
            let signed = protection.config().header_sign && protection.protects_pdus();
            return (
                CallSecurity {
                    identity: identity.clone(),
                    auth_type: *auth_type,
                    level: *level,
                    impersonation: *impersonation,
                    mutual_auth: *mutual,
                    context_id: Some(id),
                    header_signed: signed,
                },
                signed,
            );
        }
        (
            CallSecurity {
                identity: Identity::anonymous(AuthType::NONE),
                auth_type: AuthType::NONE,
                level: AuthLevel::NONE,
                impersonation: ImpersonationLevel::Anonymous,
                mutual_auth: false,
                context_id: None,
                header_signed: false,
            },
            false,
        )
    }

    fn check_vt(
        &self,
        vt: &VerificationTrailer,
        header: &Header,
        p_cont_id: u16,
        opnum: u16,
        pres: &PresContext,
        authenticated: bool,
    ) -> Result<(), String> {
        if vt.has_unknown_must_process() {
            return Err("verification trailer: unknown must-process command".into());
        }
        // MS-RPCE 2.2.2.13.2: the client says it supports header signing; if we do too, it must be in use.
        if let Some(bits) = vt.bitmask1()
            && bits & dcom_pdu::CLIENT_SUPPORT_HEADER_SIGNING != 0
            && authenticated
            && self.config.header_signing
            && !self.header_sign
        {
            return Err("verification trailer: header signing supported by both sides but not negotiated".into());
        }
        // MS-RPCE 2.2.2.13.4: the presentation context the client believes it uses.
        if let Some((iface, transfer)) = vt.pcontext()
            && (iface != pres.abstract_syntax || transfer != pres.transfer)
        {
            return Err("verification trailer: pcontext does not match the presentation context".into());
        }
        // MS-RPCE 2.2.2.13.3: a copy of the request header.
        if let Some(h2) = vt.header2()
            && (h2.ptype != PacketType::REQUEST
                || h2.drep != header.drep
                || h2.call_id != header.call_id
                || h2.p_cont_id != p_cont_id
                || h2.opnum != opnum)
        {
            return Err("verification trailer: header2 does not match the request header".into());
        }
        Ok(())
    }

    /// Sends the answer to `call_id`. Calls that were orphaned are dropped silently (C706 12.6.4.8).
    pub fn respond(&mut self, call_id: u32, outcome: CallOutcome) -> Result<(), CloseReason> {
        if let Some(r) = &self.close {
            return Err(r.clone());
        }
        let Some(call) = self.in_flight.remove(&call_id) else {
            return Ok(());
        };
        if call.orphaned {
            return Ok(());
        }
        let stub = match outcome {
            CallOutcome::Fault(status) => {
                self.send_fault(call_id, call.p_cont_id, status, false);
                return Ok(());
            }
            CallOutcome::NotExecuted(status) => {
                self.send_fault(call_id, call.p_cont_id, status, true);
                return Ok(());
            }
            CallOutcome::Response(stub) => stub,
        };
        let (template, protection) = match call.auth_context.and_then(|id| self.security.get_mut(&id)) {
            Some(SecCtx { state: SecState::Established { protection, .. }, .. }) => {
                (protection.auth_template(), Some(protection))
            }
            _ => (None, None),
        };
        let kind = CallKind::Response { p_cont_id: call.p_cont_id };
        let pdus = match build_fragments(call_id, kind, &stub, self.max_xmit, PfcFlags(0), template) {
            Ok(p) => p,
            Err(e) => {
                warn!(call_id, error = %e, "cannot fragment the response");
                self.send_fault(call_id, call.p_cont_id, Status::NCA_S_FAULT_REMOTE_NO_MEMORY, false);
                return Ok(());
            }
        };
        match encode_protected(&mut self.out, &pdus, protection) {
            Ok(()) => {}
            Err(EncodeError::Encode(e)) => {
                warn!(call_id, error = %e, "cannot encode a response fragment");
                return Err(self.fail(proto(None, e.to_string())));
            }
            Err(EncodeError::Protect(e)) => {
                return Err(self.fail(CloseReason::Security(format!("protecting a response: {e}"))));
            }
        }
        Ok(())
    }
}

/// `port_any_t` for bind_ack: the port digits with a terminating NUL (C706 12.6.3.1), or empty.
fn secondary_address(port: &str) -> Bytes {
    if port.is_empty() {
        return Bytes::new();
    }
    let mut v = port.as_bytes().to_vec();
    v.push(0);
    Bytes::from(v)
}

/// Attaches a handshake token (bind_ack / alter_context_resp leg) with the context's trailer values; bind-family
/// bodies are padded to 4 (MS-RPCE 2.2.2.11).
fn with_token(pdu: Pdu, auth: Option<(dcom_pdu::SecTrailer, Bytes)>) -> Pdu {
    let Some((trailer, token)) = auth else {
        return pdu;
    };
    let pad = auth_pad_len(pdu.body.size(), 4);
    pdu.with_auth(AuthVerifier::new(trailer.auth_type, trailer.auth_level, trailer.auth_context_id, pad, token))
}

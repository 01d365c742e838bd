//! SPNEGO / Negotiate (auth type 9, [RFC 4178], [MS-SPNG]) with Kerberos and NTLM inside.
//!
//! Client: offers its configured mechanisms in preference order with an optimistic token for the first;
//! follows the acceptor's `supportedMech` when it picks another offered one. It always sends a mechListMIC
//! with its last mechanism token (Windows does for DCE/RPC) and verifies the acceptor's when present.
//!
//! Server: selects the first of the client's mechanisms it supports (the optimistic token is used when that
//! is the client's first choice; otherwise it answers `request-mic` with no token). mechListMIC rules
//! ([MS-SPNG 3.2.5.1], [RFC 4178 5]): a client MIC that is present is always verified; it is **required**
//! for NTLM (MS-SPNG 3.1.5.1, and it closes the sspi MIC-drop gap) and when the selected mechanism was not the
//! client's first choice (downgrade protection), and **not required** for Kerberos chosen first (impacket
//! omits it, Windows does not require it). The server sends its own MIC whenever it received one or required
//! one.
//!
//! MIC keys: Kerberos uses GSS_GetMIC with the context's key and consumes one sequence number of its
//! direction (the protector starts after it); NTLM signs with SeqNum 0 on fresh key states, then the RC4
//! handles are reset but the SeqNums go on ([MS-SPNG 3.3.5.1]; pyspnego's `_reset_ntlm_crypto_state` and
//! Samba reset only the handles), so the first PDU of a direction that had a MIC carries SeqNum 1.
//! Per-PDU protection is the inner mechanism's.

use dcom_pdu::AuthType;
use tracing::{debug, warn};

use crate::context::{ClientContext, ClientRequirements, ContextInfo, SecurityContext, ServerContext, Step};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::{Identity, RequestedAttributes};
use crate::kerberos::spnego::{NegState, NegTokenInit, NegTokenResp, Oid, SpnegoToken};
use crate::kerberos::{KerberosClient, KerberosClientConfig, KerberosServer, KerberosServerConfig};
use crate::ntlm::crypto::{DirectionKeys, SIGNATURE_LEN};
use crate::ntlm::{Direction, NtlmClient, NtlmClientCredentials, NtlmProtector, NtlmServer, NtlmServerConfig, Role};
use crate::protection::MessageProtector;

/// A mechanism SPNEGO can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpnegoMech {
    /// Kerberos 5 (OID 1.2.840.113554.1.2.2; the Microsoft OID 1.2.840.48018.1.2.2 is accepted too).
    Kerberos,
    /// NTLMSSP (1.3.6.1.4.1.311.2.2.10).
    Ntlm,
}

impl SpnegoMech {
    /// The OID we offer for the mechanism.
    #[must_use]
    pub fn oid(self) -> Oid {
        match self {
            Self::Kerberos => Oid(Oid::KRB5.to_vec()),
            Self::Ntlm => Oid(Oid::NTLMSSP.to_vec()),
        }
    }

    /// The mechanism of an OID, if we know it.
    #[must_use]
    pub fn of_oid(oid: &Oid) -> Option<Self> {
        if oid.is_kerberos() {
            Some(Self::Kerberos)
        } else if oid.0 == Oid::NTLMSSP {
            Some(Self::Ntlm)
        } else {
            None
        }
    }
}

/// What the SPNEGO client may use.
#[derive(Debug, Clone)]
pub struct SpnegoClientConfig {
    /// Kerberos credentials, if Kerberos may be used.
    pub kerberos: Option<KerberosClientConfig>,
    /// NTLM credentials, if NTLM may be used.
    pub ntlm: Option<NtlmClientCredentials>,
    /// Mechanisms in preference order (those without credentials are left out).
    pub mechs: Vec<SpnegoMech>,
}

impl SpnegoClientConfig {
    /// Kerberos first, then NTLM, with whichever credentials are given.
    #[must_use]
    pub fn new(kerberos: Option<KerberosClientConfig>, ntlm: Option<NtlmClientCredentials>) -> Self {
        Self { kerberos, ntlm, mechs: vec![SpnegoMech::Kerberos, SpnegoMech::Ntlm] }
    }
}

#[derive(Debug)]
enum InnerClient {
    Kerberos(Box<KerberosClient>),
    Ntlm(Box<NtlmClient>),
}

impl InnerClient {
    fn ctx(&mut self) -> &mut dyn ClientContext {
        match self {
            Self::Kerberos(k) => k.as_mut(),
            Self::Ntlm(n) => n.as_mut(),
        }
    }

    fn info(&self) -> Option<&ContextInfo> {
        match self {
            Self::Kerberos(k) => k.info(),
            Self::Ntlm(n) => n.info(),
        }
    }
}

/// The NTLM mechListMIC: an NTLMv2 signature with sequence number 0 over fresh key states ([MS-NLMP 3.4.4],
/// [MS-SPNG 3.3.5.1]).
fn ntlm_mic(info: &ContextInfo, dir: Direction, data: &[u8]) -> Result<Vec<u8>> {
    let key: &[u8; 16] = info
        .session_key
        .expose()
        .try_into()
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, "ntlm session key").with_detail("not 16 bytes"))?;
    let mut keys = DirectionKeys::derive(key, info.flags, dir)?;
    let mut sig = vec![0u8; SIGNATURE_LEN];
    keys.sign(0, &[data], &mut sig)?;
    Ok(sig)
}

fn ntlm_verify_mic(info: &ContextInfo, dir: Direction, data: &[u8], mic: &[u8]) -> Result<()> {
    let key: &[u8; 16] = info
        .session_key
        .expose()
        .try_into()
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, "ntlm session key").with_detail("not 16 bytes"))?;
    let mut keys = DirectionKeys::derive(key, info.flags, dir)?;
    keys.verify(0, &[data], mic)
}

fn mic_failed(e: &AuthError) -> AuthError {
    AuthError::new(AuthErrorKind::MechListMicMismatch, "spnego mechlistmic").with_detail(e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Initial,
    /// The first mechanism token is being produced (KDC legs) and goes into the NegTokenInit.
    InitPending,
    /// A later mechanism token is being produced and goes into a NegTokenResp.
    RespPending,
    /// Waiting for the acceptor's next token.
    Running,
    /// The inner context completed and our MIC went out; waiting for the acceptor's final token.
    AwaitFinal,
    Done,
    Failed,
}

/// The SPNEGO client context (auth type 9).
#[derive(Debug)]
pub struct SpnegoClient {
    config: SpnegoClientConfig,
    requirements: ClientRequirements,
    offered: Vec<SpnegoMech>,
    mech_types_der: Vec<u8>,
    chosen: Option<SpnegoMech>,
    inner: Option<InnerClient>,
    state: ClientState,
    info: Option<ContextInfo>,
    mic_sent: bool,
    mic_received: bool,
}

impl SpnegoClient {
    /// A client offering the configured mechanisms that have credentials.
    pub fn new(config: SpnegoClientConfig, requirements: ClientRequirements) -> Result<Self> {
        let mut offered = Vec::new();
        for m in &config.mechs {
            let have = match m {
                SpnegoMech::Kerberos => config.kerberos.is_some(),
                SpnegoMech::Ntlm => config.ntlm.is_some(),
            };
            if have && !offered.contains(m) {
                offered.push(*m);
            }
        }
        if offered.is_empty() {
            return Err(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego client")
                .with_detail("no mechanism with credentials configured"));
        }
        let oids: Vec<Oid> = offered.iter().map(|m| m.oid()).collect();
        let mech_types_der = crate::kerberos::spnego::encode_mech_types(&oids);
        Ok(Self {
            config,
            requirements,
            offered,
            mech_types_der,
            chosen: None,
            inner: None,
            state: ClientState::Initial,
            info: None,
            mic_sent: false,
            mic_received: false,
        })
    }

    /// The negotiated mechanism, once known.
    #[must_use]
    pub const fn mech(&self) -> Option<SpnegoMech> {
        self.chosen
    }

    /// Negotiate's fallback: when Kerberos, the first choice, fails before its first token left (no ticket for
    /// the target, no KDC, no usable credentials), the client offers the mechanisms that remain, as Windows'
    /// Negotiate package does. Nothing was sent yet, so the acceptor sees a plain NTLM-only negotiation; the
    /// mechanism list the mechListMIC covers is the one actually sent.
    fn fall_back(&mut self, r: Result<Step>) -> Result<Step> {
        let Err(e) = r else {
            return r;
        };
        if self.chosen != Some(SpnegoMech::Kerberos) || !self.offered.contains(&SpnegoMech::Ntlm) {
            return Err(e);
        }
        warn!(error = %e, "spnego: kerberos failed before its first token, falling back to ntlm");
        self.offered.retain(|m| *m != SpnegoMech::Kerberos);
        let oids: Vec<Oid> = self.offered.iter().map(|m| m.oid()).collect();
        self.mech_types_der = crate::kerberos::spnego::encode_mech_types(&oids);
        self.start_mech(SpnegoMech::Ntlm)?;
        self.state = ClientState::InitPending;
        let s = self.inner()?.ctx().step(None)?;
        self.wrap(s)
    }

    fn start_mech(&mut self, mech: SpnegoMech) -> Result<()> {
        let inner = match mech {
            SpnegoMech::Kerberos => {
                let cfg = self.config.kerberos.clone().ok_or_else(|| {
                    AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego client")
                        .with_detail("no kerberos credentials")
                })?;
                InnerClient::Kerberos(Box::new(KerberosClient::new(cfg, self.requirements.clone())?))
            }
            SpnegoMech::Ntlm => {
                let creds = self.config.ntlm.as_ref().ok_or_else(|| {
                    AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego client").with_detail("no ntlm credentials")
                })?;
                InnerClient::Ntlm(Box::new(NtlmClient::new(creds, self.requirements.clone())?))
            }
        };
        self.chosen = Some(mech);
        self.inner = Some(inner);
        Ok(())
    }

    fn inner(&mut self) -> Result<&mut InnerClient> {
        self.inner.as_mut().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "spnego client"))
    }

    /// Wraps what the inner mechanism produced.
    fn wrap(&mut self, inner_step: Step) -> Result<Step> {
        match inner_step {
            Step::NeedsKdc(r) => Ok(Step::NeedsKdc(r)),
            Step::Continue { token } => {
                let out = if self.state == ClientState::InitPending {
                    NegTokenInit::new(self.offered.iter().map(|m| m.oid()).collect(), Some(token)).encode()
                } else {
                    resp(None, None, Some(token), None)
                };
                self.state = ClientState::Running;
                Ok(Step::Continue { token: out })
            }
            Step::Complete { token } => {
                // the inner context is complete: our mechListMIC goes with its last token, unless NTLM has no
                // integrity key to make one with (a CONNECT-level context without NTLMSSP_NEGOTIATE_SIGN,
                // [MS-SPNG 3.1.5.1]); the acceptor then waives it, as Windows and Samba do
                let mic = if self.ntlm_without_integrity() { None } else { Some(self.get_mic()?) };
                self.mic_sent = mic.is_some();
                if self.state == ClientState::InitPending {
                    return Err(AuthError::new(AuthErrorKind::Unsupported, "spnego client")
                        .with_detail("mechanism completed without a round trip"));
                }
                self.state = ClientState::AwaitFinal;
                Ok(Step::Continue { token: resp(None, None, token, mic) })
            }
        }
    }

    /// NTLM completed without NTLMSSP_NEGOTIATE_SIGN.
    fn ntlm_without_integrity(&mut self) -> bool {
        match self.inner() {
            Ok(InnerClient::Ntlm(n)) => n.info().is_some_and(|i| i.flags & crate::ntlm::crypto::flags::SIGN == 0),
            _ => false,
        }
    }

    fn get_mic(&mut self) -> Result<Vec<u8>> {
        let data = self.mech_types_der.clone();
        match self.inner()? {
            InnerClient::Kerberos(k) => {
                k.session_mut().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?.get_mic(&data)
            }
            InnerClient::Ntlm(n) => {
                let info = n.info().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?;
                ntlm_mic(info, Direction::ClientToServer, &data)
            }
        }
    }

    fn verify_mic(&mut self, mic: &[u8]) -> Result<()> {
        let data = self.mech_types_der.clone();
        match self.inner()? {
            InnerClient::Kerberos(k) => k
                .session_mut()
                .ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?
                .verify_mic(&data, mic),
            InnerClient::Ntlm(n) => {
                let info = n.info().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?;
                ntlm_verify_mic(info, Direction::ServerToClient, &data, mic)
            }
        }
        .map_err(|e| mic_failed(&e))
    }

    fn on_resp(&mut self, input: &[u8]) -> Result<Step> {
        let SpnegoToken::Resp(r) = SpnegoToken::parse(input)? else {
            return Err(
                AuthError::new(AuthErrorKind::InvalidToken, "spnego client").with_detail("expected negTokenResp")
            );
        };
        if r.neg_state == Some(NegState::REJECT) {
            return Err(
                AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego client").with_detail("acceptor rejected")
            );
        }
        if self.state == ClientState::AwaitFinal {
            if let Some(mic) = &r.mech_list_mic {
                self.verify_mic(mic)?;
                self.mic_received = true;
            }
            if r.neg_state.is_some_and(|s| s != NegState::ACCEPT_COMPLETED) {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "spnego client")
                    .with_detail(format!("final negState {:?}", r.neg_state)));
            }
            self.finish()?;
            return Ok(Step::Complete { token: None });
        }
        if let Some(sm) = &r.supported_mech {
            let mech = SpnegoMech::of_oid(sm).filter(|m| self.offered.contains(m)).ok_or_else(|| {
                AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego client")
                    .with_detail(format!("acceptor selected {sm}, not offered"))
            })?;
            if Some(mech) != self.chosen {
                // RFC 4178 3: the acceptor chose another of our mechanisms; start it, no optimistic token
                debug!(?mech, "spnego acceptor selected a later mechanism");
                self.start_mech(mech)?;
                self.state = ClientState::RespPending;
                let s = self.inner()?.ctx().step(None)?;
                return self.wrap(s);
            }
        }
        let token = r.response_token.ok_or_else(|| {
            AuthError::new(AuthErrorKind::InvalidToken, "spnego client").with_detail("no responseToken")
        })?;
        self.state = ClientState::RespPending;
        let s = self.inner()?.ctx().step(Some(&token))?;
        self.wrap(s)
    }

    fn finish(&mut self) -> Result<()> {
        let mut info =
            self.inner()?.info().cloned().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego client"))?;
        info.auth_type = AuthType::SPNEGO;
        debug!(mech = ?self.chosen, "spnego client context complete");
        self.info = Some(info);
        self.state = ClientState::Done;
        Ok(())
    }
}

fn resp(state: Option<NegState>, mech: Option<Oid>, token: Option<Vec<u8>>, mic: Option<Vec<u8>>) -> Vec<u8> {
    NegTokenResp { neg_state: state, supported_mech: mech, response_token: token, mech_list_mic: mic }.encode()
}

impl SecurityContext for SpnegoClient {
    fn auth_type(&self) -> AuthType {
        AuthType::SPNEGO
    }

    fn is_complete(&self) -> bool {
        self.state == ClientState::Done
    }

    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }

    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        if self.state != ClientState::Done {
            return Err(AuthError::new(AuthErrorKind::NotComplete, "spnego protector"));
        }
        let bases = (u32::from(self.mic_sent), u32::from(self.mic_received));
        match self.inner()? {
            InnerClient::Kerberos(k) => k.take_protector(),
            InnerClient::Ntlm(n) => ntlm_protector(n.as_mut(), Role::Client, bases),
        }
    }
}

/// The NTLM protector after SPNEGO: fresh RC4 handles, SeqNums continuing after the mechListMICs.
fn ntlm_protector(
    ctx: &mut dyn SecurityContext,
    role: Role,
    (send, recv): (u32, u32),
) -> Result<Box<dyn MessageProtector>> {
    // the inner context's own protector is discarded (taking it once keeps `take_protector` single use)
    ctx.take_protector()?;
    let info = ctx.info().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego protector"))?;
    let p = NtlmProtector::new(info.session_key.expose(), info.flags, role)?.with_sequence_bases(send, recv);
    Ok(Box::new(p))
}

impl ClientContext for SpnegoClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let r = match (self.state, input) {
            (ClientState::Initial, None) => {
                let first = *self.offered.first().ok_or(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego"))?;
                let r = self.start_mech(first).and_then(|()| {
                    self.state = ClientState::InitPending;
                    let s = self.inner()?.ctx().step(None)?;
                    self.wrap(s)
                });
                self.fall_back(r)
            }
            (ClientState::Running | ClientState::AwaitFinal, Some(t)) => self.on_resp(t),
            _ => Err(AuthError::new(AuthErrorKind::OutOfSequence, "spnego client step")),
        };
        if r.is_err() {
            self.state = ClientState::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, reply: &[u8]) -> Result<Step> {
        let r = match self.state {
            ClientState::InitPending => {
                let r = self.inner().and_then(|i| i.ctx().resume_kdc(reply)).and_then(|s| self.wrap(s));
                self.fall_back(r)
            }
            ClientState::RespPending => self.inner().and_then(|i| i.ctx().resume_kdc(reply)).and_then(|s| self.wrap(s)),
            _ => Err(AuthError::new(AuthErrorKind::OutOfSequence, "spnego kdc reply")),
        };
        if r.is_err() {
            self.state = ClientState::Failed;
        }
        r
    }
}

/// What the SPNEGO server accepts.
#[derive(Debug, Clone)]
pub struct SpnegoServerConfig {
    /// Kerberos acceptor settings, if Kerberos is accepted.
    pub kerberos: Option<KerberosServerConfig>,
    /// NTLM acceptor settings, if NTLM is accepted.
    pub ntlm: Option<NtlmServerConfig>,
}

#[derive(Debug)]
enum InnerServer {
    Kerberos(Box<KerberosServer>),
    Ntlm(Box<NtlmServer>),
}

impl InnerServer {
    fn ctx(&mut self) -> &mut dyn ServerContext {
        match self {
            Self::Kerberos(k) => k.as_mut(),
            Self::Ntlm(n) => n.as_mut(),
        }
    }

    fn get(&self) -> &dyn ServerContext {
        match self {
            Self::Kerberos(k) => k.as_ref(),
            Self::Ntlm(n) => n.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Initial,
    Running,
    Done,
    Failed,
}

/// The SPNEGO server context (auth type 9).
#[derive(Debug)]
pub struct SpnegoServer {
    config: SpnegoServerConfig,
    mech_types_der: Vec<u8>,
    chosen: Option<SpnegoMech>,
    /// The OID to echo in supportedMech (the client's spelling of the chosen mechanism).
    chosen_oid: Option<Oid>,
    mic_required: bool,
    /// The selected mechanism was the client's first choice.
    first_choice: bool,
    supported_sent: bool,
    client_mic_verified: bool,
    server_mic_sent: bool,
    inner: Option<InnerServer>,
    state: ServerState,
    info: Option<ContextInfo>,
}

impl SpnegoServer {
    /// A fresh acceptor; at least one mechanism must be configured.
    pub fn new(config: SpnegoServerConfig) -> Result<Self> {
        if config.kerberos.is_none() && config.ntlm.is_none() {
            return Err(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego server")
                .with_detail("no mechanism configured"));
        }
        Ok(Self {
            config,
            mech_types_der: Vec::new(),
            chosen: None,
            chosen_oid: None,
            mic_required: false,
            first_choice: false,
            supported_sent: false,
            client_mic_verified: false,
            server_mic_sent: false,
            inner: None,
            state: ServerState::Initial,
            info: None,
        })
    }

    /// The negotiated mechanism, once selected.
    #[must_use]
    pub const fn mech(&self) -> Option<SpnegoMech> {
        self.chosen
    }

    /// Whether the client's mechListMIC was received and verified.
    #[must_use]
    pub const fn client_mic_verified(&self) -> bool {
        self.client_mic_verified
    }

    fn supports(&self, m: SpnegoMech) -> bool {
        match m {
            SpnegoMech::Kerberos => self.config.kerberos.is_some(),
            SpnegoMech::Ntlm => self.config.ntlm.is_some(),
        }
    }

    fn inner(&mut self) -> Result<&mut InnerServer> {
        self.inner.as_mut().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "spnego server"))
    }

    fn on_init(&mut self, init: NegTokenInit) -> Result<Step> {
        self.mech_types_der.clone_from(&init.mech_types_der);
        let Some((idx, oid, mech)) = init
            .mech_types
            .iter()
            .enumerate()
            .find_map(|(i, o)| SpnegoMech::of_oid(o).filter(|m| self.supports(*m)).map(|m| (i, o.clone(), m)))
        else {
            warn!("spnego: no common mechanism");
            return Err(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego server")
                .with_detail(format!("offered {:?}", init.mech_types)));
        };
        let inner = match mech {
            SpnegoMech::Kerberos => InnerServer::Kerberos(Box::new(KerberosServer::new(
                self.config.kerberos.clone().ok_or(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego"))?,
            ))),
            SpnegoMech::Ntlm => InnerServer::Ntlm(Box::new(NtlmServer::new(
                self.config.ntlm.clone().ok_or(AuthError::new(AuthErrorKind::NoCommonMechanism, "spnego"))?,
            )?)),
        };
        self.inner = Some(inner);
        self.chosen = Some(mech);
        self.chosen_oid = Some(oid);
        // RFC 4178 5 / MS-SPNG 3.2.5.1: a mechanism other than the client's first needs the MIC
        self.mic_required = idx != 0 || mech == SpnegoMech::Ntlm;
        self.first_choice = idx == 0;
        debug!(?mech, first_choice = idx == 0, "spnego mechanism selected");
        match init.mech_token.filter(|_| idx == 0) {
            Some(token) => self.feed(&token, init.mech_list_mic.as_deref()),
            None => {
                // no usable optimistic token: tell the client which mechanism, wait for its first token
                self.supported_sent = true;
                self.state = ServerState::Running;
                Ok(Step::Continue { token: resp(Some(NegState::REQUEST_MIC), self.chosen_oid.clone(), None, None) })
            }
        }
    }

    fn feed(&mut self, token: &[u8], client_mic: Option<&[u8]>) -> Result<Step> {
        let step = self.inner()?.ctx().step(token)?;
        let supported = if self.supported_sent { None } else { self.chosen_oid.clone() };
        self.supported_sent = true;
        match step {
            Step::Continue { token } => {
                if let Some(mic) = client_mic {
                    // a MIC before completion cannot be checked yet; RFC 4178 5 puts it on the last token
                    return Err(AuthError::new(AuthErrorKind::InvalidToken, "spnego server")
                        .with_detail(format!("mechListMIC before the mechanism completed ({} bytes)", mic.len())));
                }
                let state = if supported.is_some() && self.mic_required {
                    NegState::REQUEST_MIC
                } else {
                    NegState::ACCEPT_INCOMPLETE
                };
                self.state = ServerState::Running;
                Ok(Step::Continue { token: resp(Some(state), supported, Some(token), None) })
            }
            Step::Complete { token } => {
                let our_mic = self.complete_mic(client_mic)?;
                self.finish()?;
                Ok(Step::Complete { token: Some(resp(Some(NegState::ACCEPT_COMPLETED), supported, token, our_mic)) })
            }
            Step::NeedsKdc(_) => Err(AuthError::new(AuthErrorKind::Unsupported, "spnego server")
                .with_detail("acceptor mechanisms do not contact the kdc")),
        }
    }

    /// Verifies the client's MIC (or refuses its absence when required) and makes ours.
    fn complete_mic(&mut self, client_mic: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        let data = self.mech_types_der.clone();
        let Some(mic) = client_mic else {
            if self.mic_required && !self.ntlm_first_without_integrity()? {
                warn!(mech = ?self.chosen, "spnego: required mechListMIC missing");
                return Err(AuthError::new(AuthErrorKind::MechListMicMismatch, "spnego mechlistmic")
                    .with_detail("the client sent no mechListMIC but it is required"));
            }
            return Ok(None);
        };
        let ours = match self.inner()? {
            InnerServer::Kerberos(k) => {
                let s = k.session_mut().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?;
                s.verify_mic(&data, mic).map_err(|e| mic_failed(&e))?;
                s.get_mic(&data)?
            }
            InnerServer::Ntlm(n) => {
                let info = n.info().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?;
                ntlm_verify_mic(info, Direction::ClientToServer, &data, mic).map_err(|e| mic_failed(&e))?;
                ntlm_mic(info, Direction::ServerToClient, &data)?
            }
        };
        self.client_mic_verified = true;
        self.server_mic_sent = true;
        Ok(Some(ours))
    }

    /// NTLM chosen as the client's first mechanism without NTLMSSP_NEGOTIATE_SIGN: there is no integrity key to
    /// make a mechListMIC with, and Windows and Samba clients at RPC_C_AUTHN_LEVEL_CONNECT send none
    /// ([MS-SPNG 3.1.5.1]: the MIC is exchanged when the mechanism supports integrity). There is no downgrade to
    /// protect against: the mechanism is the client's own first choice.
    fn ntlm_first_without_integrity(&mut self) -> Result<bool> {
        if !self.first_choice || self.chosen != Some(SpnegoMech::Ntlm) {
            return Ok(false);
        }
        let InnerServer::Ntlm(n) = self.inner()? else {
            return Ok(false);
        };
        let info = n.info().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego mechlistmic"))?;
        Ok(info.flags & crate::ntlm::crypto::flags::SIGN == 0)
    }

    fn finish(&mut self) -> Result<()> {
        let mut info =
            self.inner()?.get().info().cloned().ok_or(AuthError::new(AuthErrorKind::NotComplete, "spnego server"))?;
        info.auth_type = AuthType::SPNEGO;
        debug!(mech = ?self.chosen, mic = self.client_mic_verified, "spnego server context complete");
        self.info = Some(info);
        self.state = ServerState::Done;
        Ok(())
    }
}

impl SecurityContext for SpnegoServer {
    fn auth_type(&self) -> AuthType {
        AuthType::SPNEGO
    }

    fn is_complete(&self) -> bool {
        self.state == ServerState::Done
    }

    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }

    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        if self.state != ServerState::Done {
            return Err(AuthError::new(AuthErrorKind::NotComplete, "spnego protector"));
        }
        let bases = (u32::from(self.server_mic_sent), u32::from(self.client_mic_verified));
        match self.inner()? {
            InnerServer::Kerberos(k) => k.take_protector(),
            InnerServer::Ntlm(n) => ntlm_protector(n.as_mut(), Role::Server, bases),
        }
    }
}

impl ServerContext for SpnegoServer {
    fn step(&mut self, input: &[u8]) -> Result<Step> {
        let r = (|| match (self.state, SpnegoToken::parse(input)?) {
            (ServerState::Initial, SpnegoToken::Init(init)) => self.on_init(init),
            (ServerState::Running, SpnegoToken::Resp(r)) => {
                let token = r.response_token.ok_or_else(|| {
                    AuthError::new(AuthErrorKind::InvalidToken, "spnego server").with_detail("no responseToken")
                })?;
                self.feed(&token, r.mech_list_mic.as_deref())
            }
            _ => Err(AuthError::new(AuthErrorKind::OutOfSequence, "spnego server step")),
        })();
        if r.is_err() {
            self.state = ServerState::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "spnego kdc reply"))
    }

    fn identity(&self) -> Option<&Identity> {
        if self.state != ServerState::Done {
            return None;
        }
        self.inner.as_ref().and_then(|i| i.get().identity())
    }

    fn requested(&self) -> Option<RequestedAttributes> {
        self.inner.as_ref().and_then(|i| i.get().requested())
    }
}

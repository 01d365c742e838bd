//! The NTLM acceptor: sspi builds the CHALLENGE; we check NTProofStr and the MIC ourselves before letting sspi
//! complete, and protect PDUs with our own keys.

use std::sync::Arc;

use dcom_pdu::AuthType;
use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, CredentialUse, DataRepresentation, Ntlm, Secret, SecurityBuffer,
    SecurityStatus, ServerRequestFlags, Sspi, SspiEx, SspiImpl,
};
use tracing::{debug, warn};

use super::crypto::{self, flags};
use super::msg::{Authenticate, Negotiate};
use super::protector::{MAX_TOKEN, NtlmProtector, Role};
use super::verify::verify_authenticate;
use crate::context::{ContextInfo, SecurityContext, ServerContext, Step, VerifierSizes};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::{AuthnProof, Identity, ImpersonationLevel, RequestedAttributes};
use crate::protection::MessageProtector;
use crate::secret::{SecretBytes, ct_eq};
use crate::store::CredentialStore;

/// Acceptor configuration.
#[derive(Debug, Clone)]
pub struct NtlmServerConfig {
    /// Where accounts are looked up.
    pub store: Arc<dyn CredentialStore>,
    /// Accept anonymous NTLM (empty responses, empty user) as the explicit anonymous identity.
    pub allow_anonymous: bool,
    /// Refuse an AUTHENTICATE message without a MIC.
    pub require_mic: bool,
}

impl NtlmServerConfig {
    /// Named users only, MIC optional.
    #[must_use]
    pub fn new(store: Arc<dyn CredentialStore>) -> Self {
        Self { store, allow_anonymous: false, require_mic: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    ChallengeSent,
    Done,
    Failed,
}

/// The NTLM server context (auth type 10).
pub struct NtlmServer {
    config: NtlmServerConfig,
    ntlm: Ntlm,
    creds: Option<AuthIdentityBuffers>,
    state: State,
    negotiate: Vec<u8>,
    challenge: Vec<u8>,
    requested: Option<RequestedAttributes>,
    identity: Option<Identity>,
    info: Option<ContextInfo>,
    protector: Option<NtlmProtector>,
}

impl core::fmt::Debug for NtlmServer {
    // sspi's `Ntlm` Debug prints its session key and RC4 states: never show it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NtlmServer")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("requested", &self.requested)
            .field("identity", &self.identity)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn sspi_err(context: &'static str) -> impl Fn(sspi::Error) -> AuthError {
    move |e| AuthError::from_sspi(&e, context)
}

impl NtlmServer {
    /// A fresh acceptor.
    pub fn new(config: NtlmServerConfig) -> Result<Self> {
        let mut ntlm = Ntlm::new();
        let creds = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Inbound)
            .execute(&mut ntlm)
            .map_err(sspi_err("ntlm acquire inbound credentials"))?
            .credentials_handle;
        Ok(Self {
            config,
            ntlm,
            creds,
            state: State::Initial,
            negotiate: Vec::new(),
            challenge: Vec::new(),
            requested: None,
            identity: None,
            info: None,
            protector: None,
        })
    }

    fn accept(&mut self, input: &[u8]) -> Result<(SecurityStatus, Vec<u8>)> {
        let mut in_bufs = vec![SecurityBuffer::new(input.to_vec(), BufferType::Token)];
        let mut out = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = self
            .ntlm
            .accept_security_context()
            .with_credentials_handle(&mut self.creds)
            .with_context_requirements(ServerRequestFlags::empty())
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut in_bufs)
            .with_output(&mut out);
        let r = self
            .ntlm
            .accept_security_context_impl(builder)
            .map_err(sspi_err("ntlm accept"))?
            .resolve_to_result()
            .map_err(sspi_err("ntlm accept"))?;
        let token = out.into_iter().next().map(|b| b.buffer).unwrap_or_default();
        Ok((r.status, token))
    }

    fn leg_negotiate(&mut self, input: &[u8]) -> Result<Step> {
        let neg = Negotiate::parse(input)?;
        // MS-NLMP 2.2.2.5: NTLMSSP_NEGOTIATE_IDENTIFY asks for an identify-level token.
        let impersonation = if neg.flags & flags::ANONYMOUS != 0 {
            ImpersonationLevel::Anonymous
        } else if neg.flags & flags::IDENTIFY != 0 {
            ImpersonationLevel::Identify
        } else {
            ImpersonationLevel::Impersonate
        };
        self.requested = Some(RequestedAttributes { impersonation, mutual_auth: false });
        let (status, token) = self.accept(input)?;
        if status != SecurityStatus::ContinueNeeded {
            return Err(AuthError::new(AuthErrorKind::Provider, "ntlm challenge").with_detail(format!("{status:?}")));
        }
        self.negotiate = input.to_vec();
        self.challenge.clone_from(&token);
        self.state = State::ChallengeSent;
        Ok(Step::Continue { token })
    }

    fn leg_authenticate(&mut self, input: &[u8]) -> Result<Step> {
        let auth = Authenticate::parse(input)?;
        if auth.is_anonymous() {
            if !self.config.allow_anonymous {
                warn!("ntlm anonymous authentication refused");
                return Err(AuthError::new(AuthErrorKind::AnonymousNotAllowed, "ntlm authenticate"));
            }
            // MS-NLMP 3.2.5.1.2: anonymous SessionBaseKey is 16 zero bytes.
            let exported = crypto::exported_session_key(&[0; 16], auth.flags, auth.encrypted_session_key)?;
            self.finish(Identity::anonymous(AuthType::WINNT), &exported, auth.flags)?;
            return Ok(Step::Complete { token: None });
        }
        let Some(secret) = self.config.store.lookup(&auth.user, &auth.domain) else {
            debug!(user = %auth.user, domain = %auth.domain, "ntlm unknown user");
            return Err(AuthError::new(AuthErrorKind::UnknownUser, "ntlm authenticate user"));
        };
        let nt = secret.nt_hash();
        let verified = verify_authenticate(&self.negotiate, &self.challenge, &auth, &nt)?;
        if self.config.require_mic && !verified.mic_verified {
            return Err(AuthError::new(AuthErrorKind::MicMismatch, "ntlm authenticate mic").with_detail("mic required"));
        }
        // Let sspi finish its own state machine with the same credential; both checks must pass.
        let (status, _) = self.accept(input)?;
        if status == SecurityStatus::CompleteNeeded {
            let names = self.ntlm.query_context_names().map_err(sspi_err("ntlm context names"))?;
            self.ntlm
                .custom_set_auth_identity(AuthIdentity {
                    username: names.username,
                    password: Secret::new(nt.sspi_password()),
                })
                .map_err(sspi_err("ntlm set identity"))?;
            self.ntlm.complete_auth_token(&mut []).map_err(sspi_err("ntlm complete"))?;
        } else if status != SecurityStatus::Ok {
            return Err(AuthError::new(AuthErrorKind::Provider, "ntlm authenticate").with_detail(format!("{status:?}")));
        }
        let sspi_key = self.ntlm.query_context_session_key().map_err(sspi_err("ntlm session key"))?;
        if !ct_eq(sspi_key.session_key.as_ref(), verified.exported_session_key.expose()) {
            return Err(AuthError::new(AuthErrorKind::Provider, "ntlm session key").with_detail("sspi disagrees"));
        }
        let key: [u8; 16] =
            verified.exported_session_key.expose().try_into().map_err(|_| {
                AuthError::new(AuthErrorKind::InvalidToken, "ntlm session key").with_detail("not 16 bytes")
            })?;
        let identity = Identity::named(
            &verified.user,
            &verified.domain,
            AuthType::WINNT,
            AuthnProof::NtlmV2 { mic_verified: verified.mic_verified },
        );
        self.finish(identity, &key, verified.flags)?;
        Ok(Step::Complete { token: None })
    }

    fn finish(&mut self, identity: Identity, exported: &[u8; 16], flags: u32) -> Result<()> {
        debug!(principal = %identity.principal, anonymous = identity.anonymous, "ntlm context complete");
        self.protector = Some(NtlmProtector::new(exported, flags, Role::Server)?);
        self.info = Some(ContextInfo {
            auth_type: AuthType::WINNT,
            mutual_auth: false,
            flags,
            session_key: SecretBytes::new(exported.to_vec()),
            sizes: VerifierSizes { signature_len: crypto::SIGNATURE_LEN, pad_align: 16, max_token: MAX_TOKEN },
        });
        self.identity = Some(identity);
        self.state = State::Done;
        Ok(())
    }
}

impl SecurityContext for NtlmServer {
    fn auth_type(&self) -> AuthType {
        AuthType::WINNT
    }

    fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }

    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        match self.protector.take() {
            Some(p) => Ok(Box::new(p)),
            None => Err(AuthError::new(AuthErrorKind::NotComplete, "ntlm protector")),
        }
    }
}

impl ServerContext for NtlmServer {
    fn step(&mut self, input: &[u8]) -> Result<Step> {
        let r = match self.state {
            State::Initial => self.leg_negotiate(input),
            State::ChallengeSent => self.leg_authenticate(input),
            State::Done | State::Failed => Err(AuthError::new(AuthErrorKind::OutOfSequence, "ntlm server step")),
        };
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "ntlm kdc reply"))
    }

    fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    fn requested(&self) -> Option<RequestedAttributes> {
        self.requested
    }
}

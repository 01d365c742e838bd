//! The NTLM initiator over sspi (NTLMv2 + ESS + MIC, DCE style).

use dcom_pdu::AuthType;
use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation, Ntlm, Secret,
    SecurityBuffer, SecurityStatus, Sspi, SspiImpl, Username,
};

use super::crypto::{self, NtHash};
use super::msg::Authenticate;
use super::protector::{MAX_TOKEN, NtlmProtector, Role};
use crate::context::{ClientContext, ClientRequirements, ContextInfo, SecurityContext, Step, VerifierSizes};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::ImpersonationLevel;
use crate::protection::MessageProtector;
use crate::secret::{Password, SecretBytes};

/// The client's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtlmSecret {
    /// A password.
    Password(Password),
    /// An NT hash (pass-the-hash).
    NtHash(NtHash),
}

/// Who the client authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmClientCredentials {
    /// Domain (may be empty).
    pub domain: String,
    /// Account.
    pub user: String,
    /// Password or NT hash.
    pub secret: NtlmSecret,
}

impl NtlmClientCredentials {
    /// Credentials with a password.
    #[must_use]
    pub fn with_password(domain: &str, user: &str, password: &str) -> Self {
        Self { domain: domain.to_owned(), user: user.to_owned(), secret: NtlmSecret::Password(Password::new(password)) }
    }

    /// Credentials with an NT hash.
    #[must_use]
    pub fn with_nt_hash(domain: &str, user: &str, hash: NtHash) -> Self {
        Self { domain: domain.to_owned(), user: user.to_owned(), secret: NtlmSecret::NtHash(hash) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    NegotiateSent,
    Done,
    Failed,
}

/// The NTLM client context (auth type 10).
///
/// Impersonation levels: Impersonate as is; Delegate is downgraded to Impersonate (NTLM cannot delegate);
/// Identify and Anonymous are refused (`Unsupported`) because sspi's client cannot set
/// NTLMSSP_NEGOTIATE_IDENTIFY nor build an anonymous AUTHENTICATE. Mutual authentication is refused: NTLM
/// does not authenticate the server.
pub struct NtlmClient {
    ntlm: Ntlm,
    creds: Option<AuthIdentityBuffers>,
    requirements: ClientRequirements,
    state: State,
    info: Option<ContextInfo>,
    protector: Option<NtlmProtector>,
}

impl core::fmt::Debug for NtlmClient {
    // sspi's `Ntlm` Debug prints its session key and RC4 states: never show it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NtlmClient")
            .field("requirements", &self.requirements)
            .field("state", &self.state)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn sspi_err(context: &'static str) -> impl Fn(sspi::Error) -> AuthError {
    move |e| AuthError::from_sspi(&e, context)
}

impl NtlmClient {
    /// A client for `credentials` with `requirements`.
    pub fn new(credentials: &NtlmClientCredentials, requirements: ClientRequirements) -> Result<Self> {
        match requirements.impersonation {
            ImpersonationLevel::Anonymous | ImpersonationLevel::Identify => {
                return Err(AuthError::new(AuthErrorKind::Unsupported, "ntlm client impersonation level").with_detail(
                    format!("{:?} is not available with the sspi ntlm client", requirements.impersonation),
                ));
            }
            ImpersonationLevel::Impersonate | ImpersonationLevel::Delegate => {}
        }
        if requirements.mutual_auth {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "ntlm client mutual authentication"));
        }
        let username = if credentials.domain.is_empty() {
            Username::new(&credentials.user, None)
        } else {
            Username::new(&credentials.user, Some(&credentials.domain))
        }
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, "ntlm client user name"))?;
        let password = match &credentials.secret {
            NtlmSecret::Password(p) => p.expose().to_owned(),
            NtlmSecret::NtHash(h) => h.sspi_password(),
        };
        let id = AuthIdentity { username, password: Secret::new(password) };
        let mut ntlm = Ntlm::new();
        let creds = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&id)
            .execute(&mut ntlm)
            .map_err(sspi_err("ntlm acquire outbound credentials"))?
            .credentials_handle;
        if creds.is_none() {
            return Err(AuthError::new(AuthErrorKind::Provider, "ntlm acquire outbound credentials"));
        }
        Ok(Self { ntlm, creds, requirements, state: State::Initial, info: None, protector: None })
    }

    fn initialize(&mut self, input: Option<&[u8]>) -> Result<(SecurityStatus, Vec<u8>)> {
        // [MS-NLMP 3.1.5.1]: SIGN and SEAL only when the RPC level uses them (see ClientRequirements::for_level).
        // sspi turns ISC_REQ_USE_DCE_STYLE into SIGN+SEAL+KEY_EXCH, so it is not asked for: NTLM has no other
        // DCE-style difference.
        let mut flags = ClientRequestFlags::ALLOCATE_MEMORY;
        if self.requirements.integrity || self.requirements.confidentiality {
            flags |= ClientRequestFlags::INTEGRITY;
        }
        if self.requirements.confidentiality {
            flags |= ClientRequestFlags::CONFIDENTIALITY;
        }
        let mut out = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut in_bufs = input.map(|i| vec![SecurityBuffer::new(i.to_vec(), BufferType::Token)]);
        let target = self.requirements.target_name.clone();
        let mut builder = self
            .ntlm
            .initialize_security_context()
            .with_credentials_handle(&mut self.creds)
            .with_context_requirements(flags)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&target)
            .with_output(&mut out);
        if let Some(bufs) = in_bufs.as_mut() {
            builder = builder.with_input(bufs);
        }
        let r = self
            .ntlm
            .initialize_security_context_impl(&mut builder)
            .map_err(sspi_err("ntlm initialize"))?
            .resolve_to_result()
            .map_err(sspi_err("ntlm initialize"))?;
        let token = out.into_iter().next().map(|b| b.buffer).unwrap_or_default();
        Ok((r.status, token))
    }

    fn leg_authenticate(&mut self, challenge: &[u8]) -> Result<Step> {
        super::msg::Challenge::parse(challenge)?;
        let (status, token) = self.initialize(Some(challenge))?;
        match status {
            SecurityStatus::Ok => {}
            SecurityStatus::CompleteNeeded => {
                self.ntlm.complete_auth_token(&mut []).map_err(sspi_err("ntlm complete"))?;
            }
            other => {
                return Err(
                    AuthError::new(AuthErrorKind::Provider, "ntlm authenticate").with_detail(format!("{other:?}"))
                );
            }
        }
        let flags = Authenticate::parse(&token)?.flags;
        let key = self.ntlm.query_context_session_key().map_err(sspi_err("ntlm session key"))?;
        let key = key.session_key.as_ref();
        self.protector = Some(NtlmProtector::new(key, flags, Role::Client)?);
        self.info = Some(ContextInfo {
            auth_type: AuthType::WINNT,
            mutual_auth: false,
            flags,
            session_key: SecretBytes::from(key.as_slice()),
            sizes: VerifierSizes { signature_len: crypto::SIGNATURE_LEN, pad_align: 16, max_token: MAX_TOKEN },
        });
        self.state = State::Done;
        Ok(Step::Complete { token: Some(token) })
    }
}

impl SecurityContext for NtlmClient {
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

impl ClientContext for NtlmClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let r = match (self.state, input) {
            (State::Initial, None) => self.initialize(None).and_then(|(status, token)| {
                if status == SecurityStatus::ContinueNeeded {
                    self.state = State::NegotiateSent;
                    Ok(Step::Continue { token })
                } else {
                    Err(AuthError::new(AuthErrorKind::Provider, "ntlm negotiate").with_detail(format!("{status:?}")))
                }
            }),
            (State::NegotiateSent, Some(challenge)) => self.leg_authenticate(challenge),
            _ => Err(AuthError::new(AuthErrorKind::OutOfSequence, "ntlm client step")),
        };
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "ntlm kdc reply"))
    }
}

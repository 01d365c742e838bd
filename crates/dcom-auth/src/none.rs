//! The None provider (auth type 0): no tokens, no per-PDU protection, anonymous caller.

use dcom_pdu::AuthType;

use crate::context::{ClientContext, ContextInfo, SecurityContext, ServerContext, Step, VerifierSizes};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::{Identity, ImpersonationLevel, RequestedAttributes};
use crate::protection::MessageProtector;
use crate::secret::SecretBytes;

fn none_info() -> ContextInfo {
    ContextInfo {
        auth_type: AuthType::NONE,
        mutual_auth: false,
        flags: 0,
        session_key: SecretBytes::new(Vec::new()),
        sizes: VerifierSizes { signature_len: 0, pad_align: 1, max_token: 0 },
    }
}

/// Client side of the None provider: complete at once.
#[derive(Debug, Default)]
pub struct NoneClient {
    info: Option<ContextInfo>,
}

impl NoneClient {
    /// A new context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// Server side of the None provider: complete at once, anonymous caller.
#[derive(Debug, Default)]
pub struct NoneServer {
    info: Option<ContextInfo>,
    identity: Option<Identity>,
}

impl NoneServer {
    /// A new context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn no_protector() -> AuthError {
    AuthError::new(AuthErrorKind::Unsupported, "none provider protection")
        .with_detail("the none provider cannot sign or seal")
}

impl SecurityContext for NoneClient {
    fn auth_type(&self) -> AuthType {
        AuthType::NONE
    }
    fn is_complete(&self) -> bool {
        self.info.is_some()
    }
    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }
    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        Err(no_protector())
    }
}

impl ClientContext for NoneClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        if self.info.is_some() || input.is_some() {
            return Err(AuthError::new(AuthErrorKind::OutOfSequence, "none client step"));
        }
        self.info = Some(none_info());
        Ok(Step::Complete { token: None })
    }
    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "none kdc reply"))
    }
}

impl SecurityContext for NoneServer {
    fn auth_type(&self) -> AuthType {
        AuthType::NONE
    }
    fn is_complete(&self) -> bool {
        self.info.is_some()
    }
    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }
    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        Err(no_protector())
    }
}

impl ServerContext for NoneServer {
    fn step(&mut self, input: &[u8]) -> Result<Step> {
        if self.info.is_some() || !input.is_empty() {
            return Err(AuthError::new(AuthErrorKind::OutOfSequence, "none server step"));
        }
        self.info = Some(none_info());
        self.identity = Some(Identity::anonymous(AuthType::NONE));
        Ok(Step::Complete { token: None })
    }
    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "none kdc reply"))
    }
    fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }
    fn requested(&self) -> Option<RequestedAttributes> {
        self.info
            .as_ref()
            .map(|_| RequestedAttributes { impersonation: ImpersonationLevel::Anonymous, mutual_auth: false })
    }
}

//! Passive decryption of an NTLM-protected connection seen in a capture.

use super::crypto::NtHash;
use super::msg::Authenticate;
use super::protector::{NtlmProtector, Role};
use super::verify::{VerifiedAuthenticate, verify_authenticate};
use crate::error::Result;
use crate::protection::{Protection, ProtectionConfig};

/// The keys of one captured NTLM connection, derived from its three handshake tokens (bind auth value,
/// bind_ack auth value, rpc_auth_3 or alter_context auth value) and the user's NT hash.
#[derive(Debug, Clone)]
pub struct NtlmCaptureKeys {
    verified: VerifiedAuthenticate,
}

impl NtlmCaptureKeys {
    /// Verifies the AUTHENTICATE message against `nt` (NTProofStr, MIC) and derives the ExportedSessionKey.
    /// A wrong password is `LogonDenied`.
    pub fn derive(negotiate: &[u8], challenge: &[u8], authenticate: &[u8], nt: &NtHash) -> Result<Self> {
        let auth = Authenticate::parse(authenticate)?;
        let verified = verify_authenticate(negotiate, challenge, &auth, nt)?;
        Ok(Self { verified })
    }

    /// The verified handshake facts (user, domain, flags, MIC, session key).
    #[must_use]
    pub const fn verified(&self) -> &VerifiedAuthenticate {
        &self.verified
    }

    /// A receiving [`Protection`] for the client-to-server direction (it plays the server).
    pub fn client_to_server(&self, config: ProtectionConfig) -> Result<Protection> {
        self.protection(config, Role::Server)
    }

    /// A receiving [`Protection`] for the server-to-client direction (it plays the client).
    pub fn server_to_client(&self, config: ProtectionConfig) -> Result<Protection> {
        self.protection(config, Role::Client)
    }

    fn protection(&self, config: ProtectionConfig, role: Role) -> Result<Protection> {
        let p = NtlmProtector::new(self.verified.exported_session_key.expose(), self.verified.flags, role)?;
        Protection::new(config, Some(Box::new(p)))
    }
}

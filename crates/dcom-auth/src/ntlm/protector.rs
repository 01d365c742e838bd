//! The NTLM [`MessageProtector`]: ESS sign/seal with one key set per direction.

use super::crypto::{self, Direction, DirectionKeys, SIGNATURE_LEN};
use crate::context::VerifierSizes;
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::protection::{MessageProtector, PduParts};

/// Which side a protector serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: sends client-to-server, receives server-to-client.
    Client,
    /// The server: sends server-to-client, receives client-to-server.
    Server,
}

/// NTLMv2 extended-session-security protection of DCE/RPC PDUs ([MS-NLMP] 3.4, [MS-RPCE] 3.3.1.5.2.2).
///
/// All three parts (header, body, sec_trailer) always enter the checksum: NTLMv2 signs every input buffer,
/// including those passed without the sign flag ([MS-NLMP] 3.4.6.1), so header signing makes no difference
/// for NTLM.
#[derive(Debug)]
pub struct NtlmProtector {
    send: DirectionKeys,
    recv: DirectionKeys,
}

/// Largest NTLM handshake token we expect.
pub(crate) const MAX_TOKEN: usize = 2888;

impl NtlmProtector {
    /// Keys for `role` from the ExportedSessionKey and the negotiated flags ([MS-NLMP] 3.4.5).
    pub fn new(exported_session_key: &[u8], flags: u32, role: Role) -> Result<Self> {
        let key: &[u8; 16] = exported_session_key
            .try_into()
            .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, "ntlm session key").with_detail("not 16 bytes"))?;
        let c2s = DirectionKeys::derive(key, flags, Direction::ClientToServer)?;
        let s2c = DirectionKeys::derive(key, flags, Direction::ServerToClient)?;
        Ok(match role {
            Role::Client => Self { send: c2s, recv: s2c },
            Role::Server => Self { send: s2c, recv: c2s },
        })
    }
}

impl MessageProtector for NtlmProtector {
    fn sizes(&self) -> VerifierSizes {
        // MS-RPCE 2.2.2.11: Windows pads the stub to 16 bytes for NTLM.
        VerifierSizes { signature_len: SIGNATURE_LEN, pad_align: 16, max_token: MAX_TOKEN }
    }

    fn peek_sequence(&self, auth_value: &[u8]) -> Option<u32> {
        crypto::signature_seq(auth_value)
    }

    fn seal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        self.send.seal(seq, parts.header, parts.body, parts.trailer, auth_value)
    }

    fn unseal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        self.recv.unseal(seq, parts.header, parts.body, parts.trailer, auth_value)
    }

    fn sign(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        self.send.sign(seq, &[parts.header, parts.body, parts.trailer], auth_value)
    }

    fn verify(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        self.recv.verify(seq, &[parts.header, parts.body, parts.trailer], auth_value)
    }
}

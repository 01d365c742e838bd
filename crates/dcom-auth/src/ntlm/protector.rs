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
    send_base: u32,
    recv_base: u32,
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
            Role::Client => Self { send: c2s, recv: s2c, send_base: 0, recv_base: 0 },
            Role::Server => Self { send: s2c, recv: c2s, send_base: 0, recv_base: 0 },
        })
    }

    /// The NTLM SeqNum of the first PDU of each direction. Inside SPNEGO the mechListMIC used SeqNum 0 of its
    /// direction and only the RC4 handles are reset afterwards ([MS-SPNG 3.3.5.1]; pyspnego and Samba agree),
    /// so the first PDU carries 1 in a direction that had a MIC.
    #[must_use]
    pub const fn with_sequence_bases(mut self, send: u32, recv: u32) -> Self {
        self.send_base = send;
        self.recv_base = recv;
        self
    }
}

fn at(base: u32, seq: u32) -> Result<u32> {
    base.checked_add(seq).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "ntlm sequence"))
}

impl MessageProtector for NtlmProtector {
    fn sizes(&self) -> VerifierSizes {
        // MS-RPCE 2.2.2.11: Windows pads the stub to 16 bytes for NTLM.
        VerifierSizes { signature_len: SIGNATURE_LEN, pad_align: 16, max_token: MAX_TOKEN }
    }

    fn peek_sequence(&self, auth_value: &[u8]) -> Option<u32> {
        // a number below the base cannot be expressed relative to it: report it as the oldest (a replay)
        crypto::signature_seq(auth_value).map(|s| s.saturating_sub(self.recv_base))
    }

    fn seal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        self.send.seal(at(self.send_base, seq)?, parts.header, parts.body, parts.trailer, auth_value)
    }

    fn unseal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        self.recv.unseal(at(self.recv_base, seq)?, parts.header, parts.body, parts.trailer, auth_value)
    }

    fn sign(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        self.send.sign(at(self.send_base, seq)?, &[parts.header, parts.body, parts.trailer], auth_value)
    }

    fn verify(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        self.recv.verify(at(self.recv_base, seq)?, &[parts.header, parts.body, parts.trailer], auth_value)
    }
}

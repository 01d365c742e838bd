//! The acceptor-side proof check that sspi does not do ([MS-NLMP] 3.2.5.1.2, 3.3.2), shared by the live
//! server and the passive capture decryptor.

use super::crypto::{self, NtHash, flags};
use super::msg::{Authenticate, Challenge, NTLMV2_FIXED};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::secret::{SecretBytes, ct_eq, wipe};

/// The result of a verified NTLMv2 AUTHENTICATE message.
#[derive(Debug, Clone)]
pub struct VerifiedAuthenticate {
    /// ExportedSessionKey.
    pub exported_session_key: SecretBytes,
    /// NegotiateFlags of the AUTHENTICATE message.
    pub flags: u32,
    /// Whether a MIC was announced (MsvAvFlags) and verified.
    pub mic_verified: bool,
    /// User name as sent.
    pub user: String,
    /// Domain as sent.
    pub domain: String,
}

/// Verifies NTProofStr against `nt` (constant time), derives the ExportedSessionKey and checks the MIC when
/// MsvAvFlags announces one. Only NTLMv2 with extended session security passes.
///
/// NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || NtChallengeResponse[16..]) must equal
/// NtChallengeResponse[..16] ([MS-NLMP] 3.3.2). The AV pairs (including MsvAvFlags) lie inside the
/// covered bytes, so clearing the MIC-present flag breaks the proof.
pub fn verify_authenticate(
    negotiate: &[u8],
    challenge: &[u8],
    auth: &Authenticate<'_>,
    nt: &NtHash,
) -> Result<VerifiedAuthenticate> {
    let ch = Challenge::parse(challenge)?;
    if auth.nt_response.len() <= NTLMV2_FIXED {
        // [MS-NLMP] 2.2.2.6: a 24-byte response is NTLMv1 (or LMv1); refused.
        return Err(AuthError::new(AuthErrorKind::WeakProtocol, "ntlm authenticate nt response")
            .with_detail(format!("{} bytes: not an NTLMv2 response", auth.nt_response.len())));
    }
    if auth.flags & flags::EXTENDED_SESSION_SECURITY == 0 {
        return Err(AuthError::new(AuthErrorKind::WeakProtocol, "ntlm authenticate flags")
            .with_detail("extended session security not negotiated"));
    }
    let (proof_sent, temp) = auth.nt_response.split_at(16);
    let mut ntowf = crypto::ntowf_v2(nt, &auth.user, &auth.domain);
    let (proof, mut base) = crypto::nt_proof(&ntowf, &ch.server_challenge, temp);
    wipe(&mut ntowf);
    if !ct_eq(&proof, proof_sent) {
        wipe(&mut base);
        return Err(AuthError::new(AuthErrorKind::LogonDenied, "ntlm ntproofstr"));
    }
    let exported = crypto::exported_session_key(&base, auth.flags, auth.encrypted_session_key);
    wipe(&mut base);
    let mut exported = exported?;
    let mic_verified = if auth.has_mic() {
        let (mic_sent, zeroed) = auth.mic_and_zeroed()?;
        let mic = crypto::mic(&exported, negotiate, challenge, &zeroed);
        if !ct_eq(&mic, &mic_sent) {
            wipe(&mut exported);
            return Err(AuthError::new(AuthErrorKind::MicMismatch, "ntlm authenticate mic"));
        }
        true
    } else {
        false
    };
    let out = VerifiedAuthenticate {
        exported_session_key: SecretBytes::new(exported.to_vec()),
        flags: auth.flags,
        mic_verified,
        user: auth.user.clone(),
        domain: auth.domain.clone(),
    };
    wipe(&mut exported);
    Ok(out)
}

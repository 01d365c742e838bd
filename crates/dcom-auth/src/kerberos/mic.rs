//! RFC 4121 MIC tokens (TOK_ID 04 04, [RFC 4121 4.2.6.1]) for AES128/AES256-CTS-HMAC-SHA1-96: GSS_GetMIC
//! and GSS_VerifyMIC over a list of buffers (the GSS_GetMICEx of [MS-KILE 3.4.5.6], used for
//! PKT_INTEGRITY and for the SPNEGO mechListMIC). sspi has no Kerberos MakeSignature, so this is ours.

use picky_krb::crypto::aes::{AesSize, checksum_sha_aes};

use super::key::{EncType, KerberosKey, crypto_err};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::secret::ct_eq;

/// The length of an AES MIC token: 16-byte header + HMAC-SHA1-96.
pub const MIC_TOKEN_LEN: usize = HEADER_LEN + CHECKSUM_LEN;
/// The token header length ([RFC 4121 4.2.6]).
pub const HEADER_LEN: usize = 16;
/// The HMAC-SHA1-96 checksum length ([RFC 3962 6]).
pub const CHECKSUM_LEN: usize = 12;
/// TOK_ID of a MIC token.
pub const MIC_TOK_ID: [u8; 2] = [0x04, 0x04];

/// Flags ([RFC 4121 4.2.2]).
pub mod flags {
    /// SentByAcceptor.
    pub const SENT_BY_ACCEPTOR: u8 = 0x01;
    /// Sealed (wrap tokens with confidentiality).
    pub const SEALED: u8 = 0x02;
    /// AcceptorSubkey: the token is protected with the acceptor's subkey.
    pub const ACCEPTOR_SUBKEY: u8 = 0x04;
}

/// Who produced a token: selects the key usage ([RFC 4121 2]) and the SentByAcceptor flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The context initiator (the RPC client).
    Initiator,
    /// The context acceptor (the RPC server).
    Acceptor,
}

impl Sender {
    /// KG-USAGE-INITIATOR-SIGN (25) / KG-USAGE-ACCEPTOR-SIGN (23) ([RFC 4121 2]).
    #[must_use]
    pub const fn sign_usage(self) -> i32 {
        match self {
            Self::Initiator => 25,
            Self::Acceptor => 23,
        }
    }

    /// KG-USAGE-INITIATOR-SEAL (24) / KG-USAGE-ACCEPTOR-SEAL (22) ([RFC 4121 2]).
    #[must_use]
    pub const fn seal_usage(self) -> i32 {
        match self {
            Self::Initiator => 24,
            Self::Acceptor => 22,
        }
    }

    /// The flags byte without Sealed ([RFC 4121 4.2.2]).
    #[must_use]
    pub const fn flags(self, acceptor_subkey: bool) -> u8 {
        let mut f = 0;
        if matches!(self, Self::Acceptor) {
            f |= flags::SENT_BY_ACCEPTOR;
        }
        if acceptor_subkey {
            f |= flags::ACCEPTOR_SUBKEY;
        }
        f
    }

    /// The other side.
    #[must_use]
    pub const fn peer(self) -> Self {
        match self {
            Self::Initiator => Self::Acceptor,
            Self::Acceptor => Self::Initiator,
        }
    }
}

pub(crate) fn aes_size(key: &KerberosKey) -> Result<AesSize> {
    match key.enctype() {
        EncType::AES128_CTS_HMAC_SHA1_96 => Ok(AesSize::Aes128),
        EncType::AES256_CTS_HMAC_SHA1_96 => Ok(AesSize::Aes256),
        other => Err(AuthError::new(AuthErrorKind::Unsupported, "kerberos enctype")
            .with_detail(format!("{other} (only aes128/aes256-cts-hmac-sha1-96)"))),
    }
}

fn header(sender: Sender, acceptor_subkey: bool, seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0xff; HEADER_LEN];
    h[..2].copy_from_slice(&MIC_TOK_ID);
    h[2] = sender.flags(acceptor_subkey);
    // h[3..8] is the filler FF FF FF FF FF
    h[8..].copy_from_slice(&seq.to_be_bytes());
    h
}

fn checksum(key: &KerberosKey, sender: Sender, message: &[&[u8]], hdr: &[u8]) -> Result<Vec<u8>> {
    let size = aes_size(key)?;
    // RFC 4121 4.2.4: the checksum is calculated over the plaintext message followed by the token header
    let total = message.iter().map(|m| m.len()).sum::<usize>() + hdr.len();
    let mut input = Vec::with_capacity(total);
    for m in message {
        input.extend_from_slice(m);
    }
    input.extend_from_slice(hdr);
    checksum_sha_aes(key.expose(), sender.sign_usage(), &input, &size).map_err(|e| crypto_err(&e, "mic checksum"))
}

/// GSS_GetMIC ([RFC 4121 4.2.6.1]): a 28-byte MIC token over the concatenation of `message`, with sequence
/// number `seq`, from `sender`, `acceptor_subkey` telling whether `key` is the acceptor's subkey.
pub fn get_mic(
    key: &KerberosKey,
    sender: Sender,
    acceptor_subkey: bool,
    seq: u64,
    message: &[&[u8]],
) -> Result<[u8; MIC_TOKEN_LEN]> {
    let hdr = header(sender, acceptor_subkey, seq);
    let sum = checksum(key, sender, message, &hdr)?;
    let mut out = [0u8; MIC_TOKEN_LEN];
    out[..HEADER_LEN].copy_from_slice(&hdr);
    let tail = out.get_mut(HEADER_LEN..).unwrap_or_default();
    if sum.len() != tail.len() {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "mic checksum").with_detail("unexpected length"));
    }
    tail.copy_from_slice(&sum);
    Ok(out)
}

/// The SND_SEQ of a MIC token, when `token` is long enough.
#[must_use]
pub fn mic_sequence(token: &[u8]) -> Option<u64> {
    token.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

/// GSS_VerifyMIC ([RFC 4121 4.2.6.1]): checks the token format, that it was sent by `sender` with the
/// expected AcceptorSubkey flag ([RFC 4121 4.2.2]: a token reflected back to its sender fails), that its
/// sequence number is `seq`, and its checksum (constant time).
pub fn verify_mic(
    key: &KerberosKey,
    sender: Sender,
    acceptor_subkey: bool,
    seq: u64,
    message: &[&[u8]],
    token: &[u8],
) -> Result<()> {
    if token.len() < MIC_TOKEN_LEN {
        return Err(AuthError::new(AuthErrorKind::Truncated, "mic token")
            .with_detail(format!("{} bytes, expected {MIC_TOKEN_LEN}", token.len())));
    }
    if token.len() > MIC_TOKEN_LEN {
        return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "mic token")
            .at(MIC_TOKEN_LEN)
            .with_detail(format!("{} bytes, expected {MIC_TOKEN_LEN}", token.len())));
    }
    let (hdr, sum) = token.split_at(HEADER_LEN);
    if hdr.get(..2) != Some(&MIC_TOK_ID[..]) {
        return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "mic token")
            .at(0)
            .with_detail("not TOK_ID 04 04"));
    }
    // RFC 4121 4.2.6.1: octets 3..7 are five FF fillers
    if hdr.get(3..8) != Some(&[0xff; 5][..]) {
        return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "mic token").at(3).with_detail("bad filler"));
    }
    let got_flags = hdr.get(2).copied().unwrap_or_default();
    // RFC 4121 4.2.2: the Sealed flag has no meaning in MIC tokens; the other two must match
    let want = sender.flags(acceptor_subkey);
    let mask = flags::SENT_BY_ACCEPTOR | flags::ACCEPTOR_SUBKEY;
    if got_flags & mask != want {
        return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "mic token flags")
            .at(2)
            .with_detail(format!("flags {got_flags:#04x}, expected {want:#04x}")));
    }
    let got_seq = mic_sequence(token).unwrap_or_default();
    if got_seq != seq {
        return Err(seq_error(seq, got_seq, "mic token sequence number"));
    }
    let expect = checksum(key, sender, message, hdr)?;
    if !ct_eq(&expect, sum) {
        return Err(AuthError::new(AuthErrorKind::SignatureMismatch, "mic token checksum"));
    }
    Ok(())
}

/// A sequence-number mismatch as `Replay` (smaller) or `OutOfOrder` (larger), numbers clamped to u32.
pub(crate) fn seq_error(expected: u64, got: u64, context: &'static str) -> AuthError {
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let (expected, got) = (clamp(expected), clamp(got));
    if got < expected {
        AuthError::new(AuthErrorKind::Replay { expected, got }, context)
    } else {
        AuthError::new(AuthErrorKind::OutOfOrder { expected, got }, context)
    }
}

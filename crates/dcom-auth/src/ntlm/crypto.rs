//! NTLMv2 cryptography ([MS-NLMP] 3.3.2, 3.4.4.2, 3.4.5): NTOWFv2, NTProofStr, session keys, ESS sign/seal.

use core::fmt;

use md4::Md4;
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};

use crate::error::{AuthError, AuthErrorKind, Result};
use crate::secret::{SecretBytes, ct_eq, wipe};

// The keyed signing state is secret-equivalent: md-5's `zeroize` feature must wipe it on drop.
const _: fn() = || {
    fn wiped_on_drop<T: md5::digest::zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<Md5>();
};

/// HMAC-MD5 (RFC 2104) with the key's inner and outer pad blocks hashed once: each message clones the two MD5
/// states instead of hashing both pad blocks again (two of the five compressions of a small NTLM message). Both
/// states are wiped on drop.
#[derive(Clone)]
struct KeyedHmacMd5 {
    inner: Md5,
    outer: Md5,
}

impl KeyedHmacMd5 {
    /// RFC 2104 section 2; keys longer than the 64-byte block are hashed first (NTLM keys are 16 bytes).
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            let digest: [u8; 16] = Md5::digest(key).into();
            block[..16].copy_from_slice(&digest);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 64];
        for (p, b) in pad.iter_mut().zip(block.iter()) {
            *p = b ^ 0x36;
        }
        let mut inner = Md5::new();
        inner.update(pad);
        for (p, b) in pad.iter_mut().zip(block.iter()) {
            *p = b ^ 0x5c;
        }
        let mut outer = Md5::new();
        outer.update(pad);
        wipe(&mut pad);
        wipe(&mut block);
        Self { inner, outer }
    }

    fn mac<'a>(&self, parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 16] {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// NTLMSSP_NEGOTIATE_* flags used here ([MS-NLMP] 2.2.2.5).
pub mod flags {
    /// NTLMSSP_NEGOTIATE_UNICODE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// NTLMSSP_NEGOTIATE_SIGN.
    pub const SIGN: u32 = 0x0000_0010;
    /// NTLMSSP_NEGOTIATE_SEAL.
    pub const SEAL: u32 = 0x0000_0020;
    /// NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// NTLMSSP_NEGOTIATE_ANONYMOUS.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    pub const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_NEGOTIATE_IDENTIFY.
    pub const IDENTIFY: u32 = 0x0010_0000;
    /// NTLMSSP_NEGOTIATE_VERSION.
    pub const VERSION: u32 = 0x0200_0000;
    /// NTLMSSP_NEGOTIATE_128.
    pub const NEG_128: u32 = 0x2000_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// NTLMSSP_NEGOTIATE_56.
    pub const NEG_56: u32 = 0x8000_0000;
}

const C2S_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const S2C_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const C2S_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const S2C_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// An NT hash, MD4(UTF-16LE(password)) ([MS-NLMP] 3.3.1 NTOWFv1): redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct NtHash(pub(crate) [u8; 16]);

impl NtHash {
    /// The NT hash of `password`.
    #[must_use]
    pub fn from_password(password: &str) -> Self {
        let mut utf16 = utf16le(password);
        let out: [u8; 16] = Md4::digest(&utf16).into();
        wipe(&mut utf16);
        Self(out)
    }

    /// An NT hash from its 16 raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 hash bytes (secret: do not log).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self> {
        let hex = hex.trim();
        let bad =
            || AuthError::new(AuthErrorKind::CredentialSyntax { line: 0 }, "nt hash").with_detail("need 32 hex digits");
        if hex.len() != 32 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            let pair = hex.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
            *o = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// `$NTLM$:<hex>`, the form sspi takes as a password.
    pub(crate) fn sspi_password(&self) -> String {
        let mut s = String::from("$NTLM$:");
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl fmt::Debug for NtHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NtHash(<redacted>)")
    }
}

impl Drop for NtHash {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub(crate) fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-MD5 of the concatenated `parts` under `key` (one-shot; the per-message signing keeps a keyed state).
pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    KeyedHmacMd5::new(key).mac(parts.iter().copied())
}

fn rc4(key: &[u8]) -> Result<Rc4> {
    <Rc4 as rc4::KeyInit>::new_from_slice(key)
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, "rc4 key").with_detail("invalid key length"))
}

/// NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(UPPER(user) || domain)) ([MS-NLMP] 3.3.2), with user and domain as
/// sent in the AUTHENTICATE message.
#[must_use]
pub fn ntowf_v2(nt: &NtHash, user: &str, domain: &str) -> [u8; 16] {
    let ud = utf16le(&format!("{}{domain}", user.to_uppercase()));
    hmac_md5(&nt.0, &[&ud])
}

/// NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp) where temp = NtChallengeResponse[16..]
/// ([MS-NLMP] 3.3.2). Returns `(NTProofStr, SessionBaseKey)`.
#[must_use]
pub fn nt_proof(ntowf: &[u8; 16], server_challenge: &[u8; 8], temp: &[u8]) -> ([u8; 16], [u8; 16]) {
    let proof = hmac_md5(ntowf, &[server_challenge, temp]);
    let base = hmac_md5(ntowf, &[&proof]);
    (proof, base)
}

/// ExportedSessionKey: with KEY_EXCH, RC4(KeyExchangeKey, EncryptedRandomSessionKey); else KeyExchangeKey
/// ([MS-NLMP] 3.1.5.1.2 / 3.2.5.1.2; for NTLMv2 KeyExchangeKey = SessionBaseKey, 3.4.5.1).
pub fn exported_session_key(key_exchange_key: &[u8; 16], flags: u32, encrypted: &[u8]) -> Result<[u8; 16]> {
    if flags & flags::KEY_EXCH == 0 {
        return Ok(*key_exchange_key);
    }
    let mut out: [u8; 16] = encrypted.try_into().map_err(|_| {
        AuthError::new(AuthErrorKind::InvalidToken, "encrypted random session key").with_detail("not 16 bytes")
    })?;
    rc4(key_exchange_key)?.apply_keystream(&mut out);
    Ok(out)
}

/// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with a zeroed MIC)
/// ([MS-NLMP] 3.1.5.1.2).
#[must_use]
pub fn mic(exported: &[u8; 16], negotiate: &[u8], challenge: &[u8], authenticate_zeroed: &[u8]) -> [u8; 16] {
    hmac_md5(exported, &[negotiate, challenge, authenticate_zeroed])
}

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (requests).
    ClientToServer,
    /// Server to client (responses).
    ServerToClient,
}

/// The signing key and sealing RC4 state of one direction ([MS-NLMP] 3.4.5.2, 3.4.5.3, 3.4.4.2).
pub(crate) struct DirectionKeys {
    /// HMAC-MD5 keyed with the signing key once per context.
    sign_mac: KeyedHmacMd5,
    seal: Rc4,
    key_exch: bool,
}

impl fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectionKeys").field("key_exch", &self.key_exch).finish_non_exhaustive()
    }
}

/// The signature size: Version(4) | Checksum(8) | SeqNum(4) ([MS-NLMP] 2.2.2.9.1).
pub const SIGNATURE_LEN: usize = 16;

impl DirectionKeys {
    /// SIGNKEY / SEALKEY with extended session security ([MS-NLMP] 3.4.5.2, 3.4.5.3).
    pub(crate) fn derive(exported: &[u8; 16], flags: u32, dir: Direction) -> Result<Self> {
        let (sign_magic, seal_magic) = match dir {
            Direction::ClientToServer => (C2S_SIGN, C2S_SEAL),
            Direction::ServerToClient => (S2C_SIGN, S2C_SEAL),
        };
        let mut sign_key = md5(&[exported, sign_magic]);
        let sign_mac = KeyedHmacMd5::new(&sign_key);
        wipe(&mut sign_key);
        let seal_base: &[u8] = if flags & flags::NEG_128 != 0 {
            exported
        } else if flags & flags::NEG_56 != 0 {
            exported.get(..7).unwrap_or(exported)
        } else {
            exported.get(..5).unwrap_or(exported)
        };
        let mut seal_key = md5(&[seal_base, seal_magic]);
        let seal = rc4(&seal_key)?;
        wipe(&mut seal_key);
        Ok(Self { sign_mac, seal, key_exch: flags & flags::KEY_EXCH != 0 })
    }

    /// HMAC_MD5(SigningKey, SeqNum || message...)[0..8] ([MS-NLMP] 3.4.4.2); NTLMv2 covers every buffer
    /// ([MS-NLMP] 3.4.6.1).
    fn raw_checksum(&self, seq: u32, buffers: &[&[u8]]) -> [u8; 8] {
        let seq_le = seq.to_le_bytes();
        let full = self.sign_mac.mac(core::iter::once(&seq_le[..]).chain(buffers.iter().copied()));
        let mut out = [0u8; 8];
        out.copy_from_slice(full.get(..8).unwrap_or(&[0; 8]));
        out
    }

    /// With KEY_EXCH the checksum is RC4-encrypted with the sealing handle, after the message ([MS-NLMP] 3.4.4.2).
    fn finish(&mut self, mut sum: [u8; 8]) -> [u8; 8] {
        if self.key_exch {
            self.seal.apply_keystream(&mut sum);
        }
        sum
    }

    fn write_signature(out: &mut [u8], checksum: &[u8; 8], seq: u32) -> Result<()> {
        let out: &mut [u8; SIGNATURE_LEN] = out.try_into().map_err(|_| {
            AuthError::new(AuthErrorKind::BadSignatureFormat, "ntlm signature").with_detail("not 16 bytes")
        })?;
        out[..4].copy_from_slice(&1u32.to_le_bytes());
        out[4..12].copy_from_slice(checksum);
        out[12..].copy_from_slice(&seq.to_le_bytes());
        Ok(())
    }

    fn check_signature(sig: &[u8], checksum: &[u8; 8], seq: u32) -> Result<()> {
        let sig: &[u8; SIGNATURE_LEN] = sig
            .try_into()
            .map_err(|_| AuthError::new(AuthErrorKind::Truncated, "ntlm signature").with_detail("not 16 bytes"))?;
        if sig[..4] != 1u32.to_le_bytes() {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "ntlm signature version").at(0));
        }
        let got_seq = u32::from_le_bytes([sig[12], sig[13], sig[14], sig[15]]);
        let ok_sum = ct_eq(&sig[4..12], checksum);
        if got_seq != seq || !ok_sum {
            return Err(AuthError::new(AuthErrorKind::SignatureMismatch, "ntlm signature checksum").at(4));
        }
        Ok(())
    }

    /// SEAL: encrypts `body` in place, then signs header || plaintext body || trailer ([MS-NLMP] 3.4.3, 3.4.6).
    pub(crate) fn seal(
        &mut self,
        seq: u32,
        header: &[u8],
        body: &mut [u8],
        trailer: &[u8],
        sig: &mut [u8],
    ) -> Result<()> {
        let raw = self.raw_checksum(seq, &[header, body, trailer]);
        self.seal.apply_keystream(body);
        let sum = self.finish(raw);
        Self::write_signature(sig, &sum, seq)
    }

    /// UNSEAL: decrypts `body` in place, then checks the signature over header || plaintext || trailer.
    pub(crate) fn unseal(
        &mut self,
        seq: u32,
        header: &[u8],
        body: &mut [u8],
        trailer: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        if sig.len() != SIGNATURE_LEN {
            return Err(AuthError::new(AuthErrorKind::Truncated, "ntlm signature"));
        }
        self.seal.apply_keystream(body);
        let raw = self.raw_checksum(seq, &[header, body, trailer]);
        let sum = self.finish(raw);
        Self::check_signature(sig, &sum, seq)
    }

    /// MAC over header || body || trailer ([MS-NLMP] 3.4.4.2).
    pub(crate) fn sign(&mut self, seq: u32, buffers: &[&[u8]], sig: &mut [u8]) -> Result<()> {
        let raw = self.raw_checksum(seq, buffers);
        let sum = self.finish(raw);
        Self::write_signature(sig, &sum, seq)
    }

    /// Verifies a MAC.
    pub(crate) fn verify(&mut self, seq: u32, buffers: &[&[u8]], sig: &[u8]) -> Result<()> {
        if sig.len() != SIGNATURE_LEN {
            return Err(AuthError::new(AuthErrorKind::Truncated, "ntlm signature"));
        }
        let raw = self.raw_checksum(seq, buffers);
        let sum = self.finish(raw);
        Self::check_signature(sig, &sum, seq)
    }
}

/// The sequence number in clear in an NTLM signature (bytes 12..16).
pub(crate) fn signature_seq(sig: &[u8]) -> Option<u32> {
    let b: [u8; 4] = sig.get(12..16)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Session keys of an NTLMv2 context.
#[derive(Debug, Clone)]
pub struct NtlmSessionKeys {
    /// ExportedSessionKey.
    pub exported: SecretBytes,
    /// Negotiated flags (from the AUTHENTICATE message).
    pub flags: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()
    }

    /// RFC 2202 section 2 test cases 1, 2, 3, 6 (a key longer than the block) and a message split in parts,
    /// checked against the RFC's digests and against the `hmac` crate (an independent implementation).
    #[test]
    fn keyed_hmac_md5_matches_rfc_2202_and_the_hmac_crate() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 4] = [
            (vec![0x0b; 16], b"Hi There".to_vec(), "9294727a3638bb1c13f48ef8158bfc9d"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "750c783e6ab0b503eaa86e310a5db738"),
            (vec![0xaa; 16], vec![0xdd; 50], "56be34521d144c88dbb8c733f0e8b3f6"),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
            ),
        ];
        for (key, msg, want) in cases {
            use hmac::{KeyInit as _, Mac as _};
            let k = KeyedHmacMd5::new(&key);
            assert_eq!(k.mac([msg.as_slice()]).to_vec(), hex(want));
            let (a, b) = msg.split_at(msg.len() / 3);
            assert_eq!(k.mac([a, b]).to_vec(), hex(want), "same state reused, message in two parts");
            assert_eq!(hmac_md5(&key, &[a, b]).to_vec(), hex(want));
            let mut reference = hmac::Hmac::<Md5>::new_from_slice(&key).expect("any key length");
            reference.update(&msg);
            assert_eq!(reference.finalize().into_bytes().to_vec(), hex(want));
        }
    }
}

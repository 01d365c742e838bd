//! Kerberos long-term and session keys (RFC 3961, RFC 3962).

use core::fmt;

use picky_krb::crypto::CipherSuite;

use crate::error::{AuthError, AuthErrorKind, Result};
use crate::secret::SecretBytes;

/// A Kerberos encryption type number ([RFC 3961 8], IANA "Kerberos Encryption Type Numbers"). Open set:
/// unknown values are kept, operations on them are `Unsupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EncType(pub i32);

impl EncType {
    /// des3-cbc-sha1-kd ([RFC 3961 6.3]).
    pub const DES3_CBC_SHA1_KD: Self = Self(16);
    /// aes128-cts-hmac-sha1-96 ([RFC 3962]).
    pub const AES128_CTS_HMAC_SHA1_96: Self = Self(17);
    /// aes256-cts-hmac-sha1-96 ([RFC 3962]).
    pub const AES256_CTS_HMAC_SHA1_96: Self = Self(18);
    /// rc4-hmac ([RFC 4757]); parsed, not supported by the crypto here.
    pub const RC4_HMAC: Self = Self(23);

    /// The registered name, when known.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            16 => Some("des3-cbc-sha1-kd"),
            17 => Some("aes128-cts-hmac-sha1-96"),
            18 => Some("aes256-cts-hmac-sha1-96"),
            23 => Some("rc4-hmac"),
            _ => None,
        }
    }

    /// The key length in bytes, for the types we know.
    #[must_use]
    pub const fn key_len(self) -> Option<usize> {
        match self.0 {
            16 => Some(24),
            17 | 23 => Some(16),
            18 => Some(32),
            _ => None,
        }
    }
}

impl fmt::Display for EncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "enctype {}", self.0),
        }
    }
}

/// A Kerberos key: its encryption type and the key bytes (redacted in `Debug`, wiped on drop).
#[derive(Clone, PartialEq, Eq)]
pub struct KerberosKey {
    enctype: EncType,
    value: SecretBytes,
}

impl fmt::Debug for KerberosKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosKey").field("enctype", &self.enctype).field("value", &self.value).finish()
    }
}

impl KerberosKey {
    /// A key of `enctype`; the length must match the type when the type is known.
    pub fn new(enctype: EncType, value: &[u8]) -> Result<Self> {
        if let Some(want) = enctype.key_len()
            && value.len() != want
        {
            return Err(AuthError::new(AuthErrorKind::InvalidKey, "kerberos key")
                .with_detail(format!("{enctype}: {} bytes, expected {want}", value.len())));
        }
        Ok(Self { enctype, value: SecretBytes::from(value) })
    }

    /// A key from hex digits (whitespace ignored).
    pub fn from_hex(enctype: EncType, hex: &str) -> Result<Self> {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return Err(AuthError::new(AuthErrorKind::InvalidKey, "kerberos key hex").with_detail("odd digit count"));
        }
        let mut out = Vec::with_capacity(digits.len() / 2);
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_val(pair.first().copied());
            let lo = hex_val(pair.get(1).copied());
            match (hi, lo) {
                (Some(h), Some(l)) => out.push((h << 4) | l),
                _ => {
                    return Err(AuthError::new(AuthErrorKind::InvalidKey, "kerberos key hex")
                        .at(i * 2)
                        .with_detail("not a hex digit"));
                }
            }
        }
        let key = Self::new(enctype, &out);
        crate::secret::wipe(&mut out);
        key
    }

    /// The AES string-to-key of [RFC 3962 4] (PBKDF2-HMAC-SHA1, 4096 iterations, then DK(tkey, "kerberos")).
    /// The salt is usually the realm followed by the principal's components (`DOMAIN.LOCALhostdc1.domain.local`
    /// for a computer account, `DOMAIN.LOCALAdministrator` for a user).
    pub fn from_password(enctype: EncType, password: &str, salt: &str) -> Result<Self> {
        let suite = suite(enctype)?;
        let mut v = suite
            .cipher()
            .generate_key_from_password(password.as_bytes(), salt.as_bytes())
            .map_err(|e| crypto_err(&e, "string-to-key"))?;
        let key = Self::new(enctype, &v);
        crate::secret::wipe(&mut v);
        key
    }

    /// The encryption type.
    #[must_use]
    pub const fn enctype(&self) -> EncType {
        self.enctype
    }

    /// The key bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        self.value.expose()
    }

    /// `decrypt(key, usage, ciphertext)` of [RFC 3961 5.3] with its integrity check: a wrong key or a
    /// tampered ciphertext is `SignatureMismatch`.
    pub fn decrypt(&self, usage: i32, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let suite = self.aes_suite()?;
        if ciphertext.len() < MIN_CIPHERTEXT {
            return Err(AuthError::new(AuthErrorKind::Truncated, "kerberos ciphertext")
                .with_detail(format!("{} bytes, need at least {MIN_CIPHERTEXT}", ciphertext.len())));
        }
        suite.cipher().decrypt(self.expose(), usage, ciphertext).map_err(|e| crypto_err(&e, "kerberos decrypt"))
    }

    /// `encrypt(key, usage, plaintext)` of [RFC 3961 5.3] with a random confounder.
    pub fn encrypt(&self, usage: i32, plaintext: &[u8]) -> Result<Vec<u8>> {
        let suite = self.aes_suite()?;
        suite.cipher().encrypt(self.expose(), usage, plaintext).map_err(|e| crypto_err(&e, "kerberos encrypt"))
    }

    /// The cipher suite, for the AES types only (the only ones with GSS per-message support here).
    pub(crate) fn aes_suite(&self) -> Result<CipherSuite> {
        match self.enctype {
            EncType::AES128_CTS_HMAC_SHA1_96 => Ok(CipherSuite::Aes128CtsHmacSha196),
            EncType::AES256_CTS_HMAC_SHA1_96 => Ok(CipherSuite::Aes256CtsHmacSha196),
            other => Err(AuthError::new(AuthErrorKind::Unsupported, "kerberos enctype")
                .with_detail(format!("{other} (only aes128/aes256-cts-hmac-sha1-96)"))),
        }
    }
}

/// Confounder (16) + one byte + HMAC-SHA1-96 (12) is the shortest AES ciphertext ([RFC 3962 6]).
const MIN_CIPHERTEXT: usize = 16 + 12;

fn suite(enctype: EncType) -> Result<CipherSuite> {
    KerberosKey { enctype, value: SecretBytes::new(Vec::new()) }.aes_suite()
}

fn hex_val(c: Option<u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Maps a picky-krb crypto error: an integrity failure is `SignatureMismatch`, anything else (lengths)
/// `InvalidToken`.
pub(crate) fn crypto_err(e: &picky_krb::crypto::KerberosCryptoError, context: &'static str) -> AuthError {
    use picky_krb::crypto::KerberosCryptoError as E;
    match e {
        E::IntegrityCheck => AuthError::new(AuthErrorKind::SignatureMismatch, context),
        E::CipherLength(..) => AuthError::new(AuthErrorKind::Truncated, context).with_detail(e.to_string()),
        _ => AuthError::new(AuthErrorKind::InvalidToken, context).with_detail(e.to_string()),
    }
}

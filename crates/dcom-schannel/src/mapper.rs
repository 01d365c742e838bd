//! Certificate to account mapping: who a verified client certificate is.
//!
//! Schannel maps client certificates to Windows accounts by UPN, by subject/issuer or by an explicit table
//! (the IIS/AD "certificate mapping" modes); these mappers are the equivalent for our server. They run after
//! rustls verified the chain against the client CA set, so they decide *who*, never *whether the certificate
//! is trustworthy*.

use core::fmt;
use std::collections::HashMap;

use dcom_auth::{AuthnProof, Identity};
use dcom_pdu::AuthType;

use crate::x509::CertificateInfo;

/// Longest account or domain name a mapper accepts.
pub const MAX_NAME_LEN: usize = 256;

/// Why a certificate did not map to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapErrorKind {
    /// The certificate has no name of the kind the mapper uses (no subject CN, no UPN).
    NoName,
    /// The certificate has several names of that kind: which account is meant is ambiguous.
    Ambiguous,
    /// The name is empty, too long, contains control characters or separators where none may be.
    BadName,
    /// The name is well formed but not accepted (UPN suffix not allowed, thumbprint not in the table).
    NotMapped,
    /// A thumbprint given to [`ThumbprintMapper::insert_hex`] is not 64 hex digits.
    BadThumbprint,
}

impl fmt::Display for MapErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoName => "certificate carries no name for this mapping",
            Self::Ambiguous => "certificate carries several names for this mapping",
            Self::BadName => "certificate name is not a valid account name",
            Self::NotMapped => "certificate is not mapped to an account",
            Self::BadThumbprint => "thumbprint is not 64 hex digits",
        })
    }
}

/// A mapping failure: the kind and a non-secret detail (names from the certificate are not secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    /// What went wrong.
    pub kind: MapErrorKind,
    /// Detail.
    pub detail: String,
}

impl MapError {
    /// A new error.
    #[must_use]
    pub fn new(kind: MapErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for MapError {}

/// Maps a verified client certificate to the caller's [`Identity`].
pub trait CertificateMapper: Send + Sync + fmt::Debug {
    /// The identity of the holder of `cert` (the end-entity certificate, already verified by rustls).
    fn map(&self, cert: &CertificateInfo) -> Result<Identity, MapError>;
}

/// Checks a name taken from a certificate: non-empty, bounded, no control characters.
fn check_name(name: &str, what: &str) -> Result<(), MapError> {
    if name.is_empty() {
        return Err(MapError::new(MapErrorKind::BadName, format!("empty {what}")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(MapError::new(MapErrorKind::BadName, format!("{what} longer than {MAX_NAME_LEN} bytes")));
    }
    if name.chars().any(char::is_control) {
        return Err(MapError::new(MapErrorKind::BadName, format!("{what} contains control characters")));
    }
    Ok(())
}

/// The identity of a certificate holder.
///
/// `proof` is [`AuthnProof::Anonymous`] because `dcom-auth` has no certificate variant yet: a consumer that
/// checks the proof therefore treats a certificate caller as unproven (fails closed); use `provider`
/// ([`AuthType::GSS_SCHANNEL`]) and `anonymous == false` to recognise it.
fn certificate_identity(account: &str, domain: &str, principal: String) -> Identity {
    Identity {
        account: account.to_owned(),
        domain: domain.to_owned(),
        principal,
        provider: AuthType::GSS_SCHANNEL,
        proof: AuthnProof::Anonymous,
        anonymous: false,
    }
}

/// Maps by the subject commonName: `CN=alice` becomes `DOMAIN\alice` (or `alice` without a domain).
/// Exactly one CN is required; a CN holding `\` or `@` is refused (it would smuggle in another domain).
#[derive(Debug, Clone, Default)]
pub struct SubjectCnMapper {
    domain: String,
}

impl SubjectCnMapper {
    /// A mapper that puts every caller in `domain` (`None`: no domain).
    #[must_use]
    pub fn new(domain: Option<&str>) -> Self {
        Self { domain: domain.unwrap_or_default().to_owned() }
    }
}

impl CertificateMapper for SubjectCnMapper {
    fn map(&self, cert: &CertificateInfo) -> Result<Identity, MapError> {
        let cn = match cert.subject_common_names.as_slice() {
            [] => return Err(MapError::new(MapErrorKind::NoName, "no subject common name")),
            [one] => one,
            more => {
                return Err(MapError::new(MapErrorKind::Ambiguous, format!("{} subject common names", more.len())));
            }
        };
        check_name(cn, "common name")?;
        if cn.contains(['\\', '@', '/']) {
            return Err(MapError::new(MapErrorKind::BadName, format!("common name {cn:?} contains a separator")));
        }
        let principal = if self.domain.is_empty() { cn.clone() } else { format!("{}\\{cn}", self.domain) };
        Ok(certificate_identity(cn, &self.domain, principal))
    }
}

/// Maps by the UPN in the subjectAltName (otherName 1.3.6.1.4.1.311.20.2.3, as Active Directory smart-card
/// logon does): `alice@example.com` becomes account `alice`, domain `example.com`, principal the UPN.
/// Exactly one UPN is required; with an allow list, the UPN suffix must be on it (case-insensitive).
#[derive(Debug, Clone, Default)]
pub struct UpnMapper {
    allowed_suffixes: Vec<String>,
}

impl UpnMapper {
    /// A mapper accepting any UPN suffix.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept only UPNs ending in `@suffix` (may be called several times).
    #[must_use]
    pub fn allow_suffix(mut self, suffix: &str) -> Self {
        self.allowed_suffixes.push(suffix.to_ascii_lowercase());
        self
    }
}

impl CertificateMapper for UpnMapper {
    fn map(&self, cert: &CertificateInfo) -> Result<Identity, MapError> {
        let upn = match cert.upns.as_slice() {
            [] => return Err(MapError::new(MapErrorKind::NoName, "no upn in the subject alternative name")),
            [one] => one,
            more => return Err(MapError::new(MapErrorKind::Ambiguous, format!("{} upns", more.len()))),
        };
        check_name(upn, "upn")?;
        let Some((account, suffix)) = upn.rsplit_once('@') else {
            return Err(MapError::new(MapErrorKind::BadName, format!("upn {upn:?} has no @")));
        };
        check_name(account, "upn account")?;
        check_name(suffix, "upn suffix")?;
        if account.contains(['\\', '/', '@']) {
            return Err(MapError::new(MapErrorKind::BadName, format!("upn {upn:?} contains a separator")));
        }
        if !self.allowed_suffixes.is_empty() && !self.allowed_suffixes.contains(&suffix.to_ascii_lowercase()) {
            return Err(MapError::new(MapErrorKind::NotMapped, format!("upn suffix {suffix:?} not allowed")));
        }
        Ok(certificate_identity(account, suffix, upn.clone()))
    }
}

/// Maps by the SHA-256 thumbprint of the DER certificate through an explicit table (one-to-one mapping).
#[derive(Debug, Clone, Default)]
pub struct ThumbprintMapper {
    table: HashMap<[u8; 32], (String, String)>,
}

impl ThumbprintMapper {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the certificate whose SHA-256 is `sha256` to `domain\account` (`domain` may be empty).
    pub fn insert(&mut self, sha256: [u8; 32], account: &str, domain: &str) -> Result<(), MapError> {
        check_name(account, "account")?;
        if !domain.is_empty() {
            check_name(domain, "domain")?;
        }
        self.table.insert(sha256, (account.to_owned(), domain.to_owned()));
        Ok(())
    }

    /// Like [`insert`](Self::insert) with the thumbprint as 64 hex digits; `:` and spaces between digits are
    /// ignored (`AB:CD:..` as browsers print it).
    pub fn insert_hex(&mut self, thumbprint: &str, account: &str, domain: &str) -> Result<(), MapError> {
        let digits: Vec<u8> = thumbprint.bytes().filter(|b| *b != b':' && *b != b' ').collect();
        let bad = || MapError::new(MapErrorKind::BadThumbprint, format!("{thumbprint:?}"));
        let (pairs, rest) = digits.as_chunks::<2>();
        if pairs.len() != 32 || !rest.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(pairs) {
            let s = core::str::from_utf8(pair).map_err(|_| bad())?;
            *o = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        self.insert(out, account, domain)
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl CertificateMapper for ThumbprintMapper {
    fn map(&self, cert: &CertificateInfo) -> Result<Identity, MapError> {
        let Some((account, domain)) = self.table.get(&cert.sha256) else {
            return Err(MapError::new(
                MapErrorKind::NotMapped,
                format!("thumbprint {} not in the table", cert.thumbprint_hex()),
            ));
        };
        let principal = if domain.is_empty() { account.clone() } else { format!("{domain}\\{account}") };
        Ok(certificate_identity(account, domain, principal))
    }
}

//! Errors of configuration and certificate generation (handshake and protection errors are
//! [`dcom_auth::AuthError`]s, as the provider traits require).

use core::fmt;

/// What went wrong while building a configuration or generating certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchannelErrorKind {
    /// rustls refused the configuration (versions, cipher suites, verifier).
    Config,
    /// A certificate (own chain or a trust anchor) is unusable.
    Certificate,
    /// The private key is unusable or does not match the certificate.
    Key,
    /// Certificate generation (rcgen) failed.
    Generate,
}

impl fmt::Display for SchannelErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "invalid tls configuration",
            Self::Certificate => "unusable certificate",
            Self::Key => "unusable private key",
            Self::Generate => "certificate generation failed",
        })
    }
}

/// A configuration or generation error: kind, what was being processed, and a non-secret detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchannelError {
    kind: SchannelErrorKind,
    context: &'static str,
    detail: String,
}

impl SchannelError {
    pub(crate) fn new(kind: SchannelErrorKind, context: &'static str, detail: impl Into<String>) -> Self {
        Self { kind, context, detail: detail.into() }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> &SchannelErrorKind {
        &self.kind
    }

    /// What was being processed.
    #[must_use]
    pub const fn context(&self) -> &'static str {
        self.context
    }

    /// Detail (never key material).
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for SchannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} while processing {}: {}", self.kind, self.context, self.detail)
    }
}

impl std::error::Error for SchannelError {}

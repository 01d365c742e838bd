//! Typed errors of the authentication layer.

use core::fmt;

/// What went wrong (see [`AuthError::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// A security token (NTLM message, Kerberos token) is malformed or of the wrong type.
    InvalidToken,
    /// A token arrived when the context did not expect one (or the context is already complete).
    OutOfSequence,
    /// The user is not in the credential store (distinct from a wrong password).
    UnknownUser,
    /// The proof of the password did not verify (NTProofStr, MIC, or the provider's own check).
    LogonDenied,
    /// The MIC of the NTLM AUTHENTICATE message did not verify.
    MicMismatch,
    /// Anonymous authentication was attempted but the configuration does not allow it.
    AnonymousNotAllowed,
    /// Only NTLMv2 with extended session security is accepted.
    WeakProtocol,
    /// The context is not complete yet.
    NotComplete,
    /// The provider or level cannot do this operation.
    Unsupported,
    /// The signature / checksum of a PDU did not verify (header, body, trailer or signature tampered).
    SignatureMismatch,
    /// The signature token is not well formed (wrong version, wrong length).
    BadSignatureFormat,
    /// The PDU carries a sequence number that was already received: a replay.
    Replay {
        /// The sequence number expected next.
        expected: u32,
        /// The sequence number in the PDU.
        got: u32,
    },
    /// The PDU carries a sequence number ahead of the expected one: a PDU was lost or reordered.
    OutOfOrder {
        /// The sequence number expected next.
        expected: u32,
        /// The sequence number in the PDU.
        got: u32,
    },
    /// The PDU or its verifier is shorter than its headers say.
    Truncated,
    /// The sec_trailer does not match the security context (auth type, level or context id).
    TrailerMismatch,
    /// A protected PDU arrived without verifier, or an unprotected one with a verifier.
    VerifierMismatch,
    /// A previous protection failure desynchronised the context; it can no longer be used.
    Poisoned,
    /// The PDU framing around the verifier is invalid.
    Pdu,
    /// The sequence number space is exhausted.
    SequenceExhausted,
    /// A credential file or entry is malformed.
    CredentialSyntax {
        /// 1-based line number.
        line: usize,
    },
    /// An error reported by the `sspi` crate.
    Provider,
    /// A key has the wrong length for its encryption type, or is not valid hex.
    InvalidKey,
    /// A keytab file is malformed.
    Keytab,
    /// No key (keytab entry or given key) decrypts the ticket.
    NoMatchingKey,
    /// The Kerberos ticket's end time is past (beyond the allowed clock skew) ([RFC 4120 3.2.3]
    /// KRB_AP_ERR_TKT_EXPIRED), or a cached ticket is expired.
    TicketExpired,
    /// The Kerberos ticket's start time is in the future (beyond the allowed clock skew) (KRB_AP_ERR_TKT_NYV).
    TicketNotYetValid,
    /// The authenticator's time differs from ours by more than the allowed clock skew (KRB_AP_ERR_SKEW).
    ClockSkew,
    /// The ticket names a service principal we have a key for, but no key of that principal decrypts it
    /// (KRB_AP_ERR_BAD_INTEGRITY / KRB_AP_ERR_BADKEYVER): wrong or outdated service key.
    WrongServiceKey,
    /// The ticket names a service principal that is not ours (no keytab entry, not an accepted SPN), or the
    /// KDC does not know the requested service (KDC_ERR_S_PRINCIPAL_UNKNOWN).
    UnknownPrincipal,
    /// The authenticator was seen before (KRB_AP_ERR_REPEAT): a replayed AP-REQ.
    AuthenticatorReplay,
    /// The peer failed mutual authentication (AP-REP that does not decrypt or does not match the request).
    MutualAuthFailed,
    /// The KDC answered with a KRB-ERROR not mapped to a more specific kind.
    KdcError {
        /// The Kerberos error code ([RFC 4120 7.5.9]).
        code: i32,
    },
    /// No KDC is configured for the realm (no explicit setting, no `kdc =` line in the profile).
    NoKdc,
    /// A credential cache is malformed or holds no usable credential.
    CredentialCache,
    /// A Kerberos profile (krb5.conf) could not be read.
    Profile,
    /// The SPNEGO peers have no mechanism in common, or the acceptor rejected the negotiation.
    NoCommonMechanism,
    /// The SPNEGO mechListMIC is missing where it is required, or does not verify ([MS-SPNG 3.1.5.1]).
    MechListMicMismatch,
}

impl fmt::Display for AuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidToken => f.write_str("invalid security token"),
            Self::OutOfSequence => f.write_str("token out of sequence"),
            Self::UnknownUser => f.write_str("unknown user"),
            Self::LogonDenied => f.write_str("logon denied"),
            Self::MicMismatch => f.write_str("authenticate message mic mismatch"),
            Self::AnonymousNotAllowed => f.write_str("anonymous authentication not allowed"),
            Self::WeakProtocol => f.write_str("only ntlmv2 with extended session security is accepted"),
            Self::NotComplete => f.write_str("security context not complete"),
            Self::Unsupported => f.write_str("unsupported operation"),
            Self::SignatureMismatch => f.write_str("pdu signature mismatch"),
            Self::BadSignatureFormat => f.write_str("malformed pdu signature"),
            Self::Replay { expected, got } => write!(f, "replayed pdu (sequence {got}, expected {expected})"),
            Self::OutOfOrder { expected, got } => {
                write!(f, "pdu out of order or lost (sequence {got}, expected {expected})")
            }
            Self::Truncated => f.write_str("truncated pdu"),
            Self::TrailerMismatch => f.write_str("sec_trailer does not match the security context"),
            Self::VerifierMismatch => f.write_str("verifier presence does not match the authentication level"),
            Self::Poisoned => f.write_str("security context poisoned by an earlier failure"),
            Self::Pdu => f.write_str("invalid pdu framing"),
            Self::SequenceExhausted => f.write_str("sequence numbers exhausted"),
            Self::CredentialSyntax { line } => write!(f, "malformed credential entry at line {line}"),
            Self::Provider => f.write_str("security provider error"),
            Self::InvalidKey => f.write_str("invalid key"),
            Self::Keytab => f.write_str("malformed keytab"),
            Self::NoMatchingKey => f.write_str("no key decrypts the ticket"),
            Self::TicketExpired => f.write_str("kerberos ticket expired"),
            Self::TicketNotYetValid => f.write_str("kerberos ticket not yet valid"),
            Self::ClockSkew => f.write_str("clock skew too great"),
            Self::WrongServiceKey => f.write_str("the service key does not decrypt the ticket"),
            Self::UnknownPrincipal => f.write_str("unknown service principal"),
            Self::AuthenticatorReplay => f.write_str("replayed kerberos authenticator"),
            Self::MutualAuthFailed => f.write_str("mutual authentication failed"),
            Self::KdcError { code } => write!(f, "kdc error {code}"),
            Self::NoKdc => f.write_str("no kdc configured for the realm"),
            Self::CredentialCache => f.write_str("unusable credential cache"),
            Self::Profile => f.write_str("unreadable kerberos profile"),
            Self::NoCommonMechanism => f.write_str("no common spnego mechanism"),
            Self::MechListMicMismatch => f.write_str("spnego mechlistmic missing or wrong"),
        }
    }
}

/// An authentication-layer error: a [`AuthErrorKind`], what was being processed, and a detail that never
/// contains secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    context: &'static str,
    offset: Option<usize>,
    detail: Option<String>,
}

impl AuthError {
    /// A new error of `kind` raised while processing `context`.
    #[must_use]
    pub const fn new(kind: AuthErrorKind, context: &'static str) -> Self {
        Self { kind, context, offset: None, detail: None }
    }

    /// The same error with the byte offset (in the token or frame) where it was detected.
    #[must_use]
    pub fn at(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The same error with a non-secret detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> &AuthErrorKind {
        &self.kind
    }

    /// What was being processed.
    #[must_use]
    pub const fn context(&self) -> &'static str {
        self.context
    }

    /// Byte offset, when known.
    #[must_use]
    pub const fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// Extra detail, when any.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub(crate) fn from_sspi(err: &sspi::Error, context: &'static str) -> Self {
        let kind = match err.error_type {
            sspi::ErrorKind::LogonDenied => AuthErrorKind::LogonDenied,
            sspi::ErrorKind::InvalidToken => AuthErrorKind::InvalidToken,
            sspi::ErrorKind::OutOfSequence => AuthErrorKind::OutOfSequence,
            sspi::ErrorKind::MessageAltered => AuthErrorKind::SignatureMismatch,
            sspi::ErrorKind::UnsupportedFunction => AuthErrorKind::Unsupported,
            _ => AuthErrorKind::Provider,
        };
        // sspi descriptions do not carry secrets; keep only the kind name to be safe
        Self::new(kind, context).with_detail(format!("sspi: {:?}", err.error_type))
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} while processing {}", self.kind, self.context)?;
        if let Some(off) = self.offset {
            write!(f, " at offset {off}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {}

pub(crate) type Result<T, E = AuthError> = core::result::Result<T, E>;

//! Errors of the association state machines.

use core::fmt;

use dcom_auth::AuthError;
use dcom_pdu::{PduError, RejectReason, Status};

/// Why a connection ended (or must end).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the transport.
    PeerClosed,
    /// We closed it on request (shutdown).
    Local,
    /// A PDU broke the protocol; `status` is the fault sent (if any) and `detail` says what was wrong.
    Protocol {
        /// The fault status sent before closing, if one was sent.
        status: Option<Status>,
        /// What was wrong.
        detail: String,
    },
    /// The peer sent a bind_nak (client side).
    BindRejected(RejectReason),
    /// A security failure that ends the connection (signature, sequence number, failed handshake).
    Security(String),
    /// A limit was hit (idle timeout, slow sender, too many connections).
    Limit(String),
    /// The server sent a shutdown PDU (C706 12.6.4.11).
    ServerShutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed => f.write_str("connection closed by peer"),
            Self::Local => f.write_str("connection closed locally"),
            Self::Protocol { status: Some(s), detail } => write!(f, "protocol error ({s}): {detail}"),
            Self::Protocol { status: None, detail } => write!(f, "protocol error: {detail}"),
            Self::BindRejected(r) => write!(f, "bind rejected: {}", r.name()),
            Self::Security(d) => write!(f, "security failure: {d}"),
            Self::Limit(d) => write!(f, "limit reached: {d}"),
            Self::ServerShutdown => f.write_str("server sent shutdown"),
        }
    }
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with a fault PDU (C706 12.6.4.7).
    Fault {
        /// The status (`nca_s_*`, `rpc_s_*` or a Win32/HRESULT value).
        status: Status,
        /// PFC_DID_NOT_EXECUTE was set: the call was not executed and can be retried.
        did_not_execute: bool,
    },
    /// The call was cancelled by the caller.
    Cancelled,
    /// The per-call timeout expired.
    TimedOut,
    /// The connection ended before the response arrived.
    ConnectionLost(CloseReason),
    /// The presentation context or security context named by the call does not exist or is not ready.
    NotBound(String),
    /// The security context failed: the mechanism refused a handshake leg (a KDC error, a wrong password, an
    /// unknown service principal), or a response failed its signature or sequence check.
    Security(String),
    /// The response was malformed.
    Protocol(String),
    /// A local encoding problem (stub too large for the fragment layout and so on).
    Local(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fault { status, did_not_execute } => {
                write!(f, "fault {status}")?;
                if *did_not_execute {
                    f.write_str(" (did not execute)")?;
                }
                Ok(())
            }
            Self::Cancelled => f.write_str("call cancelled"),
            Self::TimedOut => f.write_str("call timed out"),
            Self::ConnectionLost(r) => write!(f, "connection lost: {r}"),
            Self::NotBound(d) => write!(f, "not bound: {d}"),
            Self::Security(d) => write!(f, "security: {d}"),
            Self::Protocol(d) => write!(f, "malformed response: {d}"),
            Self::Local(d) => write!(f, "cannot send call: {d}"),
        }
    }
}

impl std::error::Error for CallError {}
impl std::error::Error for CloseReason {}

impl From<PduError> for CloseReason {
    fn from(e: PduError) -> Self {
        Self::Protocol { status: None, detail: e.to_string() }
    }
}

impl From<AuthError> for CloseReason {
    fn from(e: AuthError) -> Self {
        Self::Security(e.to_string())
    }
}

//! The one error type of this crate: what failed (kind), what we were doing (context), and the evidence
//! (detail: exit code, stderr tail, JSON error of a peer script).

use std::fmt;

/// What went wrong while setting up or driving a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeersErrorKind {
    /// `scripts/peers.sh install` or `samba-start` failed (not root, apt, provisioning, Samba did not start).
    Setup,
    /// A program the peers need is not installed (never skipped silently).
    MissingTool,
    /// A program could not be started.
    Spawn,
    /// A program ran but reported failure (non-zero exit, `"ok": false`).
    ToolFailed,
    /// A program's output was not what its contract says (no JSON, no subtests, missing fields).
    BadOutput,
    /// A program did not finish in time and was killed.
    Timeout,
    /// A file-system operation failed (state directory, lock file, capture file).
    Io,
}

impl fmt::Display for PeersErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Setup => "peer setup failed",
            Self::MissingTool => "missing tool",
            Self::Spawn => "cannot start program",
            Self::ToolFailed => "peer reported failure",
            Self::BadOutput => "unexpected peer output",
            Self::Timeout => "peer timed out",
            Self::Io => "i/o error",
        })
    }
}

/// Error from this crate. Cloneable because [`peers`](crate::peers) caches its outcome for the whole process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeersError {
    /// What went wrong.
    pub kind: PeersErrorKind,
    /// What was being done, e.g. `running samba_client.py samr`.
    pub context: String,
    /// Evidence: exit status, the peer's JSON error, the tail of stderr.
    pub detail: String,
}

impl PeersError {
    pub(crate) fn new(kind: PeersErrorKind, context: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind, context: context.into(), detail: detail.into() }
    }
}

impl fmt::Display for PeersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} while {}", self.kind, self.context)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for PeersError {}

/// Result alias of this crate.
pub type Result<T, E = PeersError> = std::result::Result<T, E>;

//! Typed errors for the DCOM layer.

use std::fmt;

use dcom_ndr::NdrError;

/// What went wrong while decoding or encoding a DCOM structure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DcomErrorKind {
    /// The NDR engine refused the bytes (or the value); boxed to keep the error small.
    Ndr(Box<NdrError>),
    /// Fewer bytes than the structure needs.
    Truncated {
        /// Bytes needed from the offset.
        needed: usize,
        /// Bytes that remain.
        available: usize,
    },
    /// A signature field does not hold its fixed value.
    BadSignature {
        /// Value found.
        found: u32,
        /// Value the specification requires.
        expected: u32,
    },
    /// `OBJREF.flags` is not exactly one of the four formats ([MS-DCOM 2.2.18.1]).
    UnknownObjrefFlags(u32),
    /// A field holds a value the specification forbids.
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A string or list is not terminated inside its buffer.
    Unterminated,
    /// Bytes left over after a structure that must fill its buffer.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A length does not fit the wire field (on encoding).
    TooLarge,
}

/// An error with the byte offset (from the start of the buffer being decoded) and the structure being decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcomError {
    kind: DcomErrorKind,
    offset: usize,
    context: &'static str,
}

/// Result alias for this crate.
pub type Result<T, E = DcomError> = std::result::Result<T, E>;

impl DcomError {
    /// Builds an error.
    #[must_use]
    pub fn new(kind: DcomErrorKind, offset: usize, context: &'static str) -> Self {
        Self { kind, offset, context }
    }

    /// Wraps an NDR error met while decoding `context` (the offset is the NDR error's own).
    #[must_use]
    pub fn ndr(e: NdrError, context: &'static str) -> Self {
        let offset = e.offset();
        Self { kind: DcomErrorKind::Ndr(Box::new(e)), offset, context }
    }

    /// Adds `base` to the offset (when a sub-buffer was decoded).
    #[must_use]
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> &DcomErrorKind {
        &self.kind
    }

    /// Byte offset where the problem was found.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The structure being decoded (`OBJREF`, `DUALSTRINGARRAY`, ...).
    #[must_use]
    pub fn context(&self) -> &'static str {
        self.context
    }
}

impl fmt::Display for DcomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: ", self.context, self.offset)?;
        match &self.kind {
            DcomErrorKind::Ndr(e) => write!(f, "{e}"),
            DcomErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: {needed} bytes needed, {available} available")
            }
            DcomErrorKind::BadSignature { found, expected } => {
                write!(f, "bad signature {found:#010x}, expected {expected:#010x}")
            }
            DcomErrorKind::UnknownObjrefFlags(v) => write!(f, "unknown OBJREF flags {v:#010x}"),
            DcomErrorKind::InvalidValue { field, value } => write!(f, "invalid {field} {value:#x}"),
            DcomErrorKind::Unterminated => write!(f, "string or list not terminated"),
            DcomErrorKind::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            DcomErrorKind::TooLarge => write!(f, "value too large for its length field"),
        }
    }
}

impl std::error::Error for DcomError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DcomErrorKind::Ndr(e) => Some(&**e),
            _ => None,
        }
    }
}

//! Typed NDR errors with byte offset and type path.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NdrErrorKind {
    /// Fewer bytes remain than the item needs.
    UnexpectedEof {
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// An element count cannot be satisfied by the bytes that remain (checked before allocating).
    CountTooLarge {
        /// The count read from the wire.
        count: u64,
        /// Bytes left.
        remaining: usize,
    },
    /// The decode would exceed [`crate::Limits::max_alloc`].
    AllocationLimit {
        /// Bytes requested in total.
        requested: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Nesting deeper than [`crate::Limits::max_depth`].
    DepthLimit {
        /// The configured limit.
        limit: u32,
    },
    /// A `[ref]` pointer carried referent id 0 (C706 14.3.10: reference pointers are never null).
    NullRefPointer,
    /// A varying array's offset plus actual count exceeds its maximum count (C706 14.3.3.3).
    ActualExceedsMax {
        /// Offset read.
        offset: u64,
        /// Actual count read.
        actual: u64,
        /// Maximum count.
        max: u64,
    },
    /// A `[string]` had a non-zero offset (C706 14.3.4: strings are transmitted from their first element).
    StringOffset {
        /// Offset read.
        offset: u64,
    },
    /// A `[string]` did not end with its terminator, or had none (C706 14.3.4).
    MissingTerminator,
    /// An attribute-linked count (`size_is`, `length_is`) disagrees with the data.
    InconsistentCount {
        /// Which attribute.
        what: &'static str,
        /// Value of the attribute expression.
        expected: i128,
        /// Count on the wire or in memory.
        actual: u64,
    },
    /// A count expression overflowed or divided by zero.
    CountExpression,
    /// A union discriminant that matches no arm and there is no default arm (C706 14.3.8).
    UnknownDiscriminant {
        /// The discriminant.
        value: i128,
    },
    /// A union's discriminant differs from its `switch_is` field.
    DiscriminantMismatch {
        /// The `switch_is` field value.
        expected: i128,
        /// The union's discriminant.
        actual: i128,
    },
    /// An enumeration value with no declared variant.
    UnknownEnumValue {
        /// The value read.
        value: i64,
    },
    /// A value outside its `[range(lo, hi)]` ([MS-RPCE 2.2.4.8]... MIDL range attribute).
    RangeViolation {
        /// The value.
        value: i128,
        /// Lower bound.
        min: i128,
        /// Upper bound.
        max: i128,
    },
    /// A char or string with an EBCDIC data representation.
    UnsupportedCharRep,
    /// A float with a VAX, Cray or IBM data representation.
    UnsupportedFloatRep,
    /// Invalid drep byte.
    InvalidDataRep {
        /// Index of the byte.
        byte: u8,
        /// Its value.
        value: u8,
    },
    /// A value too large for its wire field (for example a count > `u32::MAX` in NDR20, or a
    /// 16-bit enum value above `u16::MAX`).
    ValueTooLarge {
        /// The value.
        value: u64,
    },
    /// Internal pointer bookkeeping mismatch (a hand-written `Ndr` impl did not pair
    /// inline and deferred calls).
    PointerQueueDesync,
    /// A conformant structure's hoisted conformance was not consumed by a trailing array.
    ConformanceNotConsumed,
    /// A full pointer alias whose referent was never marshalled.
    DanglingFullPointer {
        /// The caller's object id.
        id: u64,
    },
    /// Bad type serialization header ([MS-RPCE 2.2.6]).
    TypeSerialization {
        /// Which check failed.
        what: &'static str,
    },
    /// Bytes left over after a complete decode.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for NdrErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof { needed, remaining } => {
                write!(f, "unexpected end of data: need {needed} bytes, {remaining} left")
            }
            Self::CountTooLarge { count, remaining } => {
                write!(f, "element count {count} exceeds the {remaining} bytes that remain")
            }
            Self::AllocationLimit { requested, limit } => {
                write!(f, "allocation of {requested} bytes exceeds the limit of {limit}")
            }
            Self::DepthLimit { limit } => write!(f, "nesting deeper than the limit of {limit}"),
            Self::NullRefPointer => write!(f, "null reference pointer"),
            Self::ActualExceedsMax { offset, actual, max } => {
                write!(f, "varying array offset {offset} + actual count {actual} exceeds maximum count {max}")
            }
            Self::StringOffset { offset } => write!(f, "string offset {offset} is not zero"),
            Self::MissingTerminator => write!(f, "string is not terminated"),
            Self::InconsistentCount { what, expected, actual } => {
                write!(f, "{what} is {expected} but the array count is {actual}")
            }
            Self::CountExpression => write!(f, "count expression overflowed or divided by zero"),
            Self::UnknownDiscriminant { value } => write!(f, "unknown union discriminant {value}"),
            Self::DiscriminantMismatch { expected, actual } => {
                write!(f, "union discriminant {actual} differs from switch_is value {expected}")
            }
            Self::UnknownEnumValue { value } => write!(f, "unknown enumeration value {value}"),
            Self::RangeViolation { value, min, max } => write!(f, "value {value} outside range [{min}, {max}]"),
            Self::UnsupportedCharRep => write!(f, "EBCDIC character representation is not supported"),
            Self::UnsupportedFloatRep => write!(f, "non-IEEE floating-point representation is not supported"),
            Self::InvalidDataRep { byte, value } => write!(f, "invalid data representation byte {byte}: {value:#04x}"),
            Self::ValueTooLarge { value } => write!(f, "value {value} does not fit its wire field"),
            Self::PointerQueueDesync => write!(f, "pointer bookkeeping out of step"),
            Self::ConformanceNotConsumed => write!(f, "hoisted conformance was not consumed"),
            Self::DanglingFullPointer { id } => write!(f, "full pointer alias {id} has no marshalled referent"),
            Self::TypeSerialization { what } => write!(f, "bad type serialization header: {what}"),
            Self::TrailingBytes { count } => write!(f, "{count} trailing bytes after the data"),
        }
    }
}

/// One step of the type path in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A type name (struct, union, enum).
    Type(&'static str),
    /// A field or parameter name.
    Field(&'static str),
    /// An array index.
    Index(u64),
}

/// An NDR encode or decode error: what, where in the stub (byte offset), and in which type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdrError {
    kind: NdrErrorKind,
    offset: usize,
    /// Innermost first.
    path: Vec<PathSegment>,
}

impl NdrError {
    /// A new error at a stub offset.
    #[must_use]
    pub fn new(kind: NdrErrorKind, offset: usize) -> Self {
        Self { kind, offset, path: Vec::new() }
    }

    /// The kind of error.
    #[must_use]
    pub fn kind(&self) -> &NdrErrorKind {
        &self.kind
    }

    /// Byte offset from the start of the stub where the error was detected.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Type path, outermost first.
    pub fn path(&self) -> impl Iterator<Item = &PathSegment> {
        self.path.iter().rev()
    }

    /// Rendered type path, e.g. `ept_entry_t.tower -> twr_t.tower_octet_string[12]`.
    #[must_use]
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        let mut prev: Option<&PathSegment> = None;
        for seg in self.path() {
            match seg {
                PathSegment::Type(t) => {
                    if prev.is_some() {
                        out.push_str(" -> ");
                    }
                    out.push_str(t);
                }
                PathSegment::Field(n) => {
                    if prev.is_some() {
                        out.push('.');
                    }
                    out.push_str(n);
                }
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
            prev = Some(seg);
        }
        out
    }

    /// Adds a field name (called while unwinding).
    #[must_use]
    pub fn in_field(mut self, name: &'static str) -> Self {
        self.path.push(PathSegment::Field(name));
        self
    }

    /// Adds a type name (called while unwinding).
    #[must_use]
    pub fn in_type(mut self, name: &'static str) -> Self {
        // Do not repeat a type name already recorded by an inner layer.
        if self.path.last() != Some(&PathSegment::Type(name)) {
            self.path.push(PathSegment::Type(name));
        }
        self
    }

    /// Adds an array index (called while unwinding).
    #[must_use]
    pub fn in_index(mut self, index: u64) -> Self {
        self.path.push(PathSegment::Index(index));
        self
    }
}

impl fmt::Display for NdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at stub offset {}", self.kind, self.offset)?;
        if !self.path.is_empty() {
            write!(f, " in {}", self.path_string())?;
        }
        Ok(())
    }
}

impl std::error::Error for NdrError {}

/// Result alias.
pub type Result<T, E = NdrError> = std::result::Result<T, E>;

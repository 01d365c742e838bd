//! Typed errors of the PDU codec.

use core::fmt;

use crate::status::Status;

/// What went wrong while decoding or encoding a PDU.
///
/// Every variant names the violated rule; [`PduError`] adds the byte offset and what was being processed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PduErrorKind {
    /// Fewer bytes remain than the field being read needs.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that remain.
        available: usize,
    },
    /// `rpc_vers` is not 5 or `rpc_vers_minor` is not 0 or 1 (C706 12.6.1, MS-RPCE 1.7).
    UnsupportedVersion {
        /// `rpc_vers` as received.
        major: u8,
        /// `rpc_vers_minor` as received.
        minor: u8,
    },
    /// The integer representation nibble of `drep[0]` is neither 0 (big endian) nor 1 (little endian)
    /// (C706 14.1, NDR format label).
    InvalidDataRep {
        /// `drep[0]` as received.
        drep0: u8,
    },
    /// `frag_length` is smaller than the 16-byte common header (C706 12.6.1).
    FragLenTooSmall {
        /// `frag_length` as received.
        frag_len: u16,
    },
    /// `frag_length` exceeds the negotiated fragment size (C706 12.6.3.1: max_recv_frag).
    FragLenTooLarge {
        /// `frag_length` as received.
        frag_len: u16,
        /// The largest fragment accepted.
        max: usize,
    },
    /// The frame handed to the decoder is not exactly `frag_length` bytes long.
    FragLenMismatch {
        /// `frag_length` as received.
        frag_len: u16,
        /// Length of the frame.
        actual: usize,
    },
    /// The packet type is not a connection-oriented PDU this codec knows (C706 12.6.4).
    UnsupportedPacketType {
        /// `PTYPE` as received.
        ptype: u8,
    },
    /// `auth_length` plus the 8-byte sec_trailer does not fit after the PDU's fixed body (MS-RPCE 2.2.2.11).
    AuthLenTooLarge {
        /// `auth_length` as received.
        auth_len: u16,
        /// Bytes after the fixed body that could hold the verifier.
        available: usize,
    },
    /// `auth_pad_length` is larger than the body bytes in front of the sec_trailer (MS-RPCE 2.2.2.11).
    AuthPadTooLarge {
        /// `auth_pad_length` as received.
        auth_pad_length: u8,
        /// Body bytes in front of the sec_trailer.
        available: usize,
    },
    /// A PDU that requires an authentication verifier has `auth_length` 0 (MS-RPCE 2.2.2.10: rpc_auth_3).
    MissingAuthVerifier,
    /// On encode: the `auth_pad_length` in the sec_trailer differs from the number of padding bytes supplied.
    AuthPadMismatch {
        /// `auth_pad_length` in the trailer.
        auth_pad_length: u8,
        /// Padding bytes supplied.
        padding_len: usize,
    },
    /// On encode: a list has more elements than its 8-bit count can express (C706 12.6.3.1).
    TooManyElements {
        /// Number of elements.
        count: usize,
        /// Largest count the field can hold.
        max: usize,
    },
    /// On encode: a length does not fit its 16-bit wire field (`frag_length`, `auth_length`, port_any_t).
    LengthOverflow {
        /// The length that does not fit.
        len: usize,
    },
    /// The verification trailer is malformed (MS-RPCE 2.2.2.13).
    InvalidVerificationTrailer {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A fragment belongs to another call than the one being reassembled (C706 12.4, MS-RPCE 3.3.1.5.1).
    CallIdMismatch {
        /// The call being reassembled.
        expected: u32,
        /// The fragment's call_id.
        got: u32,
    },
    /// The first fragment of a call lacks PFC_FIRST_FRAG (C706 12.6.3.1).
    MissingFirstFragment,
    /// A fragment with PFC_FIRST_FRAG arrived while another call is being reassembled.
    UnexpectedFirstFragment,
    /// A fragment's packet type, presentation context or opnum differs from the call's first fragment.
    FragmentMismatch {
        /// Which field differs.
        field: &'static str,
    },
    /// Only request and response PDUs can be fragmented and reassembled.
    NotFragmentable {
        /// The packet type.
        ptype: u8,
    },
    /// The reassembled stub would exceed the configured limit.
    ReassemblyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The call has more fragments than the configured limit.
    TooManyFragments {
        /// The configured limit.
        limit: usize,
    },
    /// The negotiated fragment size leaves no room for stub data after the header and the auth trailer.
    FragmentSizeTooSmall {
        /// The negotiated max_xmit_frag.
        max_xmit_frag: u16,
    },
}

/// An error of the PDU codec: a [`PduErrorKind`] with the byte offset and what was being decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PduError {
    kind: PduErrorKind,
    offset: usize,
    context: &'static str,
}

impl PduError {
    /// Creates an error at `offset` (from the start of the frame) while processing `context`.
    #[must_use]
    pub const fn new(kind: PduErrorKind, offset: usize, context: &'static str) -> Self {
        Self { kind, offset, context }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> &PduErrorKind {
        &self.kind
    }

    /// Byte offset from the start of the frame (or of the stub, for verification-trailer errors).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The structure or field being processed.
    #[must_use]
    pub const fn context(&self) -> &'static str {
        self.context
    }

    /// The status a server puts in a fault PDU for this error (MS-RPCE 3.3.2.4.x, C706 appendix E).
    ///
    /// Malformed PDUs map to `nca_s_proto_error`; exceeding the reassembly limits maps to
    /// `nca_s_fault_remote_no_memory`; malformed verification trailers to `rpc_s_access_denied`
    /// (MS-RPCE 3.1.1.5.3.1: a server rejects a request whose trailer does not verify).
    #[must_use]
    pub const fn fault_status(&self) -> Status {
        match self.kind {
            PduErrorKind::ReassemblyTooLarge { .. } | PduErrorKind::TooManyFragments { .. } => {
                Status::NCA_S_FAULT_REMOTE_NO_MEMORY
            }
            PduErrorKind::InvalidVerificationTrailer { .. } => Status::RPC_S_ACCESS_DENIED,
            _ => Status::NCA_S_PROTO_ERROR,
        }
    }
}

impl fmt::Display for PduErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "truncated: need {needed} bytes, {available} remain")
            }
            Self::UnsupportedVersion { major, minor } => write!(f, "unsupported rpc version {major}.{minor}"),
            Self::InvalidDataRep { drep0 } => write!(f, "invalid integer representation in drep[0] {drep0:#04x}"),
            Self::FragLenTooSmall { frag_len } => write!(f, "frag_length {frag_len} is smaller than the header"),
            Self::FragLenTooLarge { frag_len, max } => {
                write!(f, "frag_length {frag_len} exceeds the negotiated fragment size {max}")
            }
            Self::FragLenMismatch { frag_len, actual } => {
                write!(f, "frag_length {frag_len} differs from the frame length {actual}")
            }
            Self::UnsupportedPacketType { ptype } => write!(f, "unsupported packet type {ptype}"),
            Self::AuthLenTooLarge { auth_len, available } => {
                write!(f, "auth_length {auth_len} plus sec_trailer does not fit in {available} bytes")
            }
            Self::AuthPadTooLarge { auth_pad_length, available } => {
                write!(f, "auth_pad_length {auth_pad_length} exceeds the {available} body bytes")
            }
            Self::MissingAuthVerifier => f.write_str("authentication verifier required but auth_length is 0"),
            Self::AuthPadMismatch { auth_pad_length, padding_len } => {
                write!(f, "auth_pad_length {auth_pad_length} differs from {padding_len} padding bytes")
            }
            Self::TooManyElements { count, max } => write!(f, "{count} elements exceed the maximum {max}"),
            Self::LengthOverflow { len } => write!(f, "length {len} does not fit a 16-bit field"),
            Self::InvalidVerificationTrailer { reason } => write!(f, "invalid verification trailer: {reason}"),
            Self::CallIdMismatch { expected, got } => {
                write!(f, "fragment of call {got} while reassembling call {expected}")
            }
            Self::MissingFirstFragment => f.write_str("first fragment of a call lacks PFC_FIRST_FRAG"),
            Self::UnexpectedFirstFragment => f.write_str("PFC_FIRST_FRAG in the middle of a call"),
            Self::FragmentMismatch { field } => write!(f, "fragment {field} differs from the first fragment"),
            Self::NotFragmentable { ptype } => write!(f, "packet type {ptype} cannot be fragmented"),
            Self::ReassemblyTooLarge { limit } => write!(f, "reassembled stub exceeds {limit} bytes"),
            Self::TooManyFragments { limit } => write!(f, "call exceeds {limit} fragments"),
            Self::FragmentSizeTooSmall { max_xmit_frag } => {
                write!(f, "max_xmit_frag {max_xmit_frag} leaves no room for stub data")
            }
        }
    }
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {} ({})", self.kind, self.offset, self.context)
    }
}

impl std::error::Error for PduError {}

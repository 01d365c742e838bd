//! Typed errors and per-packet warnings.

use std::fmt;

/// What went wrong while reading a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The file is shorter than the smallest header it could start with.
    TooShort,
    /// The first bytes are neither a pcap magic, a pcapng section header nor a gzip member.
    UnknownFormat,
    /// gzip data could not be inflated.
    Gzip,
    /// The inflated file is larger than [`Limits::max_decompressed`](crate::Limits::max_decompressed).
    DecompressedTooLarge,
    /// A pcapng section header block carries an unknown byte-order magic.
    BadByteOrderMagic,
    /// A pcapng block is malformed in a way that prevents reading anything after it.
    BadBlock,
    /// More packet records than [`Limits::max_frames`](crate::Limits::max_frames).
    TooManyFrames,
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::TooShort => "file too short",
            Self::UnknownFormat => "unknown capture file format",
            Self::Gzip => "gzip decompression failed",
            Self::DecompressedTooLarge => "decompressed capture exceeds the size limit",
            Self::BadByteOrderMagic => "bad pcapng byte-order magic",
            Self::BadBlock => "malformed pcapng block",
            Self::TooManyFrames => "too many packet records",
        };
        f.write_str(s)
    }
}

/// A fatal error reading a capture file, with the byte offset (in the decompressed file) where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// What went wrong.
    pub kind: CaptureErrorKind,
    /// Byte offset in the (decompressed) file.
    pub offset: u64,
    /// What was being decoded.
    pub context: &'static str,
}

impl CaptureError {
    pub(crate) const fn new(kind: CaptureErrorKind, offset: u64, context: &'static str) -> Self {
        Self { kind, offset, context }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at file offset {} while decoding {}", self.kind, self.offset, self.context)
    }
}

impl std::error::Error for CaptureError {}

/// Kinds of non-fatal problems; the affected record, packet or message is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// The last record of the file is cut short.
    TruncatedRecord,
    /// A record or block is malformed and was skipped.
    MalformedRecord,
    /// A packet record refers to an interface that was not described.
    UnknownInterface,
    /// A packet is larger than [`Limits::max_packet_len`](crate::Limits::max_packet_len).
    PacketTooLarge,
    /// The link type is not supported.
    UnsupportedLinkType,
    /// A link, IP or TCP header is malformed or truncated.
    MalformedPacket,
    /// An IP fragment could not be reassembled.
    Fragment,
    /// The number of TCP streams hit [`Limits::max_streams`](crate::Limits::max_streams).
    TooManyStreams,
    /// A TCP flow hit [`Limits::max_flow_bytes`](crate::Limits::max_flow_bytes) or
    /// [`Limits::max_flow_segments`](crate::Limits::max_flow_segments).
    FlowLimit,
    /// An SMB message is malformed.
    MalformedSmb,
    /// An SMB3 transform (encrypted) or compressed message was skipped.
    EncryptedSmb,
    /// Bytes of an SMB stream could not be parsed as NetBIOS session messages and were skipped.
    SmbResync,
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::TruncatedRecord => "truncated record",
            Self::MalformedRecord => "malformed record",
            Self::UnknownInterface => "unknown interface",
            Self::PacketTooLarge => "packet too large",
            Self::UnsupportedLinkType => "unsupported link type",
            Self::MalformedPacket => "malformed packet",
            Self::Fragment => "ip fragment not reassembled",
            Self::TooManyStreams => "too many tcp streams",
            Self::FlowLimit => "tcp flow limit reached",
            Self::MalformedSmb => "malformed smb message",
            Self::EncryptedSmb => "encrypted or compressed smb message skipped",
            Self::SmbResync => "smb stream resynchronised",
        };
        f.write_str(s)
    }
}

/// A non-fatal problem: something was skipped, parsing went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What happened.
    pub kind: WarningKind,
    /// The 1-based frame number concerned, when known.
    pub frame: Option<u32>,
    /// Byte offset in the (decompressed) capture file, when known.
    pub offset: Option<u64>,
    /// Human-readable detail (lowercase).
    pub detail: String,
}

impl Warning {
    pub(crate) fn new(kind: WarningKind, frame: Option<u32>, offset: Option<u64>, detail: impl Into<String>) -> Self {
        Self { kind, frame, offset, detail: detail.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(n) = self.frame {
            write!(f, " in frame {n}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " at file offset {o}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

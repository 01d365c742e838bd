#![cfg_attr(doc, doc = include_str!("../README.md"))]

mod bytes;
mod error;
mod file;
mod flow;
mod net;
mod smb;
mod tcp;

pub use error::{CaptureError, CaptureErrorKind, Warning, WarningKind};
pub use file::FileFormat;
pub use flow::{Flow, FrameRef, FrameSpan, Gap, Segment};
pub use smb::{FileId, PipeStream, SmbVersion};
pub use tcp::{RoleSource, TcpStream};

/// A capture timestamp: seconds since the Unix epoch (plus the interface's `if_tsoffset`) and nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000` for well-formed input.
    pub nanos: u32,
}

impl Timestamp {
    /// Builds a timestamp.
    #[must_use]
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Self { secs, nanos }
    }
}

/// Resource caps for hostile input. Every cap hit is reported as an error or warning, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest inflated size of a gzip-compressed capture (default 1 GiB).
    pub max_decompressed: u64,
    /// Largest packet kept; larger ones keep their frame number but lose their data (default 256 KiB).
    pub max_packet_len: u32,
    /// Most packet records read (default 50 million).
    pub max_frames: usize,
    /// Most TCP conversations tracked (default 1 million).
    pub max_streams: usize,
    /// Most bytes stored per TCP direction or pipe direction (default 256 MiB).
    pub max_flow_bytes: u64,
    /// Most separate (not yet merged) segments stored per TCP direction (default 1 million).
    pub max_flow_segments: usize,
    /// Most bytes of IPv4 fragments held while waiting for the rest (default 16 MiB).
    pub max_fragment_bytes: usize,
    /// Most SMB pipes tracked (default 100 000).
    pub max_pipes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decompressed: 1 << 30,
            max_packet_len: 256 * 1024,
            max_frames: 50_000_000,
            max_streams: 1_000_000,
            max_flow_bytes: 256 << 20,
            max_flow_segments: 1_000_000,
            max_fragment_bytes: 16 << 20,
            max_pipes: 100_000,
        }
    }
}

/// One packet record of the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 1-based number, counting every packet record (pcap record, pcapng EPB/SPB/PB) in file order, as
    /// tshark does.
    pub number: u32,
    /// Capture time (pcapng SPB: zero).
    pub timestamp: Timestamp,
    /// LINKTYPE_ value of the interface (`u32::MAX` if the interface is unknown).
    pub link_type: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// Original length on the wire.
    pub orig_len: u32,
    /// Offset of the record in the (decompressed) file.
    pub file_offset: u64,
    /// Captured bytes (empty if the record was malformed or over [`Limits::max_packet_len`]).
    pub data: Vec<u8>,
}

/// A parsed capture file.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Container format.
    pub format: FileFormat,
    /// The file was gzip-compressed.
    pub gzip: bool,
    /// Every packet record, in file order (`frames[i].number == i + 1`).
    pub frames: Vec<Frame>,
    /// Problems found while reading records (records skipped or truncated).
    pub warnings: Vec<Warning>,
    limits: Limits,
}

/// TCP streams plus what went wrong while decoding packets.
#[derive(Debug, Clone)]
pub struct Reassembly {
    /// Streams ordered by [`TcpStream::index`].
    pub streams: Vec<TcpStream>,
    /// Per-packet problems (malformed headers, limits, fragments).
    pub warnings: Vec<Warning>,
}

/// SMB pipe streams plus what went wrong while parsing SMB.
#[derive(Debug, Clone)]
pub struct PipeExtraction {
    /// Pipes ordered by the first frame that carried data for them.
    pub pipes: Vec<PipeStream>,
    /// Per-message problems.
    pub warnings: Vec<Warning>,
}

impl Capture {
    /// Parses a pcap or pcapng file, optionally gzip-compressed (detected by the `1f 8b` magic).
    ///
    /// # Errors
    /// Unknown format, gzip failure or size limit, a bad first block. A truncated or malformed record later in
    /// the file only adds a [`Warning`].
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, CaptureError> {
        let p = file::parse_file(bytes, limits)?;
        Ok(Self { format: p.format, gzip: p.gzip, frames: p.frames, warnings: p.warnings, limits: limits.clone() })
    }

    /// The frame with 1-based number `number`.
    #[must_use]
    pub fn frame(&self, number: u32) -> Option<&Frame> {
        let i = usize::try_from(number.checked_sub(1)?).ok()?;
        self.frames.get(i)
    }

    /// Decodes every frame down to TCP and reassembles all connections.
    #[must_use]
    pub fn reassemble(&self) -> Reassembly {
        let mut warnings = Vec::new();
        let mut defrag = net::Defrag::default();
        let mut tracker = tcp::Tracker::default();
        for frame in &self.frames {
            if let Some(p) = net::decode_tcp(frame, &mut defrag, &self.limits, &mut warnings) {
                tracker.add(frame, &p, &self.limits, &mut warnings);
            }
        }
        Reassembly { streams: tracker.finish(), warnings }
    }

    /// [`Capture::reassemble`] without the warnings.
    #[must_use]
    pub fn tcp_streams(&self) -> Vec<TcpStream> {
        self.reassemble().streams
    }

    /// Extracts SMB1/SMB2 named-pipe byte streams from the TCP streams that carry SMB (port 445 or 139, or
    /// whose first bytes look like a NetBIOS session message holding an SMB header).
    #[must_use]
    pub fn extract_pipes(&self, streams: &[TcpStream]) -> PipeExtraction {
        smb::extract(streams, &self.limits)
    }

    /// [`Capture::extract_pipes`] without the warnings.
    #[must_use]
    pub fn pipe_streams(&self, streams: &[TcpStream]) -> Vec<PipeStream> {
        self.extract_pipes(streams).pipes
    }

    /// The limits this capture was parsed with.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// Fuzz entry point: parse, reassemble and extract pipes; must never panic on any input.
pub fn fuzz_parse(data: &[u8]) {
    let limits = Limits {
        max_decompressed: 16 << 20,
        max_frames: 100_000,
        max_streams: 10_000,
        max_flow_bytes: 16 << 20,
        max_flow_segments: 100_000,
        ..Limits::default()
    };
    if let Ok(cap) = Capture::parse(data, &limits) {
        let r = cap.reassemble();
        for s in &r.streams {
            for flow in [&s.c2s, &s.s2c] {
                let end = flow.len();
                let _ = flow.frame_for_range(0, end);
                let _ = flow.frame_of(end.saturating_sub(1));
            }
        }
        let _ = cap.extract_pipes(&r.streams);
    }
}

//! One direction of a byte stream: contiguous segments, gaps, and the frame that carried each byte.

use std::collections::BTreeMap;

use crate::Timestamp;
use crate::bytes::u64_of;

/// A capture frame: its 1-based number (as tshark counts) and its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameRef {
    /// 1-based frame number.
    pub number: u32,
    /// Capture timestamp of the frame.
    pub timestamp: Timestamp,
}

/// A run of contiguous stream bytes starting at stream offset `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Stream offset of the first byte.
    pub start: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Segment {
    /// Stream offset one past the last byte.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.start.saturating_add(u64_of(self.data.len()))
    }
}

/// Bytes missing from a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Stream offset where bytes are missing (the next segment starts at `offset + len`).
    pub offset: u64,
    /// Number of missing bytes. `0` means "an unknown amount was lost here" (pipe flows: the carrying TCP
    /// stream lost bytes between two SMB messages); the segment list is split at that point anyway.
    pub len: u64,
    /// Frame that carried the last byte before the gap (`None` at the start of the flow).
    pub after_frame: Option<u32>,
}

/// Bytes `[start, end)` of a flow were carried by `frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// First stream offset.
    pub start: u64,
    /// One past the last stream offset.
    pub end: u64,
    /// The frame that carried these bytes (the first copy, when a segment was retransmitted).
    pub frame: FrameRef,
}

/// One direction of a TCP connection or SMB pipe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Maximal runs of contiguous bytes, in stream-offset order; a new segment starts after each gap.
    pub segments: Vec<Segment>,
    /// Missing bytes, in stream-offset order.
    pub gaps: Vec<Gap>,
    spans: Vec<FrameSpan>,
}

impl Flow {
    /// Stream offset one past the last byte seen (0 for an empty flow).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end)
    }

    /// No bytes at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Number of bytes present (excluding gaps).
    #[must_use]
    pub fn byte_count(&self) -> u64 {
        self.segments.iter().map(|s| u64_of(s.data.len())).sum()
    }

    /// Which frame carried each byte range, sorted by offset, non-overlapping.
    #[must_use]
    pub fn spans(&self) -> &[FrameSpan] {
        &self.spans
    }

    /// The frame that carried the byte at stream offset `offset` (`None` inside a gap or past the end).
    #[must_use]
    pub fn frame_of(&self, offset: u64) -> Option<FrameRef> {
        let i = self.spans.partition_point(|s| s.end <= offset);
        self.spans.get(i).filter(|s| s.start <= offset).map(|s| s.frame)
    }

    /// The frame in which all bytes `[start, end)` have been seen: the highest-numbered frame carrying any of
    /// them. With in-order traffic this is the frame of the last byte; when an earlier part arrived late it is
    /// the frame that completed the range, which is where tshark reports a reassembled PDU.
    /// `None` when the range is empty or any byte is missing.
    #[must_use]
    pub fn frame_for_range(&self, start: u64, end: u64) -> Option<FrameRef> {
        if end <= start {
            return None;
        }
        let mut i = self.spans.partition_point(|s| s.end <= start);
        let mut cursor = start;
        let mut best: Option<FrameRef> = None;
        while cursor < end {
            let s = self.spans.get(i)?;
            if s.start > cursor {
                return None;
            }
            if best.is_none_or(|b| s.frame.number > b.number) {
                best = Some(s.frame);
            }
            cursor = s.end;
            i += 1;
        }
        best
    }

    /// The segment containing stream offset `offset`.
    #[must_use]
    pub fn segment_at(&self, offset: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.end() <= offset);
        self.segments.get(i).filter(|s| s.start <= offset)
    }

    /// Bytes `[start, end)` if they are all inside one segment.
    #[must_use]
    pub fn bytes(&self, start: u64, end: u64) -> Option<&[u8]> {
        let seg = self.segment_at(start)?;
        let a = usize::try_from(start.checked_sub(seg.start)?).ok()?;
        let b = usize::try_from(end.checked_sub(seg.start)?).ok()?;
        seg.data.get(a..b)
    }

    fn push_span(&mut self, start: u64, end: u64, frame: FrameRef) {
        if let Some(last) = self.spans.last_mut()
            && last.end == start
            && last.frame == frame
        {
            last.end = end;
            return;
        }
        self.spans.push(FrameSpan { start, end, frame });
    }
}

/// Data for one TCP direction, collected in file order and reassembled at the end.
#[derive(Debug, Default)]
pub(crate) struct TcpFlowBuilder {
    /// Accepted, non-overlapping pieces keyed by unwrapped sequence position: first copy wins.
    accepted: BTreeMap<i64, (FrameRef, Vec<u8>)>,
    pub(crate) stored: u64,
    pub(crate) pieces: usize,
}

impl TcpFlowBuilder {
    /// Adds bytes at unwrapped sequence position `pos`; bytes already present are kept (first copy wins,
    /// like tshark). Returns the number of new bytes stored.
    pub(crate) fn insert(&mut self, pos: i64, data: &[u8], frame: FrameRef) -> u64 {
        let Some(end) = i64::try_from(data.len()).ok().and_then(|l| pos.checked_add(l)) else { return 0 };
        if data.is_empty() {
            return 0;
        }
        // Existing pieces overlapping [pos, end): they are sorted and disjoint, so walk back from `end`.
        let mut overlaps: Vec<(i64, i64)> = Vec::new();
        for (&s, (_, d)) in self.accepted.range(..end).rev() {
            let e = s.saturating_add(i64::try_from(d.len()).unwrap_or(i64::MAX));
            if e <= pos {
                break;
            }
            overlaps.push((s, e));
        }
        overlaps.reverse();
        let mut holes: Vec<(i64, i64)> = Vec::new();
        let mut cursor = pos;
        for (s, e) in overlaps {
            if s > cursor {
                holes.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            holes.push((cursor, end));
        }
        let mut added = 0u64;
        for (hs, he) in holes {
            let (Ok(a), Ok(b)) = (usize::try_from(hs - pos), usize::try_from(he - pos)) else { continue };
            if let Some(chunk) = data.get(a..b) {
                added += u64_of(chunk.len());
                self.accepted.insert(hs, (frame, chunk.to_vec()));
                self.pieces += 1;
            }
        }
        self.stored += added;
        added
    }

    /// Builds the flow; stream offset 0 is sequence position `origin`. Bytes before `origin` are dropped.
    /// `lead_frame`: the SYN frame, used as `after_frame` of a gap at the start.
    pub(crate) fn finish(self, origin: i64, lead_frame: Option<u32>) -> Flow {
        let mut flow = Flow::default();
        let mut prev_end: Option<(u64, u32)> = None;
        for (pos, (frame, data)) in self.accepted {
            let Ok(len) = i64::try_from(data.len()) else { continue };
            let end = pos.saturating_add(len);
            if end <= origin {
                continue;
            }
            let skip = usize::try_from(origin.saturating_sub(pos)).unwrap_or(0);
            let Some(data) = data.get(skip..) else { continue };
            let Ok(start) = u64::try_from(pos.max(origin) - origin) else { continue };
            let seg_end = start + u64_of(data.len());
            match prev_end {
                Some((pe, _)) if pe == start => {
                    if let Some(last) = flow.segments.last_mut() {
                        last.data.extend_from_slice(data);
                    }
                }
                _ => {
                    let (gap_from, after) = prev_end.map_or((0, lead_frame), |(pe, f)| (pe, Some(f)));
                    if start > gap_from {
                        flow.gaps.push(Gap { offset: gap_from, len: start - gap_from, after_frame: after });
                    }
                    flow.segments.push(Segment { start, data: data.to_vec() });
                }
            }
            flow.push_span(start, seg_end, frame);
            prev_end = Some((seg_end, frame.number));
        }
        flow
    }
}

/// Builds a flow by appending messages (SMB pipe data); no reordering.
#[derive(Debug, Default)]
pub(crate) struct AppendFlow {
    pub(crate) flow: Flow,
    broken: bool,
    last_frame: Option<u32>,
}

impl AppendFlow {
    /// Bytes may have been lost before the next append.
    pub(crate) fn mark_loss(&mut self) {
        if !self.flow.segments.is_empty() {
            self.broken = true;
        }
    }

    pub(crate) fn append(&mut self, data: &[u8], frame: FrameRef) {
        if data.is_empty() {
            return;
        }
        let start = self.flow.len();
        let end = start.saturating_add(u64_of(data.len()));
        match self.flow.segments.last_mut() {
            Some(last) if !self.broken => last.data.extend_from_slice(data),
            _ => {
                if self.broken {
                    self.flow.gaps.push(Gap { offset: start, len: 0, after_frame: self.last_frame });
                }
                self.flow.segments.push(Segment { start, data: data.to_vec() });
            }
        }
        self.broken = false;
        self.flow.push_span(start, end, frame);
        self.last_frame = Some(frame.number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u32) -> FrameRef {
        FrameRef { number: n, timestamp: Timestamp::default() }
    }

    #[test]
    fn first_copy_wins_and_gaps() {
        let mut b = TcpFlowBuilder::default();
        assert_eq!(b.insert(10, b"abcd", f(1)), 4);
        assert_eq!(b.insert(12, b"XXef", f(2)), 2); // overlap: "cd" kept
        assert_eq!(b.insert(20, b"zz", f(3)), 2);
        assert_eq!(b.insert(8, b"0123", f(4)), 2); // fills [8,10)
        let flow = b.finish(8, None);
        assert_eq!(flow.segments.len(), 2);
        assert_eq!(flow.segments[0].data, b"01abcdef");
        assert_eq!(flow.segments[1], Segment { start: 12, data: b"zz".to_vec() });
        assert_eq!(flow.gaps, vec![Gap { offset: 8, len: 4, after_frame: Some(2) }]);
        assert_eq!(flow.frame_of(0).unwrap().number, 4);
        assert_eq!(flow.frame_of(2).unwrap().number, 1);
        assert_eq!(flow.frame_of(6).unwrap().number, 2);
        assert!(flow.frame_of(9).is_none());
        assert_eq!(flow.frame_for_range(0, 8).unwrap().number, 4);
        assert_eq!(flow.frame_for_range(2, 6).unwrap().number, 1);
        assert!(flow.frame_for_range(6, 13).is_none());
        assert_eq!(flow.bytes(2, 6).unwrap(), b"abcd");
    }

    #[test]
    fn append_flow_marks_unknown_loss() {
        let mut a = AppendFlow::default();
        a.mark_loss(); // nothing yet: ignored
        a.append(b"abc", f(1));
        a.append(b"de", f(2));
        a.mark_loss();
        a.append(b"xy", f(5));
        assert_eq!(a.flow.segments.len(), 2);
        assert_eq!(a.flow.gaps, vec![Gap { offset: 5, len: 0, after_frame: Some(2) }]);
        assert_eq!(a.flow.frame_of(4).unwrap().number, 2);
        assert_eq!(a.flow.frame_for_range(0, 5).unwrap().number, 2);
    }
}

//! The decoding cursor.

use std::collections::HashSet;

use crate::drep::{CharRep, DataRep, FloatRep, Limits, NdrContext, Syntax};
use crate::error::{NdrError, NdrErrorKind, Result};

/// Bookkeeping of one pointer frame (see [`NdrReader::begin_frame`]).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Frame {
    saved_cursor: usize,
    start: usize,
}

/// Offset-aware, drep-aware NDR decoder over one stub.
///
/// Position 0 is the first stub byte; all alignment is relative to it (C706 14.2.2).
#[derive(Debug)]
pub struct NdrReader<'a> {
    data: &'a [u8],
    pos: usize,
    syntax: Syntax,
    drep: DataRep,
    limits: Limits,
    depth: u32,
    allocated: usize,
    /// Referent ids read by the inline phase, consumed in order by the deferred phase.
    pending: Vec<u64>,
    /// Next pending id to consume in the current frame.
    cursor: usize,
    /// Full-pointer referent ids whose referent has been decoded (C706 14.3.12.3).
    full_seen: HashSet<u64>,
    /// Conformance read at the start of a conformant structure (C706 14.3.7.1).
    hoisted: Option<u64>,
    /// Non-null referent ids in wire order, so that an encoder can reproduce the sender's numbering.
    // INVARIANT: each entry was read from at least 4 input bytes, so the list is bounded by the stub size.
    seen_ids: Vec<u64>,
}

impl<'a> NdrReader<'a> {
    /// A reader over a stub.
    #[must_use]
    pub fn new(data: &'a [u8], ctx: NdrContext) -> Self {
        Self {
            data,
            pos: 0,
            syntax: ctx.syntax,
            drep: ctx.drep,
            limits: ctx.limits,
            depth: 0,
            allocated: 0,
            pending: Vec::new(),
            cursor: 0,
            full_seen: HashSet::new(),
            hoisted: None,
            seen_ids: Vec::new(),
        }
    }

    /// Transfer syntax.
    #[must_use]
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// Data representation.
    #[must_use]
    pub fn drep(&self) -> DataRep {
        self.drep
    }

    /// Current offset from the stub start.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Error at the current offset.
    #[must_use]
    pub fn error(&self, kind: NdrErrorKind) -> NdrError {
        NdrError::new(kind, self.pos)
    }

    /// Skips the alignment gap before an item of alignment `n` (C706 14.2.2). Gap bytes are ignored.
    pub fn align(&mut self, n: usize) -> Result<()> {
        if n <= 1 {
            return Ok(());
        }
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    /// Takes `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.error(NdrErrorKind::ValueTooLarge { value: n as u64 }))?;
        match self.data.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(self.error(NdrErrorKind::UnexpectedEof { needed: n, remaining: self.remaining() })),
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads an unaligned octet.
    pub fn read_u8(&mut self) -> Result<u8> {
        let [b] = self.take_array::<1>()?;
        Ok(b)
    }

    /// Reads an aligned 16-bit integer in drep byte order.
    pub fn read_u16(&mut self) -> Result<u16> {
        self.align(2)?;
        let b = self.take_array::<2>()?;
        Ok(if self.drep.is_little_endian() { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    /// Reads an aligned 32-bit integer in drep byte order.
    pub fn read_u32(&mut self) -> Result<u32> {
        self.align(4)?;
        let b = self.take_array::<4>()?;
        Ok(if self.drep.is_little_endian() { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    /// Reads an aligned 64-bit integer in drep byte order.
    pub fn read_u64(&mut self) -> Result<u64> {
        self.align(8)?;
        let b = self.take_array::<8>()?;
        Ok(if self.drep.is_little_endian() { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) })
    }

    /// Reads a syntax-sized word: u32 in NDR20, u64 in NDR64 (referent ids and array counts,
    /// [MS-RPCE 2.2.5.3]).
    pub fn read_word(&mut self) -> Result<u64> {
        match self.syntax {
            Syntax::Ndr20 => self.read_u32().map(u64::from),
            Syntax::Ndr64 => self.read_u64(),
        }
    }

    /// Fails unless the character representation is ASCII.
    pub fn check_char_rep(&self) -> Result<()> {
        if self.drep.char == CharRep::Ascii { Ok(()) } else { Err(self.error(NdrErrorKind::UnsupportedCharRep)) }
    }

    /// Fails unless floats are IEEE.
    pub fn check_float_rep(&self) -> Result<()> {
        if self.drep.float == FloatRep::Ieee { Ok(()) } else { Err(self.error(NdrErrorKind::UnsupportedFloatRep)) }
    }

    /// Checks that `count` elements of at least `min_wire` bytes each can still be present, and
    /// charges `count * mem_size` bytes against the allocation limit. Call before allocating.
    pub fn reserve(&mut self, count: u64, min_wire: usize, mem_size: usize) -> Result<usize> {
        let remaining = self.remaining();
        let fits = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(min_wire.max(1)))
            .is_some_and(|needed| needed <= remaining);
        if !fits {
            return Err(self.error(NdrErrorKind::CountTooLarge { count, remaining }));
        }
        let n = usize::try_from(count).map_err(|_| self.error(NdrErrorKind::CountTooLarge { count, remaining }))?;
        let bytes = n.saturating_mul(mem_size);
        let total = self.allocated.saturating_add(bytes);
        if total > self.limits.max_alloc {
            return Err(self.error(NdrErrorKind::AllocationLimit { requested: total, limit: self.limits.max_alloc }));
        }
        self.allocated = total;
        Ok(n)
    }

    /// Enters one nesting level (struct, union or pointer referent).
    pub fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth {
            return Err(self.error(NdrErrorKind::DepthLimit { limit: self.limits.max_depth }));
        }
        self.depth += 1;
        Ok(())
    }

    /// Leaves one nesting level.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Records a referent id read in the inline phase (every pointer records exactly one, null included).
    pub fn push_pending(&mut self, id: u64) {
        if id != 0 {
            self.seen_ids.push(id);
        }
        self.pending.push(id);
    }

    /// The non-null referent ids read so far, in wire order (see [`crate::NdrWriter::replay_referent_ids`]).
    #[must_use]
    pub fn referent_ids(&self) -> &[u64] {
        &self.seen_ids
    }

    /// Takes the next referent id recorded by the inline phase of the current frame.
    pub fn pop_pending(&mut self) -> Result<u64> {
        let id = *self.pending.get(self.cursor).ok_or_else(|| self.error(NdrErrorKind::PointerQueueDesync))?;
        self.cursor += 1;
        Ok(id)
    }

    /// Starts a frame for a referent (or top-level construct): its inline phase records ids after
    /// the enclosing frame's, its deferred phase consumes only its own.
    pub fn begin_frame(&mut self) -> Frame {
        let frame = Frame { saved_cursor: self.cursor, start: self.pending.len() };
        self.cursor = self.pending.len();
        frame
    }

    /// Ends a frame started by [`Self::begin_frame`]; every id of the frame must have been consumed.
    pub fn end_frame(&mut self, frame: Frame) -> Result<()> {
        if self.cursor != self.pending.len() {
            return Err(self.error(NdrErrorKind::PointerQueueDesync));
        }
        self.pending.truncate(frame.start);
        self.cursor = frame.saved_cursor;
        Ok(())
    }

    /// Marks a full-pointer referent id as decoded; returns false when it was already seen.
    pub fn first_full_pointer(&mut self, id: u64) -> bool {
        self.full_seen.insert(id)
    }

    /// Stores the conformance read at the start of a conformant structure.
    pub fn set_hoisted(&mut self, count: u64) {
        self.hoisted = Some(count);
    }

    /// True when a conformant structure has read its conformance and it is not yet consumed.
    #[must_use]
    pub fn has_hoisted(&self) -> bool {
        self.hoisted.is_some()
    }

    /// Takes the hoisted conformance, if any.
    pub fn take_hoisted(&mut self) -> Option<u64> {
        self.hoisted.take()
    }

    /// Reads a conformance (maximum count): the hoisted one inside a conformant structure,
    /// otherwise a word from the stream (C706 14.3.3.2, 14.3.7.1).
    pub fn read_conformance(&mut self) -> Result<u64> {
        match self.hoisted.take() {
            Some(c) => Ok(c),
            None => self.read_word(),
        }
    }
}

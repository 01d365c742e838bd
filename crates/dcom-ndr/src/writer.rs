//! The encoding cursor.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::drep::{CharRep, DataRep, FloatRep, NdrContext, Syntax};
use crate::error::{NdrError, NdrErrorKind, Result};

/// Offset-aware, drep-aware NDR encoder appending to a caller-reusable buffer.
///
/// Position 0 is the first stub byte: the buffer is cleared on construction.
#[derive(Debug)]
pub struct NdrWriter {
    buf: Vec<u8>,
    syntax: Syntax,
    drep: DataRep,
    next_referent: u64,
    referent_step: u64,
    /// Caller object id -> wire referent id of full pointers (C706 14.3.12.3).
    full_ids: HashMap<u64, u64>,
    /// Caller object ids whose referent has been written.
    full_written: HashSet<u64>,
    /// A conformant structure has written its conformance; the trailing array must not repeat it.
    hoisted: bool,
    /// Referent ids to hand out first, in order (a decoded stub's numbering), before the counter.
    replay: VecDeque<u64>,
}

impl NdrWriter {
    /// A writer with a new buffer.
    #[must_use]
    pub fn new(ctx: NdrContext) -> Self {
        Self::with_buffer(Vec::new(), ctx)
    }

    /// A writer reusing `buf` (cleared, capacity kept).
    #[must_use]
    pub fn with_buffer(mut buf: Vec<u8>, ctx: NdrContext) -> Self {
        buf.clear();
        Self {
            buf,
            syntax: ctx.syntax,
            drep: ctx.drep,
            // MIDL numbers referents from 0x00020000 in steps of 4.
            next_referent: 0x0002_0000,
            referent_step: 4,
            full_ids: HashMap::new(),
            full_written: HashSet::new(),
            hoisted: false,
            replay: VecDeque::new(),
        }
    }

    /// Sets how referent ids are numbered (first id and increment); both must be non-zero.
    pub fn set_referent_ids(&mut self, first: u64, step: u64) {
        self.next_referent = first.max(1);
        self.referent_step = step.max(1);
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
        self.buf.len()
    }

    /// Bytes written so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Finishes: every full-pointer alias must have had its referent written.
    pub fn finish(self) -> Result<Vec<u8>> {
        if let Some(id) = self.full_ids.keys().find(|id| !self.full_written.contains(id)) {
            return Err(NdrError::new(NdrErrorKind::DanglingFullPointer { id: *id }, self.buf.len()));
        }
        Ok(self.buf)
    }

    /// Returns the buffer without checks.
    #[must_use]
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Error at the current offset.
    #[must_use]
    pub fn error(&self, kind: NdrErrorKind) -> NdrError {
        NdrError::new(kind, self.buf.len())
    }

    /// Writes a zero alignment gap for alignment `n` (C706 14.2.2).
    pub fn align(&mut self, n: usize) {
        if n > 1 {
            let pad = (n - self.buf.len() % n) % n;
            self.buf.resize(self.buf.len() + pad, 0);
        }
    }

    /// Writes raw bytes.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes an octet.
    pub fn write_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Writes an aligned 16-bit integer in drep byte order.
    pub fn write_u16(&mut self, v: u16) {
        self.align(2);
        let b = if self.drep.is_little_endian() { v.to_le_bytes() } else { v.to_be_bytes() };
        self.buf.extend_from_slice(&b);
    }

    /// Writes an aligned 32-bit integer in drep byte order.
    pub fn write_u32(&mut self, v: u32) {
        self.align(4);
        let b = if self.drep.is_little_endian() { v.to_le_bytes() } else { v.to_be_bytes() };
        self.buf.extend_from_slice(&b);
    }

    /// Writes an aligned 64-bit integer in drep byte order.
    pub fn write_u64(&mut self, v: u64) {
        self.align(8);
        let b = if self.drep.is_little_endian() { v.to_le_bytes() } else { v.to_be_bytes() };
        self.buf.extend_from_slice(&b);
    }

    /// Writes a syntax-sized word (u32 in NDR20, u64 in NDR64); fails if it does not fit.
    pub fn write_word(&mut self, v: u64) -> Result<()> {
        match self.syntax {
            Syntax::Ndr20 => {
                let v32 = u32::try_from(v).map_err(|_| self.error(NdrErrorKind::ValueTooLarge { value: v }))?;
                self.write_u32(v32);
            }
            Syntax::Ndr64 => self.write_u64(v),
        }
        Ok(())
    }

    /// Fails unless the character representation is ASCII.
    pub fn check_char_rep(&self) -> Result<()> {
        if self.drep.char == CharRep::Ascii { Ok(()) } else { Err(self.error(NdrErrorKind::UnsupportedCharRep)) }
    }

    /// Fails unless floats are IEEE.
    pub fn check_float_rep(&self) -> Result<()> {
        if self.drep.float == FloatRep::Ieee { Ok(()) } else { Err(self.error(NdrErrorKind::UnsupportedFloatRep)) }
    }

    /// Hands out `ids` (non-zero ones, in order) as the next referent ids, before the counter resumes: with
    /// [`crate::NdrReader::referent_ids`] this re-encodes a decoded stub with the sender's numbering.
    pub fn replay_referent_ids(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.replay = ids.into_iter().filter(|&id| id != 0).collect();
    }

    /// Allocates a fresh non-zero referent id.
    pub fn new_referent(&mut self) -> u64 {
        if let Some(id) = self.replay.pop_front() {
            return id;
        }
        let id = self.next_referent;
        self.next_referent = self.next_referent.wrapping_add(self.referent_step).max(1);
        id
    }

    /// Wire referent id of a full pointer to object `id` (same object, same id).
    pub fn full_referent(&mut self, id: u64) -> u64 {
        if let Some(w) = self.full_ids.get(&id) {
            return *w;
        }
        let w = self.new_referent();
        self.full_ids.insert(id, w);
        w
    }

    /// Marks object `id`'s referent as written; false if it already was (write nothing then).
    pub fn first_full_write(&mut self, id: u64) -> bool {
        self.full_written.insert(id)
    }

    /// Writes a conformance (maximum count) unless a conformant structure already hoisted it
    /// (C706 14.3.7.1).
    pub fn write_conformance(&mut self, count: u64) -> Result<()> {
        if self.hoisted {
            self.hoisted = false;
            Ok(())
        } else {
            self.write_word(count)
        }
    }

    /// True while a hoisted conformance awaits its trailing array.
    #[must_use]
    pub fn has_hoisted(&self) -> bool {
        self.hoisted
    }

    /// Writes a conformant structure's conformance at its start and marks it hoisted.
    pub fn hoist_conformance(&mut self, count: u64) -> Result<()> {
        self.write_word(count)?;
        self.hoisted = true;
        Ok(())
    }

    /// Clears the hoisted flag, reporting whether it was still set.
    pub fn clear_hoisted(&mut self) -> bool {
        std::mem::replace(&mut self.hoisted, false)
    }
}

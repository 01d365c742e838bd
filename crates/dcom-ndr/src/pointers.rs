//! Pointers (C706 14.3.10-14.3.12; [MS-RPCE 2.2.5.3.3]).
//!
//! Every pointer writes/reads its referent id (u32 in NDR20, u64 in NDR64, aligned to its size)
//! in the inline phase and its referent in the deferred phase. While decoding, the inline phase
//! records each referent id (null included) in the reader and the deferred phase consumes them
//! in the same order, each referent inside its own frame (see [`crate::NdrReader::begin_frame`]).

use crate::arrays::ArrayCounts;
use crate::drep::Syntax;
use crate::error::{NdrErrorKind, Result};
use crate::reader::NdrReader;
use crate::traits::Ndr;
use crate::writer::NdrWriter;

/// Decodes one referent (inline + deferred parts) in its own pointer frame.
fn decode_referent<T: Ndr>(r: &mut NdrReader<'_>) -> Result<T> {
    r.enter()?;
    let frame = r.begin_frame();
    let mut v = T::decode_inline(r)?;
    v.decode_deferred(r)?;
    r.end_frame(frame)?;
    r.leave();
    Ok(v)
}

fn encode_referent<T: Ndr>(v: &T, w: &mut NdrWriter) -> Result<()> {
    v.encode_inline(w)?;
    v.encode_deferred(w)
}

/// `[unique]` pointer (C706 14.3.11.2): referent id 0 is null. `Option<T>` is the unique pointer.
impl<T: Ndr> Ndr for Option<T> {
    const MIN_WIRE_SIZE: usize = 4;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word()
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let id = if self.is_some() { w.new_referent() } else { 0 };
        w.write_word(id)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        match self {
            Some(v) => encode_referent(v, w),
            None => Ok(()),
        }
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let id = r.read_word()?;
        r.push_pending(id);
        Ok(None)
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        if r.pop_pending()? != 0 {
            *self = Some(decode_referent(r)?);
        }
        Ok(())
    }
}

/// Embedded `[ref]` pointer (C706 14.3.11.1): never null; its referent is deferred like any
/// embedded pointer. (A top-level `[ref]` parameter has no wire representation: declare the
/// parameter as `T` itself.) Decoding needs `T: Default` for the value between the two phases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Ref<T>(pub Box<T>);

impl<T> Ref<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Self(Box::new(v))
    }
}

impl<T> std::ops::Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Ndr + Default> Ndr for Ref<T> {
    const MIN_WIRE_SIZE: usize = 4;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word()
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let id = w.new_referent();
        w.write_word(id)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        encode_referent(&*self.0, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let id = r.read_word()?;
        if id == 0 {
            return Err(r.error(NdrErrorKind::NullRefPointer));
        }
        r.push_pending(id);
        Ok(Self(Box::default()))
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        if r.pop_pending()? == 0 {
            return Err(r.error(NdrErrorKind::NullRefPointer));
        }
        *self.0 = decode_referent(r)?;
        Ok(())
    }
}

/// `[ptr]` full pointer (C706 14.3.11.3): aliasing allowed. One referent id denotes one object;
/// its referent is marshalled once, at the first pointer to it in marshalling order. Later
/// pointers with the same id decode as [`Full::Alias`], so cycles cannot loop.
///
/// When encoding, `id` is the caller's object identity: pointers with equal ids share one wire
/// referent id, and the referent of the first [`Full::Object`] with that id is written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Full<T> {
    /// Null pointer.
    #[default]
    Null,
    /// The pointer that carries the referent.
    Object {
        /// Object identity (the wire referent id when decoded).
        id: u64,
        /// The referent.
        value: Box<T>,
    },
    /// Another pointer to the object with this identity.
    Alias(u64),
}

impl<T> Full<T> {
    /// The referent if this pointer carries it.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Object { value, .. } => Some(value),
            _ => None,
        }
    }
}

impl<T: Ndr> Ndr for Full<T> {
    const MIN_WIRE_SIZE: usize = 4;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word()
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let id = match self {
            Self::Null => 0,
            Self::Object { id, .. } | Self::Alias(id) => w.full_referent(*id),
        };
        w.write_word(id)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        match self {
            Self::Object { id, value } if w.first_full_write(*id) => encode_referent(&**value, w),
            _ => Ok(()),
        }
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let id = r.read_word()?;
        r.push_pending(id);
        Ok(if id == 0 { Self::Null } else { Self::Alias(id) })
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        let id = r.pop_pending()?;
        if id != 0 && r.first_full_pointer(id) {
            let value = Box::new(decode_referent(r)?);
            *self = Self::Object { id, value };
        }
        Ok(())
    }
}

impl<A: ArrayCounts> ArrayCounts for Ref<A> {
    fn max_count(&self) -> Option<u64> {
        self.0.max_count()
    }
    fn actual_count(&self) -> Option<u64> {
        self.0.actual_count()
    }
}

impl<A: ArrayCounts> ArrayCounts for Full<A> {
    fn max_count(&self) -> Option<u64> {
        self.value().and_then(A::max_count)
    }
    fn actual_count(&self) -> Option<u64> {
        self.value().and_then(A::actual_count)
    }
}

//! The [`Ndr`] trait and primitive implementations (C706 14.2).

use uuid::Uuid;

use crate::drep::Syntax;
use crate::error::Result;
use crate::reader::NdrReader;
use crate::writer::NdrWriter;

/// A type with an NDR representation in both transfer syntaxes.
///
/// Marshalling is two-phase (C706 14.3.12.3): [`Ndr::encode_inline`] writes the inline part
/// (for pointers only the referent id) and [`Ndr::encode_deferred`] writes the referents of
/// embedded pointers, after the enclosing top-level construct, in pointer order. Decoding
/// mirrors it: [`Ndr::decode_inline`] returns a value whose pointers are still empty and
/// [`Ndr::decode_deferred`] fills them. Implementations must visit pointers in the same order
/// in both phases. Use [`crate::encode`] / [`crate::decode`] for a complete top-level construct.
pub trait Ndr: Sized {
    /// True for conformant types: conformant (varying) arrays, strings and structures ending in
    /// one. Their conformance is hoisted to the start of an enclosing structure (C706 14.3.7).
    const CONFORMANT: bool = false;
    /// False when the type can contain no pointer (deferred phases are then skipped).
    const HAS_POINTERS: bool = true;
    /// Lower bound of the wire size of one value, used to check array counts before allocating.
    const MIN_WIRE_SIZE: usize = 1;

    /// Alignment of the inline representation (C706 14.2.2, 14.3.7; [MS-RPCE 2.2.5.3]).
    fn ndr_align(syntax: Syntax) -> usize;

    /// Maximum count of a conformant type, hoisted by an enclosing structure.
    fn conformance(&self) -> Option<u64> {
        None
    }

    /// Writes the inline part.
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()>;

    /// Writes the deferred referents of embedded pointers.
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        let _ = w;
        Ok(())
    }

    /// Reads the inline part.
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self>;

    /// Reads the deferred referents of embedded pointers.
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        let _ = r;
        Ok(())
    }

    /// Writes the inline parts of consecutive array elements (override for bulk copies).
    fn encode_slice(items: &[Self], w: &mut NdrWriter) -> Result<()> {
        for (i, item) in items.iter().enumerate() {
            item.encode_inline(w).map_err(|e| e.in_index(i as u64))?;
        }
        Ok(())
    }

    /// Reads the inline parts of `n` array elements; `n` was checked by [`NdrReader::reserve`].
    fn decode_vec(r: &mut NdrReader<'_>, n: usize) -> Result<Vec<Self>> {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            v.push(Self::decode_inline(r).map_err(|e| e.in_index(i as u64))?);
        }
        Ok(v)
    }
}

/// Writes the deferred parts of array elements in order.
pub(crate) fn encode_slice_deferred<T: Ndr>(items: &[T], w: &mut NdrWriter) -> Result<()> {
    if T::HAS_POINTERS {
        for (i, item) in items.iter().enumerate() {
            item.encode_deferred(w).map_err(|e| e.in_index(i as u64))?;
        }
    }
    Ok(())
}

/// Reads the deferred parts of array elements in order.
pub(crate) fn decode_slice_deferred<T: Ndr>(items: &mut [T], r: &mut NdrReader<'_>) -> Result<()> {
    if T::HAS_POINTERS {
        for (i, item) in items.iter_mut().enumerate() {
            item.decode_deferred(r).map_err(|e| e.in_index(i as u64))?;
        }
    }
    Ok(())
}

macro_rules! int_impl {
    ($t:ty, $u:ty, $n:expr, $read:ident, $write:ident) => {
        /// C706 14.2.5 integer types, aligned to their size (14.2.2).
        impl Ndr for $t {
            const HAS_POINTERS: bool = false;
            const MIN_WIRE_SIZE: usize = $n;
            fn ndr_align(_: Syntax) -> usize {
                $n
            }
            fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
                // Same bits, reinterpreted (two's complement for the signed types).
                w.$write(<$u>::from_ne_bytes(self.to_ne_bytes()));
                Ok(())
            }
            fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
                Ok(<$t>::from_ne_bytes(r.$read()?.to_ne_bytes()))
            }
        }
    };
}

int_impl!(u16, u16, 2, read_u16, write_u16);
int_impl!(i16, u16, 2, read_u16, write_u16);
int_impl!(u32, u32, 4, read_u32, write_u32);
int_impl!(i32, u32, 4, read_u32, write_u32);
int_impl!(u64, u64, 8, read_u64, write_u64);
int_impl!(i64, u64, 8, read_u64, write_u64);

/// C706 14.2.5 `small`/`byte`: one octet, no alignment. Bulk copy for arrays.
impl Ndr for u8 {
    const HAS_POINTERS: bool = false;
    fn ndr_align(_: Syntax) -> usize {
        1
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.write_u8(*self);
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        r.read_u8()
    }
    fn encode_slice(items: &[Self], w: &mut NdrWriter) -> Result<()> {
        w.put(items);
        Ok(())
    }
    fn decode_vec(r: &mut NdrReader<'_>, n: usize) -> Result<Vec<Self>> {
        Ok(r.take(n)?.to_vec())
    }
}

/// C706 14.2.5 `small`: one signed octet.
impl Ndr for i8 {
    const HAS_POINTERS: bool = false;
    fn ndr_align(_: Syntax) -> usize {
        1
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.write_u8(self.to_le_bytes()[0]);
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        Ok(Self::from_le_bytes([r.read_u8()?]))
    }
}

/// C706 14.2.3 boolean: one octet, 0 is false, any other value true (written as 1).
impl Ndr for bool {
    const HAS_POINTERS: Self = false;
    fn ndr_align(_: Syntax) -> usize {
        1
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.write_u8(u8::from(*self));
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        Ok(r.read_u8()? != 0)
    }
}

/// C706 14.2.7 single-precision float: IEEE only, 4-byte aligned.
impl Ndr for f32 {
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 4;
    fn ndr_align(_: Syntax) -> usize {
        4
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.check_float_rep()?;
        w.write_u32(self.to_bits());
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        r.check_float_rep()?;
        Ok(Self::from_bits(r.read_u32()?))
    }
}

/// C706 14.2.7 double-precision float: IEEE only, 8-byte aligned.
impl Ndr for f64 {
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 8;
    fn ndr_align(_: Syntax) -> usize {
        8
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.check_float_rep()?;
        w.write_u64(self.to_bits());
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        r.check_float_rep()?;
        Ok(Self::from_bits(r.read_u64()?))
    }
}

/// NDR `char` (C706 14.2.4): one octet in the drep character set; only ASCII is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct NdrChar(pub u8);

impl Ndr for NdrChar {
    const HAS_POINTERS: bool = false;
    fn ndr_align(_: Syntax) -> usize {
        1
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.check_char_rep()?;
        w.write_u8(self.0);
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        r.check_char_rep()?;
        Ok(Self(r.read_u8()?))
    }
    fn encode_slice(items: &[Self], w: &mut NdrWriter) -> Result<()> {
        w.check_char_rep()?;
        for c in items {
            w.write_u8(c.0);
        }
        Ok(())
    }
    fn decode_vec(r: &mut NdrReader<'_>, n: usize) -> Result<Vec<Self>> {
        r.check_char_rep()?;
        Ok(r.take(n)?.iter().map(|b| Self(*b)).collect())
    }
}

/// GUID ([MS-DTYP 2.3.4.2]; C706 appendix A): `u32 Data1, u16 Data2, u16 Data3, u8 Data4[8]`,
/// integers in drep byte order, structure alignment 4.
impl Ndr for Uuid {
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 16;
    fn ndr_align(_: Syntax) -> usize {
        4
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let (d1, d2, d3, d4) = self.as_fields();
        w.write_u32(d1);
        w.write_u16(d2);
        w.write_u16(d3);
        w.put(d4);
        Ok(())
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let d1 = r.read_u32()?;
        let d2 = r.read_u16()?;
        let d3 = r.read_u16()?;
        let mut d4 = [0u8; 8];
        d4.copy_from_slice(r.take(8)?);
        Ok(Self::from_fields(d1, d2, d3, &d4))
    }
}

/// A `Box<T>` has the representation of `T` (used to declare recursive types behind pointers).
impl<T: Ndr> Ndr for Box<T> {
    const CONFORMANT: bool = T::CONFORMANT;
    const HAS_POINTERS: bool = T::HAS_POINTERS;
    const MIN_WIRE_SIZE: usize = T::MIN_WIRE_SIZE;
    fn ndr_align(syntax: Syntax) -> usize {
        T::ndr_align(syntax)
    }
    fn conformance(&self) -> Option<u64> {
        (**self).conformance()
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        (**self).encode_inline(w)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        (**self).encode_deferred(w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        T::decode_inline(r).map(Self::new)
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        (**self).decode_deferred(r)
    }
}

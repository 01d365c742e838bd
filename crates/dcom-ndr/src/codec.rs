//! Top-level entry points and the runtime support the derive macro calls.

use crate::arrays::ArrayCounts;
use crate::drep::{NdrContext, Syntax};
use crate::error::{NdrError, NdrErrorKind, Result};
use crate::reader::NdrReader;
use crate::traits::Ndr;
use crate::writer::NdrWriter;

/// Writes `value` as one top-level construct: inline part, then its deferred referents
/// (C706 14.3.12.3). For an operation, call this once per parameter in order; a top-level
/// `[ref]` parameter is passed as the referent itself, a top-level `[unique]` parameter as
/// `Option<T>` (referent id, then the referent right after it).
pub fn encode_top_level<T: Ndr>(value: &T, w: &mut NdrWriter) -> Result<()> {
    value.encode_inline(w)?;
    value.encode_deferred(w)
}

/// Reads one top-level construct (see [`encode_top_level`]).
pub fn decode_top_level<T: Ndr>(r: &mut NdrReader<'_>) -> Result<T> {
    let frame = r.begin_frame();
    let mut v = T::decode_inline(r)?;
    v.decode_deferred(r)?;
    r.end_frame(frame)?;
    Ok(v)
}

/// Encodes one top-level construct into a new buffer.
pub fn encode<T: Ndr>(value: &T, ctx: NdrContext) -> Result<Vec<u8>> {
    encode_into(value, ctx, Vec::new())
}

/// Encodes one top-level construct, reusing `buf` (cleared first).
pub fn encode_into<T: Ndr>(value: &T, ctx: NdrContext, buf: Vec<u8>) -> Result<Vec<u8>> {
    let mut w = NdrWriter::with_buffer(buf, ctx);
    encode_top_level(value, &mut w)?;
    w.finish()
}

/// Decodes one top-level construct that must span all of `data`.
pub fn decode<T: Ndr>(data: &[u8], ctx: NdrContext) -> Result<T> {
    let (v, used) = decode_prefix(data, ctx)?;
    if used != data.len() {
        return Err(NdrError::new(NdrErrorKind::TrailingBytes { count: data.len() - used }, used));
    }
    Ok(v)
}

/// Decodes one top-level construct from the start of `data`; returns it and the bytes used.
pub fn decode_prefix<T: Ndr>(data: &[u8], ctx: NdrContext) -> Result<(T, usize)> {
    let mut r = NdrReader::new(data, ctx);
    let v = decode_top_level(&mut r)?;
    Ok((v, r.position()))
}

/// Like [`decode_prefix`], and also returns the non-null referent ids in wire order.
pub fn decode_prefix_with_ids<T: Ndr>(data: &[u8], ctx: NdrContext) -> Result<(T, usize, Vec<u64>)> {
    let mut r = NdrReader::new(data, ctx);
    let v = decode_top_level(&mut r)?;
    let used = r.position();
    Ok((v, used, r.referent_ids().to_vec()))
}

/// Encodes one top-level construct numbering its pointers with `ids` first (see
/// [`NdrWriter::replay_referent_ids`]).
pub fn encode_with_ids<T: Ndr>(value: &T, ctx: NdrContext, ids: &[u64]) -> Result<Vec<u8>> {
    let mut w = NdrWriter::new(ctx);
    w.replay_referent_ids(ids.iter().copied());
    encode_top_level(value, &mut w)?;
    w.finish()
}

/// Integer values usable in `size_is`, `length_is`, `switch_is` and `range` expressions.
pub trait Discriminant: Sized {
    /// The value as i128.
    fn to_i128(&self) -> i128;
    /// The value from i128, `None` when it does not fit.
    fn from_i128(v: i128) -> Option<Self>;
}

macro_rules! disc_int {
    ($($t:ty),*) => {$(
        impl Discriminant for $t {
            fn to_i128(&self) -> i128 {
                i128::from(*self)
            }
            fn from_i128(v: i128) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
        }
    )*};
}
disc_int!(u8, i8, u16, i16, u32, i32, u64, i64);

impl Discriminant for bool {
    fn to_i128(&self) -> i128 {
        i128::from(*self)
    }
    fn from_i128(v: i128) -> Option<Self> {
        match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// A union type (C706 14.3.8): a discriminant selects one arm.
///
/// Its [`Ndr`] impl is the non-encapsulated representation (discriminant, then the arm); a
/// structure that holds the discriminant itself (`#[ndr(encapsulated = "tag")]`, the
/// encapsulated form) calls the arm functions directly.
pub trait NdrUnion: Sized {
    /// Discriminant of the selected arm.
    fn discriminant(&self) -> i128;
    /// Largest alignment of all arms.
    fn arm_align(syntax: Syntax) -> usize;
    /// Writes the selected arm's inline part.
    fn encode_arm(&self, w: &mut NdrWriter) -> Result<()>;
    /// Writes the selected arm's deferred part.
    fn encode_arm_deferred(&self, w: &mut NdrWriter) -> Result<()>;
    /// Reads the arm selected by `discriminant`.
    fn decode_arm(r: &mut NdrReader<'_>, discriminant: i128) -> Result<Self>;
    /// Reads the selected arm's deferred part.
    fn decode_arm_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()>;
}

#[doc(hidden)]
pub mod support {
    //! Called by `#[derive(Ndr)]`; not a stable API.

    use super::{ArrayCounts, Discriminant, Ndr, NdrError, NdrErrorKind, NdrReader, NdrWriter, Result, Syntax};

    /// Structure start when encoding: hoists the conformance of a conformant structure unless an
    /// enclosing one did (C706 14.3.7.1-2; [MS-RPCE 2.2.5.3.4.2]), then aligns to the structure.
    pub fn struct_encode_begin(w: &mut NdrWriter, conformance: Option<u64>, align: usize) -> Result<bool> {
        let hoisted_here = match conformance {
            Some(c) if !w.has_hoisted() => {
                w.hoist_conformance(c)?;
                true
            }
            _ => false,
        };
        w.align(align);
        Ok(hoisted_here)
    }

    /// Structure end when encoding: NDR64 pads a non-conformant structure to a multiple of its
    /// alignment ([MS-RPCE 2.2.5.3.4.1] structure with trailing gap).
    pub fn struct_encode_end(w: &mut NdrWriter, conformant: bool, hoisted_here: bool, align: usize) -> Result<()> {
        if hoisted_here && w.clear_hoisted() {
            return Err(w.error(NdrErrorKind::ConformanceNotConsumed));
        }
        if w.syntax() == Syntax::Ndr64 && !conformant {
            w.align(align);
        }
        Ok(())
    }

    /// Structure start when decoding (see [`struct_encode_begin`]); enters one nesting level.
    pub fn struct_decode_begin(r: &mut NdrReader<'_>, conformant: bool, align: usize) -> Result<bool> {
        r.enter()?;
        let hoisted_here = if conformant && !r.has_hoisted() {
            let c = r.read_word()?;
            r.set_hoisted(c);
            true
        } else {
            false
        };
        r.align(align)?;
        Ok(hoisted_here)
    }

    /// Structure end when decoding (see [`struct_encode_end`]).
    pub fn struct_decode_end(r: &mut NdrReader<'_>, conformant: bool, hoisted_here: bool, align: usize) -> Result<()> {
        if hoisted_here && r.take_hoisted().is_some() {
            return Err(r.error(NdrErrorKind::ConformanceNotConsumed));
        }
        if r.syntax() == Syntax::Ndr64 && !conformant {
            r.align(align)?;
        }
        r.leave();
        Ok(())
    }

    /// Evaluated count expression, `None` on overflow or division by zero.
    pub type Count = Option<i128>;

    /// A field's value as a count.
    pub fn count<D: Discriminant>(v: &D) -> Count {
        Some(v.to_i128())
    }

    fn expected(offset: usize, e: Count) -> Result<i128> {
        e.ok_or_else(|| NdrError::new(NdrErrorKind::CountExpression, offset))
    }

    /// `size_is` check: the array's maximum count equals the expression (absent arrays pass).
    pub fn check_size_is<A: ArrayCounts>(array: &A, e: Count, offset: usize) -> Result<()> {
        check(array.max_count(), e, offset, "size_is")
    }

    /// `length_is` check: the array's actual count equals the expression.
    pub fn check_length_is<A: ArrayCounts>(array: &A, e: Count, offset: usize) -> Result<()> {
        check(array.actual_count(), e, offset, "length_is")
    }

    fn check(actual: Option<u64>, e: Count, offset: usize, what: &'static str) -> Result<()> {
        let Some(actual) = actual else { return Ok(()) };
        let expected = expected(offset, e)?;
        if i128::from(actual) == expected {
            Ok(())
        } else {
            Err(NdrError::new(NdrErrorKind::InconsistentCount { what, expected, actual }, offset))
        }
    }

    /// `switch_is` check for a non-encapsulated union field.
    pub fn check_switch_is(discriminant: i128, e: Count, offset: usize) -> Result<()> {
        let expected = expected(offset, e)?;
        if expected == discriminant {
            Ok(())
        } else {
            Err(NdrError::new(NdrErrorKind::DiscriminantMismatch { expected, actual: discriminant }, offset))
        }
    }

    /// `[range(lo, hi)]` check.
    pub fn check_range<D: Discriminant>(v: &D, min: i128, max: i128, offset: usize) -> Result<()> {
        let value = v.to_i128();
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(NdrError::new(NdrErrorKind::RangeViolation { value, min, max }, offset))
        }
    }

    /// Writes a union discriminant of type `D`.
    pub fn encode_discriminant<D: Discriminant + Ndr>(w: &mut NdrWriter, value: i128) -> Result<()> {
        let d = D::from_i128(value)
            .ok_or_else(|| w.error(NdrErrorKind::ValueTooLarge { value: u64::try_from(value).unwrap_or(u64::MAX) }))?;
        d.encode_inline(w)
    }

    /// Reads a union discriminant of type `D`.
    pub fn decode_discriminant<D: Discriminant + Ndr>(r: &mut NdrReader<'_>) -> Result<i128> {
        D::decode_inline(r).map(|d| d.to_i128())
    }

    /// Writes a C enumeration value: 16-bit unsigned in NDR20 (C706 14.2.5), 32-bit signed for
    /// `v1_enum` ([MS-RPCE 2.2.4.6]) and always in NDR64 ([MS-RPCE 2.2.5.2]).
    pub fn encode_enum(w: &mut NdrWriter, value: i64, v1: bool) -> Result<()> {
        if v1 || w.syntax() == Syntax::Ndr64 {
            let v = i32::try_from(value)
                .map_err(|_| w.error(NdrErrorKind::ValueTooLarge { value: value.unsigned_abs() }))?;
            v.encode_inline(w)
        } else {
            let v = u16::try_from(value)
                .map_err(|_| w.error(NdrErrorKind::ValueTooLarge { value: value.unsigned_abs() }))?;
            v.encode_inline(w)
        }
    }

    /// Reads a C enumeration value (see [`encode_enum`]).
    pub fn decode_enum(r: &mut NdrReader<'_>, v1: bool) -> Result<i64> {
        if v1 || r.syntax() == Syntax::Ndr64 {
            Ok(i64::from(i32::decode_inline(r)?))
        } else {
            Ok(i64::from(u16::decode_inline(r)?))
        }
    }

    /// Enumeration alignment (see [`encode_enum`]).
    #[must_use]
    pub fn enum_align(syntax: Syntax, v1: bool) -> usize {
        if v1 || syntax == Syntax::Ndr64 { 4 } else { 2 }
    }

    /// Error for an unknown enumeration value.
    pub fn unknown_enum(r: &NdrReader<'_>, value: i64) -> NdrError {
        r.error(NdrErrorKind::UnknownEnumValue { value })
    }

    /// Error for an unknown union discriminant.
    pub fn unknown_discriminant(r: &NdrReader<'_>, value: i128) -> NdrError {
        r.error(NdrErrorKind::UnknownDiscriminant { value })
    }

    /// Non-encapsulated union start: NDR64 aligns the union to the largest of its discriminant and
    /// arms ([MS-RPCE 2.2.5.3.4.3]); NDR20 aligns only the discriminant (C706 14.3.8).
    pub fn union_encode_begin(w: &mut NdrWriter, align: usize) {
        if w.syntax() == Syntax::Ndr64 {
            w.align(align);
        }
    }

    /// See [`union_encode_begin`].
    pub fn union_decode_begin(r: &mut NdrReader<'_>, align: usize) -> Result<()> {
        if r.syntax() == Syntax::Ndr64 { r.align(align) } else { Ok(()) }
    }

    /// NDR64 aligns the selected arm to the largest arm alignment; in NDR20 each arm aligns itself.
    pub fn union_arm_align(w: &mut NdrWriter, align: usize) {
        if w.syntax() == Syntax::Ndr64 {
            w.align(align);
        }
    }

    /// See [`union_arm_align`].
    pub fn union_arm_align_read(r: &mut NdrReader<'_>, align: usize) -> Result<()> {
        if r.syntax() == Syntax::Ndr64 { r.align(align) } else { Ok(()) }
    }

    /// Compile-time check behind `#[ndr(string)]`.
    pub fn assert_string<T: crate::IsString>() {}

    /// Checked arithmetic for count expressions.
    pub fn add(a: Count, b: Count) -> Count {
        a?.checked_add(b?)
    }
    /// Checked arithmetic for count expressions.
    pub fn sub(a: Count, b: Count) -> Count {
        a?.checked_sub(b?)
    }
    /// Checked arithmetic for count expressions.
    pub fn mul(a: Count, b: Count) -> Count {
        a?.checked_mul(b?)
    }
    /// Checked arithmetic for count expressions.
    pub fn div(a: Count, b: Count) -> Count {
        a?.checked_div(b?)
    }
}

//! Arrays and strings (C706 14.3.3, 14.3.4; [MS-RPCE 2.2.5.3.2]).

use crate::drep::Syntax;
use crate::error::{NdrErrorKind, Result};
use crate::reader::NdrReader;
use crate::traits::{Ndr, decode_slice_deferred, encode_slice_deferred};
use crate::writer::NdrWriter;

fn len_u64(len: usize) -> u64 {
    // usize is at most 64 bits on every supported target.
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Reads `n` elements after checking `n` against the remaining bytes and the allocation limit.
fn read_elements<T: Ndr>(r: &mut NdrReader<'_>, count: u64) -> Result<Vec<T>> {
    r.align(T::ndr_align(r.syntax()))?;
    let n = r.reserve(count, T::MIN_WIRE_SIZE, size_of::<T>())?;
    T::decode_vec(r, n)
}

/// Fixed array `T name[N]` (C706 14.3.3.1): the elements only.
impl<T: Ndr, const N: usize> Ndr for [T; N] {
    const HAS_POINTERS: bool = T::HAS_POINTERS;
    const MIN_WIRE_SIZE: usize = T::MIN_WIRE_SIZE.saturating_mul(N);
    fn ndr_align(syntax: Syntax) -> usize {
        T::ndr_align(syntax)
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.align(T::ndr_align(w.syntax()));
        T::encode_slice(self, w)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        encode_slice_deferred(self, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let v = read_elements::<T>(r, len_u64(N))?;
        v.try_into().map_err(|_| r.error(NdrErrorKind::PointerQueueDesync))
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        decode_slice_deferred(self, r)
    }
}

/// Conformant array `[size_is(n)] T a[]` (C706 14.3.3.2; [MS-RPCE 2.2.5.3.2.1]): maximum count
/// (u32 in NDR20, u64 in NDR64), then the elements. The count is hoisted to the start of an
/// enclosing structure (C706 14.3.7.1). In memory: the elements; maximum count = length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConfArray<T>(pub Vec<T>);

impl<T> From<Vec<T>> for ConfArray<T> {
    fn from(v: Vec<T>) -> Self {
        Self(v)
    }
}

impl<T> std::ops::Deref for ConfArray<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for ConfArray<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Ndr> Ndr for ConfArray<T> {
    const CONFORMANT: bool = true;
    const HAS_POINTERS: bool = T::HAS_POINTERS;
    const MIN_WIRE_SIZE: usize = 0;
    /// Alignment of the elements: when embedded, the count lives at the structure start.
    fn ndr_align(syntax: Syntax) -> usize {
        T::ndr_align(syntax)
    }
    fn conformance(&self) -> Option<u64> {
        Some(len_u64(self.0.len()))
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.write_conformance(len_u64(self.0.len()))?;
        w.align(T::ndr_align(w.syntax()));
        T::encode_slice(&self.0, w)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        encode_slice_deferred(&self.0, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let max = r.read_conformance()?;
        read_elements(r, max).map(Self)
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        decode_slice_deferred(&mut self.0, r)
    }
}

/// Reads offset and actual count of a varying array and validates them against `max`
/// (C706 14.3.3.3: offset + actual count <= maximum count).
fn read_variance(r: &mut NdrReader<'_>, max: u64) -> Result<(u64, u64)> {
    let offset = r.read_word()?;
    let actual = r.read_word()?;
    if offset.checked_add(actual).is_none_or(|end| end > max) {
        return Err(r.error(NdrErrorKind::ActualExceedsMax { offset, actual, max }));
    }
    Ok((offset, actual))
}

/// Conformant varying array `[size_is(m), length_is(n)] T a[]` (C706 14.3.3.4;
/// [MS-RPCE 2.2.5.3.2.3]): maximum count (hoisted in structures), offset, actual count, then
/// the `actual` transmitted elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConfVarArray<T> {
    /// Maximum count (allocated size), at least `offset + items.len()`.
    pub max_count: u64,
    /// Index of the first transmitted element.
    pub offset: u64,
    /// The transmitted elements.
    pub items: Vec<T>,
}

impl<T> ConfVarArray<T> {
    /// All elements transmitted: maximum count = actual count, offset 0.
    #[must_use]
    pub fn new(items: Vec<T>) -> Self {
        Self { max_count: len_u64(items.len()), offset: 0, items }
    }

    /// A larger maximum count than the elements transmitted.
    #[must_use]
    pub fn with_max(items: Vec<T>, max_count: u64) -> Self {
        Self { max_count, offset: 0, items }
    }
}

impl<T> From<Vec<T>> for ConfVarArray<T> {
    fn from(v: Vec<T>) -> Self {
        Self::new(v)
    }
}

fn check_variance(w: &NdrWriter, offset: u64, actual: u64, max: u64) -> Result<()> {
    if offset.checked_add(actual).is_none_or(|end| end > max) {
        return Err(w.error(NdrErrorKind::ActualExceedsMax { offset, actual, max }));
    }
    Ok(())
}

impl<T: Ndr> Ndr for ConfVarArray<T> {
    const CONFORMANT: bool = true;
    const HAS_POINTERS: bool = T::HAS_POINTERS;
    const MIN_WIRE_SIZE: usize = 8;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word().max(T::ndr_align(syntax))
    }
    fn conformance(&self) -> Option<u64> {
        Some(self.max_count)
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let actual = len_u64(self.items.len());
        check_variance(w, self.offset, actual, self.max_count)?;
        w.write_conformance(self.max_count)?;
        w.write_word(self.offset)?;
        w.write_word(actual)?;
        w.align(T::ndr_align(w.syntax()));
        T::encode_slice(&self.items, w)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        encode_slice_deferred(&self.items, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let max_count = r.read_conformance()?;
        let (offset, actual) = read_variance(r, max_count)?;
        let items = read_elements(r, actual)?;
        Ok(Self { max_count, offset, items })
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        decode_slice_deferred(&mut self.items, r)
    }
}

/// Varying array `[length_is(n)] T a[N]` (C706 14.3.3.3; [MS-RPCE 2.2.5.3.2.2]): offset,
/// actual count, then the transmitted elements; the maximum count is `N`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VarArray<T, const N: usize> {
    /// Index of the first transmitted element.
    pub offset: u64,
    /// The transmitted elements (`offset + len <= N`).
    pub items: Vec<T>,
}

impl<T: Ndr, const N: usize> Ndr for VarArray<T, N> {
    const HAS_POINTERS: bool = T::HAS_POINTERS;
    const MIN_WIRE_SIZE: usize = 8;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word().max(T::ndr_align(syntax))
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        let actual = len_u64(self.items.len());
        check_variance(w, self.offset, actual, len_u64(N))?;
        w.write_word(self.offset)?;
        w.write_word(actual)?;
        w.align(T::ndr_align(w.syntax()));
        T::encode_slice(&self.items, w)
    }
    fn encode_deferred(&self, w: &mut NdrWriter) -> Result<()> {
        encode_slice_deferred(&self.items, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let (offset, actual) = read_variance(r, len_u64(N))?;
        let items = read_elements(r, actual)?;
        Ok(Self { offset, items })
    }
    fn decode_deferred(&mut self, r: &mut NdrReader<'_>) -> Result<()> {
        decode_slice_deferred(&mut self.items, r)
    }
}

/// Shared `[string]` logic: conformant varying, offset 0, terminator included in both counts
/// (C706 14.3.4).
fn read_string_units<T: Ndr + PartialEq + Default>(r: &mut NdrReader<'_>) -> Result<Vec<T>> {
    let max = r.read_conformance()?;
    let start = r.position();
    let (offset, actual) = read_variance(r, max)?;
    if offset != 0 {
        return Err(crate::error::NdrError::new(NdrErrorKind::StringOffset { offset }, start));
    }
    if actual == 0 {
        return Err(r.error(NdrErrorKind::MissingTerminator));
    }
    let mut units = read_elements::<T>(r, actual)?;
    if units.pop().is_none_or(|last| last != T::default()) {
        return Err(r.error(NdrErrorKind::MissingTerminator));
    }
    Ok(units)
}

fn write_string_units<T: Ndr + Default>(units: &[T], w: &mut NdrWriter) -> Result<()> {
    let count = len_u64(units.len()).saturating_add(1);
    w.write_conformance(count)?;
    w.write_word(0)?;
    w.write_word(count)?;
    w.align(T::ndr_align(w.syntax()));
    T::encode_slice(units, w)?;
    T::default().encode_inline(w)
}

/// `[string] char *` (C706 14.3.4): a conformant varying array of octets ending in NUL. In
/// memory: the characters without the terminator. Decoding requires ASCII character
/// representation, offset 0, actual count <= maximum count, and the terminator; the maximum
/// count is not kept (re-encoded as actual count).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct NdrString(pub Vec<u8>);

impl NdrString {
    /// Lossy text view.
    #[must_use]
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl From<&str> for NdrString {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl Ndr for NdrString {
    const CONFORMANT: bool = true;
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 8;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word()
    }
    fn conformance(&self) -> Option<u64> {
        Some(len_u64(self.0.len()).saturating_add(1))
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.check_char_rep()?;
        write_string_units(&self.0, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        r.check_char_rep()?;
        read_string_units::<u8>(r).map(Self)
    }
}

/// `[string] wchar_t *` (C706 14.3.4; [MS-DTYP] `wchar_t` = UTF-16 code unit): a conformant
/// varying array of 16-bit units ending in 0. In memory: the units without the terminator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct WString(pub Vec<u16>);

impl WString {
    /// Lossy text view.
    #[must_use]
    pub fn to_string_lossy(&self) -> String {
        String::from_utf16_lossy(&self.0)
    }
}

impl From<&str> for WString {
    fn from(s: &str) -> Self {
        Self(s.encode_utf16().collect())
    }
}

impl Ndr for WString {
    const CONFORMANT: bool = true;
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 8;
    fn ndr_align(syntax: Syntax) -> usize {
        syntax.word()
    }
    fn conformance(&self) -> Option<u64> {
        Some(len_u64(self.0.len()).saturating_add(1))
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        write_string_units(&self.0, w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        read_string_units::<u16>(r).map(Self)
    }
}

/// Counts that `size_is` / `length_is` attributes are checked against.
pub trait ArrayCounts {
    /// Maximum count, or `None` when absent (null pointer).
    fn max_count(&self) -> Option<u64>;
    /// Actual (transmitted) count, or `None` when absent.
    fn actual_count(&self) -> Option<u64>;
}

impl<T> ArrayCounts for ConfArray<T> {
    fn max_count(&self) -> Option<u64> {
        Some(len_u64(self.0.len()))
    }
    fn actual_count(&self) -> Option<u64> {
        Some(len_u64(self.0.len()))
    }
}

impl<T> ArrayCounts for ConfVarArray<T> {
    fn max_count(&self) -> Option<u64> {
        Some(self.max_count)
    }
    fn actual_count(&self) -> Option<u64> {
        Some(len_u64(self.items.len()))
    }
}

impl<T, const N: usize> ArrayCounts for VarArray<T, N> {
    fn max_count(&self) -> Option<u64> {
        Some(len_u64(N))
    }
    fn actual_count(&self) -> Option<u64> {
        Some(len_u64(self.items.len()))
    }
}

impl<T, const N: usize> ArrayCounts for [T; N] {
    fn max_count(&self) -> Option<u64> {
        Some(len_u64(N))
    }
    fn actual_count(&self) -> Option<u64> {
        Some(len_u64(N))
    }
}

impl ArrayCounts for NdrString {
    fn max_count(&self) -> Option<u64> {
        Some(len_u64(self.0.len()).saturating_add(1))
    }
    fn actual_count(&self) -> Option<u64> {
        self.max_count()
    }
}

impl ArrayCounts for WString {
    fn max_count(&self) -> Option<u64> {
        Some(len_u64(self.0.len()).saturating_add(1))
    }
    fn actual_count(&self) -> Option<u64> {
        self.max_count()
    }
}

impl<A: ArrayCounts> ArrayCounts for Option<A> {
    fn max_count(&self) -> Option<u64> {
        self.as_ref().and_then(A::max_count)
    }
    fn actual_count(&self) -> Option<u64> {
        self.as_ref().and_then(A::actual_count)
    }
}

impl<A: ArrayCounts> ArrayCounts for Box<A> {
    fn max_count(&self) -> Option<u64> {
        (**self).max_count()
    }
    fn actual_count(&self) -> Option<u64> {
        (**self).actual_count()
    }
}

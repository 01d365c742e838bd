//! Bounds-checked little helpers for reading integers out of untrusted byte slices.

pub(crate) fn sub(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    b.get(off..off.checked_add(len)?)
}

pub(crate) fn arr<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    sub(b, off, N)?.try_into().ok()
}

pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

pub(crate) fn be16(b: &[u8], off: usize) -> Option<u16> {
    arr(b, off).map(u16::from_be_bytes)
}

pub(crate) fn be32(b: &[u8], off: usize) -> Option<u32> {
    arr(b, off).map(u32::from_be_bytes)
}

pub(crate) fn le16(b: &[u8], off: usize) -> Option<u16> {
    arr(b, off).map(u16::from_le_bytes)
}

pub(crate) fn le32(b: &[u8], off: usize) -> Option<u32> {
    arr(b, off).map(u32::from_le_bytes)
}

/// Reads a u16 in the given byte order (`big` = big-endian).
pub(crate) fn e16(b: &[u8], off: usize, big: bool) -> Option<u16> {
    if big { be16(b, off) } else { le16(b, off) }
}

/// Reads a u32 in the given byte order (`big` = big-endian).
pub(crate) fn e32(b: &[u8], off: usize, big: bool) -> Option<u32> {
    if big { be32(b, off) } else { le32(b, off) }
}

/// Reads an i64 in the given byte order (`big` = big-endian).
pub(crate) fn e64i(b: &[u8], off: usize, big: bool) -> Option<i64> {
    let a = arr(b, off)?;
    Some(if big { i64::from_be_bytes(a) } else { i64::from_le_bytes(a) })
}

/// `usize` from `u32`; on the 16-bit targets this crate does not support the value saturates.
pub(crate) fn us(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// `u64` from `usize` (lossless on all supported targets; saturates otherwise).
pub(crate) fn u64_of(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

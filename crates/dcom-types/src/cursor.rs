//! A bounds-checked little-endian cursor for the packet-format (non-NDR) structures: OBJREF
//! ([MS-DCOM 2.2.18]), DUALSTRINGARRAY packet version ([MS-DCOM 2.2.19.1]), the ORPC extension bodies.

use uuid::Uuid;

use crate::error::{DcomError, DcomErrorKind, Result};

/// Reads little-endian (or big-endian, for the context extension) fields from a slice.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    little: bool,
    context: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], context: &'static str) -> Self {
        Self { data, pos: 0, little: true, context }
    }

    pub(crate) fn with_endianness(mut self, little: bool) -> Self {
        self.little = little;
        self
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn err(&self, kind: DcomErrorKind) -> DcomError {
        DcomError::new(kind, self.pos, self.context)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.data.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.err(DcomErrorKind::Truncated { needed: n, available: self.remaining() })),
        }
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        s
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let a = self.array::<2>()?;
        Ok(if self.little { u16::from_le_bytes(a) } else { u16::from_be_bytes(a) })
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let a = self.array::<4>()?;
        Ok(if self.little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let a = self.array::<8>()?;
        Ok(if self.little { u64::from_le_bytes(a) } else { u64::from_be_bytes(a) })
    }

    /// A GUID in the byte order of the cursor for its first three fields ([MS-DTYP 2.3.4]).
    pub(crate) fn guid(&mut self) -> Result<Uuid> {
        let a = self.array::<16>()?;
        Ok(if self.little { Uuid::from_bytes_le(a) } else { Uuid::from_bytes(a) })
    }

    /// Requires that every byte was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.err(DcomErrorKind::TrailingBytes { count })),
        }
    }
}

/// Little-endian writer helpers.
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16, little: bool) {
    out.extend_from_slice(&if little { v.to_le_bytes() } else { v.to_be_bytes() });
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32, little: bool) {
    out.extend_from_slice(&if little { v.to_le_bytes() } else { v.to_be_bytes() });
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64, little: bool) {
    out.extend_from_slice(&if little { v.to_le_bytes() } else { v.to_be_bytes() });
}

pub(crate) fn put_guid(out: &mut Vec<u8>, v: &Uuid, little: bool) {
    out.extend_from_slice(&if little { v.to_bytes_le() } else { *v.as_bytes() });
}

/// `u32::try_from(len)` as a typed error.
pub(crate) fn len_u32(len: usize, context: &'static str) -> Result<u32> {
    u32::try_from(len).map_err(|_| DcomError::new(DcomErrorKind::TooLarge, 0, context))
}

//! Type serialization version 1 ([MS-RPCE 2.2.6]), used by DCOM activation properties
//! ([MS-DCOM 2.2.22]).
//!
//! Layout: an 8-byte common type header (2.2.6.1: version 1, endianness 0x10/0x00, header length
//! 8, filler 0xcccccccc), then for each top-level type a private header (2.2.6.2: object buffer
//! length u32, a multiple of 8, and a filler u32) followed by the NDR 2.0 data padded to a
//! multiple of 8. Several types may follow one common header (2.2.6.3).

use crate::codec::{decode_prefix, encode};
use crate::drep::{DataRep, IntRep, Limits, NdrContext, Syntax};
use crate::error::{NdrError, NdrErrorKind, Result};
use crate::traits::Ndr;

const COMMON_HEADER_LEN: u16 = 8;
const FILLER: u32 = 0xcccc_cccc;

fn ser_err(what: &'static str, offset: usize) -> NdrError {
    NdrError::new(NdrErrorKind::TypeSerialization { what }, offset)
}

fn put_u16(buf: &mut Vec<u8>, drep: DataRep, v: u16) {
    buf.extend_from_slice(&if drep.is_little_endian() { v.to_le_bytes() } else { v.to_be_bytes() });
}

fn put_u32(buf: &mut Vec<u8>, drep: DataRep, v: u32) {
    buf.extend_from_slice(&if drep.is_little_endian() { v.to_le_bytes() } else { v.to_be_bytes() });
}

/// Builds a type-serialized buffer holding one or more top-level types (2.2.6.3).
#[derive(Debug)]
pub struct TypeSerializer {
    buf: Vec<u8>,
    ctx: NdrContext,
}

impl TypeSerializer {
    /// Starts a buffer with the common type header in `drep` byte order (2.2.6.1).
    #[must_use]
    pub fn new(drep: DataRep) -> Self {
        let mut buf = Vec::new();
        buf.push(1); // Version
        buf.push(if drep.is_little_endian() { 0x10 } else { 0x00 }); // Endianness
        put_u16(&mut buf, drep, COMMON_HEADER_LEN);
        put_u32(&mut buf, drep, FILLER);
        Self { buf, ctx: NdrContext::new(Syntax::Ndr20, drep) }
    }

    /// Appends one top-level type: private header (2.2.6.2) + NDR 2.0 data padded to 8 bytes.
    pub fn push<T: Ndr>(&mut self, value: &T) -> Result<()> {
        let mut data = encode(value, self.ctx)?;
        let padded = data.len().div_ceil(8).saturating_mul(8);
        data.resize(padded, 0);
        let len = u32::try_from(data.len()).map_err(|_| ser_err("object too large", self.buf.len()))?;
        put_u32(&mut self.buf, self.ctx.drep, len);
        put_u32(&mut self.buf, self.ctx.drep, 0);
        self.buf.extend_from_slice(&data);
        Ok(())
    }

    /// The finished buffer.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads the types of a type-serialized buffer in order.
#[derive(Debug)]
pub struct TypeDeserializer<'a> {
    data: &'a [u8],
    pos: usize,
    ctx: NdrContext,
}

impl<'a> TypeDeserializer<'a> {
    /// Parses and checks the common type header (2.2.6.1).
    pub fn new(data: &'a [u8], limits: Limits) -> Result<Self> {
        let hdr = data.get(..8).ok_or_else(|| ser_err("common header truncated", 0))?;
        // INVARIANT: `hdr` is exactly 8 bytes, so indices 0..=3 below are in bounds.
        if hdr[0] != 1 {
            return Err(ser_err("version is not 1", 0));
        }
        let int = match hdr[1] {
            0x10 => IntRep::LittleEndian,
            0x00 => IntRep::BigEndian,
            _ => return Err(ser_err("bad endianness", 1)),
        };
        let drep = DataRep { int, ..DataRep::LITTLE_ENDIAN };
        let hl = [hdr[2], hdr[3]];
        let header_len = if drep.is_little_endian() { u16::from_le_bytes(hl) } else { u16::from_be_bytes(hl) };
        if header_len != COMMON_HEADER_LEN {
            return Err(ser_err("common header length is not 8", 2));
        }
        Ok(Self { data, pos: 8, ctx: NdrContext::new(Syntax::Ndr20, drep).with_limits(limits) })
    }

    /// Data representation announced by the header.
    #[must_use]
    pub fn drep(&self) -> DataRep {
        self.ctx.drep
    }

    /// True when no type is left.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Reads the next type: private header (2.2.6.2), then the object buffer.
    pub fn read<T: Ndr>(&mut self) -> Result<T> {
        let start = self.pos;
        let ph =
            self.data.get(start..start.saturating_add(8)).ok_or_else(|| ser_err("private header truncated", start))?;
        // INVARIANT: `ph` is exactly 8 bytes.
        let lb = [ph[0], ph[1], ph[2], ph[3]];
        let len = if self.ctx.drep.is_little_endian() { u32::from_le_bytes(lb) } else { u32::from_be_bytes(lb) };
        let len = usize::try_from(len).map_err(|_| ser_err("object buffer length too large", start))?;
        if len % 8 != 0 {
            return Err(ser_err("object buffer length is not a multiple of 8", start));
        }
        let body_start = start + 8;
        let body = self
            .data
            .get(body_start..body_start.saturating_add(len))
            .ok_or_else(|| ser_err("object buffer truncated", body_start))?;
        let (v, _used) = decode_prefix::<T>(body, self.ctx).map_err(|e| {
            // Report offsets relative to the whole buffer.
            let kind = e.kind().clone();
            let mut out = NdrError::new(kind, body_start + e.offset());
            for seg in e.path().collect::<Vec<_>>().into_iter().rev() {
                out = match seg {
                    crate::PathSegment::Type(t) => out.in_type(t),
                    crate::PathSegment::Field(f) => out.in_field(f),
                    crate::PathSegment::Index(i) => out.in_index(*i),
                };
            }
            out
        })?;
        self.pos = body_start + len;
        Ok(v)
    }
}

/// Serializes one value with type serialization version 1 (little-endian).
pub fn encode_type_serialized<T: Ndr>(value: &T, drep: DataRep) -> Result<Vec<u8>> {
    let mut s = TypeSerializer::new(drep);
    s.push(value)?;
    Ok(s.finish())
}

/// Deserializes one value serialized with type serialization version 1.
pub fn decode_type_serialized<T: Ndr>(data: &[u8], limits: Limits) -> Result<T> {
    let mut d = TypeDeserializer::new(data, limits)?;
    d.read()
}

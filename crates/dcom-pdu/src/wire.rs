//! Private byte-order-aware reader (over nom 8) and writer.
//!
//! nom stays inside this module: its types never appear in a public signature.

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::Endianness;
use uuid::Uuid;

use crate::error::{PduError, PduErrorKind};
use crate::header::ByteOrder;

type NomErr<'a> = nom::error::Error<&'a [u8]>;

const fn endianness(order: ByteOrder) -> Endianness {
    match order {
        ByteOrder::Big => Endianness::Big,
        ByteOrder::Little => Endianness::Little,
    }
}

/// Reader over a slice whose first byte sits at `base` in the frame (for error offsets).
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
    order: ByteOrder,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(buf: &'a [u8], base: usize, order: ByteOrder) -> Self {
        Self { rest: buf, pos: base, order }
    }

    /// Absolute position (offset in the frame) of the next byte.
    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn truncated(&self, needed: usize, context: &'static str) -> PduError {
        PduError::new(PduErrorKind::Truncated { needed, available: self.rest.len() }, self.pos, context)
    }

    pub(crate) fn take(&mut self, n: usize, context: &'static str) -> Result<&'a [u8], PduError> {
        let res: nom::IResult<&'a [u8], &'a [u8], NomErr<'a>> = take(n).parse_complete(self.rest);
        match res {
            Ok((rest, taken)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(n);
                Ok(taken)
            }
            Err(_) => Err(self.truncated(n, context)),
        }
    }

    pub(crate) fn u8(&mut self, context: &'static str) -> Result<u8, PduError> {
        let res: nom::IResult<&'a [u8], u8, NomErr<'a>> = nom::number::complete::u8(self.rest);
        match res {
            Ok((rest, v)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(1);
                Ok(v)
            }
            Err(_) => Err(self.truncated(1, context)),
        }
    }

    pub(crate) fn u16(&mut self, context: &'static str) -> Result<u16, PduError> {
        let res: nom::IResult<&'a [u8], u16, NomErr<'a>> =
            nom::number::complete::u16(endianness(self.order))(self.rest);
        match res {
            Ok((rest, v)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(2);
                Ok(v)
            }
            Err(_) => Err(self.truncated(2, context)),
        }
    }

    pub(crate) fn u32(&mut self, context: &'static str) -> Result<u32, PduError> {
        let res: nom::IResult<&'a [u8], u32, NomErr<'a>> =
            nom::number::complete::u32(endianness(self.order))(self.rest);
        match res {
            Ok((rest, v)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(4);
                Ok(v)
            }
            Err(_) => Err(self.truncated(4, context)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self, context: &'static str) -> Result<[u8; N], PduError> {
        let bytes = self.take(N, context)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A GUID whose first three fields follow the byte order (C706 appendix A, NDR uuid_t).
    pub(crate) fn uuid(&mut self, context: &'static str) -> Result<Uuid, PduError> {
        let raw = self.array::<16>(context)?;
        Ok(uuid_from_wire(raw, self.order))
    }
}

pub(crate) const fn uuid_from_wire(raw: [u8; 16], order: ByteOrder) -> Uuid {
    match order {
        ByteOrder::Little => Uuid::from_bytes_le(raw),
        ByteOrder::Big => Uuid::from_bytes(raw),
    }
}

pub(crate) fn uuid_to_wire(uuid: &Uuid, order: ByteOrder) -> [u8; 16] {
    match order {
        ByteOrder::Little => uuid.to_bytes_le(),
        ByteOrder::Big => *uuid.as_bytes(),
    }
}

/// Appending writer in a given byte order.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    order: ByteOrder,
}

impl<'a> Writer<'a> {
    pub(crate) const fn new(out: &'a mut Vec<u8>, order: ByteOrder) -> Self {
        Self { out, order }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        match self.order {
            ByteOrder::Little => self.out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => self.out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub(crate) fn u32(&mut self, v: u32) {
        match self.order {
            ByteOrder::Little => self.out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => self.out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.out.resize(self.out.len().saturating_add(n), 0);
    }

    pub(crate) fn uuid(&mut self, uuid: &Uuid) {
        self.out.extend_from_slice(&uuid_to_wire(uuid, self.order));
    }
}

/// Bytes needed to advance `offset` to a multiple of `align` (`align` > 0).
pub(crate) const fn pad_to(offset: usize, align: usize) -> usize {
    if align == 0 {
        return 0;
    }
    let rem = offset % align;
    if rem == 0 { 0 } else { align - rem }
}

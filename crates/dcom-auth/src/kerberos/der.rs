//! A minimal DER reader for the GSS-API / SPNEGO framing ([X.690 8.1]): single-byte tags, definite
//! lengths of at most four octets, every length checked against the bytes that remain.

use crate::error::{AuthError, AuthErrorKind, Result};

/// One TLV: its tag, its contents, and the offset of the contents in the outermost input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) contents: &'a [u8],
    /// The whole TLV (tag, length and contents).
    pub(crate) raw: &'a [u8],
    pub(crate) offset: usize,
}

/// A cursor over DER bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    base: usize,
    context: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(input: &'a [u8], context: &'static str) -> Self {
        Self { input, pos: 0, base: 0, context }
    }

    /// A reader over the contents of `tlv`, keeping absolute offsets.
    pub(crate) const fn inside(tlv: &Tlv<'a>, context: &'static str) -> Self {
        Self { input: tlv.contents, pos: 0, base: tlv.offset, context }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn err(&self, detail: &str) -> AuthError {
        AuthError::new(AuthErrorKind::InvalidToken, self.context).at(self.base + self.pos).with_detail(detail)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.input.get(self.pos).ok_or_else(|| self.err("truncated der"))?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads the next TLV.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>> {
        let start = self.pos;
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(self.err("multi-byte der tags are not used here"));
        }
        let first = self.byte()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            // X.690 8.1.3.5: long form, 1..=4 length octets here (DER forbids the indefinite form 0x80)
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(self.err("unsupported der length form"));
            }
            let mut len = 0usize;
            for _ in 0..n {
                len = (len << 8) | usize::from(self.byte()?);
            }
            len
        };
        let remaining = self.input.len().saturating_sub(self.pos);
        if len > remaining {
            return Err(AuthError::new(AuthErrorKind::InvalidToken, self.context)
                .at(self.base + self.pos)
                .with_detail(format!("der length {len} exceeds the {remaining} bytes left")));
        }
        let offset = self.base + self.pos;
        let end = self.pos + len;
        let contents = self.input.get(self.pos..end).ok_or_else(|| self.err("truncated der"))?;
        let raw = self.input.get(start..end).ok_or_else(|| self.err("truncated der"))?;
        self.pos = end;
        Ok(Tlv { tag, contents, raw, offset })
    }

    /// Reads the next TLV and checks its tag.
    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>> {
        let at = self.pos;
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(AuthError::new(AuthErrorKind::InvalidToken, self.context)
                .at(self.base + at)
                .with_detail(format!("{what}: tag {:#04x}, expected {tag:#04x}", tlv.tag)));
        }
        Ok(tlv)
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// The absolute offset of the next byte.
    pub(crate) const fn offset(&self) -> usize {
        self.base + self.pos
    }
}

/// DER tags used by GSS-API and SPNEGO.
pub(crate) mod tag {
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const ENUMERATED: u8 = 0x0a;
    pub(crate) const SEQUENCE: u8 = 0x30;
    /// `[APPLICATION 0]` constructed: the GSS-API InitialContextToken ([RFC 2743 3.1]).
    pub(crate) const APPLICATION_0: u8 = 0x60;

    /// `[n]` context-specific constructed.
    pub(crate) const fn ctx(n: u8) -> u8 {
        0xa0 | n
    }
}

/// Encodes one TLV with a definite length ([X.690 8.1.3]: short form below 128, else the minimal long form).
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
    out
}

/// The concatenation of several encodings.
pub(crate) fn concat(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_lengths_round_trip() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let contents = vec![0xab; n];
            let enc = tlv(tag::OCTET_STRING, &contents);
            let mut r = Reader::new(&enc, "t");
            let t = r.read().unwrap();
            assert_eq!((t.tag, t.contents.len()), (tag::OCTET_STRING, n));
            assert!(r.is_empty());
        }
        assert_eq!(tlv(0x04, &[1, 2]), [0x04, 0x02, 1, 2]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[0x04, 0x81, 200]);
    }
}

//! A whole connection-oriented PDU: header, body and optional authentication verifier.

use bytes::Bytes;

use crate::auth::{AuthVerifier, SecTrailer};
use crate::body::PduBody;
use crate::error::{PduError, PduErrorKind};
use crate::header::{DataRep, Header, PacketType, PfcFlags};
use crate::wire::{Reader, Writer};

/// Where the authentication verifier sits in a frame (MS-RPCE 2.2.2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLayout {
    /// End of the body (start of the auth padding) = `trailer_offset - auth_pad_length`.
    pub body_end: usize,
    /// Offset of the sec_trailer = `frag_length - auth_length - 8`.
    pub trailer_offset: usize,
    /// Offset of the auth_value = `trailer_offset + 8`; the auth_value runs to the end of the frame.
    pub auth_value_offset: usize,
    /// The decoded sec_trailer.
    pub trailer: SecTrailer,
}

/// A connection-oriented PDU (C706 12.6, MS-RPCE 2.2.2).
///
/// Decoding keeps every byte that a fresh encoder would zero (reserved fields, padding contents, trailing
/// bytes), so `encode(decode(frame)) == frame`. When encoding, `header.ptype`, `header.frag_len` and
/// `header.auth_len` are derived from the body and verifier, and for requests PFC_OBJECT_UUID follows
/// `Request::object`; every other header field is written as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pdu {
    /// The common header.
    pub header: Header,
    /// The body.
    pub body: PduBody,
    /// The authentication verifier, present iff `auth_length > 0`.
    pub auth: Option<AuthVerifier>,
}

impl Pdu {
    /// A version 5.0, little-endian PDU without verifier.
    #[must_use]
    pub fn new(call_id: u32, pfc_flags: PfcFlags, body: PduBody) -> Self {
        let mut pdu = Self { header: Header::new(body.ptype(), pfc_flags, call_id), body, auth: None };
        pdu.sync_header();
        pdu
    }

    /// The same PDU with `auth` as verifier.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthVerifier) -> Self {
        self.auth = Some(auth);
        self.sync_header();
        self
    }

    /// The same PDU with data representation `drep`.
    #[must_use]
    pub fn with_drep(mut self, drep: DataRep) -> Self {
        self.header.drep = drep;
        self
    }

    /// Recomputes the derived header fields (`ptype`, `frag_len`, `auth_len`, PFC_OBJECT_UUID on requests),
    /// saturating lengths that do not fit 16 bits ([`Pdu::encode`] reports those).
    pub fn sync_header(&mut self) {
        self.header = self.encoded_header_saturating();
    }

    fn encoded_header_saturating(&self) -> Header {
        let mut h = self.header;
        h.ptype = self.body.ptype();
        h.frag_len = u16::try_from(self.size()).unwrap_or(u16::MAX);
        h.auth_len = self.auth.as_ref().map_or(0, |a| u16::try_from(a.auth_value.len()).unwrap_or(u16::MAX));
        if let PduBody::Request(r) = &self.body {
            h.pfc_flags = h.pfc_flags.with(PfcFlags::OBJECT_UUID, r.object.is_some());
        }
        h
    }

    /// The header [`Pdu::encode`] writes.
    pub fn encoded_header(&self) -> Result<Header, PduError> {
        if self.header.drep.byte_order().is_none() {
            return Err(PduError::new(PduErrorKind::InvalidDataRep { drep0: self.header.drep.0[0] }, 4, "packed_drep"));
        }
        let size = self.size();
        let frag_len = u16::try_from(size)
            .map_err(|_| PduError::new(PduErrorKind::LengthOverflow { len: size }, 8, "frag_length"))?;
        let auth_len = match &self.auth {
            None => 0,
            Some(a) => u16::try_from(a.auth_value.len()).map_err(|_| {
                PduError::new(PduErrorKind::LengthOverflow { len: a.auth_value.len() }, 10, "auth_length")
            })?,
        };
        let mut h = self.encoded_header_saturating();
        h.frag_len = frag_len;
        h.auth_len = auth_len;
        Ok(h)
    }

    /// Encoded size in bytes (= `frag_length`).
    #[must_use]
    pub fn size(&self) -> usize {
        Header::SIZE.saturating_add(self.body.size()).saturating_add(self.auth.as_ref().map_or(0, AuthVerifier::size))
    }

    /// Locates the verifier of `frame` (exactly one PDU) without decoding the body (MS-RPCE 2.2.2.11).
    ///
    /// `Ok(None)` when `auth_length` is 0. Checks that `auth_length + 8` fits after the fixed part of the body
    /// and that `auth_pad_length` does not reach into it.
    pub fn auth_layout(header: &Header, frame: &[u8]) -> Result<Option<AuthLayout>, PduError> {
        if header.auth_len == 0 {
            return Ok(None);
        }
        let fixed = PduBody::fixed_size(header.ptype, header.pfc_flags.contains(PfcFlags::OBJECT_UUID))
            .ok_or(PduError::new(PduErrorKind::UnsupportedPacketType { ptype: header.ptype.0 }, 2, "ptype"))?;
        let body_start = Header::SIZE;
        let min_body_end = body_start.saturating_add(fixed);
        let frag_len = usize::from(header.frag_len).min(frame.len());
        let verifier_len = usize::from(header.auth_len).saturating_add(SecTrailer::SIZE);
        // MS-RPCE 2.2.2.11: the sec_trailer starts at frag_length - auth_length - 8.
        let trailer_offset =
            frag_len.checked_sub(verifier_len).filter(|&off| off >= min_body_end).ok_or(PduError::new(
                PduErrorKind::AuthLenTooLarge {
                    auth_len: header.auth_len,
                    available: frag_len.saturating_sub(min_body_end),
                },
                10,
                "auth_length",
            ))?;
        let trailer_bytes = frame.get(trailer_offset..).unwrap_or_default();
        let trailer = SecTrailer::read(&mut Reader::new(trailer_bytes, trailer_offset, header.byte_order()))?;
        // MS-RPCE 2.2.2.11: auth_pad_length padding octets precede the sec_trailer, after the body.
        let body_end = trailer_offset
            .checked_sub(usize::from(trailer.auth_pad_length))
            .filter(|&end| end >= min_body_end)
            .ok_or(PduError::new(
                PduErrorKind::AuthPadTooLarge {
                    auth_pad_length: trailer.auth_pad_length,
                    available: trailer_offset.saturating_sub(min_body_end),
                },
                trailer_offset.saturating_add(2),
                "sec_trailer.auth_pad_length",
            ))?;
        Ok(Some(AuthLayout {
            body_end,
            trailer_offset,
            auth_value_offset: trailer_offset.saturating_add(SecTrailer::SIZE),
            trailer,
        }))
    }

    /// Decodes one PDU; `frame` must be exactly `frag_length` bytes long. Stub data, auth values and preserved
    /// bytes are slices of `frame` (no copy).
    pub fn decode(frame: Bytes) -> Result<Self, PduError> {
        let header = Header::decode(&frame)?;
        if frame.len() != usize::from(header.frag_len) {
            return Err(PduError::new(
                PduErrorKind::FragLenMismatch { frag_len: header.frag_len, actual: frame.len() },
                8,
                "frag_length",
            ));
        }
        if !header.ptype.is_connection_oriented() {
            return Err(PduError::new(PduErrorKind::UnsupportedPacketType { ptype: header.ptype.0 }, 2, "ptype"));
        }
        let order = header.byte_order();
        let layout = Self::auth_layout(&header, &frame)?;
        // MS-RPCE 2.2.2.10: rpc_auth_3 "auth_length MUST be greater than zero".
        if header.ptype == PacketType::AUTH3 && layout.is_none() {
            return Err(PduError::new(PduErrorKind::MissingAuthVerifier, 10, "auth3.auth_length"));
        }
        let body_end = layout.map_or(frame.len(), |l| l.body_end);
        let object_uuid = header.pfc_flags.contains(PfcFlags::OBJECT_UUID);
        let body = PduBody::decode(&frame, Header::SIZE, body_end, header.ptype, object_uuid, order)?;
        let auth = layout.map(|l| AuthVerifier {
            padding: frame.slice(l.body_end..l.trailer_offset),
            trailer: l.trailer,
            auth_value: frame.slice(l.auth_value_offset..),
        });
        Ok(Self { header, body, auth })
    }

    /// Appends the encoded PDU to `out`. On error `out` is left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let header = self.encoded_header()?;
        if let Some(a) = &self.auth
            && usize::from(a.trailer.auth_pad_length) != a.padding.len()
        {
            return Err(PduError::new(
                PduErrorKind::AuthPadMismatch {
                    auth_pad_length: a.trailer.auth_pad_length,
                    padding_len: a.padding.len(),
                },
                0,
                "auth_verifier",
            ));
        }
        let start = out.len();
        out.reserve(self.size());
        header.encode(out);
        let order = header.byte_order();
        let mut w = Writer::new(out, order);
        if let Err(e) = self.body.encode(&mut w, Header::SIZE) {
            out.truncate(start);
            return Err(e);
        }
        if let Some(a) = &self.auth {
            out.extend_from_slice(&a.padding);
            a.trailer.encode(out, order);
            out.extend_from_slice(&a.auth_value);
        }
        Ok(())
    }

    /// The encoded PDU as a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(self.size());
        self.encode(&mut out)?;
        Ok(out)
    }
}

//! Splitting a byte stream into PDUs (C706 12.6.1: `frag_length` in the common header).

use bytes::BytesMut;
use dcom_pdu::{Header, PduError, PduErrorKind, peek_header};

/// Collects stream bytes and hands out whole PDUs, never buffering more than one PDU of at most `max_frag`
/// bytes plus what arrived with it.
#[derive(Debug)]
pub struct FrameBuffer {
    buf: BytesMut,
    max_frag: usize,
}

impl FrameBuffer {
    /// A buffer accepting PDUs of up to `max_frag` bytes.
    #[must_use]
    pub fn new(max_frag: u16) -> Self {
        Self { buf: BytesMut::new(), max_frag: usize::from(max_frag) }
    }

    /// Changes the largest PDU accepted (after bind negotiation).
    pub fn set_max_frag(&mut self, max_frag: u16) {
        self.max_frag = usize::from(max_frag);
    }

    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The bytes buffered and not yet returned (to answer a PDU that cannot be framed, e.g. a bind of another
    /// protocol version, before closing).
    #[must_use]
    pub fn pending_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The next whole PDU, `Ok(None)` when more bytes are needed.
    ///
    /// C706 12.6.3.1: a PDU longer than the negotiated fragment size, or shorter than its own header, is a
    /// protocol error; the caller closes the connection.
    pub fn next_frame(&mut self) -> Result<Option<(Header, BytesMut)>, PduError> {
        let Some(header) = peek_header(&self.buf)? else {
            return Ok(None);
        };
        let len = usize::from(header.frag_len);
        if len < Header::SIZE {
            return Err(PduError::new(PduErrorKind::FragLenTooSmall { frag_len: header.frag_len }, 8, "frag_length"));
        }
        if len > self.max_frag {
            return Err(PduError::new(
                PduErrorKind::FragLenTooLarge { frag_len: header.frag_len, max: self.max_frag },
                8,
                "frag_length",
            ));
        }
        if self.buf.len() < len {
            return Ok(None);
        }
        Ok(Some((header, self.buf.split_to(len))))
    }
}

/// Why [`encode_protected`] failed.
#[derive(Debug)]
pub(crate) enum EncodeError {
    /// A PDU did not encode.
    Encode(PduError),
    /// The per-PDU protection refused a fragment ([MS-RPCE 3.3.1.5.2]).
    Protect(dcom_auth::AuthError),
}

/// Encodes `pdus` (the fragments of one call) at the end of `out`, each signed or sealed in place by `protection`
/// when its level protects PDUs: no intermediate copy per fragment. On an error `out` is left as it was.
pub(crate) fn encode_protected(
    out: &mut Vec<u8>,
    pdus: &[dcom_pdu::Pdu],
    mut protection: Option<&mut dcom_auth::Protection>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let r = (|| {
        for pdu in pdus {
            let at = out.len();
            pdu.encode(out).map_err(EncodeError::Encode)?;
            if let Some(p) = protection.as_deref_mut().filter(|p| p.protects_pdus()) {
                p.protect_frame(out.get_mut(at..).unwrap_or_default()).map_err(EncodeError::Protect)?;
            }
        }
        Ok(())
    })();
    if r.is_err() {
        out.truncate(start);
    }
    r
}

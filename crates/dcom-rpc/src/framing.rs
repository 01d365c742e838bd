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

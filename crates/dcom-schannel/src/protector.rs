//! Per-PDU protection at PKT_PRIVACY: one TLS application-data record per PDU, its ciphertext split between
//! the PDU body (in place, same length) and the auth_value. The wire form is `docs/SCHANNEL.md` section 4.
//!
//! ```text
//! record    = hdr(H) || E(body) || E(binding 32) || trailer(T)        (one TLS record, rustls-encrypted)
//! body      <- E(body)                                                (same length as the clear body)
//! auth_value = seq (u32 big-endian) || hdr(H) || E(binding) || trailer(T)
//! ```

use core::fmt;

use dcom_auth::{AuthError, AuthErrorKind, MessageProtector, PduParts, VerifierSizes, ct_eq};
use rustls::unbuffered::{ConnectionState, EncryptError, UnbufferedStatus};
use sha2::{Digest, Sha256};

use crate::tls::{CONTENT_APPLICATION_DATA, MAX_TOKEN, RECORD_HEADER_LEN, RECORD_VERSION, RecordShape, Tls, tls_error};

/// The clear sequence number at the start of the auth_value.
pub const SEQ_LEN: usize = 4;
/// The header binding appended to the body inside the record plaintext.
pub const BINDING_LEN: usize = 32;
/// Largest TLS record plaintext ([RFC 8446 5.1], [RFC 5246 6.2.1]: 2^14).
pub const MAX_RECORD_PLAINTEXT: usize = 16384;
/// Largest PDU body (stub + auth padding) one record carries: 16384 - 32 = 16352 bytes.
pub const MAX_BODY_LEN: usize = MAX_RECORD_PLAINTEXT - BINDING_LEN;
/// The `max_xmit_frag` / `max_recv_frag` a connection using this provider must not exceed: with any header
/// (24 or 40 bytes), sec_trailer (8) and auth_value (at most 65), a 16384-byte fragment has a body below
/// [`MAX_BODY_LEN`].
pub const MAX_FRAGMENT_LEN: u16 = 16384;
/// Stub alignment before the sec_trailer (as Windows uses for its other providers; AEAD needs none).
pub const PAD_ALIGN: usize = 16;
/// Domain separation of the header binding.
const BINDING_LABEL: &[u8] = b"dcom-schannel v1 pdu header and sec_trailer\0";

/// The `auth_length` of a protected PDU for a record shape: 4 + H + 32 + T.
#[must_use]
pub const fn signature_len(shape: RecordShape) -> usize {
    SEQ_LEN + shape.header + BINDING_LEN + shape.trailer
}

/// The binding field: with header signing, SHA-256 over a label, the header and the sec_trailer (each with
/// its length); without, 32 zero bytes ([MS-RPCE 3.3.1.5.2.2]: unsigned header and trailer are not covered).
fn binding(parts: &PduParts<'_>) -> [u8; BINDING_LEN] {
    if !parts.header_signed {
        return [0; BINDING_LEN];
    }
    let mut h = Sha256::new();
    h.update(BINDING_LABEL);
    h.update(u64::try_from(parts.header.len()).unwrap_or(u64::MAX).to_be_bytes());
    h.update(parts.header);
    h.update(u64::try_from(parts.trailer.len()).unwrap_or(u64::MAX).to_be_bytes());
    h.update(parts.trailer);
    h.finalize().into()
}

fn be16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    core::hint::black_box(buf);
}

/// The [`MessageProtector`] of a completed Schannel context (either side).
pub(crate) struct SchannelProtector<T: Tls> {
    conn: T,
    shape: RecordShape,
    sent: u32,
    received: u32,
}

impl<T: Tls> fmt::Debug for SchannelProtector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchannelProtector")
            .field("shape", &self.shape)
            .field("sent", &self.sent)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

fn sequence_error(expected: u32, got: u32, context: &'static str) -> AuthError {
    if got < expected {
        AuthError::new(AuthErrorKind::Replay { expected, got }, context)
    } else {
        AuthError::new(AuthErrorKind::OutOfOrder { expected, got }, context)
    }
}

fn body_too_long(len: usize, context: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::Unsupported, context).with_detail(format!(
        "pdu body of {len} bytes exceeds the {MAX_BODY_LEN}-byte tls record limit: keep max_xmit_frag at or below \
         {MAX_FRAGMENT_LEN}"
    ))
}

impl<T: Tls> SchannelProtector<T> {
    pub(crate) const fn new(conn: T, shape: RecordShape) -> Self {
        Self { conn, shape, sent: 0, received: 0 }
    }

    fn record_len(&self, body_len: usize) -> usize {
        self.shape.header + body_len + BINDING_LEN + self.shape.trailer
    }

    /// Encrypts `plain` into exactly one record of `record_len` bytes.
    fn encrypt_record(&mut self, plain: &[u8], record_len: usize) -> Result<Vec<u8>, AuthError> {
        let mut record = vec![0u8; record_len];
        let mut empty: [u8; 0] = [];
        let UnbufferedStatus { state, .. } = self.conn.process(&mut empty);
        let written = match state {
            Ok(ConnectionState::WriteTraffic(mut w)) => w.encrypt(plain, &mut record).map_err(|e| match e {
                EncryptError::EncryptExhausted => AuthError::new(AuthErrorKind::SequenceExhausted, "tls record")
                    .with_detail("tls traffic keys exhausted: re-bind the connection"),
                EncryptError::InsufficientSize(s) => AuthError::new(AuthErrorKind::SequenceExhausted, "tls record")
                    .with_detail(format!(
                        "rustls needs {} bytes for a {record_len}-byte record (a tls key update is due, which this \
                         framing cannot carry): re-bind the connection",
                        s.required_size
                    )),
            })?,
            Ok(other) => {
                return Err(AuthError::new(AuthErrorKind::Provider, "tls record")
                    .with_detail(format!("connection not ready to write: {other:?}")));
            }
            Err(e) => return Err(tls_error(&e, "tls record")),
        };
        if written != record_len {
            return Err(AuthError::new(AuthErrorKind::Provider, "tls record")
                .with_detail(format!("rustls wrote {written} bytes, expected one {record_len}-byte record")));
        }
        Ok(record)
    }

    /// Decrypts one record, checking that it is exactly one application-data record.
    fn decrypt_record(&mut self, record: &mut [u8], plain_len: usize) -> Result<Vec<u8>, AuthError> {
        let record_len = record.len();
        let UnbufferedStatus { discard, state } = self.conn.process(record);
        let plain = match state {
            Ok(ConnectionState::ReadTraffic(mut r)) => match r.next_record() {
                Some(Ok(app)) => app.payload.to_vec(),
                Some(Err(e)) => return Err(tls_error(&e, "tls record")),
                None => {
                    return Err(AuthError::new(AuthErrorKind::Provider, "tls record").with_detail("no record data"));
                }
            },
            Ok(other) => {
                return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "tls record")
                    .with_detail(format!("not an application data record (tls state {other:?})")));
            }
            Err(e) => return Err(tls_error(&e, "tls record")),
        };
        if discard != record_len || plain.len() != plain_len {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "tls record").with_detail(format!(
                "record of {record_len} bytes gave {} plaintext bytes (consumed {discard}), expected {plain_len}",
                plain.len()
            )));
        }
        Ok(plain)
    }
}

impl<T: Tls> MessageProtector for SchannelProtector<T> {
    fn sizes(&self) -> VerifierSizes {
        VerifierSizes { signature_len: signature_len(self.shape), pad_align: PAD_ALIGN, max_token: MAX_TOKEN }
    }

    fn peek_sequence(&self, auth_value: &[u8]) -> Option<u32> {
        let seq: [u8; SEQ_LEN] = auth_value.get(..SEQ_LEN)?.try_into().ok()?;
        Some(u32::from_be_bytes(seq))
    }

    /// [MS-RPCE 3.3.1.5.2.2] GSS_WrapEx equivalent: `docs/SCHANNEL.md` 4.1 (record), 4.2 (binding), 4.3 (shape).
    fn seal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<(), AuthError> {
        if seq != self.sent {
            return Err(sequence_error(self.sent, seq, "schannel seal sequence"));
        }
        let want = signature_len(self.shape);
        if auth_value.len() != want {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel auth_value")
                .with_detail(format!("{} bytes, expected {want}", auth_value.len())));
        }
        let body_len = parts.body.len();
        if body_len > MAX_BODY_LEN {
            return Err(body_too_long(body_len, "schannel seal"));
        }
        let next = self.sent.checked_add(1).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "schannel seal"))?;
        let mut plain = Vec::with_capacity(body_len + BINDING_LEN);
        plain.extend_from_slice(parts.body);
        plain.extend_from_slice(&binding(&parts));
        let record_len = self.record_len(body_len);
        let result = self.encrypt_record(&plain, record_len);
        wipe(&mut plain);
        let record = result?;
        // The record header rustls wrote: application_data, 03 03, length of the rest.
        let header_ok = record.first() == Some(&CONTENT_APPLICATION_DATA)
            && record.get(1..3) == Some(&RECORD_VERSION[..])
            && record.get(3..RECORD_HEADER_LEN).and_then(be16).map(usize::from)
                == Some(record_len.saturating_sub(RECORD_HEADER_LEN));
        let (head, rest) =
            record.split_at_checked(self.shape.header).ok_or(AuthError::new(AuthErrorKind::Provider, "tls record"))?;
        let (cipher_body, tail) =
            rest.split_at_checked(body_len).ok_or(AuthError::new(AuthErrorKind::Provider, "tls record"))?;
        if !header_ok {
            return Err(AuthError::new(AuthErrorKind::Provider, "tls record").with_detail("unexpected record header"));
        }
        let short = || AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel auth_value");
        let (seq_out, av) = auth_value.split_at_mut_checked(SEQ_LEN).ok_or_else(short)?;
        let (head_out, tail_out) = av.split_at_mut_checked(self.shape.header).ok_or_else(short)?;
        if tail_out.len() != tail.len() {
            return Err(short());
        }
        seq_out.copy_from_slice(&seq.to_be_bytes());
        head_out.copy_from_slice(head);
        tail_out.copy_from_slice(tail);
        parts.body.copy_from_slice(cipher_body);
        self.sent = next;
        Ok(())
    }

    /// [MS-RPCE 3.3.1.5.2.2] GSS_UnwrapEx equivalent: the checks of `docs/SCHANNEL.md` 4.5, in that order.
    fn unseal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<(), AuthError> {
        if seq != self.received {
            return Err(sequence_error(self.received, seq, "schannel unseal sequence"));
        }
        let want = signature_len(self.shape);
        if auth_value.len() < want {
            return Err(AuthError::new(AuthErrorKind::Truncated, "schannel auth_value")
                .with_detail(format!("{} bytes, expected {want}", auth_value.len())));
        }
        if auth_value.len() > want {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel auth_value")
                .with_detail(format!("{} bytes, expected {want}", auth_value.len())));
        }
        let body_len = parts.body.len();
        if body_len > MAX_BODY_LEN {
            return Err(body_too_long(body_len, "schannel unseal"));
        }
        let next =
            self.received.checked_add(1).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "schannel unseal"))?;
        let short = || AuthError::new(AuthErrorKind::Truncated, "schannel auth_value");
        let (seq_in, av) = auth_value.split_at_checked(SEQ_LEN).ok_or_else(short)?;
        let got = u32::from_be_bytes(seq_in.try_into().map_err(|_| short())?);
        if got != seq {
            return Err(sequence_error(seq, got, "schannel pdu sequence number"));
        }
        let (head, tail) = av.split_at_checked(self.shape.header).ok_or_else(short)?;
        // [RFC 8446 5.1] / [RFC 5246 6.2.1]: the record header must describe exactly this PDU's record.
        if head.first() != Some(&CONTENT_APPLICATION_DATA) || head.get(1..3) != Some(&RECORD_VERSION[..]) {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel record header")
                .at(SEQ_LEN)
                .with_detail("not a tls 1.2/1.3 application_data record"));
        }
        let record_len = self.record_len(body_len);
        let declared = head.get(3..RECORD_HEADER_LEN).and_then(be16).map_or(0, usize::from);
        let actual = record_len.saturating_sub(RECORD_HEADER_LEN);
        if declared > actual {
            return Err(AuthError::new(AuthErrorKind::Truncated, "schannel record").at(SEQ_LEN + 3).with_detail(
                format!("record length {declared}, the pdu carries {actual}: body or auth_value truncated"),
            ));
        }
        if declared < actual {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel record")
                .at(SEQ_LEN + 3)
                .with_detail(format!("record length {declared}, the pdu carries {actual}")));
        }
        let mut record = Vec::with_capacity(record_len);
        record.extend_from_slice(head);
        record.extend_from_slice(parts.body);
        record.extend_from_slice(tail);
        let result = self.decrypt_record(&mut record, body_len + BINDING_LEN);
        wipe(&mut record);
        let mut plain = result?;
        let Some((clear_body, got_binding)) = plain.split_at_checked(body_len) else {
            wipe(&mut plain);
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "schannel record plaintext"));
        };
        let expected = binding(&parts);
        if !ct_eq(got_binding, &expected) {
            wipe(&mut plain);
            let detail = if parts.header_signed {
                "pdu header or sec_trailer altered (header binding mismatch)"
            } else {
                "header binding present although header signing is off"
            };
            return Err(AuthError::new(AuthErrorKind::SignatureMismatch, "schannel header binding").with_detail(detail));
        }
        parts.body.copy_from_slice(clear_body);
        wipe(&mut plain);
        self.received = next;
        Ok(())
    }

    fn sign(&mut self, _seq: u32, _parts: PduParts<'_>, _auth_value: &mut [u8]) -> Result<(), AuthError> {
        Err(crate::level_refused_error("schannel sign"))
    }

    fn verify(&mut self, _seq: u32, _parts: PduParts<'_>, _auth_value: &[u8]) -> Result<(), AuthError> {
        Err(crate::level_refused_error("schannel verify"))
    }
}

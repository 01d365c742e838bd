//! The Kerberos [`MessageProtector`]: DCE-style RFC 4121 wrap tokens at PKT_PRIVACY and MIC tokens at
//! PKT_INTEGRITY, for AES128/AES256-CTS-HMAC-SHA1-96 ([MS-KILE 3.4.5.4.1], [MS-RPCE 3.3.1.5.2.2]).
//!
//! A sealed PDU ([MS-KILE 3.4.5.4.1], [RFC 4121 4.2.4], EC = 16, RRC = 28):
//!
//! ```text
//! plaintext  P = body | filler (EC bytes) | E"header" (token header with RRC = 0)
//! C | H      = E(Ke, confounder | P) | HMAC(Ki, confounder | header* | body | trailer* | filler | E"header")[..12]
//! rotated    = (C | H) rotated right by RRC + EC = 44 bytes
//! auth_value = token header (16) | rotated[..60];  PDU body = rotated[60..] (the encrypted body, in place)
//! ```
//!
//! (*) the PDU header and sec_trailer enter the checksum only when header signing was negotiated; Kerberos
//! leaves out buffers that are neither encrypted nor signed.

use core::fmt;

use picky_krb::crypto::CipherSuite;

use super::key::{KerberosKey, crypto_err};
use super::mic::{self, Sender, flags};
use crate::context::VerifierSizes;
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::protection::{MessageProtector, PduParts};
use crate::secret::ct_eq;

/// TOK_ID of a wrap token ([RFC 4121 4.2.6.2]).
pub const WRAP_TOK_ID: [u8; 2] = [0x05, 0x04];
/// The extra count Windows uses for DCE-style AES wrap tokens: one block ([MS-KILE 3.4.5.4.1]).
pub const DCE_EC: u16 = 16;
/// The right rotation count of a DCE-style sealed token: E"header" (16) + checksum (12) ([MS-KILE 3.4.5.4.1]).
pub const DCE_RRC: u16 = 28;
const HEADER_LEN: usize = 16;
const CONFOUNDER_LEN: usize = 16;
const CHECKSUM_LEN: usize = 12;
/// auth_length of a sealed PDU: header + confounder + filler + E"header" + checksum = 76.
pub const WRAP_TOKEN_LEN: usize = HEADER_LEN + CONFOUNDER_LEN + DCE_EC as usize + HEADER_LEN + CHECKSUM_LEN;
/// Largest Kerberos handshake token accepted (Windows MaxTokenSize default, [MS-KILE 3.4.5]).
pub const MAX_TOKEN: usize = 48_000;

/// Kerberos per-PDU protection of one side of a context, with the sequence number bases of both
/// directions (the Kerberos SND_SEQ of PDU `n` is `base + n`).
#[derive(Debug)]
pub struct KerberosProtector {
    key: KerberosKey,
    acceptor_subkey: bool,
    local: Sender,
    send_base: u64,
    recv_base: u64,
    sealing: bool,
    scratch: Scratch,
}

/// The contiguous inputs picky-krb's crypto takes (the plaintext to encrypt, the token to decrypt, the
/// checksum input), built in one buffer kept from PDU to PDU instead of two body-sized allocations per call:
/// fewer allocator round trips per fragment, and fewer transient buffers at the heap top, which glibc (with its
/// initial 128 KiB trim threshold) returns to the kernel and faults back in on the next PDU (see the
/// dcom-benches `auth` bench). Holds at most one fragment and its token (5840 bytes with the default
/// max_xmit_frag; frag_length is 16 bits). Its content is never printed.
#[derive(Default)]
struct Scratch(Vec<u8>);

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scratch({} bytes reserved)", self.0.capacity())
    }
}

impl KerberosProtector {
    /// A protector for `local` (who sends with it) using `key` (the acceptor subkey when `acceptor_subkey`,
    /// else the initiator subkey or the ticket session key, [RFC 4121 2]); `sealing` selects wrap tokens
    /// (PKT_PRIVACY) over MIC tokens (PKT_INTEGRITY). Only AES keys are supported.
    pub fn new(
        key: KerberosKey,
        acceptor_subkey: bool,
        local: Sender,
        send_base: u64,
        recv_base: u64,
        sealing: bool,
    ) -> Result<Self> {
        key.aes_suite()?;
        Ok(Self { key, acceptor_subkey, local, send_base, recv_base, sealing, scratch: Scratch::default() })
    }

    fn suite(&self) -> Result<CipherSuite> {
        self.key.aes_suite()
    }

    fn token_header(&self, sender: Sender, seq: u64, rrc: u16) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..2].copy_from_slice(&WRAP_TOK_ID);
        h[2] = sender.flags(self.acceptor_subkey) | flags::SEALED;
        h[3] = 0xff;
        h[4..6].copy_from_slice(&DCE_EC.to_be_bytes());
        h[6..8].copy_from_slice(&rrc.to_be_bytes());
        h[8..].copy_from_slice(&seq.to_be_bytes());
        h
    }

    /// Replaces `input` with the checksum input: confounder | header* | body | trailer* | filler | E"header".
    fn signed_input(
        input: &mut Vec<u8>,
        confounder: &[u8],
        parts: &PduParts<'_>,
        body: &[u8],
        filler: &[u8],
        enc_header: &[u8],
    ) {
        let signed_extra = if parts.header_signed { parts.header.len() + parts.trailer.len() } else { 0 };
        input.clear();
        input.reserve(confounder.len() + body.len() + filler.len() + enc_header.len() + signed_extra);
        input.extend_from_slice(confounder);
        if parts.header_signed {
            input.extend_from_slice(parts.header);
        }
        input.extend_from_slice(body);
        if parts.header_signed {
            input.extend_from_slice(parts.trailer);
        }
        input.extend_from_slice(filler);
        input.extend_from_slice(enc_header);
    }

    fn mic_parts<'p>(parts: &'p PduParts<'_>) -> Vec<&'p [u8]> {
        if parts.header_signed { vec![parts.header, &*parts.body, parts.trailer] } else { vec![&*parts.body] }
    }
}

/// Copies the concatenation of `src` into the concatenation of `dst`; false (with `dst` partly written) when
/// the total lengths differ, so callers check the lengths first.
fn copy_segments(src: &[&[u8]], dst: &mut [&mut [u8]]) -> bool {
    let mut pieces = src.iter().copied();
    let mut cur: &[u8] = &[];
    for d in dst.iter_mut() {
        let mut d: &mut [u8] = d;
        while !d.is_empty() {
            while cur.is_empty() {
                match pieces.next() {
                    Some(p) => cur = p,
                    None => return false,
                }
            }
            let k = cur.len().min(d.len());
            let (from, rest) = cur.split_at(k);
            let (to, d_rest) = core::mem::take(&mut d).split_at_mut(k);
            to.copy_from_slice(from);
            cur = rest;
            d = d_rest;
        }
    }
    cur.is_empty() && pieces.all(<[u8]>::is_empty)
}

/// Replaces `all` with `meta | body` rotated left by `k`, assembled from the pieces; `None` (and `all` empty)
/// when `k` exceeds their total length.
fn rotated_left(all: &mut Vec<u8>, meta: &[u8], body: &[u8], k: usize) -> Option<()> {
    all.clear();
    all.reserve(meta.len() + body.len());
    if let Some((m_head, m_tail)) = meta.split_at_checked(k) {
        all.extend_from_slice(m_tail);
        all.extend_from_slice(body);
        all.extend_from_slice(m_head);
    } else {
        // the rotation point lies inside the body
        let (b_head, b_tail) = body.split_at_checked(k.checked_sub(meta.len())?)?;
        all.extend_from_slice(b_tail);
        all.extend_from_slice(meta);
        all.extend_from_slice(b_head);
    }
    Some(())
}

/// A sequence mismatch in the numbering of [`crate::Protection`] (relative to the direction's first number).
fn relative_error(base: u64, expected: u32, got: u64, context: &'static str) -> AuthError {
    match got.checked_sub(base).and_then(|v| u32::try_from(v).ok()) {
        Some(g) if g > expected => AuthError::new(AuthErrorKind::OutOfOrder { expected, got: g }, context),
        Some(g) => AuthError::new(AuthErrorKind::Replay { expected, got: g }, context),
        None => AuthError::new(AuthErrorKind::Replay { expected, got: 0 }, context)
            .with_detail(format!("token sequence number {got} below the context's initial {base}")),
    }
}

fn seq_at(base: u64, seq: u32) -> Result<u64> {
    base.checked_add(u64::from(seq)).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "kerberos sequence"))
}

impl MessageProtector for KerberosProtector {
    fn sizes(&self) -> VerifierSizes {
        // MS-RPCE 2.2.2.11: Windows pads the stub to 16 bytes for Kerberos AES (the capture has auth_pad 12)
        let signature_len = if self.sealing { WRAP_TOKEN_LEN } else { mic::MIC_TOKEN_LEN };
        VerifierSizes { signature_len, pad_align: 16, max_token: MAX_TOKEN }
    }

    /// A sealed PDU's token is the header, the confounder, EC filler bytes, the encrypted header copy and the
    /// checksum; EC is the sender's choice (Windows 16, impacket 12 ...), so any length from the EC = 0 minimum
    /// up to MAX_TOKEN is let through to [`Self::unseal`], which checks that EC, RRC and the body line up.
    fn accepts_verifier_len(&self, len: usize) -> bool {
        if self.sealing {
            (HEADER_LEN + CONFOUNDER_LEN + HEADER_LEN + CHECKSUM_LEN..=MAX_TOKEN).contains(&len)
        } else {
            len == mic::MIC_TOKEN_LEN
        }
    }

    fn peek_sequence(&self, auth_value: &[u8]) -> Option<u32> {
        let got = mic::mic_sequence(auth_value)?;
        u32::try_from(got.checked_sub(self.recv_base)?).ok()
    }

    fn seal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        if auth_value.len() != WRAP_TOKEN_LEN {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "wrap token")
                .with_detail(format!("{} bytes, expected {WRAP_TOKEN_LEN}", auth_value.len())));
        }
        let sender = self.local;
        let usage = sender.seal_usage();
        let snd_seq = seq_at(self.send_base, seq)?;
        let header = self.token_header(sender, snd_seq, DCE_RRC);
        // RFC 4121 4.2.4: the encrypted copy of the header carries RRC = 0
        let enc_header = self.token_header(sender, snd_seq, 0);
        let filler = [0u8; DCE_EC as usize];
        let n = parts.body.len();
        let cipher = self.suite()?.cipher();
        let plaintext = &mut self.scratch.0;
        plaintext.clear();
        plaintext.reserve(n + filler.len() + HEADER_LEN);
        plaintext.extend_from_slice(parts.body);
        plaintext.extend_from_slice(&filler);
        plaintext.extend_from_slice(&enc_header);
        let enc = cipher
            .encrypt_no_checksum(self.key.expose(), usage, plaintext)
            .map_err(|e| crypto_err(&e, "wrap token encrypt"))?;
        // MS-KILE 3.4.5.4.1: the checksum covers the sign-only buffers too, in order
        let input = &mut self.scratch.0;
        Self::signed_input(input, &enc.confounder, &parts, parts.body, &filler, &enc_header);
        let h = cipher
            .encryption_checksum(self.key.expose(), usage, input)
            .map_err(|e| crypto_err(&e, "wrap token checksum"))?;
        // MS-KILE 3.4.5.4.1: C | H rotated right by RRC + EC, i.e. (with X = C | H) X[len - rot..] | X[..len - rot];
        // H is shorter than the rotation, so that is C's tail | H | C's head, copied straight to its place
        // (auth_value after the token header, then the PDU body) without assembling and rotating a copy
        let c = enc.encrypted;
        let rot = usize::from(DCE_RRC + DCE_EC);
        let total = c.len() + h.len();
        let unexpected = || AuthError::new(AuthErrorKind::InvalidToken, "wrap token").with_detail("unexpected length");
        if total != n + WRAP_TOKEN_LEN - HEADER_LEN {
            return Err(unexpected());
        }
        let (c_head, c_tail) = total.checked_sub(rot).and_then(|at| c.split_at_checked(at)).ok_or_else(unexpected)?;
        let (hdr_out, meta_out) = auth_value.split_at_mut(HEADER_LEN);
        // lengths: meta_out (60) + body (n) == total, checked above, so the copy fills both exactly
        if !copy_segments(&[c_tail, &h, c_head], &mut [meta_out, &mut *parts.body]) {
            return Err(unexpected());
        }
        hdr_out.copy_from_slice(&header);
        Ok(())
    }

    fn unseal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        let peer = self.local.peer();
        let usage = peer.seal_usage();
        let Some(hdr) = auth_value.get(..HEADER_LEN) else {
            return Err(AuthError::new(AuthErrorKind::Truncated, "wrap token").with_detail("shorter than its header"));
        };
        // RFC 4121 4.2.6.2: TOK_ID 05 04, flags, filler FF, EC, RRC, SND_SEQ
        if hdr.get(..2) != Some(&WRAP_TOK_ID[..]) || hdr.get(3) != Some(&0xff) {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "wrap token")
                .at(0)
                .with_detail("not TOK_ID 05 04 with filler ff"));
        }
        let got_flags = hdr.get(2).copied().unwrap_or_default();
        // RFC 4121 4.2.2: SentByAcceptor and AcceptorSubkey must match; a PKT_PRIVACY PDU must be Sealed
        let want = peer.flags(self.acceptor_subkey) | flags::SEALED;
        if got_flags != want {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "wrap token flags")
                .at(2)
                .with_detail(format!("flags {got_flags:#04x}, expected {want:#04x}")));
        }
        let be16 = |at: usize| hdr.get(at..at + 2).and_then(|b| <[u8; 2]>::try_from(b).ok()).map(u16::from_be_bytes);
        let (Some(ec), Some(rrc)) = (be16(4), be16(6)) else {
            return Err(AuthError::new(AuthErrorKind::Truncated, "wrap token header"));
        };
        let got_seq = mic::mic_sequence(hdr).unwrap_or_default();
        let want_seq = seq_at(self.recv_base, seq)?;
        if got_seq != want_seq {
            return Err(relative_error(self.recv_base, seq, got_seq, "wrap token sequence number"));
        }
        let ec = usize::from(ec);
        let body_len = parts.body.len();
        // the rotated token: everything after the header, then the body
        let meta = auth_value.get(HEADER_LEN..).unwrap_or_default();
        let total = meta.len() + body_len;
        if total < CONFOUNDER_LEN + ec + HEADER_LEN + CHECKSUM_LEN {
            return Err(AuthError::new(AuthErrorKind::Truncated, "wrap token")
                .with_detail(format!("{total} bytes of token data, ec {ec}")));
        }
        // MS-KILE 3.4.5.4.1: the trailing meta-data is rotated by RRC + EC: with X = meta | body, the token is
        // X rotated left by k, assembled in place from the pieces (no second pass over the body)
        let k = (usize::from(rrc) + ec) % total;
        let cipher = self.suite()?.cipher();
        let all = &mut self.scratch.0;
        rotated_left(all, meta, parts.body, k).ok_or_else(|| AuthError::new(AuthErrorKind::Truncated, "wrap token"))?;
        let dec = cipher
            .decrypt_no_checksum(self.key.expose(), usage, all)
            .map_err(|e| crypto_err(&e, "wrap token decrypt"))?;
        let p = &dec.plaintext;
        let data_len = p.len().checked_sub(ec + HEADER_LEN);
        if data_len != Some(body_len) {
            // the encrypted data does not line up with the PDU body: the token is not DCE style
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "wrap token")
                .with_detail(format!("{data_len:?} bytes of data for a {body_len}-byte body (ec {ec}, rrc {rrc})")));
        }
        let (data, rest) =
            p.split_at_checked(body_len).ok_or(AuthError::new(AuthErrorKind::Truncated, "wrap token"))?;
        let (filler, enc_header) =
            rest.split_at_checked(ec).ok_or(AuthError::new(AuthErrorKind::Truncated, "wrap token"))?;
        let input = &mut self.scratch.0;
        Self::signed_input(input, &dec.confounder, &parts, data, filler, enc_header);
        let expect = cipher
            .encryption_checksum(self.key.expose(), usage, input)
            .map_err(|e| crypto_err(&e, "wrap token checksum"))?;
        if !ct_eq(&expect, &dec.checksum) {
            return Err(AuthError::new(AuthErrorKind::SignatureMismatch, "wrap token checksum"));
        }
        // RFC 4121 4.2.4: the decrypted header copy equals the token header with RRC = 0
        let mut clear = [0u8; HEADER_LEN];
        clear.copy_from_slice(hdr);
        clear[6] = 0;
        clear[7] = 0;
        if !ct_eq(&clear, enc_header) {
            return Err(AuthError::new(AuthErrorKind::SignatureMismatch, "wrap token encrypted header"));
        }
        parts.body.copy_from_slice(data);
        Ok(())
    }

    fn sign(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        let snd_seq = seq_at(self.send_base, seq)?;
        let token = mic::get_mic(&self.key, self.local, self.acceptor_subkey, snd_seq, &Self::mic_parts(&parts))?;
        if auth_value.len() != token.len() {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "mic token").with_detail(format!(
                "{} bytes, expected {}",
                auth_value.len(),
                token.len()
            )));
        }
        auth_value.copy_from_slice(&token);
        Ok(())
    }

    fn verify(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()> {
        let want_seq = seq_at(self.recv_base, seq)?;
        if let Some(got) = mic::mic_sequence(auth_value)
            && got != want_seq
        {
            return Err(relative_error(self.recv_base, seq, got, "mic token sequence number"));
        }
        mic::verify_mic(
            &self.key,
            self.local.peer(),
            self.acceptor_subkey,
            want_seq,
            &Self::mic_parts(&parts),
            auth_value,
        )
    }

    fn set_level(&mut self, level: dcom_pdu::AuthLevel) {
        // MS-RPCE 3.3.1.5.2.2: wrap tokens at PKT_PRIVACY, MIC tokens below
        self.sealing = level == dcom_pdu::AuthLevel::PKT_PRIVACY;
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_segments, rotated_left};

    #[test]
    fn rotated_left_matches_rotate_left_at_every_point() {
        let meta: Vec<u8> = (0..60).collect();
        let body: Vec<u8> = (100..137).collect();
        let joined: Vec<u8> = meta.iter().chain(&body).copied().collect();
        // one buffer reused for every k, as the protector does
        let mut all = vec![0xee; 300];
        for k in 0..=joined.len() {
            let mut want = joined.clone();
            want.rotate_left(k % joined.len());
            rotated_left(&mut all, &meta, &body, k).unwrap();
            assert_eq!(all, want, "k = {k}");
        }
        assert_eq!(rotated_left(&mut all, &meta, &body, joined.len() + 1), None);
        assert!(all.is_empty());
        rotated_left(&mut all, &[], &[], 0).unwrap();
        assert!(all.is_empty());
    }

    #[test]
    fn copy_segments_matches_rotate_right_of_the_sealed_token() {
        // C (n + 48) | H (12) rotated right by 44, split into meta (60) and body (n)
        for n in [0usize, 1, 16, 100] {
            let c: Vec<u8> = (0..n + 48).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let h: Vec<u8> = (200..212).collect();
            let mut want: Vec<u8> = c.iter().chain(&h).copied().collect();
            want.rotate_right(44);
            let (c_head, c_tail) = c.split_at(c.len() + h.len() - 44);
            let (mut meta, mut body) = (vec![0u8; 60], vec![0u8; n]);
            assert!(copy_segments(&[c_tail, &h, c_head], &mut [&mut meta, &mut body]));
            assert_eq!((&meta[..], &body[..]), want.split_at(60));
        }
        // mismatched totals are reported
        let mut short = [0u8; 3];
        assert!(!copy_segments(&[&[1, 2]], &mut [&mut short]));
        assert!(!copy_segments(&[&[1, 2, 3, 4]], &mut [&mut short]));
        assert!(copy_segments(&[&[], &[1], &[2, 3], &[]], &mut [&mut short]));
        assert_eq!(short, [1, 2, 3]);
    }
}

//! Per-PDU protection of connection-oriented PDUs (MS-RPCE 3.3.1.5.2, 2.2.2.11).
//!
//! A PDU is handled as four parts (MS-RPCE 3.3.1.5.2.2):
//!
//! | part | bytes | PKT / PKT_INTEGRITY | PKT_PRIVACY |
//! |---|---|---|---|
//! | header | common header + request/response/fault fields, `[0, stub_start)` | signed* | signed*, clear |
//! | body | stub + auth padding, `[stub_start, trailer_offset)` | signed | encrypted + signed |
//! | sec_trailer | 8 bytes, `[trailer_offset, auth_value_offset)` | signed* | signed*, clear |
//! | auth_value | `auth_length` bytes to the end | the signature | the signature |
//!
//! (*) The header and sec_trailer go to the provider as "sign-only" buffers when PFC_SUPPORT_HEADER_SIGN was
//! negotiated and as "no-protection" buffers otherwise. Whether a provider covers a no-protection buffer is
//! provider specific: NTLMv2 covers *all* buffers in its checksum ([MS-NLMP 3.4.6.1]), so for NTLM the header
//! and trailer are always signed (verified on the Windows capture, see the crate tests); Kerberos leaves them
//! out ([MS-KILE 3.4.5.4.1]).
//!
//! Levels (MS-RPCE 2.2.1.1.8): DEFAULT is CONNECT, CALL is PKT; CONNECT and below add no verifier; PKT and
//! PKT_INTEGRITY sign; PKT_PRIVACY seals.

use core::fmt;
use core::ops::Range;

use dcom_pdu::{AuthLevel, AuthType, Header, PacketType, Pdu, PfcFlags, SecTrailer};

use crate::context::{SecurityContext, VerifierSizes};
use crate::error::{AuthError, AuthErrorKind, Result};

/// The parts of one PDU handed to a [`MessageProtector`].
#[derive(Debug)]
pub struct PduParts<'a> {
    /// The PDU header: common header plus the request/response/fault fields before the stub.
    pub header: &'a [u8],
    /// Stub data plus auth padding; encrypted or decrypted in place at PKT_PRIVACY.
    pub body: &'a mut [u8],
    /// The 8-byte sec_trailer.
    pub trailer: &'a [u8],
    /// PFC_SUPPORT_HEADER_SIGN negotiated: header and trailer are passed as sign-only buffers.
    pub header_signed: bool,
}

/// A mechanism's per-message operations for one established context, bound to one side (it sends with
/// its outbound keys and receives with its inbound keys). Sequence numbers are supplied by [`Protection`].
pub trait MessageProtector: Send + fmt::Debug {
    /// Verifier sizes.
    fn sizes(&self) -> VerifierSizes;
    /// The sequence number carried in clear in a received `auth_value`, if the mechanism has one there.
    fn peek_sequence(&self, auth_value: &[u8]) -> Option<u32>;
    /// Whether an incoming verifier of `len` bytes can be this mechanism's token. The default is exactly
    /// `sizes().signature_len`; a mechanism whose peers choose their own padding (Kerberos wrap tokens: EC and
    /// RRC are the sender's, [RFC 4121 4.2.3]) accepts a range and checks the token itself.
    fn accepts_verifier_len(&self, len: usize) -> bool {
        len == self.sizes().signature_len
    }
    /// Seals (encrypts `parts.body`, GSS_WrapEx) and writes the signature into `auth_value`.
    fn seal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()>;
    /// Checks the signature and decrypts `parts.body` in place (GSS_UnwrapEx).
    fn unseal(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()>;
    /// Signs (GSS_GetMICEx) into `auth_value`.
    fn sign(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()>;
    /// Verifies a signature (GSS_VerifyMICEx).
    fn verify(&mut self, seq: u32, parts: PduParts<'_>, auth_value: &[u8]) -> Result<()>;
    /// Tells the protector the connection's level before first use ([`Protection::new`] calls it), for
    /// mechanisms whose verifier differs between PKT_INTEGRITY and PKT_PRIVACY (Kerberos: MIC or wrap token).
    fn set_level(&mut self, level: AuthLevel) {
        let _ = level;
    }
}

/// How a connection protects its PDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtectionConfig {
    /// `auth_type` every protected PDU must carry.
    pub auth_type: AuthType,
    /// `auth_level` as negotiated at bind (sent and expected in every sec_trailer).
    pub level: AuthLevel,
    /// `auth_context_id`.
    pub context_id: u32,
    /// PFC_SUPPORT_HEADER_SIGN set by both bind and bind_ack (MS-RPCE 3.3.1.5.2.2).
    pub header_sign: bool,
}

/// The byte ranges of a PDU around its verifier (MS-RPCE 2.2.2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLayout {
    /// The decoded common header.
    pub header: Header,
    /// First stub byte (end of the PDU header).
    pub stub_start: usize,
    /// End of the stub (start of the auth padding), or of the frame when there is no verifier.
    pub stub_end: usize,
    /// The sec_trailer offset, its value, and the auth_value offset, when there is a verifier.
    pub verifier: Option<(usize, SecTrailer, usize)>,
}

impl FrameLayout {
    /// Locates the parts of `frame` (exactly one PDU of type request, response or fault).
    pub fn of(frame: &[u8]) -> Result<Self> {
        let header = Header::decode(frame).map_err(|e| pdu_err(&e, "pdu header"))?;
        let frag_len = usize::from(header.frag_len);
        if frame.len() < frag_len {
            return Err(AuthError::new(AuthErrorKind::Truncated, "pdu frame")
                .at(frame.len())
                .with_detail(format!("frag_length {frag_len}, have {}", frame.len())));
        }
        if frame.len() > frag_len {
            return Err(AuthError::new(AuthErrorKind::Pdu, "pdu frame")
                .at(frag_len)
                .with_detail("bytes after frag_length"));
        }
        // C706 12.6.4.9 / 12.6.4.10 / 12.6.4.7: fixed fields before the stub.
        let fixed = match header.ptype {
            PacketType::REQUEST => {
                if header.pfc_flags.contains(PfcFlags::OBJECT_UUID) {
                    24
                } else {
                    8
                }
            }
            PacketType::RESPONSE => 8,
            PacketType::FAULT => 16,
            _ => {
                return Err(AuthError::new(AuthErrorKind::Unsupported, "pdu type")
                    .at(2)
                    .with_detail(format!("ptype {} carries no protected stub", header.ptype.0)));
            }
        };
        let stub_start = Header::SIZE + fixed;
        if frag_len < stub_start {
            return Err(AuthError::new(AuthErrorKind::Truncated, "pdu body").at(frag_len));
        }
        let layout = Pdu::auth_layout(&header, frame).map_err(|e| pdu_err(&e, "auth verifier"))?;
        Ok(match layout {
            None => Self { header, stub_start, stub_end: frag_len, verifier: None },
            Some(l) => Self {
                header,
                stub_start,
                stub_end: l.body_end,
                verifier: Some((l.trailer_offset, l.trailer, l.auth_value_offset)),
            },
        })
    }
}

fn pdu_err(e: &dcom_pdu::PduError, context: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::Pdu, context).at(e.offset()).with_detail(e.to_string())
}

/// The result of [`Protection::unprotect_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// True when the PDU carried a verifier that was checked (and, at PKT_PRIVACY, decrypted).
    pub protected: bool,
    /// The stub (without auth padding) inside the frame, now in clear.
    pub stub: Range<usize>,
    /// The auth padding length (0 without verifier).
    pub auth_pad_len: u8,
    /// The sequence number the PDU was checked with.
    pub sequence: Option<u32>,
}

/// The protection of one connection: a mechanism protector, the negotiated level and header signing, and a
/// sequence number per direction (MS-RPCE 3.3.1.5.2; replay, reordering and loss are detected on receive).
#[derive(Debug)]
pub struct Protection {
    config: ProtectionConfig,
    protector: Option<Box<dyn MessageProtector>>,
    send_seq: u32,
    recv_seq: u32,
    poisoned: bool,
}

/// What a level means for a PDU (MS-RPCE 2.2.1.1.8, 3.3.1.5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    Sign,
    Seal,
}

fn mode(level: AuthLevel) -> Mode {
    match level {
        AuthLevel::PKT_PRIVACY => Mode::Seal,
        // CALL is processed as PKT on connection-oriented RPC; PKT signs like PKT_INTEGRITY.
        AuthLevel::CALL | AuthLevel::PKT | AuthLevel::PKT_INTEGRITY => Mode::Sign,
        _ => Mode::None,
    }
}

impl Protection {
    /// Protection with `protector`; a protector is required from level CALL up.
    pub fn new(config: ProtectionConfig, mut protector: Option<Box<dyn MessageProtector>>) -> Result<Self> {
        if mode(config.level) != Mode::None && protector.is_none() {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "protection level")
                .with_detail(format!("level {} needs a per-message protector", config.level.name())));
        }
        if config.level.0 > AuthLevel::PKT_PRIVACY.0 {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "protection level")
                .with_detail(format!("unknown level {}", config.level.0)));
        }
        if let Some(p) = protector.as_mut() {
            p.set_level(config.level);
        }
        Ok(Self { config, protector, send_seq: 0, recv_seq: 0, poisoned: false })
    }

    /// Protection for a completed context (takes its protector when the level needs one).
    pub fn for_context(ctx: &mut dyn SecurityContext, config: ProtectionConfig) -> Result<Self> {
        if !ctx.is_complete() {
            return Err(AuthError::new(AuthErrorKind::NotComplete, "protection setup"));
        }
        let protector = if mode(config.level) == Mode::None { None } else { Some(ctx.take_protector()?) };
        Self::new(config, protector)
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ProtectionConfig {
        &self.config
    }

    /// True when request/response PDUs carry a verifier (level CALL and up).
    #[must_use]
    pub fn protects_pdus(&self) -> bool {
        mode(self.config.level) != Mode::None
    }

    /// The verifier sizes, when PDUs carry a verifier.
    #[must_use]
    pub fn sizes(&self) -> Option<VerifierSizes> {
        if self.protects_pdus() { self.protector.as_ref().map(|p| p.sizes()) } else { None }
    }

    /// The template for `dcom_pdu::build_fragments`, when PDUs carry a verifier.
    #[must_use]
    pub fn auth_template(&self) -> Option<dcom_pdu::AuthTemplate> {
        let sizes = self.sizes()?;
        Some(dcom_pdu::AuthTemplate {
            auth_type: self.config.auth_type,
            auth_level: self.config.level,
            auth_context_id: self.config.context_id,
            size: dcom_pdu::AuthTrailerSize {
                auth_len: u16::try_from(sizes.signature_len).unwrap_or(u16::MAX),
                pad_align: sizes.pad_align,
            },
        })
    }

    /// The sequence number the next sent PDU gets.
    #[must_use]
    pub const fn send_sequence(&self) -> u32 {
        self.send_seq
    }

    /// The sequence number the next received PDU must carry.
    #[must_use]
    pub const fn recv_sequence(&self) -> u32 {
        self.recv_seq
    }

    /// True after a verification failure (the mechanism state may be desynchronised).
    #[must_use]
    pub const fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn check_trailer(&self, trailer: &SecTrailer, offset: usize) -> Result<()> {
        // MS-RPCE 2.2.2.11: auth_type, auth_level and auth_context_id stay those of the bind.
        if trailer.auth_type != self.config.auth_type
            || trailer.auth_level != self.config.level
            || trailer.auth_context_id != self.config.context_id
        {
            return Err(AuthError::new(AuthErrorKind::TrailerMismatch, "sec_trailer").at(offset).with_detail(format!(
                "got type {} level {} context {}, expected type {} level {} context {}",
                trailer.auth_type.0,
                trailer.auth_level.0,
                trailer.auth_context_id,
                self.config.auth_type.0,
                self.config.level.0,
                self.config.context_id
            )));
        }
        Ok(())
    }

    fn active(&mut self) -> Result<(Mode, &mut Box<dyn MessageProtector>)> {
        if self.poisoned {
            return Err(AuthError::new(AuthErrorKind::Poisoned, "protection"));
        }
        let m = mode(self.config.level);
        match (m, self.protector.as_mut()) {
            (Mode::None, _) | (_, None) => Err(AuthError::new(AuthErrorKind::Unsupported, "protection level")),
            (m, Some(p)) => Ok((m, p)),
        }
    }

    /// Protects one outgoing PDU given as parts: seals or signs and writes the signature to `auth_value`
    /// (which must be exactly `signature_len` long). Uses and advances the send sequence number.
    pub fn protect(&mut self, parts: PduParts<'_>, auth_value: &mut [u8]) -> Result<()> {
        let seq = self.send_seq;
        let next = seq.checked_add(1).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "send sequence"))?;
        let (m, p) = self.active()?;
        if auth_value.len() != p.sizes().signature_len {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "auth_value").with_detail(format!(
                "{} bytes, expected {}",
                auth_value.len(),
                p.sizes().signature_len
            )));
        }
        let r = match m {
            Mode::Seal => p.seal(seq, parts, auth_value),
            _ => p.sign(seq, parts, auth_value),
        };
        if r.is_err() {
            self.poisoned = true;
        }
        r?;
        self.send_seq = next;
        Ok(())
    }

    /// Checks one incoming PDU given as parts (and decrypts the body at PKT_PRIVACY), with the expected receive
    /// sequence number; advances it on success. Replays and reordering/loss are reported before any crypto.
    pub fn unprotect(&mut self, parts: PduParts<'_>, auth_value: &[u8]) -> Result<u32> {
        let seq = self.recv_seq;
        let next = seq.checked_add(1).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "recv sequence"))?;
        let (m, p) = self.active()?;
        let want = p.sizes().signature_len;
        if auth_value.len() < want && !p.accepts_verifier_len(auth_value.len()) {
            return Err(AuthError::new(AuthErrorKind::Truncated, "auth_value")
                .with_detail(format!("{} bytes, expected {want}", auth_value.len())));
        }
        if !p.accepts_verifier_len(auth_value.len()) {
            return Err(AuthError::new(AuthErrorKind::BadSignatureFormat, "auth_value")
                .with_detail(format!("{} bytes, expected {want}", auth_value.len())));
        }
        if let Some(got) = p.peek_sequence(auth_value) {
            if got < seq {
                return Err(AuthError::new(AuthErrorKind::Replay { expected: seq, got }, "pdu sequence number"));
            }
            if got > seq {
                return Err(AuthError::new(AuthErrorKind::OutOfOrder { expected: seq, got }, "pdu sequence number"));
            }
        }
        let r = match m {
            Mode::Seal => p.unseal(seq, parts, auth_value),
            _ => p.verify(seq, parts, auth_value),
        };
        if r.is_err() {
            self.poisoned = true;
        }
        r?;
        self.recv_seq = next;
        Ok(seq)
    }

    /// Protects an encoded outgoing PDU in place. The frame must be final except for the body bytes and the
    /// auth_value: frag_length and auth_length set, sec_trailer written with this connection's values.
    /// Without per-PDU protection the frame must carry no verifier and is left as is.
    pub fn protect_frame(&mut self, frame: &mut [u8]) -> Result<()> {
        let layout = FrameLayout::of(frame)?;
        let Some((trailer_off, trailer, auth_off)) = layout.verifier else {
            if self.protects_pdus() {
                return Err(AuthError::new(AuthErrorKind::VerifierMismatch, "outgoing pdu")
                    .with_detail("no verifier at a protecting level"));
            }
            return Ok(());
        };
        if !self.protects_pdus() {
            return Err(AuthError::new(AuthErrorKind::VerifierMismatch, "outgoing pdu")
                .with_detail("verifier at a level without per-pdu protection"));
        }
        self.check_trailer(&trailer, trailer_off)?;
        let header_signed = self.config.header_sign;
        let (head, rest) = frame.split_at_mut(layout.stub_start);
        let (body, rest) = split_mut(rest, trailer_off.checked_sub(layout.stub_start))?;
        let (trailer_bytes, auth_value) = split_mut(rest, auth_off.checked_sub(trailer_off))?;
        self.protect(PduParts { header: head, body, trailer: trailer_bytes, header_signed }, auth_value)
    }

    /// Checks an incoming PDU in place (decrypting its body at PKT_PRIVACY) and returns where the stub is.
    ///
    /// A fault without verifier is returned with `protected == false` (Windows sends some faults, such as
    /// `nca_s_op_rng_error`, without verifier on a protected connection; the caller decides what to trust);
    /// any other PDU without verifier on a protecting connection is `VerifierMismatch`. At CONNECT and below
    /// verifiers are not checked.
    pub fn unprotect_frame(&mut self, frame: &mut [u8]) -> Result<Opened> {
        let layout = FrameLayout::of(frame)?;
        let Some((trailer_off, trailer, auth_off)) = layout.verifier else {
            if self.protects_pdus() && layout.header.ptype != PacketType::FAULT {
                return Err(AuthError::new(AuthErrorKind::VerifierMismatch, "incoming pdu")
                    .with_detail("no verifier at a protecting level"));
            }
            return Ok(Opened {
                protected: false,
                stub: layout.stub_start..layout.stub_end,
                auth_pad_len: 0,
                sequence: None,
            });
        };
        // MS-RPCE 2.2.2.11: even where the level adds no per-PDU protection (CONNECT), a verifier must carry the
        // context's type, level and id: a trailer claiming another level is refused, never ignored.
        self.check_trailer(&trailer, trailer_off)?;
        if !self.protects_pdus() {
            return Ok(Opened {
                protected: false,
                stub: layout.stub_start..layout.stub_end,
                auth_pad_len: trailer.auth_pad_length,
                sequence: None,
            });
        }
        let header_signed = self.config.header_sign;
        let (head, rest) = frame.split_at_mut(layout.stub_start);
        let (body, rest) = split_mut(rest, trailer_off.checked_sub(layout.stub_start))?;
        let (trailer_bytes, auth_value) = split_mut(rest, auth_off.checked_sub(trailer_off))?;
        let seq = self.unprotect(PduParts { header: head, body, trailer: trailer_bytes, header_signed }, auth_value)?;
        Ok(Opened {
            protected: true,
            stub: layout.stub_start..layout.stub_end,
            auth_pad_len: trailer.auth_pad_length,
            sequence: Some(seq),
        })
    }
}

fn split_mut(buf: &mut [u8], at: Option<usize>) -> Result<(&mut [u8], &mut [u8])> {
    at.and_then(|at| buf.split_at_mut_checked(at)).ok_or(AuthError::new(AuthErrorKind::Truncated, "pdu parts"))
}

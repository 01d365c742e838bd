//! Parsing of the three NTLM messages ([MS-NLMP] 2.2.1), bounds-checked against hostile input.

use crate::error::{AuthError, AuthErrorKind, Result};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// MsvAvFlags ([MS-NLMP] 2.2.2.1): AvId 6.
pub(crate) const MSV_AV_FLAGS: u16 = 6;
/// MsvAvEOL.
const MSV_AV_EOL: u16 = 0;
/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
pub(crate) const AV_FLAG_MIC_PRESENT: u32 = 0x2;
/// Offset of the MIC in an AUTHENTICATE message that has a Version field ([MS-NLMP] 2.2.1.3).
pub(crate) const MIC_OFFSET: usize = 72;
/// Size of the NTLMv2_RESPONSE fixed part before the AV pairs: NTProofStr(16) + the 28-byte
/// NTLMv2_CLIENT_CHALLENGE header ([MS-NLMP] 2.2.2.7, 2.2.2.8).
pub(crate) const NTLMV2_FIXED: usize = 16 + 28;

fn bad(context: &'static str, offset: usize) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidToken, context).at(offset)
}

fn u16_at(b: &[u8], off: usize, ctx: &'static str) -> Result<u16> {
    let s = b.get(off..off.checked_add(2).ok_or(bad(ctx, off))?).ok_or(bad(ctx, off))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize, ctx: &'static str) -> Result<u32> {
    let s = b.get(off..off.checked_add(4).ok_or(bad(ctx, off))?).ok_or(bad(ctx, off))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A `Len(2) MaxLen(2) Offset(4)` field descriptor at `at`, resolved to a slice of `msg`.
fn field<'a>(msg: &'a [u8], at: usize, ctx: &'static str) -> Result<&'a [u8]> {
    let len = usize::from(u16_at(msg, at, ctx)?);
    let off = usize::try_from(u32_at(msg, at + 4, ctx)?).map_err(|_| bad(ctx, at + 4))?;
    if len == 0 {
        return Ok(&[]);
    }
    let end = off.checked_add(len).ok_or(bad(ctx, at + 4))?;
    msg.get(off..end).ok_or(bad(ctx, at + 4).with_detail(format!("field [{off}, {end}) beyond {} bytes", msg.len())))
}

fn check_header(msg: &[u8], ty: u32, ctx: &'static str) -> Result<()> {
    if msg.get(..8) != Some(SIGNATURE.as_slice()) {
        return Err(bad(ctx, 0).with_detail("missing NTLMSSP signature"));
    }
    let got = u32_at(msg, 8, ctx)?;
    if got != ty {
        return Err(bad(ctx, 8).with_detail(format!("message type {got}, expected {ty}")));
    }
    Ok(())
}

/// NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate {
    /// NegotiateFlags.
    pub flags: u32,
}

impl Negotiate {
    /// Parses a NEGOTIATE message.
    pub fn parse(msg: &[u8]) -> Result<Self> {
        check_header(msg, 1, "ntlm negotiate")?;
        Ok(Self { flags: u32_at(msg, 12, "ntlm negotiate flags")? })
    }
}

/// CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// NegotiateFlags.
    pub flags: u32,
    /// ServerChallenge.
    pub server_challenge: [u8; 8],
}

impl Challenge {
    /// Parses a CHALLENGE message.
    pub fn parse(msg: &[u8]) -> Result<Self> {
        check_header(msg, 2, "ntlm challenge")?;
        let flags = u32_at(msg, 20, "ntlm challenge flags")?;
        let sc = msg.get(24..32).ok_or(bad("ntlm challenge server challenge", 24))?;
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(sc);
        Ok(Self { flags, server_challenge })
    }
}

/// AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3), borrowed from the wire bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate<'a> {
    /// The whole message.
    pub raw: &'a [u8],
    /// LmChallengeResponse.
    pub lm_response: &'a [u8],
    /// NtChallengeResponse.
    pub nt_response: &'a [u8],
    /// DomainName, decoded.
    pub domain: String,
    /// UserName, decoded.
    pub user: String,
    /// EncryptedRandomSessionKey.
    pub encrypted_session_key: &'a [u8],
    /// NegotiateFlags.
    pub flags: u32,
    /// MsvAvFlags from the NTLMv2 response AV pairs, when present.
    pub av_flags: Option<u32>,
}

fn decode_string(b: &[u8], unicode: bool) -> String {
    if unicode {
        let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        b.iter().map(|&c| char::from(c)).collect()
    }
}

/// Walks the AV pairs of `pairs` ([MS-NLMP] 2.2.2.1); returns `(AvId, value offset, value)` items until
/// MsvAvEOL. Bounded by the input length.
pub(crate) fn av_pairs(pairs: &[u8]) -> Result<Vec<(u16, usize, &[u8])>> {
    let mut out = Vec::new();
    let mut off = 0usize;
    loop {
        let id = u16_at(pairs, off, "ntlm av pair id")?;
        let len = usize::from(u16_at(pairs, off + 2, "ntlm av pair length")?);
        let start = off + 4;
        let end = start.checked_add(len).ok_or(bad("ntlm av pair", off))?;
        let value = pairs.get(start..end).ok_or(bad("ntlm av pair value", off))?;
        if id == MSV_AV_EOL {
            return Ok(out);
        }
        out.push((id, start, value));
        off = end;
    }
}

impl<'a> Authenticate<'a> {
    /// Parses an AUTHENTICATE message.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        check_header(msg, 3, "ntlm authenticate")?;
        let lm_response = field(msg, 12, "ntlm authenticate lm response")?;
        let nt_response = field(msg, 20, "ntlm authenticate nt response")?;
        let domain = field(msg, 28, "ntlm authenticate domain")?;
        let user = field(msg, 36, "ntlm authenticate user")?;
        let encrypted_session_key = field(msg, 52, "ntlm authenticate session key")?;
        let flags = u32_at(msg, 60, "ntlm authenticate flags")?;
        let unicode = flags & super::crypto::flags::UNICODE != 0;
        let av_flags = if nt_response.len() > NTLMV2_FIXED {
            let pairs = nt_response.get(NTLMV2_FIXED..).unwrap_or_default();
            av_pairs(pairs)?.into_iter().find(|(id, _, _)| *id == MSV_AV_FLAGS).and_then(|(_, _, v)| {
                let b: [u8; 4] = v.try_into().ok()?;
                Some(u32::from_le_bytes(b))
            })
        } else {
            None
        };
        Ok(Self {
            raw: msg,
            lm_response,
            nt_response,
            domain: decode_string(domain, unicode),
            user: decode_string(user, unicode),
            encrypted_session_key,
            flags,
            av_flags,
        })
    }

    /// True for anonymous authentication ([MS-NLMP] 3.2.5.1.2: empty NtChallengeResponse, LmChallengeResponse
    /// empty or one zero byte, empty user name).
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.nt_response.is_empty() && (self.lm_response.is_empty() || self.lm_response == [0]) && self.user.is_empty()
    }

    /// True when MsvAvFlags announces a MIC.
    #[must_use]
    pub fn has_mic(&self) -> bool {
        self.av_flags.is_some_and(|f| f & AV_FLAG_MIC_PRESENT != 0)
    }

    /// The MIC bytes and the message with the MIC zeroed, when the message has room for one at offset 72.
    pub fn mic_and_zeroed(&self) -> Result<([u8; 16], Vec<u8>)> {
        let mic = self.raw.get(MIC_OFFSET..MIC_OFFSET + 16).ok_or(bad("ntlm authenticate mic", MIC_OFFSET))?;
        let mut m = [0u8; 16];
        m.copy_from_slice(mic);
        let mut zeroed = self.raw.to_vec();
        if let Some(z) = zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + 16) {
            z.fill(0);
        }
        Ok((m, zeroed))
    }
}

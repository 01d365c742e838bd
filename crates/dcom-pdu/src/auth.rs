//! The authentication verifier: auth padding, sec_trailer and auth_value (MS-RPCE 2.2.2.11, C706 13.2.6.1).

use core::fmt;

use bytes::Bytes;

use crate::error::PduError;
use crate::header::ByteOrder;
use crate::wire::{Reader, Writer};

/// `auth_type`: the security provider (MS-RPCE 2.2.1.1.7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthType(pub u8);

impl AuthType {
    /// RPC_C_AUTHN_NONE (0).
    pub const NONE: Self = Self(0);
    /// RPC_C_AUTHN_GSS_NEGOTIATE: SPNEGO (9).
    pub const SPNEGO: Self = Self(9);
    /// RPC_C_AUTHN_WINNT: NTLM (10).
    pub const WINNT: Self = Self(10);
    /// RPC_C_AUTHN_GSS_SCHANNEL: TLS (14).
    pub const GSS_SCHANNEL: Self = Self(14);
    /// RPC_C_AUTHN_GSS_KERBEROS: Kerberos (16).
    pub const KERBEROS: Self = Self(16);
    /// RPC_C_AUTHN_NETLOGON: Netlogon secure channel (68).
    pub const NETLOGON: Self = Self(68);
    /// RPC_C_AUTHN_DEFAULT (0xff).
    pub const DEFAULT: Self = Self(0xff);

    /// The provider name, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "none",
            9 => "spnego",
            10 => "ntlm",
            14 => "gss_schannel",
            16 => "kerberos",
            68 => "netlogon",
            0xff => "default",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthType({}: {})", self.0, self.name())
    }
}

/// `auth_level`: the protection level (MS-RPCE 2.2.1.1.8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthLevel(pub u8);

impl AuthLevel {
    /// RPC_C_AUTHN_LEVEL_DEFAULT (0).
    pub const DEFAULT: Self = Self(0);
    /// RPC_C_AUTHN_LEVEL_NONE (1).
    pub const NONE: Self = Self(1);
    /// RPC_C_AUTHN_LEVEL_CONNECT (2).
    pub const CONNECT: Self = Self(2);
    /// RPC_C_AUTHN_LEVEL_CALL (3).
    pub const CALL: Self = Self(3);
    /// RPC_C_AUTHN_LEVEL_PKT (4).
    pub const PKT: Self = Self(4);
    /// RPC_C_AUTHN_LEVEL_PKT_INTEGRITY (5).
    pub const PKT_INTEGRITY: Self = Self(5);
    /// RPC_C_AUTHN_LEVEL_PKT_PRIVACY (6).
    pub const PKT_PRIVACY: Self = Self(6);

    /// The level name, or `"unknown"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "default",
            1 => "none",
            2 => "connect",
            3 => "call",
            4 => "pkt",
            5 => "pkt_integrity",
            6 => "pkt_privacy",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for AuthLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthLevel({}: {})", self.0, self.name())
    }
}

/// `sec_trailer` (MS-RPCE 2.2.2.11), the fixed 8-byte part of `auth_verifier_co_t` (C706 13.2.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecTrailer {
    /// `auth_type`.
    pub auth_type: AuthType,
    /// `auth_level`.
    pub auth_level: AuthLevel,
    /// `auth_pad_length`: padding octets between the body and this trailer.
    pub auth_pad_length: u8,
    /// `auth_reserved`: 0 when sent, kept as received.
    pub auth_reserved: u8,
    /// `auth_context_id`.
    pub auth_context_id: u32,
}

impl SecTrailer {
    /// Size of the sec_trailer.
    pub const SIZE: usize = 8;

    /// Decodes the 8-byte trailer at the start of `buf` in byte order `order`.
    pub fn decode(buf: &[u8], order: ByteOrder) -> Result<Self, PduError> {
        Self::read(&mut Reader::new(buf, 0, order))
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, PduError> {
        Ok(Self {
            auth_type: AuthType(r.u8("sec_trailer.auth_type")?),
            auth_level: AuthLevel(r.u8("sec_trailer.auth_level")?),
            auth_pad_length: r.u8("sec_trailer.auth_pad_length")?,
            auth_reserved: r.u8("sec_trailer.auth_reserved")?,
            auth_context_id: r.u32("sec_trailer.auth_context_id")?,
        })
    }

    /// Appends the 8 trailer bytes in byte order `order`.
    pub fn encode(&self, out: &mut Vec<u8>, order: ByteOrder) {
        let mut w = Writer::new(out, order);
        w.u8(self.auth_type.0);
        w.u8(self.auth_level.0);
        w.u8(self.auth_pad_length);
        w.u8(self.auth_reserved);
        w.u32(self.auth_context_id);
    }
}

/// The authentication verifier of a PDU: the auth padding that precedes the sec_trailer, the trailer, and the
/// `auth_value` (`auth_length` bytes) that ends the PDU (MS-RPCE 2.2.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthVerifier {
    /// The `auth_pad_length` padding octets as they were on the wire (zeros when built fresh).
    pub padding: Bytes,
    /// The sec_trailer.
    pub trailer: SecTrailer,
    /// The `auth_value`: a security token or signature.
    pub auth_value: Bytes,
}

impl AuthVerifier {
    /// A verifier with `pad_len` zero padding octets.
    #[must_use]
    pub fn new(
        auth_type: AuthType,
        auth_level: AuthLevel,
        auth_context_id: u32,
        pad_len: u8,
        auth_value: Bytes,
    ) -> Self {
        Self {
            padding: Bytes::from(vec![0u8; usize::from(pad_len)]),
            trailer: SecTrailer { auth_type, auth_level, auth_pad_length: pad_len, auth_reserved: 0, auth_context_id },
            auth_value,
        }
    }

    /// Bytes the verifier adds to the PDU: padding + 8 + auth_value.
    #[must_use]
    pub fn size(&self) -> usize {
        self.padding.len().saturating_add(SecTrailer::SIZE).saturating_add(self.auth_value.len())
    }
}

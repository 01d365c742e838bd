//! Kerberos V5 message helpers shared by the active client and server ([RFC 4120] over picky-krb's ASN.1
//! types): principal names, integers, encrypted data, flags, KRB-ERROR parsing and the GSS checksum of
//! [RFC 4121 4.1.1].

use core::fmt;

use picky_asn1::bit_string::BitString;
use picky_asn1::restricted_string::Ia5String;
use picky_asn1::wrapper::{
    Asn1SequenceOf, BitStringAsn1, ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2, IntegerAsn1,
    OctetStringAsn1, Optional,
};
use picky_krb::data_types::{EncryptedData, EncryptionKey, KerberosStringAsn1, PrincipalName};

use super::der::{Reader, tag};
use super::key::{EncType, KerberosKey};
use crate::error::{AuthError, AuthErrorKind, Result};

/// Key usage numbers ([RFC 4120 7.5.1]).
pub(crate) mod usage {
    /// PA-ENC-TIMESTAMP, encrypted with the client key.
    pub(crate) const PA_ENC_TIMESTAMP: i32 = 1;
    /// Ticket, encrypted with the service key.
    pub(crate) const TICKET: i32 = 2;
    /// AS-REP encrypted part, with the client key.
    pub(crate) const AS_REP: i32 = 3;
    /// TGS-REQ PA-TGS-REQ authenticator checksum over the req-body, with the TGT session key.
    pub(crate) const TGS_REQ_CKSUM: i32 = 6;
    /// TGS-REQ PA-TGS-REQ authenticator, with the TGT session key.
    pub(crate) const TGS_REQ_AUTHENTICATOR: i32 = 7;
    /// TGS-REP encrypted part, with the TGT session key.
    pub(crate) const TGS_REP_SESSION: i32 = 8;
    /// AP-REQ authenticator, with the ticket session key.
    pub(crate) const AP_REQ_AUTHENTICATOR: i32 = 11;
    /// AP-REP encrypted part, with the ticket session key.
    pub(crate) const AP_REP: i32 = 12;
    /// KRB-CRED encrypted part.
    pub(crate) const KRB_CRED: i32 = 14;
}

/// Kerberos error codes we react to ([RFC 4120 7.5.9]).
pub(crate) mod code {
    pub(crate) const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = 6;
    pub(crate) const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = 7;
    pub(crate) const KDC_ERR_CLIENT_REVOKED: i32 = 18;
    pub(crate) const KDC_ERR_KEY_EXPIRED: i32 = 23;
    pub(crate) const KDC_ERR_PREAUTH_FAILED: i32 = 24;
    pub(crate) const KDC_ERR_PREAUTH_REQUIRED: i32 = 25;
    pub(crate) const KRB_AP_ERR_BAD_INTEGRITY: i32 = 31;
    pub(crate) const KRB_AP_ERR_TKT_EXPIRED: i32 = 32;
    pub(crate) const KRB_AP_ERR_TKT_NYV: i32 = 33;
    pub(crate) const KRB_AP_ERR_SKEW: i32 = 37;
    pub(crate) const KRB_ERR_RESPONSE_TOO_BIG: i32 = 52;
}

/// PA-DATA types ([RFC 4120 7.5.2]).
pub(crate) mod padata {
    pub(crate) const PA_TGS_REQ: i64 = 1;
    pub(crate) const PA_ENC_TIMESTAMP: i64 = 2;
    pub(crate) const PA_ETYPE_INFO2: i64 = 19;
}

/// Name types ([RFC 4120 6.2]).
pub(crate) mod name_type {
    pub(crate) const NT_PRINCIPAL: i64 = 1;
    pub(crate) const NT_SRV_INST: i64 = 2;
}

/// GSS-API context flags carried in the authenticator checksum ([RFC 4121 4.1.1.1], [RFC 2744 5.19],
/// [MS-KILE 3.2.5.2]).
pub mod gss_flags {
    /// GSS_C_DELEG_FLAG: the client delegates a forwarded TGT (KRB-CRED in the checksum).
    pub const DELEG: u32 = 0x1;
    /// GSS_C_MUTUAL_FLAG.
    pub const MUTUAL: u32 = 0x2;
    /// GSS_C_REPLAY_FLAG.
    pub const REPLAY: u32 = 0x4;
    /// GSS_C_SEQUENCE_FLAG.
    pub const SEQUENCE: u32 = 0x8;
    /// GSS_C_CONF_FLAG.
    pub const CONF: u32 = 0x10;
    /// GSS_C_INTEG_FLAG.
    pub const INTEG: u32 = 0x20;
    /// GSS_C_DCE_STYLE ([MS-KILE 3.2.5.2]).
    pub const DCE_STYLE: u32 = 0x1000;
    /// GSS_C_IDENTIFY_FLAG: identify-level impersonation ([MS-KILE 3.2.5.2], [MS-RPCE 3.3.1.5.2]).
    pub const IDENTIFY: u32 = 0x2000;
    /// GSS_C_EXTENDED_ERROR_FLAG.
    pub const EXTENDED_ERROR: u32 = 0x4000;
}

/// The GSS checksum type of the AP-REQ authenticator ([RFC 4121 4.1.1]).
pub(crate) const GSS_CHECKSUM_TYPE: i64 = 0x8003;

/// A Kerberos principal name: components and an optional realm (`host/rpcsrv.mit.test@MIT.TEST`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalNameParts {
    /// The name components (`host`, `rpcsrv.mit.test`).
    pub components: Vec<String>,
    /// The realm, when given.
    pub realm: Option<String>,
}

impl PrincipalNameParts {
    /// Parses `comp/comp@REALM` (a backslash escapes `/`, `@` and itself, as in MIT's `krb5_parse_name`).
    pub fn parse(name: &str) -> Result<Self> {
        let mut components = Vec::new();
        let mut cur = String::new();
        let mut realm: Option<String> = None;
        let mut chars = name.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) => realm.as_mut().unwrap_or(&mut cur).push(e),
                    None => return Err(name_err("trailing backslash")),
                },
                '/' if realm.is_none() => components.push(core::mem::take(&mut cur)),
                '@' if realm.is_none() => {
                    components.push(core::mem::take(&mut cur));
                    realm = Some(String::new());
                }
                '@' => return Err(name_err("second '@'")),
                c => realm.as_mut().unwrap_or(&mut cur).push(c),
            }
        }
        if realm.is_none() {
            components.push(cur);
        }
        if components.iter().any(String::is_empty) || realm.as_ref().is_some_and(String::is_empty) {
            return Err(name_err("empty component or realm"));
        }
        Ok(Self { components, realm })
    }

    /// The realm, or `default`.
    pub(crate) fn realm_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.realm.as_deref().unwrap_or(default)
    }

    /// `a/b` without realm.
    #[must_use]
    pub fn name(&self) -> String {
        self.components.join("/")
    }
}

impl fmt::Display for PrincipalNameParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(r) = &self.realm {
            write!(f, "@{r}")?;
        }
        Ok(())
    }
}

fn name_err(detail: &str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidKey, "kerberos principal name").with_detail(detail.to_owned())
}

pub(crate) fn der_err(e: &picky_asn1_der::Asn1DerError, context: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidToken, context).with_detail(e.to_string())
}

/// DER encoding of a picky-krb value.
pub(crate) fn encode<T: serde::Serialize>(v: &T, context: &'static str) -> Result<Vec<u8>> {
    picky_asn1_der::to_vec(v).map_err(|e| der_err(&e, context))
}

/// DER decoding into a picky-krb value (bounded by the input: every length is checked by the decoder).
pub(crate) fn decode<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8], context: &'static str) -> Result<T> {
    picky_asn1_der::from_bytes(bytes).map_err(|e| der_err(&e, context))
}

/// A minimal two's complement INTEGER.
pub(crate) fn int(v: i64) -> IntegerAsn1 {
    IntegerAsn1::from_bytes_be_signed(v.to_be_bytes().to_vec())
}

/// An ASN.1 INTEGER (at most 8 octets) as i64.
pub(crate) fn read_int(i: &IntegerAsn1, context: &'static str) -> Result<i64> {
    let bytes = i.as_signed_bytes_be();
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, context)
            .with_detail(format!("integer of {} octets", bytes.len())));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xff; 8] } else { [0; 8] };
    let start = 8 - bytes.len();
    buf.get_mut(start..).unwrap_or_default().copy_from_slice(bytes);
    Ok(i64::from_be_bytes(buf))
}

/// A UInt32 (sequence numbers, nonces). Windows encodes values above 2^31 as negative Int32, MIT as
/// positive 5-octet integers: both are read modulo 2^32 ([MS-KILE 3.1.5.1]).
pub(crate) fn read_u32(i: &IntegerAsn1, context: &'static str) -> Result<u32> {
    let v = read_int(i, context)?;
    if let Ok(u) = u32::try_from(v) {
        return Ok(u);
    }
    if let Ok(s) = i32::try_from(v) {
        return Ok(u32::from_be_bytes(s.to_be_bytes()));
    }
    Err(AuthError::new(AuthErrorKind::InvalidToken, context).with_detail(format!("{v} is not a 32-bit value")))
}

/// An encryption type field.
pub(crate) fn read_etype(i: &IntegerAsn1, context: &'static str) -> Result<EncType> {
    let v = read_int(i, context)?;
    i32::try_from(v)
        .map(EncType)
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, context).with_detail("enctype out of range"))
}

/// A KerberosString (IA5).
pub(crate) fn kstring(s: &str) -> Result<KerberosStringAsn1> {
    Ia5String::from_string(s.to_owned())
        .map(KerberosStringAsn1::from)
        .map_err(|_| AuthError::new(AuthErrorKind::Unsupported, "kerberos string").with_detail("not ia5 (ascii)"))
}

/// A KerberosString as text.
pub(crate) fn string_of(s: &KerberosStringAsn1) -> String {
    String::from_utf8_lossy(s.0.as_bytes()).into_owned()
}

/// A PrincipalName.
pub(crate) fn principal(name_type: i64, components: &[String]) -> Result<PrincipalName> {
    let names = components.iter().map(|c| kstring(c)).collect::<Result<Vec<_>>>()?;
    Ok(PrincipalName {
        name_type: ExplicitContextTag0::from(int(name_type)),
        name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(names)),
    })
}

/// The components of a PrincipalName.
pub(crate) fn components_of(p: &PrincipalName) -> Vec<String> {
    p.name_string.0.0.iter().map(string_of).collect()
}

/// Encrypts `plain` with `key` for `usage` into an EncryptedData ([RFC 4120 5.2.9]).
pub(crate) fn encrypt(key: &KerberosKey, usage: i32, plain: &[u8], kvno: Option<u32>) -> Result<EncryptedData> {
    let cipher = key.encrypt(usage, plain)?;
    Ok(EncryptedData {
        etype: ExplicitContextTag0::from(int(i64::from(key.enctype().0))),
        kvno: Optional::from(kvno.map(|k| ExplicitContextTag1::from(int(i64::from(k))))),
        cipher: ExplicitContextTag2::from(OctetStringAsn1::from(cipher)),
    })
}

/// Decrypts an EncryptedData with `key` (its etype must be the key's) for `usage`.
pub(crate) fn decrypt(key: &KerberosKey, usage: i32, data: &EncryptedData, context: &'static str) -> Result<Vec<u8>> {
    let etype = read_etype(&data.etype.0, context)?;
    if etype != key.enctype() {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, context)
            .with_detail(format!("encrypted with {etype}, key is {}", key.enctype())));
    }
    key.decrypt(usage, &data.cipher.0.0)
}

/// The EncryptionKey of `key`.
pub(crate) fn key_asn1(key: &KerberosKey) -> EncryptionKey {
    EncryptionKey {
        key_type: ExplicitContextTag0::from(int(i64::from(key.enctype().0))),
        key_value: ExplicitContextTag1::from(OctetStringAsn1::from(key.expose().to_vec())),
    }
}

/// The key of an EncryptionKey.
pub(crate) fn key_of(k: &EncryptionKey, context: &'static str) -> Result<KerberosKey> {
    KerberosKey::new(read_etype(&k.key_type.0, context)?, &k.key_value.0.0)
}

/// 32 KerberosFlags bits, bit 0 being the most significant ([RFC 4120 5.2.8]).
pub(crate) fn flags(bits: u32) -> BitStringAsn1 {
    BitStringAsn1::from(BitString::with_bytes(bits.to_be_bytes().to_vec()))
}

/// The first 32 bits of a KerberosFlags value.
pub(crate) fn flags_u32(f: &BitStringAsn1) -> u32 {
    let payload = f.0.payload_view();
    let mut b = [0u8; 4];
    for (dst, src) in b.iter_mut().zip(payload) {
        *dst = *src;
    }
    u32::from_be_bytes(b)
}

/// KDC options ([RFC 4120 5.4.1]).
pub(crate) mod kdc_options {
    pub(crate) const FORWARDABLE: u32 = 0x4000_0000;
    pub(crate) const FORWARDED: u32 = 0x2000_0000;
    pub(crate) const RENEWABLE_OK: u32 = 0x0000_0010;
}

/// Ticket flags ([RFC 4120 5.3]).
pub(crate) mod ticket_flags {
    pub(crate) const FORWARDABLE: u32 = 0x4000_0000;
    pub(crate) const INVALID: u32 = 0x0100_0000;
}

/// AP options ([RFC 4120 5.5.1]).
pub(crate) mod ap_options {
    pub(crate) const MUTUAL_REQUIRED: u32 = 0x2000_0000;
}

/// The keyed checksum type of an enctype ([RFC 3962 7]: hmac-sha1-96-aes128 = 15, -aes256 = 16).
pub(crate) fn checksum_type(key: &KerberosKey) -> Result<i64> {
    match key.enctype() {
        EncType::AES128_CTS_HMAC_SHA1_96 => Ok(15),
        EncType::AES256_CTS_HMAC_SHA1_96 => Ok(16),
        other => Err(AuthError::new(AuthErrorKind::Unsupported, "kerberos checksum")
            .with_detail(format!("{other} (only aes128/aes256-cts-hmac-sha1-96)"))),
    }
}

/// The keyed checksum of `data` ([RFC 3961 5.4] get_mic of the enctype's checksum).
pub(crate) fn keyed_checksum(key: &KerberosKey, usage: i32, data: &[u8]) -> Result<Vec<u8>> {
    let size = super::mic::aes_size(key)?;
    picky_krb::crypto::aes::checksum_sha_aes(key.expose(), usage, data, &size)
        .map_err(|e| super::key::crypto_err(&e, "keyed checksum"))
}

/// What a KRB-ERROR says ([RFC 4120 5.9.1]); read with our own DER reader (picky-krb mistypes `cusec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KrbErrorInfo {
    pub(crate) code: i32,
    pub(crate) text: Option<String>,
    pub(crate) e_data: Option<Vec<u8>>,
}

/// Parses `[APPLICATION 30] KRB-ERROR`.
pub(crate) fn parse_krb_error(bytes: &[u8]) -> Result<KrbErrorInfo> {
    let mut r = Reader::new(bytes, "krb-error");
    let app = r.expect(0x7e, "krb-error")?;
    let mut a = Reader::inside(&app, "krb-error");
    let seq = a.expect(tag::SEQUENCE, "krb-error")?;
    let mut f = Reader::inside(&seq, "krb-error");
    let mut out = KrbErrorInfo { code: -1, text: None, e_data: None };
    let mut have_code = false;
    while !f.is_empty() {
        let field = f.read()?;
        let mut inner = Reader::inside(&field, "krb-error field");
        match field.tag {
            t if t == tag::ctx(6) => {
                let v = inner.expect(0x02, "error-code")?;
                out.code = small_int(v.contents).ok_or_else(|| {
                    AuthError::new(AuthErrorKind::InvalidToken, "krb-error").at(v.offset).with_detail("error-code")
                })?;
                have_code = true;
            }
            t if t == tag::ctx(11) => {
                let v = inner.read()?;
                out.text = Some(String::from_utf8_lossy(v.contents).into_owned());
            }
            t if t == tag::ctx(12) => {
                let v = inner.expect(tag::OCTET_STRING, "e-data")?;
                out.e_data = Some(v.contents.to_vec());
            }
            _ => {}
        }
    }
    if !have_code {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "krb-error").with_detail("no error-code"));
    }
    Ok(out)
}

fn small_int(contents: &[u8]) -> Option<i32> {
    if contents.is_empty() || contents.len() > 4 {
        return None;
    }
    let negative = contents.first().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xff; 4] } else { [0; 4] };
    buf.get_mut(4 - contents.len()..)?.copy_from_slice(contents);
    Some(i32::from_be_bytes(buf))
}

/// The kind a KDC or AP error code maps to.
pub(crate) fn error_kind(code: i32) -> AuthErrorKind {
    match code {
        code::KDC_ERR_C_PRINCIPAL_UNKNOWN => AuthErrorKind::UnknownUser,
        code::KDC_ERR_S_PRINCIPAL_UNKNOWN => AuthErrorKind::UnknownPrincipal,
        code::KDC_ERR_CLIENT_REVOKED | code::KDC_ERR_PREAUTH_FAILED | code::KDC_ERR_KEY_EXPIRED => {
            AuthErrorKind::LogonDenied
        }
        code::KRB_AP_ERR_TKT_EXPIRED => AuthErrorKind::TicketExpired,
        code::KRB_AP_ERR_TKT_NYV => AuthErrorKind::TicketNotYetValid,
        code::KRB_AP_ERR_SKEW => AuthErrorKind::ClockSkew,
        code => AuthErrorKind::KdcError { code },
    }
}

/// The GSS checksum of the AP-REQ authenticator ([RFC 4121 4.1.1]): Lgth = 16, Bnd = 16 zero bytes (no
/// channel bindings), Flags (little endian), then `DlgOpt = 1 | Dlgth | Deleg` when a KRB-CRED is delegated.
pub(crate) fn gss_checksum(flags: u32, delegation: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(24 + delegation.map_or(0, |d| d.len() + 4));
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&flags.to_le_bytes());
    if let Some(cred) = delegation {
        let len = u16::try_from(cred.len()).map_err(|_| {
            AuthError::new(AuthErrorKind::Unsupported, "gss checksum").with_detail("delegated credential too long")
        })?;
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(cred);
    }
    Ok(out)
}

/// What an acceptor reads from a GSS checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GssChecksum {
    pub(crate) flags: u32,
    /// The delegated KRB-CRED, when DELEG is set.
    pub(crate) delegation: Option<Vec<u8>>,
}

/// Parses a GSS checksum ([RFC 4121 4.1.1]); the Bnd field is not checked (no channel bindings here).
pub(crate) fn parse_gss_checksum(c: &[u8]) -> Result<GssChecksum> {
    let err = |d: &str| AuthError::new(AuthErrorKind::InvalidToken, "gss checksum").with_detail(d.to_owned());
    let le32 = |at: usize| c.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_le_bytes);
    let le16 = |at: usize| c.get(at..at + 2).and_then(|b| <[u8; 2]>::try_from(b).ok()).map(u16::from_le_bytes);
    let lgth = le32(0).ok_or_else(|| err("shorter than 24 bytes"))?;
    if lgth != 16 {
        return Err(err("bnd length is not 16"));
    }
    let flags = le32(20).ok_or_else(|| err("shorter than 24 bytes"))?;
    let mut delegation = None;
    if flags & gss_flags::DELEG != 0 {
        // RFC 4121 4.1.1: DlgOpt (2, = 1), Dlgth (2), Deleg
        let (Some(opt), Some(len)) = (le16(24), le16(26)) else { return Err(err("deleg flag without KRB-CRED")) };
        if opt != 1 {
            return Err(err("dlgopt is not 1"));
        }
        let cred = c.get(28..28 + usize::from(len)).ok_or_else(|| err("delegated credential truncated"))?;
        delegation = Some(cred.to_vec());
    }
    Ok(GssChecksum { flags, delegation })
}

/// PA-DATA value.
pub(crate) fn pa_data(padata_type: i64, value: Vec<u8>) -> picky_krb::data_types::PaData {
    picky_krb::data_types::PaData {
        padata_type: ExplicitContextTag1::from(int(padata_type)),
        padata_data: ExplicitContextTag2::from(OctetStringAsn1::from(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_names() {
        let p = PrincipalNameParts::parse("host/rpcsrv.mit.test@MIT.TEST").unwrap();
        assert_eq!(p.components, ["host", "rpcsrv.mit.test"]);
        assert_eq!(p.realm.as_deref(), Some("MIT.TEST"));
        assert_eq!(p.to_string(), "host/rpcsrv.mit.test@MIT.TEST");
        let p = PrincipalNameParts::parse("a\\/b").unwrap();
        assert_eq!(p.components, ["a/b"]);
        assert!(p.realm.is_none());
        for bad in ["", "a@", "@R", "a//b", "a@b@c", "a\\"] {
            assert!(PrincipalNameParts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_and_flags() {
        for v in [0i64, 1, 127, 128, 255, 256, 0x3fff_ffff, -1, i64::from(u32::MAX)] {
            assert_eq!(read_int(&int(v), "t").unwrap(), v);
        }
        assert_eq!(read_u32(&int(-1), "t").unwrap(), u32::MAX);
        assert_eq!(flags_u32(&flags(0x4000_0010)), 0x4000_0010);
        assert_eq!(encode(&flags(0x2000_0000), "t").unwrap(), [0x03, 0x05, 0x00, 0x20, 0, 0, 0]);
    }

    #[test]
    fn gss_checksum_round_trip() {
        let c = gss_checksum(0x103e, None).unwrap();
        assert_eq!(c.len(), 24);
        assert_eq!(parse_gss_checksum(&c).unwrap(), GssChecksum { flags: 0x103e, delegation: None });
        let c = gss_checksum(0x103f, Some(b"cred")).unwrap();
        assert_eq!(parse_gss_checksum(&c).unwrap().delegation.as_deref(), Some(&b"cred"[..]));
        assert!(parse_gss_checksum(&c[..27]).is_err());
        assert!(parse_gss_checksum(&[0; 10]).is_err());
    }

    #[test]
    fn krb_error() {
        // KRB-ERROR with error-code 25 and e-text "x": only the fields we read
        let body = [
            0xa6, 0x03, 0x02, 0x01, 0x19, // [6] error-code 25
            0xab, 0x03, 0x1b, 0x01, b'x', // [11] e-text
            0xac, 0x04, 0x04, 0x02, 0x30, 0x00, // [12] e-data: empty METHOD-DATA
        ];
        let mut v = vec![0x7e, u8::try_from(body.len() + 2).unwrap(), 0x30, u8::try_from(body.len()).unwrap()];
        v.extend_from_slice(&body);
        let e = parse_krb_error(&v).unwrap();
        assert_eq!(e.code, 25);
        assert_eq!(e.text.as_deref(), Some("x"));
        assert_eq!(e.e_data.as_deref(), Some(&[0x30, 0x00][..]));
        assert!(parse_krb_error(&v[..v.len() - 1]).is_err());
    }
}

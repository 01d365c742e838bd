//! A minimal, bounded DER reader for the parts of an X.509 certificate the certificate mappers need: the
//! subject common names and the UPNs of the subjectAltName ([RFC 5280 4.1], [RFC 5280 4.2.1.6]).
//!
//! The certificate has been verified by rustls/webpki before it reaches a mapper, but its bytes still came from
//! the network: every length is checked against the bytes that remain, nothing recurses, nothing panics.

use core::fmt;

use sha2::{Digest, Sha256};

/// `id-at-commonName` 2.5.4.3 ([RFC 5280 4.1.2.4], X.520).
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// `id-ce-subjectAltName` 2.5.29.17 ([RFC 5280 4.2.1.6]).
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// Microsoft UPN otherName 1.3.6.1.4.1.311.20.2.3 (`szOID_NT_PRINCIPAL_NAME`).
pub const OID_UPN: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03];

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_T61_STRING: u8 = 0x14;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_UNIVERSAL_STRING: u8 = 0x1c;
const TAG_BMP_STRING: u8 = 0x1e;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
/// `[0]` constructed: the certificate version, and the otherName choice of GeneralName.
const TAG_CTX0_CONSTRUCTED: u8 = 0xa0;
/// `[3]` constructed: the certificate extensions.
const TAG_CTX3_CONSTRUCTED: u8 = 0xa3;

/// What went wrong while reading a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Error {
    /// Byte offset in the certificate.
    pub offset: usize,
    /// What was being decoded.
    pub context: &'static str,
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed certificate while decoding {} at offset {}", self.context, self.offset)
    }
}

impl std::error::Error for X509Error {}

/// A DER cursor over `data`, remembering its absolute offset in the certificate for errors.
#[derive(Clone, Copy)]
struct Der<'a> {
    data: &'a [u8],
    base: usize,
}

/// One TLV.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: Der<'a>,
}

impl<'a> Der<'a> {
    const fn new(data: &'a [u8]) -> Self {
        Self { data, base: 0 }
    }

    const fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    const fn err(&self, context: &'static str) -> X509Error {
        X509Error { offset: self.base, context }
    }

    /// Reads one TLV (X.690 8.1: definite lengths only, as DER requires; no high tag numbers).
    fn read(&mut self, context: &'static str) -> Result<Tlv<'a>, X509Error> {
        let tag = *self.data.first().ok_or(self.err(context))?;
        if tag & 0x1f == 0x1f {
            return Err(self.err(context));
        }
        let first = *self.data.get(1).ok_or(self.err(context))?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2usize)
        } else {
            let n = usize::from(first & 0x7f);
            // X.690 10.1: DER uses the shortest form; 4 length bytes cover anything a certificate holds.
            if n == 0 || n > 4 {
                return Err(self.err(context));
            }
            let bytes = self.data.get(2..2 + n).ok_or(self.err(context))?;
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let end = header.checked_add(len).ok_or(self.err(context))?;
        let value = self.data.get(header..end).ok_or(self.err(context))?;
        let rest = self.data.get(end..).ok_or(self.err(context))?;
        let value = Der { data: value, base: self.base + header };
        self.data = rest;
        self.base += end;
        Ok(Tlv { tag, value })
    }

    /// Reads one TLV that must carry `tag`.
    fn expect(&mut self, tag: u8, context: &'static str) -> Result<Self, X509Error> {
        let at = *self;
        let tlv = self.read(context)?;
        if tlv.tag != tag {
            return Err(at.err(context));
        }
        Ok(tlv.value)
    }

    /// Reads the next TLV only when it carries `tag`.
    fn optional(&mut self, tag: u8, context: &'static str) -> Result<Option<Self>, X509Error> {
        if self.data.first() == Some(&tag) { self.expect(tag, context).map(Some) } else { Ok(None) }
    }
}

/// The facts of a client certificate the mappers use.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The whole DER certificate.
    pub der: Vec<u8>,
    /// SHA-256 of the DER certificate (the "thumbprint" as `certutil -hashfile .. SHA256` prints it).
    pub sha256: [u8; 32],
    /// Every commonName of the subject, in order.
    pub subject_common_names: Vec<String>,
    /// Every UPN (otherName 1.3.6.1.4.1.311.20.2.3) of the subjectAltName, in order.
    pub upns: Vec<String>,
}

impl fmt::Debug for CertificateInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateInfo")
            .field("der_len", &self.der.len())
            .field("sha256", &hex_upper(&self.sha256))
            .field("subject_common_names", &self.subject_common_names)
            .field("upns", &self.upns)
            .finish()
    }
}

impl CertificateInfo {
    /// Reads `der` ([RFC 5280 4.1]): TBSCertificate up to the subject, then the extensions.
    pub fn parse(der: &[u8]) -> Result<Self, X509Error> {
        let mut top = Der::new(der);
        let mut cert = top.expect(TAG_SEQUENCE, "certificate")?;
        if !top.is_empty() {
            return Err(top.err("bytes after certificate"));
        }
        let mut tbs = cert.expect(TAG_SEQUENCE, "tbsCertificate")?;
        // RFC 5280 4.1: version [0] EXPLICIT DEFAULT v1, serialNumber, signature, issuer, validity, subject.
        tbs.optional(TAG_CTX0_CONSTRUCTED, "version")?;
        tbs.expect(TAG_INTEGER, "serialNumber")?;
        tbs.expect(TAG_SEQUENCE, "signature algorithm")?;
        tbs.expect(TAG_SEQUENCE, "issuer")?;
        tbs.expect(TAG_SEQUENCE, "validity")?;
        let subject = tbs.expect(TAG_SEQUENCE, "subject")?;
        tbs.expect(TAG_SEQUENCE, "subjectPublicKeyInfo")?;
        let subject_common_names = common_names(subject)?;
        // issuerUniqueID [1] and subjectUniqueID [2] (primitive or constructed) may precede the extensions.
        let mut upns = Vec::new();
        while !tbs.is_empty() {
            let tlv = tbs.read("tbsCertificate trailing fields")?;
            if tlv.tag == TAG_CTX3_CONSTRUCTED {
                upns = san_upns(tlv.value)?;
            }
        }
        let sha256: [u8; 32] = Sha256::digest(der).into();
        Ok(Self { der: der.to_vec(), sha256, subject_common_names, upns })
    }

    /// The thumbprint as upper-case hex without separators.
    #[must_use]
    pub fn thumbprint_hex(&self) -> String {
        hex_upper(&self.sha256)
    }
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET OF AttributeTypeAndValue ([RFC 5280 4.1.2.4]).
fn common_names(mut name: Der<'_>) -> Result<Vec<String>, X509Error> {
    let mut out = Vec::new();
    while !name.is_empty() {
        let mut rdn = name.expect(TAG_SET, "relative distinguished name")?;
        while !rdn.is_empty() {
            let mut atv = rdn.expect(TAG_SEQUENCE, "attribute type and value")?;
            let oid = atv.expect(TAG_OID, "attribute type")?;
            let value = atv.read("attribute value")?;
            if oid.data == OID_COMMON_NAME {
                out.push(directory_string(value)?);
            }
        }
    }
    Ok(out)
}

/// DirectoryString and the other string types a commonName may use ([RFC 5280 4.1.2.4]).
fn directory_string(tlv: Tlv<'_>) -> Result<String, X509Error> {
    let bytes = tlv.value.data;
    let bad = || tlv.value.err("string value");
    match tlv.tag {
        TAG_UTF8_STRING => core::str::from_utf8(bytes).map(str::to_owned).map_err(|_| bad()),
        TAG_PRINTABLE_STRING | TAG_IA5_STRING | TAG_T61_STRING => {
            if bytes.is_ascii() {
                core::str::from_utf8(bytes).map(str::to_owned).map_err(|_| bad())
            } else {
                Err(bad())
            }
        }
        TAG_BMP_STRING => {
            let (units, rest) = bytes.as_chunks::<2>();
            if !rest.is_empty() {
                return Err(bad());
            }
            let units = units.iter().map(|c| u16::from_be_bytes(*c));
            char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| bad())
        }
        TAG_UNIVERSAL_STRING => {
            let (units, rest) = bytes.as_chunks::<4>();
            if !rest.is_empty() {
                return Err(bad());
            }
            units.iter().map(|c| char::from_u32(u32::from_be_bytes(*c)).ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

/// Extensions ::= SEQUENCE OF Extension; finds subjectAltName and returns its UPN otherNames.
fn san_upns(explicit: Der<'_>) -> Result<Vec<String>, X509Error> {
    let mut wrapper = explicit;
    let mut exts = wrapper.expect(TAG_SEQUENCE, "extensions")?;
    let mut out = Vec::new();
    while !exts.is_empty() {
        let mut ext = exts.expect(TAG_SEQUENCE, "extension")?;
        let oid = ext.expect(TAG_OID, "extension id")?;
        ext.optional(TAG_BOOLEAN, "extension critical")?;
        let value = ext.expect(TAG_OCTET_STRING, "extension value")?;
        if oid.data != OID_SUBJECT_ALT_NAME {
            continue;
        }
        // GeneralNames ::= SEQUENCE OF GeneralName; otherName [0] { type-id OID, value [0] EXPLICIT ANY }.
        let mut outer = value;
        let mut names = outer.expect(TAG_SEQUENCE, "general names")?;
        while !names.is_empty() {
            let name = names.read("general name")?;
            if name.tag != TAG_CTX0_CONSTRUCTED {
                continue;
            }
            let mut other = name.value;
            let type_id = other.expect(TAG_OID, "other name type")?;
            let mut explicit_value = other.expect(TAG_CTX0_CONSTRUCTED, "other name value")?;
            if type_id.data == OID_UPN {
                let s = explicit_value.read("upn")?;
                if s.tag != TAG_UTF8_STRING {
                    return Err(s.value.err("upn must be a UTF8String"));
                }
                out.push(directory_string(s)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_truncated_and_indefinite() {
        assert!(CertificateInfo::parse(&[]).is_err());
        assert!(CertificateInfo::parse(&[0x30]).is_err());
        assert!(CertificateInfo::parse(&[0x30, 0x80, 0x00, 0x00]).is_err());
        assert!(CertificateInfo::parse(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_err());
        assert!(CertificateInfo::parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(CertificateInfo::parse(&[0x30, 0x00, 0x00]).is_err());
    }

    #[test]
    fn bmp_and_printable_strings() {
        let t = Tlv { tag: TAG_BMP_STRING, value: Der::new(&[0x00, 0x61, 0x00, 0x62]) };
        assert_eq!(directory_string(t).unwrap(), "ab");
        let t = Tlv { tag: TAG_PRINTABLE_STRING, value: Der::new(b"bob") };
        assert_eq!(directory_string(t).unwrap(), "bob");
        let t = Tlv { tag: TAG_PRINTABLE_STRING, value: Der::new(&[0xc3, 0xa9]) };
        assert!(directory_string(t).is_err());
        let t = Tlv { tag: TAG_BMP_STRING, value: Der::new(&[0xd8, 0x00]) };
        assert!(directory_string(t).is_err());
    }
}

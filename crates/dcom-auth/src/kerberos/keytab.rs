//! MIT keytab files (the FILE keytab type of MIT krb5 and Heimdal; also written by `ktpass` and `ktutil`).
//!
//! Format ([MIT krb5 "Keytab file format"](https://web.mit.edu/kerberos/krb5-devel/doc/formats/keytab_file_format.html)):
//!
//! ```text
//! file   ::= 0x05 version(1 or 2) { record_length(i32) (entry | hole) }*      (0 or end of file ends it)
//! entry  ::= principal timestamp(u32) kvno(u8) enctype(u16) key_length(u16) key [kvno32(u32)]
//! principal ::= count(u16) realm(data) component(data)* [name_type(u32), version 2 only]
//! data   ::= length(u16) bytes
//! ```
//!
//! Version 2 (0x0502) is big-endian; version 1 (0x0501) uses the writer's native byte order and counts the
//! realm in `count`. A negative record length `-n` is an n-byte hole (a deleted entry) to skip. An entry
//! may be shorter than its record; when at least 4 bytes remain after the key, a non-zero 32-bit kvno
//! supersedes the 8-bit one.
//!
//! Every length is checked against the bytes that remain before anything is allocated.

use std::path::Path;

use super::key::{EncType, KerberosKey};
use crate::error::{AuthError, AuthErrorKind, Result};

/// The keytab format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeytabVersion {
    /// 0x0501: native byte order, realm counted in the component count, no name type.
    V1,
    /// 0x0502: big-endian.
    V2,
}

/// Byte order of a version 1 keytab (the writer's native order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little endian (x86, ARM).
    Little,
    /// Big endian.
    Big,
}

/// A principal name as stored in a keytab.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeytabPrincipal {
    /// The realm (`DOMAIN.LOCAL`).
    pub realm: String,
    /// The components (`ldap`, `dc1.domain.local`).
    pub components: Vec<String>,
    /// The name type ([RFC 4120 6.2]; 1 = NT-PRINCIPAL, 2 = NT-SRV-INST, 3 = NT-SRV-HST); `None` in version 1.
    pub name_type: Option<u32>,
}

impl KeytabPrincipal {
    /// `component/component@REALM`.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.components.join("/"), self.realm)
    }
}

/// One keytab entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// The principal.
    pub principal: KeytabPrincipal,
    /// Seconds since 1970 when the key was written.
    pub timestamp: u32,
    /// The key version number (the 32-bit one when present and non-zero, else the 8-bit one).
    pub kvno: u32,
    /// The key and its encryption type (an unknown type keeps its bytes).
    pub key: KerberosKey,
}

/// A parsed keytab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keytab {
    /// The format version.
    pub version: KeytabVersion,
    /// The entries in file order (holes skipped).
    pub entries: Vec<KeytabEntry>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    order: ByteOrder,
}

fn err(at: usize, detail: impl Into<String>) -> AuthError {
    AuthError::new(AuthErrorKind::Keytab, "keytab").at(at).with_detail(detail)
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(err(self.pos, format!("{what}: need {n} bytes, {} left", self.remaining())));
        };
        let s = self.buf.get(self.pos..end).ok_or_else(|| err(self.pos, "truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        <[u8; N]>::try_from(s).map_err(|_| err(self.pos, "truncated"))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.array::<2>(what)?;
        Ok(match self.order {
            ByteOrder::Big => u16::from_be_bytes(b),
            ByteOrder::Little => u16::from_le_bytes(b),
        })
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.array::<4>(what)?;
        Ok(match self.order {
            ByteOrder::Big => u32::from_be_bytes(b),
            ByteOrder::Little => u32::from_le_bytes(b),
        })
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.u32(what)?.to_be_bytes()))
    }

    fn data(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        // Kerberos strings are octet strings; names are UTF-8 in practice (lossy for anything else)
        Ok(String::from_utf8_lossy(self.data(what)?).into_owned())
    }
}

fn native_order() -> ByteOrder {
    if cfg!(target_endian = "big") { ByteOrder::Big } else { ByteOrder::Little }
}

impl Keytab {
    /// Parses a keytab; a version 1 file is read in this machine's byte order (what MIT krb5 does).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_with_v1_order(bytes, native_order())
    }

    /// Parses a keytab, reading a version 1 file in `v1_order`.
    pub fn parse_with_v1_order(bytes: &[u8], v1_order: ByteOrder) -> Result<Self> {
        let version = match bytes.get(..2) {
            Some([0x05, 0x02]) => KeytabVersion::V2,
            Some([0x05, 0x01]) => KeytabVersion::V1,
            Some([a, b]) => return Err(err(0, format!("version {a:#04x}{b:02x}, expected 0x0501 or 0x0502"))),
            _ => return Err(err(0, "shorter than the version")),
        };
        let order = match version {
            KeytabVersion::V2 => ByteOrder::Big,
            KeytabVersion::V1 => v1_order,
        };
        let mut c = Cursor { buf: bytes, pos: 2, order };
        let mut entries = Vec::new();
        while c.remaining() > 0 {
            // a trailing fragment shorter than a record length is tolerated as end of file (MIT does the same)
            if c.remaining() < 4 {
                break;
            }
            let at = c.pos;
            let len = c.i32("record length")?;
            if len == 0 {
                break;
            }
            let size = usize::try_from(len.unsigned_abs()).map_err(|_| err(at, "record length"))?;
            let record = c.take(size, "record")?;
            if len < 0 {
                continue; // a hole
            }
            let mut r = Cursor { buf: record, pos: 0, order };
            let entry = parse_entry(&mut r, version).map_err(|e| {
                let inner = e.offset().unwrap_or_default();
                err(at + 4 + inner, e.detail().unwrap_or("bad entry").to_owned())
            })?;
            entries.push(entry);
        }
        Ok(Self { version, entries })
    }

    /// Reads and parses a keytab file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            AuthError::new(AuthErrorKind::Keytab, "keytab file").with_detail(format!("{}: {e}", path.display()))
        })?;
        Self::parse(&bytes)
    }

    /// The keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &KerberosKey> {
        self.entries.iter().map(|e| &e.key)
    }

    /// The entries of a principal (components and realm compared case-insensitively for the realm,
    /// exactly for the components), optionally of one enctype and kvno.
    pub fn find<'s>(
        &'s self,
        components: &'s [&'s str],
        realm: &'s str,
        enctype: Option<EncType>,
        kvno: Option<u32>,
    ) -> impl Iterator<Item = &'s KeytabEntry> + 's {
        self.entries.iter().filter(move |e| {
            e.principal.realm.eq_ignore_ascii_case(realm)
                && e.principal.components.len() == components.len()
                && e.principal.components.iter().zip(components).all(|(a, b)| a == b)
                && enctype.is_none_or(|t| e.key.enctype() == t)
                && kvno.is_none_or(|k| e.kvno == k)
        })
    }
}

fn parse_entry(r: &mut Cursor<'_>, version: KeytabVersion) -> Result<KeytabEntry> {
    let count = r.u16("component count")?;
    let count = match version {
        KeytabVersion::V2 => count,
        // version 1 counts the realm as a component
        KeytabVersion::V1 => count.checked_sub(1).ok_or_else(|| err(r.pos, "component count 0 in version 1"))?,
    };
    let realm = r.string("realm")?;
    // each component takes at least its 2-byte length: cap the reservation by the bytes left
    let mut components = Vec::with_capacity(usize::from(count).min(r.remaining() / 2));
    for _ in 0..count {
        components.push(r.string("component")?);
    }
    let name_type = match version {
        KeytabVersion::V2 => Some(r.u32("name type")?),
        KeytabVersion::V1 => None,
    };
    let timestamp = r.u32("timestamp")?;
    let kvno8 = r.u8("kvno")?;
    let enctype = EncType(i32::from(r.u16("enctype")?));
    let key_at = r.pos;
    let key_bytes = r.data("key")?;
    let key = KerberosKey::new(enctype, key_bytes).map_err(|e| err(key_at, e.to_string()))?;
    // the 32-bit kvno extension: present when at least 4 bytes remain and non-zero
    let mut kvno = u32::from(kvno8);
    if r.remaining() >= 4 {
        let k = r.u32("kvno32")?;
        if k != 0 {
            kvno = k;
        }
    }
    Ok(KeytabEntry { principal: KeytabPrincipal { realm, components, name_type }, timestamp, kvno, key })
}

/// Serialises entries as a version 2 keytab (for tests and tools; always writes the 32-bit kvno).
#[must_use]
pub fn encode_v2(entries: &[KeytabEntry]) -> Vec<u8> {
    let mut out = vec![0x05, 0x02];
    for e in entries {
        let mut rec = Vec::new();
        let count = u16::try_from(e.principal.components.len()).unwrap_or(u16::MAX);
        rec.extend_from_slice(&count.to_be_bytes());
        push_data(&mut rec, e.principal.realm.as_bytes());
        for c in e.principal.components.iter().take(usize::from(count)) {
            push_data(&mut rec, c.as_bytes());
        }
        rec.extend_from_slice(&e.principal.name_type.unwrap_or(1).to_be_bytes());
        rec.extend_from_slice(&e.timestamp.to_be_bytes());
        // MIT writes the low 8 bits of the kvno here and the full value in the 32-bit field
        rec.push(e.kvno.to_be_bytes()[3]);
        let et = u16::try_from(e.key.enctype().0).unwrap_or(0);
        rec.extend_from_slice(&et.to_be_bytes());
        push_data(&mut rec, e.key.expose());
        rec.extend_from_slice(&e.kvno.to_be_bytes());
        let len = i32::try_from(rec.len()).unwrap_or(i32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&rec);
    }
    out
}

fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data.get(..usize::from(len)).unwrap_or(data));
}

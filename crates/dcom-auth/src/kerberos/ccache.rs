//! MIT credential caches (the `FILE:` ccache type written by `kinit`), versions 3 and 4.
//!
//! Format ([MIT krb5 "Credential cache file format"](https://web.mit.edu/kerberos/krb5-devel/doc/formats/ccache_file_format.html)),
//! big-endian:
//!
//! ```text
//! file       ::= 0x05 version(3|4) [header, version 4] default_principal credential*
//! header     ::= length(u16) { tag(u16) length(u16) value }*          (tag 1: KDC time offset s, us)
//! principal  ::= name_type(u32) count(u32) realm(data) component(data)*
//! credential ::= client(principal) server(principal) keyblock times flags addresses authdata ticket second_ticket
//! keyblock   ::= enctype(u16) [enctype(u16), version 3] key(data)
//! times      ::= authtime starttime endtime renew_till (u32 each) is_skey(u8) ticket_flags(u32)
//! addresses  ::= count(u32) { type(u16) data }*;  authdata ::= count(u32) { type(u16) data }*
//! data       ::= length(u32) bytes
//! ```
//!
//! Entries whose server realm is `X-CACHECONF:` are configuration, not tickets. Every count and length is
//! checked against the bytes that remain before anything is allocated.

use std::path::{Path, PathBuf};

use super::key::{EncType, KerberosKey};
use crate::error::{AuthError, AuthErrorKind, Result};

/// The realm MIT uses for configuration entries.
pub const CONFIG_REALM: &str = "X-CACHECONF:";

/// A principal as stored in a ccache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CcachePrincipal {
    /// The name type ([RFC 4120 6.2]).
    pub name_type: u32,
    /// The realm.
    pub realm: String,
    /// The components.
    pub components: Vec<String>,
}

impl CcachePrincipal {
    /// `a/b@REALM`.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.components.join("/"), self.realm)
    }

    /// True for `components@realm` (realm compared case-insensitively).
    #[must_use]
    pub fn is(&self, components: &[String], realm: &str) -> bool {
        self.realm.eq_ignore_ascii_case(realm) && self.components == components
    }
}

/// One cached credential (a ticket and its session key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcacheCredential {
    /// The client.
    pub client: CcachePrincipal,
    /// The service the ticket is for (`krbtgt/REALM@REALM` for a TGT).
    pub server: CcachePrincipal,
    /// The session key.
    pub key: KerberosKey,
    /// Times in seconds since 1970.
    pub authtime: u32,
    /// Start of validity (0: same as authtime).
    pub starttime: u32,
    /// End of validity.
    pub endtime: u32,
    /// Renewal limit.
    pub renew_till: u32,
    /// The ticket is encrypted in a session key (user-to-user).
    pub is_skey: bool,
    /// Ticket flags ([RFC 4120 5.3], bit 0 = most significant).
    pub ticket_flags: u32,
    /// The DER-encoded Ticket.
    pub ticket: Vec<u8>,
}

impl CcacheCredential {
    /// True for a configuration entry rather than a ticket.
    #[must_use]
    pub fn is_config(&self) -> bool {
        self.server.realm == CONFIG_REALM
    }

    /// True for a ticket-granting ticket of `realm`.
    #[must_use]
    pub fn is_tgt_of(&self, realm: &str) -> bool {
        !self.is_config()
            && self.server.components.len() == 2
            && self.server.components.first().is_some_and(|c| c == "krbtgt")
            && self.server.components.get(1).is_some_and(|r| r.eq_ignore_ascii_case(realm))
    }
}

/// A parsed credential cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCache {
    /// The format version (3 or 4).
    pub version: u8,
    /// The KDC time offset from the version 4 header (seconds, microseconds), if any.
    pub time_offset: Option<(i32, i32)>,
    /// The default (client) principal.
    pub default_principal: CcachePrincipal,
    /// The credentials in file order, configuration entries included.
    pub credentials: Vec<CcacheCredential>,
}

fn err(at: usize, detail: impl Into<String>) -> AuthError {
    AuthError::new(AuthErrorKind::CredentialCache, "credential cache").at(at).with_detail(detail)
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(err(self.pos, format!("{what}: need {n} bytes, {} left", self.remaining())));
        };
        let s = self.buf.get(self.pos..end).ok_or_else(|| err(self.pos, "truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let at = self.pos;
        <[u8; N]>::try_from(self.take(N, what)?).map_err(|_| err(at, "truncated"))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn data(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = usize::try_from(self.u32(what)?).map_err(|_| err(self.pos, "length"))?;
        self.take(len, what)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(self.data(what)?).into_owned())
    }

    /// A count of items each at least `min_size` bytes long, checked against the bytes that remain.
    fn count(&mut self, min_size: usize, what: &str) -> Result<usize> {
        let at = self.pos;
        let n = usize::try_from(self.u32(what)?).map_err(|_| err(at, "count"))?;
        if n.checked_mul(min_size).is_none_or(|need| need > self.remaining()) {
            return Err(err(at, format!("{what}: {n} entries cannot fit in {} bytes", self.remaining())));
        }
        Ok(n)
    }

    fn principal(&mut self) -> Result<CcachePrincipal> {
        let name_type = self.u32("name type")?;
        let count = self.count(4, "component count")?;
        let realm = self.string("realm")?;
        let mut components = Vec::with_capacity(count);
        for _ in 0..count {
            components.push(self.string("component")?);
        }
        Ok(CcachePrincipal { name_type, realm, components })
    }
}

impl CredentialCache {
    /// Parses a version 3 or 4 ccache. Versions 1 and 2 (native byte order, last written by krb5 1.0) are
    /// `Unsupported`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut c = Cursor { buf: bytes, pos: 0 };
        let version = match c.array::<2>("version")? {
            [0x05, v @ (3 | 4)] => v,
            [0x05, v @ (1 | 2)] => {
                return Err(AuthError::new(AuthErrorKind::Unsupported, "credential cache")
                    .at(1)
                    .with_detail(format!("version {v} (native byte order) is not supported")));
            }
            [a, b] => return Err(err(0, format!("version {a:#04x}{b:02x}, expected 0x0503 or 0x0504"))),
        };
        let mut time_offset = None;
        if version == 4 {
            let len = usize::from(c.u16("header length")?);
            let header = c.take(len, "header")?;
            let mut h = Cursor { buf: header, pos: 0 };
            while h.remaining() > 0 {
                let tag = h.u16("header tag")?;
                let flen = usize::from(h.u16("header field length")?);
                let field = h.take(flen, "header field")?;
                if tag == 1
                    && let (Some(s), Some(u)) = (field.get(..4), field.get(4..8))
                {
                    let be = |b: &[u8]| <[u8; 4]>::try_from(b).map(i32::from_be_bytes).unwrap_or_default();
                    time_offset = Some((be(s), be(u)));
                }
            }
        }
        let default_principal = c.principal()?;
        let mut credentials = Vec::new();
        while c.remaining() > 0 {
            credentials.push(Self::credential(&mut c, version)?);
        }
        Ok(Self { version, time_offset, default_principal, credentials })
    }

    fn credential(c: &mut Cursor<'_>, version: u8) -> Result<CcacheCredential> {
        let client = c.principal()?;
        let server = c.principal()?;
        let enctype = EncType(i32::from(c.u16("key enctype")?));
        if version == 3 {
            c.u16("key enctype (repeated)")?;
        }
        let key_at = c.pos;
        let key = KerberosKey::new(enctype, c.data("key")?).map_err(|e| err(key_at, e.to_string()))?;
        let authtime = c.u32("authtime")?;
        let starttime = c.u32("starttime")?;
        let endtime = c.u32("endtime")?;
        let renew_till = c.u32("renew_till")?;
        let is_skey = c.u8("is_skey")? != 0;
        let ticket_flags = c.u32("ticket flags")?;
        for what in ["address", "authdata"] {
            // each entry: type (2) + length (4) at least
            let n = c.count(6, what)?;
            for _ in 0..n {
                c.u16(what)?;
                c.data(what)?;
            }
        }
        let ticket = c.data("ticket")?.to_vec();
        c.data("second ticket")?;
        Ok(CcacheCredential {
            client,
            server,
            key,
            authtime,
            starttime,
            endtime,
            renew_till,
            is_skey,
            ticket_flags,
            ticket,
        })
    }

    /// Reads and parses a ccache file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            AuthError::new(AuthErrorKind::CredentialCache, "credential cache file").with_detail(format!(
                "{}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        Self::parse(&bytes)
    }

    /// The file a ccache name designates: `FILE:/path` or a plain path. Other types (`KEYRING:`, `KCM:`,
    /// `MEMORY:`, `DIR:`, `API:`) are `Unsupported`.
    pub fn path_of(name: &str) -> Result<PathBuf> {
        if let Some(p) = name.strip_prefix("FILE:") {
            return Ok(PathBuf::from(p));
        }
        match name.split_once(':') {
            Some((kind, _)) if !kind.contains('/') => Err(AuthError::new(AuthErrorKind::Unsupported, "ccache name")
                .with_detail(format!("ccache type {kind} (only FILE)"))),
            _ => Ok(PathBuf::from(name)),
        }
    }

    /// The ccache `KRB5CCNAME` names (the variable must be set; the per-user default is platform specific).
    pub fn from_env() -> Result<Self> {
        let name = std::env::var("KRB5CCNAME").map_err(|_| {
            AuthError::new(AuthErrorKind::CredentialCache, "credential cache").with_detail("KRB5CCNAME is not set")
        })?;
        Self::load(Self::path_of(&name)?)
    }

    /// The newest ticket-granting ticket of `realm` for the default principal.
    #[must_use]
    pub fn tgt(&self, realm: &str) -> Option<&CcacheCredential> {
        self.credentials
            .iter()
            .filter(|c| c.is_tgt_of(realm) && c.client == self.default_principal)
            .max_by_key(|c| c.endtime)
    }

    /// The newest ticket for the service `components@realm` for the default principal.
    #[must_use]
    pub fn service_ticket(&self, components: &[String], realm: &str) -> Option<&CcacheCredential> {
        self.credentials
            .iter()
            .filter(|c| !c.is_config() && c.server.is(components, realm) && c.client == self.default_principal)
            .max_by_key(|c| c.endtime)
    }
}

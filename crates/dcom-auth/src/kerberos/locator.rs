//! Where the KDC is: an explicit setting, else the Kerberos profile named by `KRB5_CONFIG`, else
//! `/etc/krb5.conf` ([MIT krb5.conf](https://web.mit.edu/kerberos/krb5-latest/doc/admin/conf_files/krb5_conf.html):
//! `[libdefaults] default_realm`, `udp_preference_limit`; `[realms] REALM = { kdc = [tcp/|udp/]host[:port] }`).
//!
//! [`Krb5Profile::parse`] and [`locate_kdc`] are pure functions over the text; only
//! [`Krb5Profile::from_env`] touches the environment and the file system. No DNS lookups are made.

use std::path::Path;

use crate::context::KdcTransport;
use crate::error::{AuthError, AuthErrorKind, Result};

/// MIT's default `udp_preference_limit`: larger messages go over TCP first.
pub const DEFAULT_UDP_PREFERENCE_LIMIT: usize = 1465;

/// One KDC address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KdcAddress {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (88 by default).
    pub port: u16,
    /// A forced transport (`tcp/` or `udp/` prefix, or an `https://` MS-KKDCP proxy); `None` lets the message
    /// size decide.
    pub transport: Option<KdcTransport>,
    /// The full URL of an MS-KKDCP proxy (`https://host/KdcProxy`), when that is the transport.
    pub proxy_url: Option<String>,
}

impl KdcAddress {
    /// Parses `[tcp/|udp/]host[:port]`, `[v6addr]:port` or `https://...` (the value of a `kdc =` line).
    pub fn parse(value: &str) -> Result<Self> {
        let value = value.trim();
        let bad =
            |d: &str| AuthError::new(AuthErrorKind::Profile, "kdc address").with_detail(format!("{value:?}: {d}"));
        if value.starts_with("https://") || value.starts_with("http://") || value.starts_with("kkdcp://") {
            let transport = if value.starts_with("http://") { KdcTransport::Http } else { KdcTransport::Https };
            let url = value.replacen("kkdcp://", "https://", 1);
            let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default().to_owned();
            return Ok(Self { host, port: 443, transport: Some(transport), proxy_url: Some(url) });
        }
        let (transport, rest) = if let Some(r) = value.strip_prefix("tcp/") {
            (Some(KdcTransport::Tcp), r)
        } else if let Some(r) = value.strip_prefix("udp/") {
            (Some(KdcTransport::Udp), r)
        } else {
            (None, value)
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, tail) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if tail.is_empty() => 88,
                None => return Err(bad("junk after ']'")),
            };
            (h.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                // a bare IPv6 address has several colons and no port
                Some((h, p)) if !h.contains(':') => (h.to_owned(), p.parse().map_err(|_| bad("bad port"))?),
                _ => (rest.to_owned(), 88),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("empty host"));
        }
        Ok(Self { host, port, transport, proxy_url: None })
    }

    /// The transport for a request of `len` bytes: the forced one, else TCP above `udp_limit`, UDP otherwise.
    #[must_use]
    pub fn transport_for(&self, len: usize, udp_limit: usize) -> KdcTransport {
        self.transport.unwrap_or(if len > udp_limit { KdcTransport::Tcp } else { KdcTransport::Udp })
    }

    /// The URL of a request over `transport` (`tcp://host:88`, `udp://[::1]:88`, or the proxy URL).
    #[must_use]
    pub fn url(&self, transport: KdcTransport) -> String {
        if let Some(u) = &self.proxy_url {
            return u.clone();
        }
        let scheme = match transport {
            KdcTransport::Tcp => "tcp",
            KdcTransport::Udp => "udp",
            KdcTransport::Http => "http",
            KdcTransport::Https => "https",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The parts of a Kerberos profile the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Krb5Profile {
    /// `[libdefaults] default_realm`.
    pub default_realm: Option<String>,
    /// `[libdefaults] udp_preference_limit` (MIT default 1465).
    pub udp_preference_limit: usize,
    /// `[realms]`: each realm with its `kdc` entries in file order.
    pub realms: Vec<(String, Vec<KdcAddress>)>,
}

impl Default for Krb5Profile {
    fn default() -> Self {
        Self { default_realm: None, udp_preference_limit: DEFAULT_UDP_PREFERENCE_LIMIT, realms: Vec::new() }
    }
}

impl Krb5Profile {
    /// Parses profile text: sections `[name]`, relations `tag = value`, subsections `tag = { ... }`, comments
    /// (`#` or `;` first on a line). Unknown sections and tags are ignored; `include` lines are not followed.
    pub fn parse(text: &str) -> Result<Self> {
        let mut out = Self::default();
        let mut section = String::new();
        // the open subsections: [realms] MIT.TEST = { ... }
        let mut stack: Vec<String> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let bad = |d: &str| {
                AuthError::new(AuthErrorKind::Profile, "krb5 profile").with_detail(format!("line {}: {d}", i + 1))
            };
            if let Some(name) = line.strip_prefix('[') {
                let name = name.split(']').next().unwrap_or_default();
                if !stack.is_empty() {
                    return Err(bad("section header inside a subsection"));
                }
                section = name.trim().to_owned();
                continue;
            }
            if line.starts_with('}') {
                if stack.pop().is_none() {
                    return Err(bad("unbalanced '}'"));
                }
                continue;
            }
            let Some((tag, value)) = line.split_once('=') else {
                // e.g. "include FILE" / "module": not followed
                continue;
            };
            let (tag, value) = (tag.trim(), value.trim());
            if value.starts_with('{') {
                if stack.len() >= 8 {
                    return Err(bad("subsections nested too deep"));
                }
                stack.push(tag.to_owned());
                continue;
            }
            // a trailing '*' marks a final value (MIT profile syntax)
            let value = value.strip_suffix('*').map_or(value, str::trim_end);
            match (section.as_str(), stack.as_slice(), tag) {
                ("libdefaults", [], "default_realm") => out.default_realm = Some(value.to_owned()),
                ("libdefaults", [], "udp_preference_limit") => {
                    out.udp_preference_limit = value.parse().map_err(|_| bad("udp_preference_limit"))?;
                }
                ("realms", [realm], "kdc") => {
                    let addr = KdcAddress::parse(value)?;
                    match out.realms.iter_mut().find(|(r, _)| r == realm) {
                        Some((_, v)) => v.push(addr),
                        None => out.realms.push((realm.clone(), vec![addr])),
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The KDCs of `realm` (exact realm name, as MIT compares it).
    #[must_use]
    pub fn kdcs(&self, realm: &str) -> &[KdcAddress] {
        self.realms.iter().find(|(r, _)| r == realm).map_or(&[], |(_, v)| v.as_slice())
    }

    /// Reads a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            AuthError::new(AuthErrorKind::Profile, "krb5 profile").with_detail(format!(
                "{}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        Self::parse(&text)
    }

    /// The profile of this process: the files in `KRB5_CONFIG` (colon separated, the first readable one), else
    /// `/etc/krb5.conf`; `None` when none exists.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_sources(std::env::var("KRB5_CONFIG").ok().as_deref(), Path::new("/etc/krb5.conf"))
    }

    /// [`from_env`](Self::from_env) with the variable's value and the default path given.
    pub fn from_sources(krb5_config: Option<&str>, default: &Path) -> Result<Option<Self>> {
        if let Some(list) = krb5_config {
            for p in list.split(':').filter(|p| !p.is_empty()) {
                if Path::new(p).is_file() {
                    return Self::load(p).map(Some);
                }
            }
            return Ok(None);
        }
        if default.is_file() { Self::load(default).map(Some) } else { Ok(None) }
    }
}

/// The KDC for `realm`: the explicit address when given, else the profile's first `kdc` of the realm
/// ([RFC 4120 7.2.3]: locating KDCs is configuration or DNS; we never use DNS). `NoKdc` when neither has one.
pub fn locate_kdc(realm: &str, explicit: Option<&KdcAddress>, profile: Option<&Krb5Profile>) -> Result<KdcAddress> {
    if let Some(a) = explicit {
        return Ok(a.clone());
    }
    profile
        .and_then(|p| p.kdcs(realm).first().cloned())
        .ok_or_else(|| AuthError::new(AuthErrorKind::NoKdc, "kdc locator").with_detail(format!("realm {realm}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "\
# comment
[libdefaults]
\tdefault_realm = MIT.TEST
\tudp_preference_limit = 0
[realms]
\tMIT.TEST = {
\t\tkdc = 127.0.0.30:88
\t\tkdc = tcp/kdc2.mit.test
\t\tadmin_server = 127.0.0.30:7490
\t}
\tOTHER = {
\t\tkdc = [::1]:1088
\t\tkdc = https://proxy.example/KdcProxy
\t}
[domain_realm]
\t.mit.test = MIT.TEST
";

    #[test]
    fn parses_profile() {
        let p = Krb5Profile::parse(CONF).unwrap();
        assert_eq!(p.default_realm.as_deref(), Some("MIT.TEST"));
        assert_eq!(p.udp_preference_limit, 0);
        let k = p.kdcs("MIT.TEST");
        assert_eq!(k.len(), 2);
        assert_eq!((k[0].host.as_str(), k[0].port, k[0].transport), ("127.0.0.30", 88, None));
        assert_eq!(k[1].transport, Some(KdcTransport::Tcp));
        assert_eq!(k[1].url(KdcTransport::Tcp), "tcp://kdc2.mit.test:88");
        let o = p.kdcs("OTHER");
        assert_eq!(o[0].url(KdcTransport::Udp), "udp://[::1]:1088");
        assert_eq!(o[1].transport, Some(KdcTransport::Https));
        assert!(p.kdcs("NOPE").is_empty());
        assert_eq!(k[0].transport_for(100, p.udp_preference_limit), KdcTransport::Tcp);
        assert_eq!(k[0].transport_for(100, DEFAULT_UDP_PREFERENCE_LIMIT), KdcTransport::Udp);
        assert_eq!(k[0].transport_for(2000, DEFAULT_UDP_PREFERENCE_LIMIT), KdcTransport::Tcp);
    }

    #[test]
    fn locate_order() {
        let p = Krb5Profile::parse(CONF).unwrap();
        let explicit = KdcAddress::parse("udp/10.1.1.1:750").unwrap();
        assert_eq!(locate_kdc("MIT.TEST", Some(&explicit), Some(&p)).unwrap(), explicit);
        assert_eq!(locate_kdc("MIT.TEST", None, Some(&p)).unwrap().host, "127.0.0.30");
        assert_eq!(locate_kdc("X", None, Some(&p)).unwrap_err().kind(), &AuthErrorKind::NoKdc);
        assert_eq!(locate_kdc("X", None, None).unwrap_err().kind(), &AuthErrorKind::NoKdc);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Krb5Profile::parse("[realms]\n}\n").is_err());
        assert!(Krb5Profile::parse("[libdefaults]\nudp_preference_limit = x\n").is_err());
        assert!(KdcAddress::parse("host:notaport").is_err());
        assert!(KdcAddress::parse("[::1").is_err());
        let deep = "[realms]\n".to_owned() + &"a = {\n".repeat(9);
        assert!(Krb5Profile::parse(&deep).is_err());
    }
}

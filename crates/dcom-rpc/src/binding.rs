//! String bindings (C706 Appendix I, MS-RPCE 2.1.1.1): `[object_uuid@]ncacn_ip_tcp:host[endpoint,options]`.

use core::fmt;

use uuid::Uuid;

/// Protocol sequence. Only ncacn_ip_tcp is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protseq {
    /// `ncacn_ip_tcp`: connection-oriented RPC over TCP (MS-RPCE 2.1.1.1).
    NcacnIpTcp,
}

/// A parsed string binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    /// Object UUID (sent in every request's `object` field).
    pub object: Option<Uuid>,
    /// Protocol sequence.
    pub protseq: Protseq,
    /// Network address (host name or IP literal; IPv6 without brackets).
    pub host: String,
    /// Endpoint (TCP port); `None` means "ask the endpoint mapper".
    pub port: Option<u16>,
    /// Other options inside the brackets (`sign`, `seal`, `krb5`, ...), as written.
    pub options: Vec<String>,
}

/// Why a string binding did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError {
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid string binding: {}", self.reason)
    }
}

impl std::error::Error for BindingError {}

fn err(reason: impl Into<String>) -> BindingError {
    BindingError { reason: reason.into() }
}

impl Binding {
    /// Parses `[uuid@]ncacn_ip_tcp:host[port,opt,...]`. The endpoint is the first bracket item that is a port
    /// number (or `port=N` / `endpoint=N`); other items are options.
    pub fn parse(s: &str) -> Result<Self, BindingError> {
        let s = s.trim();
        let (object, rest) = match s.split_once('@') {
            Some((u, rest)) => (Some(Uuid::parse_str(u).map_err(|e| err(format!("object uuid: {e}")))?), rest),
            None => (None, s),
        };
        let (protseq, rest) = rest.split_once(':').ok_or_else(|| err("missing ':' after the protocol sequence"))?;
        let protseq = match protseq.to_ascii_lowercase().as_str() {
            "ncacn_ip_tcp" => Protseq::NcacnIpTcp,
            other => return Err(err(format!("unsupported protocol sequence {other:?}"))),
        };
        let (host, options) = match rest.split_once('[') {
            Some((host, opts)) => {
                let opts = opts.strip_suffix(']').ok_or_else(|| err("missing ']'"))?;
                (host, opts)
            }
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(err("empty network address"));
        }
        if host.contains([']', '[', ',', ' ']) {
            return Err(err(format!("bad network address {host:?}")));
        }
        let mut port = None;
        let mut rest_opts = Vec::new();
        for item in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let value = item.strip_prefix("port=").or_else(|| item.strip_prefix("endpoint=")).unwrap_or(item);
            if port.is_none() && value.bytes().all(|b| b.is_ascii_digit()) {
                port = Some(value.parse::<u16>().map_err(|_| err(format!("port {value:?} out of range")))?);
            } else {
                rest_opts.push(item.to_owned());
            }
        }
        Ok(Self { object, protseq, host: host.to_owned(), port, options: rest_opts })
    }

    /// Whether option `name` is present (case-insensitive).
    #[must_use]
    pub fn has_option(&self, name: &str) -> bool {
        self.options.iter().any(|o| o.eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = self.object {
            write!(f, "{o}@")?;
        }
        f.write_str("ncacn_ip_tcp:")?;
        f.write_str(&self.host)?;
        let mut items: Vec<String> = self.port.iter().map(u16::to_string).collect();
        items.extend(self.options.iter().cloned());
        if !items.is_empty() {
            write!(f, "[{}]", items.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let b = Binding::parse("ncacn_ip_tcp:127.0.0.1[135]").unwrap();
        assert_eq!((b.host.as_str(), b.port, b.object), ("127.0.0.1", Some(135), None));
        let b = Binding::parse("ncacn_ip_tcp:dc1.samba.test[seal,krb5]").unwrap();
        assert_eq!(b.port, None);
        assert!(b.has_option("SEAL") && b.has_option("krb5"));
        let b = Binding::parse("00000000-0000-0000-c000-000000000046@ncacn_ip_tcp:h[2000,sign]").unwrap();
        assert_eq!(b.port, Some(2000));
        assert!(b.object.is_some());
        assert_eq!(b.to_string(), "00000000-0000-0000-c000-000000000046@ncacn_ip_tcp:h[2000,sign]");
        assert!(Binding::parse("ncacn_np:h").is_err());
        assert!(Binding::parse("ncacn_ip_tcp:h[70000]").is_err());
        assert!(Binding::parse("ncacn_ip_tcp:[1]").is_err());
        assert!(Binding::parse("ncacn_ip_tcp:h[1").is_err());
    }
}

//! Protocol towers: the binding encoding inside `twr_t.tower_octet_string`.
//!
//! [C706 appendix L] and [MS-RPCE 2.2.1.2]: a tower is a little-endian `u16` floor count followed by floors.
//! Each floor is a left-hand side (`u16` length, then a protocol identifier byte and its data) and a
//! right-hand side (`u16` length, then address data). Unlike NDR, these fields are little-endian whatever
//! the data representation of the PDU that carries the tower, and port numbers are big-endian.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use uuid::Uuid;

/// Upper bound on the floors a tower may declare: real towers have 3 to 6.
pub const MAX_FLOORS: u16 = 64;

/// Protocol identifier of a floor's left-hand side ([C706 appendix I], [MS-RPCE 2.2.1.2]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolId(pub u8);

impl ProtocolId {
    /// OSI/DNA session-layer (rare).
    pub const DNA_SESSION: Self = Self(0x02);
    /// TCP port (rhs: 2 bytes, big-endian).
    pub const TCP: Self = Self(0x07);
    /// UDP port (rhs: 2 bytes, big-endian).
    pub const UDP: Self = Self(0x08);
    /// IPv4 address (rhs: 4 bytes).
    pub const IP: Self = Self(0x09);
    /// Connectionless RPC (rhs: minor version, u16).
    pub const RPC_CL: Self = Self(0x0a);
    /// Connection-oriented RPC (rhs: minor version, u16).
    pub const RPC_CO: Self = Self(0x0b);
    /// Interface or transfer syntax identifier (lhs: UUID + major version; rhs: minor version).
    pub const UUID: Self = Self(0x0d);
    /// Named pipe on SMB (rhs: NUL-terminated name).
    pub const NAMED_PIPE: Self = Self(0x0f);
    /// Local RPC port name / `ncalrpc` (rhs: NUL-terminated name).
    pub const LRPC: Self = Self(0x10);
    /// NetBIOS host name (rhs: NUL-terminated name).
    pub const NETBIOS: Self = Self(0x11);
    /// `ncacn_http` (rhs: port, big-endian).
    pub const HTTP: Self = Self(0x1f);
    /// IPv6 address (rhs: 16 bytes) ([MS-RPCE 2.2.1.2]: not registered in C706; Windows uses it in towers).
    pub const IPV6: Self = Self(0x21);

    /// A short name for text output.
    pub fn name(self) -> &'static str {
        match self {
            Self::DNA_SESSION => "dna_session",
            Self::TCP => "tcp",
            Self::UDP => "udp",
            Self::IP => "ip",
            Self::RPC_CL => "ncadg",
            Self::RPC_CO => "ncacn",
            Self::UUID => "uuid",
            Self::NAMED_PIPE => "named_pipe",
            Self::LRPC => "ncalrpc",
            Self::NETBIOS => "netbios",
            Self::HTTP => "http",
            Self::IPV6 => "ipv6",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for ProtocolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolId(0x{:02x} {})", self.0, self.name())
    }
}

/// One floor of a tower, as on the wire. `lhs_data` excludes the protocol id byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// The first byte of the left-hand side.
    pub protocol: ProtocolId,
    /// The rest of the left-hand side.
    pub lhs_data: Vec<u8>,
    /// The right-hand side.
    pub rhs: Vec<u8>,
}

/// What a floor means, for the protocol ids we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloorValue {
    /// An interface or transfer syntax: UUID and version.
    Uuid { uuid: Uuid, major: u16, minor: u16 },
    /// An RPC protocol floor and its minor version.
    Rpc { connection_oriented: bool, minor: u16 },
    /// A TCP, UDP or HTTP port.
    Port { protocol: ProtocolId, port: u16 },
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// A named pipe, LRPC endpoint or NetBIOS name.
    Name { protocol: ProtocolId, name: String },
    /// A floor we do not interpret (or whose lengths do not fit its protocol id).
    Other,
}

impl Floor {
    /// Interprets the floor. Lengths that do not match the protocol give [`FloorValue::Other`].
    pub fn value(&self) -> FloorValue {
        let rhs = self.rhs.as_slice();
        match self.protocol {
            ProtocolId::UUID => match (self.lhs_data.as_slice(), rhs) {
                ([u @ .., v0, v1], [m0, m1]) if u.len() == 16 => match Uuid::from_slice_le(u) {
                    Ok(uuid) => FloorValue::Uuid {
                        uuid,
                        major: u16::from_le_bytes([*v0, *v1]),
                        minor: u16::from_le_bytes([*m0, *m1]),
                    },
                    Err(_) => FloorValue::Other,
                },
                _ => FloorValue::Other,
            },
            ProtocolId::RPC_CO | ProtocolId::RPC_CL => match rhs {
                [m0, m1] => FloorValue::Rpc {
                    connection_oriented: self.protocol == ProtocolId::RPC_CO,
                    minor: u16::from_le_bytes([*m0, *m1]),
                },
                _ => FloorValue::Other,
            },
            ProtocolId::TCP | ProtocolId::UDP | ProtocolId::HTTP => match rhs {
                [p0, p1] => FloorValue::Port { protocol: self.protocol, port: u16::from_be_bytes([*p0, *p1]) },
                _ => FloorValue::Other,
            },
            ProtocolId::IP => match <[u8; 4]>::try_from(rhs) {
                Ok(a) => FloorValue::Ipv4(Ipv4Addr::from(a)),
                Err(_) => FloorValue::Other,
            },
            ProtocolId::IPV6 => match <[u8; 16]>::try_from(rhs) {
                Ok(a) => FloorValue::Ipv6(Ipv6Addr::from(a)),
                Err(_) => FloorValue::Other,
            },
            ProtocolId::NAMED_PIPE | ProtocolId::LRPC | ProtocolId::NETBIOS => {
                let end = rhs.iter().position(|&b| b == 0).unwrap_or(rhs.len());
                let name = rhs.get(..end).map(|s| String::from_utf8_lossy(s).into_owned()).unwrap_or_default();
                FloorValue::Name { protocol: self.protocol, name }
            }
            _ => FloorValue::Other,
        }
    }
}

/// A decoded tower.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tower {
    /// The floors in wire order.
    pub floors: Vec<Floor>,
}

/// Why a tower octet string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TowerError {
    /// Offset inside the tower octet string.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl fmt::Display for TowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad tower at offset {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for TowerError {}

struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TowerError> {
        let end = self.pos.checked_add(n).ok_or(TowerError { offset: self.pos, what })?;
        let s = self.buf.get(self.pos..end).ok_or(TowerError { offset: self.pos, what })?;
        self.pos = end;
        Ok(s)
    }

    fn u16le(&mut self, what: &'static str) -> Result<u16, TowerError> {
        let s = self.take(2, what)?;
        Ok(u16::from_le_bytes([s.first().copied().unwrap_or(0), s.get(1).copied().unwrap_or(0)]))
    }
}

impl Tower {
    /// Decodes a tower octet string ([C706 appendix L]). Trailing bytes after the last floor are an error.
    pub fn decode(octets: &[u8]) -> Result<Self, TowerError> {
        let mut c = Cur { buf: octets, pos: 0 };
        let count = c.u16le("floor count truncated")?;
        // C706 L: a tower has at least the interface, transfer syntax and protocol floors; we accept any
        // count up to MAX_FLOORS and let the caller judge meaning.
        if count > MAX_FLOORS {
            return Err(TowerError { offset: 0, what: "too many floors" });
        }
        let mut floors = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let lhs_len = c.u16le("floor lhs length truncated")?;
            let lhs = c.take(usize::from(lhs_len), "floor lhs truncated")?;
            let (&protocol, lhs_data) =
                lhs.split_first().ok_or(TowerError { offset: c.pos, what: "empty floor lhs" })?;
            let rhs_len = c.u16le("floor rhs length truncated")?;
            let rhs = c.take(usize::from(rhs_len), "floor rhs truncated")?;
            floors.push(Floor { protocol: ProtocolId(protocol), lhs_data: lhs_data.to_vec(), rhs: rhs.to_vec() });
        }
        if c.pos != octets.len() {
            return Err(TowerError { offset: c.pos, what: "trailing bytes after the last floor" });
        }
        Ok(Self { floors })
    }

    /// Encodes the tower octet string. Fails only if a floor is longer than a `u16` length allows.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), TowerError> {
        let too_long = TowerError { offset: out.len(), what: "floor longer than 65535 bytes" };
        let count = u16::try_from(self.floors.len()).map_err(|_| too_long.clone())?;
        out.extend_from_slice(&count.to_le_bytes());
        for f in &self.floors {
            let lhs_len = u16::try_from(f.lhs_data.len() + 1).map_err(|_| too_long.clone())?;
            let rhs_len = u16::try_from(f.rhs.len()).map_err(|_| too_long.clone())?;
            out.extend_from_slice(&lhs_len.to_le_bytes());
            out.push(f.protocol.0);
            out.extend_from_slice(&f.lhs_data);
            out.extend_from_slice(&rhs_len.to_le_bytes());
            out.extend_from_slice(&f.rhs);
        }
        Ok(())
    }

    /// Builds the usual `ncacn_ip_tcp` tower: interface, transfer syntax, RPC CO, TCP port, IPv4 address.
    pub fn ncacn_ip_tcp(interface: (Uuid, u16, u16), syntax: (Uuid, u16, u16), port: u16, addr: Ipv4Addr) -> Self {
        let uuid_floor = |(u, major, minor): (Uuid, u16, u16)| {
            let mut lhs = u.to_bytes_le().to_vec();
            lhs.extend_from_slice(&major.to_le_bytes());
            Floor { protocol: ProtocolId::UUID, lhs_data: lhs, rhs: minor.to_le_bytes().to_vec() }
        };
        Self {
            floors: vec![
                uuid_floor(interface),
                uuid_floor(syntax),
                Floor { protocol: ProtocolId::RPC_CO, lhs_data: Vec::new(), rhs: 0u16.to_le_bytes().to_vec() },
                Floor { protocol: ProtocolId::TCP, lhs_data: Vec::new(), rhs: port.to_be_bytes().to_vec() },
                Floor { protocol: ProtocolId::IP, lhs_data: Vec::new(), rhs: addr.octets().to_vec() },
            ],
        }
    }

    /// The interface floor (the first floor when it is a UUID floor).
    pub fn interface(&self) -> Option<(Uuid, u16, u16)> {
        match self.floors.first()?.value() {
            FloorValue::Uuid { uuid, major, minor } => Some((uuid, major, minor)),
            _ => None,
        }
    }

    /// The TCP port named by the tower, if any.
    pub fn tcp_port(&self) -> Option<u16> {
        self.floors.iter().find_map(|f| match f.value() {
            FloorValue::Port { protocol: ProtocolId::TCP, port } => Some(port),
            _ => None,
        })
    }

    /// A string binding for the tower (`ncacn_ip_tcp:10.0.0.1[49679]`, `ncacn_np:HOST[\pipe\lsass]`, ...),
    /// when its protocol floors are ones we know.
    pub fn binding_string(&self) -> Option<String> {
        let values: Vec<FloorValue> = self.floors.iter().skip(2).map(Floor::value).collect();
        let host = values.iter().find_map(|v| match v {
            FloorValue::Ipv4(a) => Some(a.to_string()),
            FloorValue::Ipv6(a) => Some(a.to_string()),
            FloorValue::Name { protocol: ProtocolId::NETBIOS, name } => Some(name.clone()),
            _ => None,
        });
        let host = host.unwrap_or_default();
        values.iter().find_map(|v| match v {
            FloorValue::Port { protocol: ProtocolId::TCP, port } => Some(format!("ncacn_ip_tcp:{host}[{port}]")),
            FloorValue::Port { protocol: ProtocolId::UDP, port } => Some(format!("ncadg_ip_udp:{host}[{port}]")),
            FloorValue::Port { protocol: ProtocolId::HTTP, port } => Some(format!("ncacn_http:{host}[{port}]")),
            FloorValue::Name { protocol: ProtocolId::NAMED_PIPE, name } => Some(format!("ncacn_np:{host}[{name}]")),
            FloorValue::Name { protocol: ProtocolId::LRPC, name } => Some(format!("ncalrpc:[{name}]")),
            _ => None,
        })
    }
}

#![cfg_attr(doc, doc = include_str!("../README.md"))]

mod epm;
mod json;
mod names;
mod security;
mod stream;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use dcom_capture::{Capture, CaptureError, Flow, Limits};
use dcom_pdu::{Pdu, PduBody, SyntaxId};

pub use json::pdu_json;
pub use text::pdu_line;

/// The endpoint mapper's well-known port ([MS-RPCE 2.1.1.1]).
pub const EPM_PORT: u16 = 135;

/// How [`decode_capture`] finds DCE/RPC in a capture.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra TCP ports to treat as DCE/RPC (`-d PORT`), besides 135 and the ports EPM answers name.
    pub ports: Vec<u16>,
    /// Also treat a TCP stream or named pipe as DCE/RPC when it starts with a well-formed CO header.
    pub heuristics: bool,
    /// Limits for reading the capture.
    pub capture_limits: Limits,
    /// Keys to check and open protected PDUs with.
    pub keys: Keys,
}

/// What the decoder may use to check signatures and decrypt ([`Options::keys`]).
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// NTLM: the account's NT hash (from `--password` or `--nt-hash`).
    pub nt_hash: Option<dcom_auth::ntlm::NtHash>,
    /// NTLM: only use the hash for this account (`--user`); any account when `None`.
    pub user: Option<String>,
    /// NTLM: only for this domain (`--domain`); any domain when `None`.
    pub domain: Option<String>,
    /// Kerberos: service keys (from `--keytab` and `--key`) to decrypt tickets with.
    pub kerberos: Vec<dcom_auth::kerberos::KerberosKey>,
}

impl Default for Options {
    fn default() -> Self {
        Self { ports: Vec::new(), heuristics: true, capture_limits: Limits::default(), keys: Keys::default() }
    }
}

/// Direction of a PDU inside its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

impl Dir {
    /// `c2s` or `s2c`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::C2s => "c2s",
            Self::S2c => "s2c",
        }
    }
}

/// Why a stream was taken as DCE/RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Port 135.
    EpmPort,
    /// A port named with `-d`.
    UserPort,
    /// A port that an endpoint mapper, activation or OXID resolver answer in the capture named.
    EpmAnswer,
    /// The stream starts with a well-formed header.
    Heuristic,
    /// A named pipe over SMB.
    Pipe,
}

/// One PDU found in the capture.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based number of the frame that carries the PDU's last byte (as tshark counts).
    pub frame: u32,
    /// tshark's `tcp.stream` index of the carrying TCP connection.
    pub stream: u32,
    /// The named pipe, for DCE/RPC over SMB.
    pub pipe: Option<String>,
    /// Direction.
    pub dir: Dir,
    /// Client and server endpoints.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Offset of the PDU's first byte in its direction of the stream.
    pub offset: u64,
    /// The PDU's bytes (`frag_len` bytes, or fewer when it was cut short).
    pub raw: Bytes,
    /// The decoded PDU.
    pub pdu: Option<Pdu>,
    /// What failed, if anything.
    pub error: Option<String>,
    /// What the call layer learnt (interface, syntax, call stub) for requests and responses.
    pub call: Option<CallInfo>,
    /// For a protected PDU (PKT_INTEGRITY or PKT_PRIVACY): `Some(true)` when its signature verified with the
    /// keys given, `Some(false)` when it did not, `None` when no key applies.
    pub verified: Option<bool>,
    /// Why verification failed, or why no key applies.
    pub verify_note: Option<String>,
    /// The stub in clear when the PDU was sealed and opened.
    pub clear_stub: Option<Bytes>,
}

/// Call-level facts attached to the PDU that completes a call, or to any request/response fragment.
#[derive(Debug, Clone, Default)]
pub struct CallInfo {
    /// The abstract syntax (interface) bound to the PDU's context id, when the bind was seen.
    pub interface: Option<SyntaxId>,
    /// The transfer syntax the server accepted for the context.
    pub transfer_syntax: Option<SyntaxId>,
    /// On the PDU that completes a call: the whole stub (all fragments), when not encrypted.
    pub stub: Option<Bytes>,
    /// The verification trailer found at the end of a complete request stub ([MS-RPCE 2.2.2.13]).
    pub verification_trailer: Option<serde_json::Value>,
    /// Decoded parameters of an interface we know (the endpoint mapper).
    pub decoded: Option<serde_json::Value>,
    /// Decoded DCOM call ([MS-DCOM 2.2]): interface and method names, ORPCTHIS/ORPCTHAT and the parameters.
    pub dcom: Option<serde_json::Value>,
    /// Why the stub could not be decoded as the interface says.
    pub decode_error: Option<String>,
}

/// Everything found in a capture.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// PDUs in frame order.
    pub records: Vec<Record>,
    /// Problems with the capture itself (truncated records, missing TCP segments, ...).
    pub warnings: Vec<String>,
    /// TCP ports that were treated as DCE/RPC, and why.
    pub ports: BTreeMap<u16, Found>,
}

impl Report {
    /// Number of records with an error.
    pub fn error_count(&self) -> usize {
        self.records.iter().filter(|r| r.error.is_some()).count()
    }
}

/// Why a capture could not be decoded at all.
#[derive(Debug)]
pub struct DecodeError(pub CaptureError);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read the capture: {}", self.0)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A connection (TCP stream or named pipe) chosen as DCE/RPC.
struct Conversation<'a> {
    stream: u32,
    pipe: Option<String>,
    client: SocketAddr,
    server: SocketAddr,
    c2s: &'a Flow,
    s2c: &'a Flow,
}

/// Upper bound on the passes that follow EPM answers to new ports (each pass can only add ports).
const MAX_PASSES: usize = 8;

/// Reads a capture, finds DCE/RPC and decodes every PDU.
pub fn decode_capture(bytes: &[u8], opts: &Options) -> Result<Report, DecodeError> {
    let _span = tracing::debug_span!("decode_capture", len = bytes.len(), heuristics = opts.heuristics).entered();
    let capture = Capture::parse(bytes, &opts.capture_limits).map_err(DecodeError)?;
    let reassembly = capture.reassemble();
    let pipes = capture.extract_pipes(&reassembly.streams);
    let mut warnings: Vec<String> = capture.warnings.iter().map(ToString::to_string).collect();
    warnings.extend(reassembly.warnings.iter().map(ToString::to_string));
    warnings.extend(pipes.warnings.iter().map(ToString::to_string));

    let mut ports: BTreeMap<u16, Found> = BTreeMap::new();
    ports.insert(EPM_PORT, Found::EpmPort);
    for &p in &opts.ports {
        ports.insert(p, Found::UserPort);
    }

    // Endpoints that EPM answers in the capture named: the address is None when the tower had none (or 0.0.0.0).
    let mut learnt_endpoints: BTreeSet<(Option<IpAddr>, u16)> = BTreeSet::new();
    let mut records = Vec::new();
    for _ in 0..MAX_PASSES {
        let mut convs = Vec::new();
        for s in &reassembly.streams {
            let (sp, cp) = (s.server.port(), s.client.port());
            // Port 135 and user ports match on either side; endpoints learnt from EPM match address and port.
            let known = |a: &SocketAddr| {
                a.port() == EPM_PORT
                    || opts.ports.contains(&a.port())
                    || learnt_endpoints.iter().any(|(ip, port)| *port == a.port() && ip.is_none_or(|ip| ip == a.ip()))
            };
            let (server_known, client_known) = (known(&s.server), known(&s.client));
            let by_port = server_known || client_known;
            let heuristic = !by_port && opts.heuristics && stream::looks_like_dcerpc(&s.c2s, &s.s2c);
            if !by_port && !heuristic {
                continue;
            }
            // The endpoint with the DCE/RPC port is the server; otherwise keep the capture layer's roles,
            // corrected by what each side sends first (a bind or request comes from the client).
            let swap = if server_known {
                false
            } else if client_known {
                true
            } else {
                stream::sends_server_pdus_first(&s.c2s) && !stream::sends_server_pdus_first(&s.s2c)
            };
            let server_port = if swap { cp } else { sp };
            if heuristic {
                ports.entry(server_port).or_insert(Found::Heuristic);
            }
            let (c2s, s2c, client, server) =
                if swap { (&s.s2c, &s.c2s, s.server, s.client) } else { (&s.c2s, &s.s2c, s.client, s.server) };
            tracing::debug!(stream = s.index, %client, %server, by_port, heuristic, "DCE/RPC stream");
            convs.push(Conversation { stream: s.index, pipe: None, client, server, c2s, s2c });
        }
        for p in &pipes.pipes {
            if !stream::looks_like_dcerpc(&p.c2s, &p.s2c) {
                continue;
            }
            convs.push(Conversation {
                stream: p.tcp_stream,
                pipe: Some(p.name.clone().unwrap_or_else(|| format!("fid:{}", p.file_id))),
                client: p.client,
                server: p.server,
                c2s: &p.c2s,
                s2c: &p.s2c,
            });
        }

        records.clear();
        let mut learnt = BTreeSet::new();
        for conv in &convs {
            let mut recs = stream::frame_conversation(conv);
            stream::follow_calls(&mut recs, &mut learnt, &opts.keys);
            records.extend(recs);
        }
        let before = learnt_endpoints.len();
        for (ip, port) in learnt {
            ports.entry(port).or_insert(Found::EpmAnswer);
            learnt_endpoints.insert((ip.filter(|ip| !ip.is_unspecified()), port));
        }
        if learnt_endpoints.len() == before {
            break;
        }
        tracing::debug!(endpoints = learnt_endpoints.len(), "EPM answers named new endpoints; decoding again");
    }
    records.sort_by_key(|a| (a.frame, a.stream, a.dir, a.offset));
    Ok(Report { records, warnings, ports })
}

/// The stub of a request or response PDU body.
pub(crate) fn stub_of(body: &PduBody) -> Option<&Bytes> {
    match body {
        PduBody::Request(r) => Some(&r.stub),
        PduBody::Response(r) => Some(&r.stub),
        PduBody::Fault(f) => Some(&f.stub),
        _ => None,
    }
}

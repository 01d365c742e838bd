//! TCP conversation tracking and reassembly, numbered like tshark's `tcp.stream`.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::error::{Warning, WarningKind};
use crate::flow::{Flow, FrameRef, TcpFlowBuilder};
use crate::net::{ACK, FIN, RST, SYN, TcpPacket};
use crate::{Frame, Limits};

/// How the client/server roles of a [`TcpStream`] were decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoleSource {
    /// The sender of the first SYN (without ACK) is the client.
    Syn,
    /// No SYN, but a SYN+ACK: its sender is the server.
    SynAck,
    /// No handshake seen; exactly one port is below 1024: that endpoint is the server.
    WellKnownPort,
    /// No handshake seen; the endpoint with the lower port is the server (on equal ports, the destination of
    /// the first packet).
    LowerPort,
    /// Set by the caller ([`TcpStream::swap_roles`] or [`TcpStream::set_server_port`]).
    Caller,
}

/// One TCP connection: both directions reassembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpStream {
    /// tshark's `tcp.stream`: 0-based, in order of the first packet of each conversation.
    pub index: u32,
    /// Client endpoint (see [`RoleSource`]).
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// How the roles were decided.
    pub roles: RoleSource,
    /// A SYN (without ACK) was seen.
    pub syn_seen: bool,
    /// A FIN or RST was seen in either direction.
    pub closed: bool,
    /// Every frame of this conversation, in file order (including pure ACKs).
    pub frames: Vec<u32>,
    /// Client-to-server bytes; offset 0 is the byte after the client's SYN, or the lowest sequence number
    /// seen when there was no SYN.
    pub c2s: Flow,
    /// Server-to-client bytes.
    pub s2c: Flow,
}

impl TcpStream {
    /// Swaps client and server (and the two flows).
    pub fn swap_roles(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.c2s, &mut self.s2c);
        self.roles = RoleSource::Caller;
    }

    /// Makes the endpoint using `port` the server; returns false if neither endpoint uses it.
    pub fn set_server_port(&mut self, port: u16) -> bool {
        if self.server.port() == port {
            true
        } else if self.client.port() == port {
            self.swap_roles();
            true
        } else {
            false
        }
    }

    /// The first frame of the conversation.
    #[must_use]
    pub fn first_frame(&self) -> Option<u32> {
        self.frames.first().copied()
    }
}

#[derive(Debug, Default)]
struct Dir {
    /// tshark's base_seq: the SYN's sequence number, `seq - 1` of a first non-SYN segment, or `ack - 1` from
    /// the other direction.
    base_seq: Option<u32>,
    /// Position of the SYN and its frame.
    syn: Option<(i64, u32)>,
    /// Highest (sequence number, unwrapped position) seen: the reference for unwrapping.
    anchor: Option<(u32, i64)>,
    min_data: Option<i64>,
    builder: TcpFlowBuilder,
    limited: bool,
}

impl Dir {
    /// Maps a 32-bit sequence number to a 64-bit position, handling wrap-around (RFC 9293 3.4: sequence
    /// numbers are compared modulo 2^32).
    fn unwrap(&mut self, seq: u32) -> i64 {
        let Some((aseq, apos)) = self.anchor else {
            self.anchor = Some((seq, 0));
            return 0;
        };
        let delta = i64::from(seq.wrapping_sub(aseq) as i32);
        let pos = apos.saturating_add(delta);
        if pos > apos {
            self.anchor = Some((seq, pos));
        }
        pos
    }
}

#[derive(Debug)]
struct Conv {
    index: u32,
    /// Source of the first packet.
    a: SocketAddr,
    b: SocketAddr,
    /// 0: a -> b, 1: b -> a.
    dirs: [Dir; 2],
    frames: Vec<u32>,
    syn_from: Option<usize>,
    synack_from: Option<usize>,
    closed: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    by_key: HashMap<(SocketAddr, SocketAddr), usize>,
    convs: Vec<Conv>,
    refused: bool,
}

fn key(x: SocketAddr, y: SocketAddr) -> (SocketAddr, SocketAddr) {
    if x <= y { (x, y) } else { (y, x) }
}

impl Tracker {
    fn new_conv(
        &mut self,
        p: &TcpPacket,
        limits: &Limits,
        frame: &Frame,
        warnings: &mut Vec<Warning>,
    ) -> Option<usize> {
        if self.convs.len() >= limits.max_streams {
            if !self.refused {
                warnings.push(Warning::new(
                    WarningKind::TooManyStreams,
                    Some(frame.number),
                    Some(frame.file_offset),
                    format!("limit {}", limits.max_streams),
                ));
                self.refused = true;
            }
            return None;
        }
        let index = u32::try_from(self.convs.len()).ok()?;
        self.convs.push(Conv {
            index,
            a: p.src,
            b: p.dst,
            dirs: [Dir::default(), Dir::default()],
            frames: Vec::new(),
            syn_from: None,
            synack_from: None,
            closed: false,
        });
        let i = self.convs.len() - 1;
        self.by_key.insert(key(p.src, p.dst), i);
        Some(i)
    }

    pub(crate) fn add(&mut self, frame: &Frame, p: &TcpPacket, limits: &Limits, warnings: &mut Vec<Warning>) {
        let ci = match self.by_key.get(&key(p.src, p.dst)) {
            Some(&ci) => ci,
            None => match self.new_conv(p, limits, frame, warnings) {
                Some(ci) => ci,
                None => return,
            },
        };
        let pure_syn = p.flags & (SYN | ACK) == SYN;
        let mut ci = ci;
        if pure_syn && let Some(conv) = self.convs.get(ci) {
            let d = usize::from(p.src != conv.a);
            // tshark (packet-tcp.c): a SYN whose sequence number differs from the base_seq of the existing
            // conversation in that direction starts a new conversation (ports reused).
            if let Some(base) = conv.dirs.get(d).and_then(|x| x.base_seq)
                && base != p.seq
            {
                match self.new_conv(p, limits, frame, warnings) {
                    Some(n) => ci = n,
                    None => return,
                }
            }
        }
        let Some(conv) = self.convs.get_mut(ci) else { return };
        conv.frames.push(frame.number);
        let d = usize::from(p.src != conv.a);
        let r = 1 - d;
        if p.flags & (FIN | RST) != 0 {
            conv.closed = true;
        }
        if p.flags & SYN != 0 {
            if p.flags & ACK == 0 {
                conv.syn_from.get_or_insert(d);
            } else {
                conv.synack_from.get_or_insert(d);
            }
        }
        if let Some(rev) = conv.dirs.get_mut(r)
            && p.flags & ACK != 0
            && rev.base_seq.is_none()
        {
            rev.base_seq = Some(p.ack.wrapping_sub(1));
        }
        let Some(dir) = conv.dirs.get_mut(d) else { return };
        let is_syn = p.flags & SYN != 0;
        if dir.base_seq.is_none() {
            dir.base_seq = Some(if is_syn { p.seq } else { p.seq.wrapping_sub(1) });
        }
        let seq_pos = dir.unwrap(p.seq);
        if is_syn && dir.syn.is_none() {
            dir.syn = Some((seq_pos, frame.number));
        }
        if p.payload.is_empty() {
            return;
        }
        // RFC 9293 3.4: the SYN occupies one sequence number; data on a SYN starts after it.
        let data_pos = if is_syn { dir.unwrap(p.seq.wrapping_add(1)) } else { seq_pos };
        if dir.builder.stored.saturating_add(crate::bytes::u64_of(p.payload.len())) > limits.max_flow_bytes
            || dir.builder.pieces >= limits.max_flow_segments
        {
            if !dir.limited {
                dir.limited = true;
                warnings.push(Warning::new(
                    WarningKind::FlowLimit,
                    Some(frame.number),
                    Some(frame.file_offset),
                    format!("tcp stream {}: further data in this direction dropped", conv.index),
                ));
            }
            return;
        }
        dir.min_data = Some(dir.min_data.map_or(data_pos, |m| m.min(data_pos)));
        let fr = FrameRef { number: frame.number, timestamp: frame.timestamp };
        dir.builder.insert(data_pos, &p.payload, fr);
    }

    pub(crate) fn finish(self) -> Vec<TcpStream> {
        self.convs.into_iter().map(finish_conv).collect()
    }
}

fn finish_conv(c: Conv) -> TcpStream {
    let Conv { index, a, b, dirs, frames, syn_from, synack_from, closed } = c;
    let [d0, d1] = dirs;
    let flow = |d: Dir| -> Flow {
        let (origin, lead) = match d.syn {
            Some((pos, f)) => (pos.saturating_add(1), Some(f)),
            None => (d.min_data.unwrap_or(0), None),
        };
        d.builder.finish(origin, lead)
    };
    let (client_is_a, roles) = if let Some(d) = syn_from {
        (d == 0, RoleSource::Syn)
    } else if let Some(d) = synack_from {
        (d == 1, RoleSource::SynAck)
    } else {
        let (pa, pb) = (a.port(), b.port());
        if (pa < 1024) != (pb < 1024) {
            (pb < 1024, RoleSource::WellKnownPort)
        } else {
            (pb <= pa, RoleSource::LowerPort)
        }
    };
    let syn_seen = syn_from.is_some();
    let (f0, f1) = (flow(d0), flow(d1));
    if client_is_a {
        TcpStream { index, client: a, server: b, roles, syn_seen, closed, frames, c2s: f0, s2c: f1 }
    } else {
        TcpStream { index, client: b, server: a, roles, syn_seen, closed, frames, c2s: f1, s2c: f0 }
    }
}

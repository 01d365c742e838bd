//! Link-layer, IP and TCP header decoding.
//!
//! Link types from the tcpdump.org LINKTYPE registry: NULL (0), ETHERNET (1), RAW (101, and 12 as used by
//! OpenBSD), LOOP (108), LINUX_SLL (113), IPV4 (228), IPV6 (229), LINUX_SLL2 (276).
//! IPv4: RFC 791 section 3.1; IPv6: RFC 8200 sections 3-4; TCP: RFC 9293 section 3.1.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bytes::{arr, be16, be32, u8_at, us};
use crate::error::{Warning, WarningKind};
use crate::{Frame, Limits};

/// A decoded TCP segment.
#[derive(Debug, Clone)]
pub(crate) struct TcpPacket {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u16,
    pub(crate) payload: Vec<u8>,
}

pub(crate) const FIN: u16 = 0x01;
pub(crate) const SYN: u16 = 0x02;
pub(crate) const RST: u16 = 0x04;
pub(crate) const ACK: u16 = 0x10;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// Finds the IP packet inside a frame according to its link type.
fn ip_of(link_type: u32, d: &[u8]) -> Result<Option<&[u8]>, &'static str> {
    match link_type {
        // NULL / LOOP: 4-byte address family (host or network order); look at the IP version instead.
        0 | 108 => Ok(d.get(4..)),
        1 => {
            // Ethernet II: dst(6) src(6) type(2); 802.1Q / 802.1ad / QinQ tags are 4 bytes each.
            let mut p = 12usize;
            let mut tags = 0;
            loop {
                let ty = be16(d, p).ok_or("short ethernet header")?;
                match ty {
                    0x8100 | 0x88a8 | 0x9100 => {
                        tags += 1;
                        if tags > 8 {
                            return Err("too many vlan tags");
                        }
                        p += 4;
                    }
                    ETH_IPV4 | ETH_IPV6 => return Ok(d.get(p + 2..)),
                    _ => return Ok(None),
                }
            }
        }
        12 | 101 | 228 | 229 => Ok(Some(d)),
        113 => {
            // Linux cooked v1: 16-byte header, protocol at offset 14.
            let ty = be16(d, 14).ok_or("short sll header")?;
            Ok(if matches!(ty, ETH_IPV4 | ETH_IPV6) { d.get(16..) } else { None })
        }
        276 => {
            // Linux cooked v2: 20-byte header, protocol at offset 0.
            let ty = be16(d, 0).ok_or("short sll2 header")?;
            Ok(if matches!(ty, ETH_IPV4 | ETH_IPV6) { d.get(20..) } else { None })
        }
        _ => Err("unsupported link type"),
    }
}

/// Key of an IPv4 datagram being reassembled: (src, dst, identification, protocol). RFC 791 section 3.2.
type FragKey = (Ipv4Addr, Ipv4Addr, u16, u8);

#[derive(Default)]
struct FragBuf {
    /// (offset, data) pieces.
    pieces: Vec<(usize, Vec<u8>)>,
    total: Option<usize>,
    bytes: usize,
}

/// IPv4 fragment reassembly (tshark reassembles by default and dissects TCP in the completing frame).
#[derive(Default)]
pub(crate) struct Defrag {
    pending: HashMap<FragKey, FragBuf>,
    held: usize,
}

/// Most fragments kept per datagram (duplicates included); bounds the work per fragment.
const MAX_FRAGMENTS: usize = 1024;

/// Maximum IPv4 datagram size.
const MAX_DATAGRAM: usize = 65_535;

impl Defrag {
    fn add(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Option<Vec<u8>>, &'static str> {
        let end = offset.checked_add(data.len()).ok_or("fragment overflow")?;
        if end > MAX_DATAGRAM {
            return Err("fragment beyond 65535 bytes");
        }
        if self.held.saturating_add(data.len()) > limits.max_fragment_bytes {
            return Err("fragment buffer full");
        }
        let buf = self.pending.entry(key).or_default();
        if buf.pieces.len() >= MAX_FRAGMENTS {
            let bytes = buf.bytes;
            self.pending.remove(&key);
            self.held = self.held.saturating_sub(bytes);
            return Err("too many fragments for one datagram");
        }
        if !more {
            buf.total = Some(end);
        }
        buf.pieces.push((offset, data.to_vec()));
        buf.bytes += data.len();
        self.held += data.len();
        let Some(total) = buf.total else { return Ok(None) };
        // Complete when [0, total) is covered.
        let mut order: Vec<&(usize, Vec<u8>)> = buf.pieces.iter().collect();
        order.sort_by_key(|p| p.0);
        let mut covered = 0usize;
        for (o, d) in &order {
            if *o > covered {
                return Ok(None);
            }
            covered = covered.max(o + d.len());
        }
        if covered < total {
            return Ok(None);
        }
        let mut out = vec![0u8; total];
        let mut filled = vec![false; total];
        // First copy wins, as for TCP.
        for (o, d) in &buf.pieces {
            for (i, b) in d.iter().enumerate() {
                let at = o + i;
                if let (Some(slot), Some(f)) = (out.get_mut(at), filled.get_mut(at))
                    && !*f
                {
                    *slot = *b;
                    *f = true;
                }
            }
        }
        let bytes = buf.bytes;
        self.pending.remove(&key);
        self.held = self.held.saturating_sub(bytes);
        Ok(Some(out))
    }
}

/// Decodes a frame down to TCP. `Ok(None)` means "not TCP" (or a fragment still waiting).
pub(crate) fn decode_tcp(
    frame: &Frame,
    defrag: &mut Defrag,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Option<TcpPacket> {
    let warn = |warnings: &mut Vec<Warning>, kind, detail: &str| {
        warnings.push(Warning::new(kind, Some(frame.number), Some(frame.file_offset), detail));
    };
    let ip = match ip_of(frame.link_type, &frame.data) {
        Ok(Some(ip)) => ip,
        Ok(None) => return None,
        Err(e) => {
            let kind = if e == "unsupported link type" {
                WarningKind::UnsupportedLinkType
            } else {
                WarningKind::MalformedPacket
            };
            if kind != WarningKind::UnsupportedLinkType || frame.link_type != u32::MAX {
                warn(warnings, kind, e);
            }
            return None;
        }
    };
    let version = u8_at(ip, 0)? >> 4;
    let (src, dst, segment, owned): (IpAddr, IpAddr, &[u8], Option<Vec<u8>>) = match version {
        4 => match ipv4(ip, defrag, limits) {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err((kind, e)) => {
                warn(warnings, kind, e);
                return None;
            }
        },
        6 => match ipv6(ip) {
            Ok(Some((s, d, seg))) => (s, d, seg, None),
            Ok(None) => return None,
            Err((kind, e)) => {
                warn(warnings, kind, e);
                return None;
            }
        },
        _ => {
            if matches!(frame.link_type, 0 | 12 | 101 | 108 | 228 | 229) {
                warn(warnings, WarningKind::MalformedPacket, "not an ip packet");
            }
            return None;
        }
    };
    let seg = owned.as_deref().unwrap_or(segment);
    match tcp(src, dst, seg) {
        Ok(t) => Some(t),
        Err(e) => {
            warn(warnings, WarningKind::MalformedPacket, e);
            None
        }
    }
}

type IpResult<'a> = Result<Option<(IpAddr, IpAddr, &'a [u8], Option<Vec<u8>>)>, (WarningKind, &'static str)>;

fn ipv4<'a>(ip: &'a [u8], defrag: &mut Defrag, limits: &Limits) -> IpResult<'a> {
    let bad = |e| (WarningKind::MalformedPacket, e);
    // RFC 791 3.1: IHL in 32-bit words, at least 5; Total Length covers header and data.
    let ihl = usize::from(u8_at(ip, 0).ok_or(bad("short ipv4 header"))? & 0x0f) * 4;
    if ihl < 20 {
        return Err(bad("ipv4 header length below 20"));
    }
    let total = usize::from(be16(ip, 2).ok_or(bad("short ipv4 header"))?);
    if ip.len() < ihl {
        return Err(bad("short ipv4 header"));
    }
    if total < ihl {
        return Err(bad("ipv4 total length below header length"));
    }
    // Ethernet padding beyond Total Length is ignored; a snaplen-truncated packet keeps what was captured.
    let end = total.min(ip.len());
    let proto = u8_at(ip, 9).ok_or(bad("short ipv4 header"))?;
    let src = Ipv4Addr::from(arr::<4>(ip, 12).ok_or(bad("short ipv4 header"))?);
    let dst = Ipv4Addr::from(arr::<4>(ip, 16).ok_or(bad("short ipv4 header"))?);
    let payload = ip.get(ihl..end).ok_or(bad("short ipv4 header"))?;
    let frag = be16(ip, 6).ok_or(bad("short ipv4 header"))?;
    let more = frag & 0x2000 != 0;
    let frag_off = usize::from(frag & 0x1fff) * 8;
    if proto != 6 {
        return Ok(None);
    }
    if more || frag_off != 0 {
        if total > ip.len() {
            return Err((WarningKind::Fragment, "truncated ipv4 fragment"));
        }
        let id = be16(ip, 4).ok_or(bad("short ipv4 header"))?;
        return match defrag.add((src, dst, id, proto), frag_off, more, payload, limits) {
            Ok(Some(whole)) => Ok(Some((IpAddr::V4(src), IpAddr::V4(dst), &[], Some(whole)))),
            Ok(None) => Ok(None),
            Err(e) => Err((WarningKind::Fragment, e)),
        };
    }
    Ok(Some((IpAddr::V4(src), IpAddr::V4(dst), payload, None)))
}

type Ip6Result<'a> = Result<Option<(IpAddr, IpAddr, &'a [u8])>, (WarningKind, &'static str)>;

fn ipv6(ip: &[u8]) -> Ip6Result<'_> {
    let bad = |e| (WarningKind::MalformedPacket, e);
    // RFC 8200 3: 40-byte header; Payload Length excludes it.
    let plen = usize::from(be16(ip, 4).ok_or(bad("short ipv6 header"))?);
    let mut next = u8_at(ip, 6).ok_or(bad("short ipv6 header"))?;
    let src = Ipv6Addr::from(arr::<16>(ip, 8).ok_or(bad("short ipv6 header"))?);
    let dst = Ipv6Addr::from(arr::<16>(ip, 24).ok_or(bad("short ipv6 header"))?);
    let end = 40usize.saturating_add(plen).min(ip.len());
    let body = ip.get(40..end).ok_or(bad("short ipv6 header"))?;
    let mut p = 0usize;
    // RFC 8200 4: walk extension headers, a bounded number of them.
    for _ in 0..16 {
        match next {
            6 => {
                let seg = body.get(p..).ok_or(bad("short ipv6 extension header"))?;
                return Ok(Some((IpAddr::V6(src), IpAddr::V6(dst), seg)));
            }
            // Hop-by-hop (0), Routing (43), Destination Options (60): length in 8-octet units, not counting the first.
            0 | 43 | 60 => {
                let nh = u8_at(body, p).ok_or(bad("short ipv6 extension header"))?;
                let len = (usize::from(u8_at(body, p + 1).ok_or(bad("short ipv6 extension header"))?) + 1) * 8;
                next = nh;
                p += len;
            }
            // Fragment (44), RFC 8200 4.5: 8 bytes; only an atomic fragment (offset 0, M clear) is usable.
            44 => {
                let nh = u8_at(body, p).ok_or(bad("short ipv6 fragment header"))?;
                let fo = be16(body, p + 2).ok_or(bad("short ipv6 fragment header"))?;
                if fo & 0xfff9 != 0 {
                    return Err((WarningKind::Fragment, "ipv6 fragments are not reassembled"));
                }
                next = nh;
                p += 8;
            }
            // AH (51), RFC 4302 2.2: length in 4-octet units minus 2.
            51 => {
                let nh = u8_at(body, p).ok_or(bad("short ah header"))?;
                let len = (usize::from(u8_at(body, p + 1).ok_or(bad("short ah header"))?) + 2) * 4;
                next = nh;
                p += len;
            }
            _ => return Ok(None),
        }
    }
    Err(bad("too many ipv6 extension headers"))
}

fn tcp(src: IpAddr, dst: IpAddr, seg: &[u8]) -> Result<TcpPacket, &'static str> {
    // RFC 9293 3.1: ports, sequence, acknowledgment, data offset (32-bit words, >= 5), flags.
    let short = "short tcp header";
    let sport = be16(seg, 0).ok_or(short)?;
    let dport = be16(seg, 2).ok_or(short)?;
    let seq = be32(seg, 4).ok_or(short)?;
    let ack = be32(seg, 8).ok_or(short)?;
    let off_flags = be16(seg, 12).ok_or(short)?;
    let hlen = us(u32::from(off_flags >> 12)) * 4;
    if hlen < 20 {
        return Err("tcp data offset below 5");
    }
    let payload = seg.get(hlen..).ok_or("tcp header longer than segment")?;
    Ok(TcpPacket {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        seq,
        ack,
        flags: off_flags & 0x0fff,
        payload: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend([0u8; 32]);
        // hop-by-hop: next = tcp, len 0 (8 bytes)
        let ext = [6u8, 0, 0, 0, 0, 0, 0, 0];
        let mut tcp_hdr = vec![0x01, 0x02, 0x00, 0x87, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0];
        tcp_hdr.extend(b"hi");
        let plen = u16::try_from(ext.len() + tcp_hdr.len()).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p.extend(ext);
        p.extend(&tcp_hdr);
        let (_, _, seg) = ipv6(&p).unwrap().unwrap();
        assert_eq!(seg, &tcp_hdr[..]);
        let t = tcp(IpAddr::V6(Ipv6Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST), seg).unwrap();
        assert_eq!(t.payload, b"hi");
        assert_eq!(t.dst.port(), 135);
    }

    #[test]
    fn defrag_reassembles_out_of_order() {
        let mut d = Defrag::default();
        let l = Limits::default();
        let k = (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 7, 6);
        assert!(d.add(k, 8, false, b"world!!!", &l).unwrap().is_none());
        let whole = d.add(k, 0, true, b"hello, w", &l).unwrap().unwrap();
        assert_eq!(whole, b"hello, wworld!!!");
        assert_eq!(d.held, 0);
    }
}

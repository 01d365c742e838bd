//! Minimal pcap / pcapng reader with TCP stream reassembly, for test fixtures only.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

pub(crate) fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures").join(name)
}

pub(crate) fn read_capture(name: &str) -> Vec<u8> {
    let raw = std::fs::read(capture_path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

/// (frame number starting at 1, link type, packet bytes)
pub(crate) fn packets(data: &[u8]) -> Vec<(usize, u32, Vec<u8>)> {
    let mut out = Vec::new();
    if data.len() < 24 {
        return out;
    }
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    if magic == 0x0a0d0d0a {
        // pcapng
        let mut off = 0;
        let mut le = true;
        let mut link_types = Vec::new();
        let mut n = 0;
        while off + 12 <= data.len() {
            let rd32 = |b: &[u8], le: bool| {
                let a: [u8; 4] = b[..4].try_into().unwrap();
                if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }
            };
            let btype_raw = &data[off..off + 4];
            if btype_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
                le = data[off + 8..off + 12] == [0x4d, 0x3c, 0x2b, 0x1a];
                link_types.clear();
            }
            let btype = rd32(btype_raw, le);
            let blen = rd32(&data[off + 4..], le) as usize;
            if blen < 12 || off + blen > data.len() {
                break;
            }
            let body = &data[off + 8..off + blen - 4];
            match btype {
                1 => {
                    let lt = if le {
                        u16::from_le_bytes([body[0], body[1]])
                    } else {
                        u16::from_be_bytes([body[0], body[1]])
                    };
                    link_types.push(u32::from(lt));
                }
                6 => {
                    n += 1;
                    let iface = rd32(body, le) as usize;
                    let caplen = rd32(&body[12..], le) as usize;
                    let pkt = body[20..20 + caplen].to_vec();
                    out.push((n, *link_types.get(iface).unwrap_or(&1), pkt));
                }
                3 => {
                    n += 1;
                    let pkt = body[4..].to_vec();
                    out.push((n, *link_types.first().unwrap_or(&1), pkt));
                }
                2 => {
                    n += 1;
                    let iface = usize::from(if le {
                        u16::from_le_bytes([body[0], body[1]])
                    } else {
                        u16::from_be_bytes([body[0], body[1]])
                    });
                    let caplen = rd32(&body[12..], le) as usize;
                    out.push((n, *link_types.get(iface).unwrap_or(&1), body[20..20 + caplen].to_vec()));
                }
                _ => {}
            }
            off += blen;
        }
    } else {
        let le = matches!(magic, 0xa1b2c3d4 | 0xa1b23c4d);
        let rd32 = |b: &[u8]| {
            let a: [u8; 4] = b[..4].try_into().unwrap();
            if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }
        };
        let link = rd32(&data[20..]);
        let mut off = 24;
        let mut n = 0;
        while off + 16 <= data.len() {
            let caplen = rd32(&data[off + 8..]) as usize;
            if off + 16 + caplen > data.len() {
                break;
            }
            n += 1;
            out.push((n, link, data[off + 16..off + 16 + caplen].to_vec()));
            off += 16 + caplen;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FlowKey {
    pub(crate) src: Vec<u8>,
    pub(crate) sport: u16,
    pub(crate) dst: Vec<u8>,
    pub(crate) dport: u16,
}

struct Segment {
    frame: usize,
    seq: u32,
    syn: bool,
    payload: Vec<u8>,
}

fn tcp_of(link: u32, pkt: &[u8]) -> Option<(FlowKey, Segment)> {
    let ip = match link {
        1 => {
            let mut et = u16::from_be_bytes([pkt[12], pkt[13]]);
            let mut off = 14;
            while et == 0x8100 {
                et = u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]);
                off += 4;
            }
            if et != 0x0800 && et != 0x86dd {
                return None;
            }
            &pkt[off..]
        }
        113 => &pkt[16..],
        276 => &pkt[20..],
        0 => &pkt[4..],
        101 | 228 | 229 => pkt,
        _ => return None,
    };
    let (src, dst, l4, proto) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
            (ip[12..16].to_vec(), ip[16..20].to_vec(), &ip[ihl..total], ip[9])
        }
        6 => {
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            (ip[8..24].to_vec(), ip[24..40].to_vec(), &ip[40..(40 + plen).min(ip.len())], ip[6])
        }
        _ => return None,
    };
    if proto != 6 || l4.len() < 20 {
        return None;
    }
    let sport = u16::from_be_bytes([l4[0], l4[1]]);
    let dport = u16::from_be_bytes([l4[2], l4[3]]);
    let seq = u32::from_be_bytes(l4[4..8].try_into().unwrap());
    let doff = usize::from(l4[12] >> 4) * 4;
    let syn = l4[13] & 0x02 != 0;
    let payload = l4.get(doff..)?.to_vec();
    Some((FlowKey { src, sport, dst, dport }, Segment { frame: 0, seq, syn, payload }))
}

/// A reassembled TCP byte stream of one direction, with the frame number where each byte arrived.
pub(crate) struct Stream {
    pub(crate) data: Vec<u8>,
    pub(crate) frame_of: Vec<usize>,
}

pub(crate) fn tcp_streams(name: &str) -> Vec<Stream> {
    let data = read_capture(name);
    let mut flows: BTreeMap<FlowKey, Vec<Segment>> = BTreeMap::new();
    for (n, link, pkt) in packets(&data) {
        if let Some((key, mut seg)) = tcp_of(link, &pkt) {
            seg.frame = n;
            flows.entry(key).or_default().push(seg);
        }
    }
    let mut out = Vec::new();
    for (_key, segs) in flows {
        let base = match segs.iter().find(|s| s.syn) {
            Some(s) => s.seq.wrapping_add(1),
            None => match segs.iter().find(|s| !s.payload.is_empty()) {
                Some(s) => s.seq,
                None => continue,
            },
        };
        let mut parts: Vec<(u32, usize, &[u8])> = segs
            .iter()
            .filter(|s| !s.payload.is_empty() && !s.syn)
            .map(|s| (s.seq.wrapping_sub(base), s.frame, &s.payload[..]))
            .filter(|(rel, _, _)| *rel < 0x8000_0000)
            .collect();
        parts.sort_by_key(|p| (p.0, p.1));
        let mut data = Vec::new();
        let mut frame_of = Vec::new();
        for (rel, frame, payload) in parts {
            let rel = rel as usize;
            if rel > data.len() {
                break; // gap: stop the stream here
            }
            let skip = data.len() - rel;
            if skip < payload.len() {
                data.extend_from_slice(&payload[skip..]);
                frame_of.resize(data.len(), frame);
            }
        }
        if !data.is_empty() {
            out.push(Stream { data, frame_of });
        }
    }
    out
}

/// A framed DCE/RPC PDU from a capture.
pub(crate) struct CapturedPdu {
    /// Frame number of the packet holding the last byte of the PDU (tshark's numbering).
    pub(crate) frame: usize,
    pub(crate) bytes: Vec<u8>,
}

/// All DCE/RPC PDUs framed from every TCP stream that starts like a connection-oriented DCE/RPC stream.
pub(crate) fn dcerpc_pdus(name: &str) -> Vec<CapturedPdu> {
    let mut out = Vec::new();
    for s in tcp_streams(name) {
        let d = &s.data;
        if d.len() < 16 || d[0] != 5 || d[1] > 1 || !matches!(d[2], 0 | 2 | 3 | 11..=19) {
            continue;
        }
        let mut off = 0;
        while off + 16 <= d.len() {
            let Ok(Some(h)) = dcom_pdu::peek_header(&d[off..]) else { break };
            let len = usize::from(h.frag_len);
            if off + len > d.len() {
                break;
            }
            out.push(CapturedPdu { frame: s.frame_of[off + len - 1], bytes: d[off..off + len].to_vec() });
            off += len;
        }
    }
    out.sort_by_key(|p| p.frame);
    out
}

//! Hand-built captures: file formats, link types, TCP reassembly corner cases and SMB pipes.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use dcom_capture::{
    Capture, CaptureErrorKind, FileFormat, FileId, Gap, Limits, RoleSource, SmbVersion, Timestamp, WarningKind,
};

// ---------- builders ----------

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const RST: u8 = 0x04;

const C: [u8; 4] = [10, 0, 0, 1];
const S: [u8; 4] = [10, 0, 0, 2];

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sport.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend(seq.to_be_bytes());
    t.extend(ack.to_be_bytes());
    t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend(payload);
    t
}

fn ipv4_frag(src: [u8; 4], dst: [u8; 4], id: u16, frag: u16, body: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend(u16::try_from(20 + body.len()).unwrap().to_be_bytes());
    ip.extend(id.to_be_bytes());
    ip.extend(frag.to_be_bytes());
    ip.extend([64, 6, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    ip.extend(body);
    ip
}

fn ipv4(src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
    ipv4_frag(src, dst, 1, 0x4000, body)
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    e.extend(ethertype.to_be_bytes());
    e.extend(payload);
    e
}

/// Ethernet/IPv4/TCP from C to S (`c2s`) or back.
fn pkt(c2s: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    pkt_ports(c2s, 50000, 135, seq, ack, flags, payload)
}

fn pkt_ports(c2s: bool, cport: u16, sport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    if c2s {
        eth(0x0800, &ipv4(C, S, &tcp(cport, sport, seq, ack, flags, payload)))
    } else {
        eth(0x0800, &ipv4(S, C, &tcp(sport, cport, seq, ack, flags, payload)))
    }
}

/// A pcap file: records are (seconds, fraction, data).
fn pcap(big: bool, nano: bool, link: u32, records: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend(w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend(w16(2));
    f.extend(w16(4));
    f.extend(w32(0));
    f.extend(w32(0));
    f.extend(w32(65535));
    f.extend(w32(link));
    for (s, frac, d) in records {
        f.extend(w32(*s));
        f.extend(w32(*frac));
        f.extend(w32(u32::try_from(d.len()).unwrap()));
        f.extend(w32(u32::try_from(d.len()).unwrap()));
        f.extend(d);
    }
    f
}

fn simple_pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let recs: Vec<(u32, u32, Vec<u8>)> =
        frames.iter().enumerate().map(|(i, d)| (1000 + u32::try_from(i).unwrap(), 0, d.clone())).collect();
    pcap(false, false, 1, &recs)
}

fn parse(bytes: &[u8]) -> Capture {
    Capture::parse(bytes, &Limits::default()).unwrap()
}

struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new() -> Self {
        Self { big: false, out: Vec::new() }
    }
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }
    fn block(&mut self, ty: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let total = u32::try_from(body.len() + 12).unwrap();
        let (a, b) = (self.w32(ty), self.w32(total));
        self.out.extend(a);
        self.out.extend(b);
        self.out.extend(&body);
        self.out.extend(b);
    }
    fn shb(&mut self, big: bool) {
        self.big = big;
        let mut body = self.w32(0x1a2b_3c4d).to_vec();
        body.extend(self.w16(1));
        body.extend(self.w16(0));
        body.extend((-1i64).to_le_bytes());
        self.block(0x0a0d_0d0a, &body);
    }
    fn idb(&mut self, link: u16, tsresol: Option<u8>) {
        let mut body = self.w16(link).to_vec();
        body.extend(self.w16(0));
        body.extend(self.w32(0));
        if let Some(r) = tsresol {
            body.extend(self.w16(9));
            body.extend(self.w16(1));
            body.extend([r, 0, 0, 0]);
            body.extend([0, 0, 0, 0]);
        }
        self.block(1, &body);
    }
    fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) {
        let mut body = self.w32(iface).to_vec();
        body.extend(self.w32(u32::try_from(ts >> 32).unwrap()));
        body.extend(self.w32(u32::try_from(ts & 0xffff_ffff).unwrap()));
        body.extend(self.w32(u32::try_from(data.len()).unwrap()));
        body.extend(self.w32(u32::try_from(data.len()).unwrap()));
        body.extend(data);
        self.block(6, &body);
    }
    fn spb(&mut self, data: &[u8]) {
        let mut body = self.w32(u32::try_from(data.len()).unwrap()).to_vec();
        body.extend(data);
        self.block(3, &body);
    }
}

// ---------- file formats ----------

#[test]
fn pcap_byte_orders_and_resolutions_agree() {
    let d = pkt(true, 1, 0, PSH_ACK, b"abc");
    let le = parse(&pcap(false, false, 1, &[(10, 250_000, d.clone())]));
    let be = parse(&pcap(true, true, 1, &[(10, 250_000_000, d.clone())]));
    assert_eq!(le.format, FileFormat::Pcap { big_endian: false, nanosecond: false });
    assert_eq!(be.format, FileFormat::Pcap { big_endian: true, nanosecond: true });
    for c in [&le, &be] {
        assert_eq!(c.frames.len(), 1);
        assert_eq!(c.frames[0].number, 1);
        assert_eq!(c.frames[0].timestamp, Timestamp::new(10, 250_000_000));
        assert_eq!(c.frames[0].data, d);
        assert_eq!(c.frames[0].link_type, 1);
    }
}

#[test]
fn pcap_truncated_last_record_keeps_the_rest() {
    let mut f = simple_pcap(&[pkt(true, 1, 0, PSH_ACK, b"one"), pkt(true, 4, 0, PSH_ACK, b"two")]);
    f.truncate(f.len() - 3);
    let c = parse(&f);
    assert_eq!(c.frames.len(), 1);
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].kind, WarningKind::TruncatedRecord);
    assert_eq!(c.warnings[0].offset, Some(24 + 16 + u64::try_from(c.frames[0].data.len()).unwrap()));
}

#[test]
fn unknown_and_short_files_are_errors() {
    assert_eq!(Capture::parse(b"abc", &Limits::default()).unwrap_err().kind, CaptureErrorKind::TooShort);
    assert_eq!(Capture::parse(b"hello world", &Limits::default()).unwrap_err().kind, CaptureErrorKind::UnknownFormat);
    let mut ng = Ng::new();
    ng.shb(false);
    ng.out[8] = 0x99;
    assert_eq!(Capture::parse(&ng.out, &Limits::default()).unwrap_err().kind, CaptureErrorKind::BadByteOrderMagic);
}

#[test]
fn gzip_is_detected_and_capped() {
    use std::io::Write;
    let plain = simple_pcap(&[pkt(true, 1, 0, PSH_ACK, b"zip")]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).unwrap();
    let gz = enc.finish().unwrap();
    let c = parse(&gz);
    assert!(c.gzip);
    assert_eq!(c.frames.len(), 1);
    let small = Limits { max_decompressed: 40, ..Limits::default() };
    assert_eq!(Capture::parse(&gz, &small).unwrap_err().kind, CaptureErrorKind::DecompressedTooLarge);
    assert_eq!(Capture::parse(&gz[..gz.len() / 2], &Limits::default()).unwrap_err().kind, CaptureErrorKind::Gzip);
}

#[test]
fn pcapng_sections_interfaces_and_block_kinds() {
    let a = pkt(true, 1, 0, PSH_ACK, b"first");
    let mut ng = Ng::new();
    ng.shb(false);
    ng.idb(1, Some(9)); // nanoseconds
    ng.epb(0, 5_000_000_123, &a);
    ng.block(5, &[0; 8]); // interface statistics: skipped, not a frame
    // Second section, big-endian, Linux SLL, microsecond default.
    ng.shb(true);
    ng.idb(113, None);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend(ipv4(S, C, &tcp(135, 50000, 1, 6, PSH_ACK, b"second")));
    ng.epb(0, 7_000_001, &sll);
    ng.spb(&sll);
    ng.epb(3, 0, &sll); // unknown interface: still a numbered frame
    let c = parse(&ng.out);
    assert_eq!(c.format, FileFormat::Pcapng);
    let numbers: Vec<u32> = c.frames.iter().map(|f| f.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(c.frames[0].timestamp, Timestamp::new(5, 123));
    assert_eq!(c.frames[1].timestamp, Timestamp::new(7, 1000));
    assert_eq!(c.frames[1].link_type, 113);
    assert_eq!(c.frames[2].data, sll);
    assert_eq!(c.frames[3].link_type, u32::MAX);
    assert!(c.warnings.iter().any(|w| w.kind == WarningKind::UnknownInterface && w.frame == Some(4)));
    let streams = c.tcp_streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].frames, [1, 2, 3]);
    assert_eq!(streams[0].c2s.segments[0].data, b"first");
    assert_eq!(streams[0].s2c.segments[0].data, b"second");
}

#[test]
fn pcapng_truncated_block_is_a_warning() {
    let mut ng = Ng::new();
    ng.shb(false);
    ng.idb(1, None);
    ng.epb(0, 1, &pkt(true, 1, 0, PSH_ACK, b"ok"));
    ng.epb(0, 2, &pkt(true, 3, 0, PSH_ACK, b"cut"));
    let len = ng.out.len();
    ng.out.truncate(len - 10);
    let c = parse(&ng.out);
    assert_eq!(c.frames.len(), 1);
    assert_eq!(c.warnings[0].kind, WarningKind::TruncatedRecord);
}

// ---------- link types ----------

#[test]
fn link_types_reach_tcp() {
    let seg = tcp(50000, 135, 100, 0, PSH_ACK, b"payload");
    let ip = ipv4(C, S, &seg);
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend(&ip);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend([0u8; 18]);
    sll2.extend(&ip);
    let mut vlan = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x05, 0x88, 0xa8, 0x00, 0x07, 0x08, 0x00];
    vlan.extend(&ip);
    let mut padded = eth(0x0800, &ip);
    padded.extend([0xee; 6]); // Ethernet padding beyond the IPv4 total length
    let mut v6 = vec![0x60, 0, 0, 0];
    v6.extend(u16::try_from(seg.len()).unwrap().to_be_bytes());
    v6.extend([6, 64]);
    v6.extend([0u8; 15]);
    v6.push(1);
    v6.extend([0u8; 15]);
    v6.push(2);
    v6.extend(&seg);
    for (link, frame) in
        [(0, null), (101, ip.clone()), (228, ip.clone()), (276, sll2), (1, vlan), (1, padded), (229, v6)]
    {
        let c = parse(&pcap(false, false, link, &[(1, 0, frame)]));
        let r = c.reassemble();
        assert!(r.warnings.is_empty(), "link {link}: {:?}", r.warnings);
        assert_eq!(r.streams.len(), 1, "link {link}");
        assert_eq!(r.streams[0].c2s.segments[0].data, b"payload", "link {link}");
        assert_eq!(r.streams[0].server.port(), 135);
    }
    let c = parse(&pcap(false, false, 147, &[(1, 0, ip)]));
    assert_eq!(c.reassemble().warnings[0].kind, WarningKind::UnsupportedLinkType);
}

#[test]
fn ipv4_fragments_are_reassembled_in_the_completing_frame() {
    let seg = tcp(50000, 135, 1, 0, PSH_ACK, &[7u8; 40]);
    let (a, b) = seg.split_at(24);
    let frames = [
        eth(0x0800, &ipv4_frag(C, S, 9, 3, b)), // offset 24 = 3 * 8, last fragment
        eth(0x0800, &ipv4(S, C, &tcp(135, 50000, 1, 1, ACK, b""))),
        eth(0x0800, &ipv4_frag(C, S, 9, 0x2000, a)), // first, more fragments
    ];
    let c = parse(&simple_pcap(&frames));
    let s = c.tcp_streams();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].frames, [2, 3]);
    assert_eq!(s[0].c2s.segments[0].data, vec![7u8; 40]);
    assert_eq!(s[0].c2s.frame_of(0).unwrap().number, 3);
}

// ---------- TCP reassembly ----------

#[test]
fn handshake_out_of_order_retransmission_and_gap() {
    let isn = 1000u32;
    let frames = [
        pkt(true, isn, 0, SYN, b""),                      // 1
        pkt(false, 5000, isn + 1, SYN | ACK, b""),        // 2
        pkt(true, isn + 1, 5001, ACK, b""),               // 3
        pkt(true, isn + 5, 5001, PSH_ACK, b"EFGH"),       // 4: out of order
        pkt(true, isn + 1, 5001, PSH_ACK, b"ABCD"),       // 5
        pkt(true, isn + 3, 5001, PSH_ACK, b"xxxxxxIJ"),   // 6: overlap, first copy wins for CDEFGH
        pkt(true, isn + 20, 5001, PSH_ACK, b"after-gap"), // 7: bytes 11..19 missing
        pkt(false, 5001, isn + 29, PSH_ACK, b"reply"),    // 8
        pkt(true, isn + 29, 5006, FIN_ACK, b""),          // 9
    ];
    let c = parse(&simple_pcap(&frames));
    let s = &c.tcp_streams()[0];
    assert!(s.syn_seen);
    assert_eq!(s.roles, RoleSource::Syn);
    assert!(s.closed);
    assert_eq!(s.client.port(), 50000);
    assert_eq!(s.c2s.segments.len(), 2);
    assert_eq!(s.c2s.segments[0].start, 0);
    assert_eq!(s.c2s.segments[0].data, b"ABCDEFGHIJ");
    assert_eq!(s.c2s.segments[1].start, 19);
    assert_eq!(s.c2s.gaps, [Gap { offset: 10, len: 9, after_frame: Some(6) }]);
    let frame_at = |o| s.c2s.frame_of(o).unwrap().number;
    assert_eq!([frame_at(0), frame_at(3), frame_at(4), frame_at(7), frame_at(8), frame_at(19)], [5, 5, 4, 4, 6, 7]);
    assert_eq!(s.c2s.frame_for_range(0, 4).unwrap().number, 5);
    assert_eq!(s.c2s.frame_for_range(0, 8).unwrap().number, 5); // completed by frame 5
    assert!(s.c2s.frame_for_range(8, 20).is_none());
    assert_eq!(s.c2s.frame_of(0).unwrap().timestamp, Timestamp::new(1004, 0));
    assert_eq!(s.s2c.segments[0].data, b"reply");
}

#[test]
fn sequence_wrap_around() {
    let isn = u32::MAX - 3;
    let frames = [
        pkt(true, isn, 0, SYN, b""),
        pkt(true, isn.wrapping_add(1), 1, PSH_ACK, b"abc"),
        pkt(true, isn.wrapping_add(7), 1, PSH_ACK, b"ghi"), // after the wrap, out of order
        pkt(true, isn.wrapping_add(4), 1, PSH_ACK, b"def"), // spans the wrap
    ];
    let s = &parse(&simple_pcap(&frames)).tcp_streams()[0];
    assert_eq!(s.c2s.segments.len(), 1);
    assert_eq!(s.c2s.segments[0].data, b"abcdefghi");
    assert!(s.c2s.gaps.is_empty());
    assert_eq!(s.c2s.frame_of(6).unwrap().number, 3);
}

#[test]
fn reused_four_tuple_gets_a_new_stream_index() {
    let frames = [
        pkt(true, 100, 0, SYN, b""),                 // 1 stream 0
        pkt(true, 101, 1, PSH_ACK, b"first"),        // 2
        pkt_ports(true, 50001, 445, 7, 0, SYN, b""), // 3 stream 1
        pkt(true, 106, 1, FIN_ACK, b""),             // 4
        pkt(false, 1, 107, RST, b""),                // 5
        pkt(true, 100, 0, SYN, b""),                 // 6 SYN retransmission: same stream 0
        pkt(true, 9000, 0, SYN, b""),                // 7 new ISN: stream 2
        pkt(false, 77, 9001, SYN | ACK, b""),        // 8
        pkt(true, 9001, 78, PSH_ACK, b"second"),     // 9
    ];
    let s = parse(&simple_pcap(&frames)).tcp_streams();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].frames, [1, 2, 4, 5, 6]);
    assert_eq!(s[1].frames, [3]);
    assert_eq!(s[2].index, 2);
    assert_eq!(s[2].frames, [7, 8, 9]);
    assert_eq!(s[0].c2s.segments[0].data, b"first");
    assert_eq!(s[2].c2s.segments[0].data, b"second");
}

#[test]
fn mid_stream_start_uses_lowest_sequence_and_port_heuristic() {
    let frames = [
        pkt(false, 5000, 77, PSH_ACK, b"response"), // server -> client first
        pkt(true, 80, 5008, PSH_ACK, b"later"),
        pkt(true, 70, 5008, PSH_ACK, b"0123456789"), // earlier bytes arriving late
    ];
    let mut s = parse(&simple_pcap(&frames)).tcp_streams().remove(0);
    assert!(!s.syn_seen);
    assert_eq!(s.roles, RoleSource::WellKnownPort);
    assert_eq!(s.server.port(), 135);
    assert_eq!(s.c2s.segments[0].data, b"0123456789later");
    assert_eq!(s.c2s.frame_of(0).unwrap().number, 3);
    assert_eq!(s.c2s.frame_of(10).unwrap().number, 2);
    assert_eq!(s.c2s.frame_for_range(0, 15).unwrap().number, 3);
    assert!(s.set_server_port(50000));
    assert_eq!(s.roles, RoleSource::Caller);
    assert_eq!(s.c2s.segments[0].data, b"response");
    assert!(!s.set_server_port(1));
}

#[test]
fn flow_limits_are_warnings() {
    let frames =
        [pkt(true, 1, 0, PSH_ACK, b"aaaa"), pkt(true, 5, 0, PSH_ACK, b"bbbb"), pkt(true, 9, 0, PSH_ACK, b"cccc")];
    let limits = Limits { max_flow_bytes: 8, ..Limits::default() };
    let c = Capture::parse(&simple_pcap(&frames), &limits).unwrap();
    let r = c.reassemble();
    assert_eq!(r.streams[0].c2s.byte_count(), 8);
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].kind, WarningKind::FlowLimit);
    let limits = Limits { max_streams: 1, ..Limits::default() };
    let frames = [pkt_ports(true, 1, 2, 1, 0, SYN, b""), pkt_ports(true, 3, 4, 1, 0, SYN, b"")];
    let r = Capture::parse(&simple_pcap(&frames), &limits).unwrap().reassemble();
    assert_eq!(r.streams.len(), 1);
    assert_eq!(r.warnings[0].kind, WarningKind::TooManyStreams);
}

// ---------- SMB ----------

fn nbss(msgs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = msgs.concat();
    let mut out = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn smb2_hdr(cmd: u16, msg_id: u64, response: bool, status: u32, tree: u32) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B', 64, 0, 0, 0];
    h.extend(status.to_le_bytes());
    h.extend(cmd.to_le_bytes());
    h.extend(1u16.to_le_bytes());
    h.extend(u32::from(response).to_le_bytes());
    h.extend(0u32.to_le_bytes()); // NextCommand
    h.extend(msg_id.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(tree.to_le_bytes());
    h.extend(0x55u64.to_le_bytes());
    h.extend([0u8; 16]);
    h
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

const FID: [u8; 16] = [1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0];

fn smb2_create_req(msg_id: u64, name: &str) -> Vec<u8> {
    let mut m = smb2_hdr(5, msg_id, false, 0, 1);
    let mut b = vec![0u8; 56];
    b[0] = 57;
    let n = utf16(name);
    b[44..46].copy_from_slice(&120u16.to_le_bytes());
    b[46..48].copy_from_slice(&u16::try_from(n.len()).unwrap().to_le_bytes());
    m.extend(b);
    m.extend(n);
    m
}

fn smb2_create_resp(msg_id: u64) -> Vec<u8> {
    let mut m = smb2_hdr(5, msg_id, true, 0, 1);
    let mut b = vec![0u8; 88];
    b[0] = 89;
    b[64..80].copy_from_slice(&FID);
    m.extend(b);
    m
}

fn smb2_write(msg_id: u64, data: &[u8]) -> Vec<u8> {
    let mut m = smb2_hdr(9, msg_id, false, 0, 1);
    let mut b = vec![0u8; 48];
    b[0] = 49;
    b[2..4].copy_from_slice(&112u16.to_le_bytes());
    b[4..8].copy_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    b[16..32].copy_from_slice(&FID);
    m.extend(b);
    m.extend(data);
    m
}

fn smb2_read_req(msg_id: u64) -> Vec<u8> {
    let mut m = smb2_hdr(8, msg_id, false, 0, 1);
    let mut b = vec![0u8; 49];
    b[0] = 49;
    b[16..32].copy_from_slice(&FID);
    m.extend(b);
    m
}

fn smb2_read_resp(msg_id: u64, status: u32, data: &[u8]) -> Vec<u8> {
    let mut m = smb2_hdr(8, msg_id, true, status, 1);
    let mut b = vec![0u8; 16];
    b[0] = 17;
    b[2] = 80;
    b[4..8].copy_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    m.extend(b);
    m.extend(data);
    m
}

fn smb2_ioctl(msg_id: u64, response: bool, data: &[u8]) -> Vec<u8> {
    let mut m = smb2_hdr(0x0b, msg_id, response, 0, 1);
    let mut b = vec![0u8; 56];
    b[0] = if response { 49 } else { 57 };
    b[4..8].copy_from_slice(&0x0011_c017u32.to_le_bytes());
    b[8..24].copy_from_slice(&FID);
    let len = u32::try_from(data.len()).unwrap().to_le_bytes();
    if response {
        b[32..36].copy_from_slice(&120u32.to_le_bytes());
        b[36..40].copy_from_slice(&len);
    } else {
        b[24..28].copy_from_slice(&120u32.to_le_bytes());
        b[28..32].copy_from_slice(&len);
    }
    m.extend(b);
    m.extend(data);
    m
}

/// Chains SMB2 messages with NextCommand (8-byte aligned).
fn compound(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut m = m.clone();
        if i + 1 < msgs.len() {
            while !m.len().is_multiple_of(8) {
                m.push(0);
            }
            let n = u32::try_from(m.len()).unwrap();
            m[20..24].copy_from_slice(&n.to_le_bytes());
        }
        out.extend(m);
    }
    out
}

/// A TCP conversation on port 445 from a list of (client-to-server?, payload).
fn conversation(port: u16, msgs: &[(bool, Vec<u8>)]) -> Vec<Vec<u8>> {
    let (mut cs, mut ss) = (1u32, 1u32);
    msgs.iter()
        .map(|(c2s, p)| {
            let seq = if *c2s { &mut cs } else { &mut ss };
            let f = pkt_ports(*c2s, 50000, port, *seq, 1, PSH_ACK, p);
            *seq += u32::try_from(p.len()).unwrap();
            f
        })
        .collect()
}

#[test]
fn smb2_pipe_with_compound_and_ioctl() {
    let mut two = nbss(&[smb2_hdr(9, 2, true, 0, 1), vec![17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    two.extend(nbss(&[smb2_read_resp(3, 0x8000_0005, b"world")]));
    let mut transform = vec![0xfd, b'S', b'M', b'B'];
    transform.extend([0u8; 60]);
    let msgs = [
        (true, nbss(&[smb2_create_req(1, "srvsvc")])), // 1
        (false, nbss(&[smb2_create_resp(1)])),         // 2
        (true, nbss(&[compound(&[smb2_write(2, b"hello"), smb2_read_req(3)])])), // 3
        (false, two),                                  // 4: two NBSS messages
        (true, nbss(&[smb2_ioctl(4, false, b"ping")])), // 5
        (false, nbss(&[smb2_ioctl(4, true, b"pong")])), // 6
        (true, nbss(&[transform])),                    // 7
    ];
    let c = parse(&simple_pcap(&conversation(445, &msgs)));
    let streams = c.tcp_streams();
    let x = c.extract_pipes(&streams);
    assert_eq!(x.pipes.len(), 1, "{:?}", x.warnings);
    let p = &x.pipes[0];
    assert_eq!(p.version, SmbVersion::Smb2);
    assert_eq!(p.file_id, FileId::Smb2(FID));
    assert_eq!(p.name.as_deref(), Some("srvsvc"));
    assert_eq!(p.first_frame, 3);
    assert_eq!(p.c2s.segments[0].data, b"helloping");
    assert_eq!(p.s2c.segments[0].data, b"worldpong");
    assert_eq!(p.c2s.frame_of(4).unwrap().number, 3);
    assert_eq!(p.c2s.frame_of(5).unwrap().number, 5);
    assert_eq!(p.s2c.frame_of(0).unwrap().number, 4);
    assert_eq!(p.s2c.frame_of(8).unwrap().number, 6);
    assert_eq!(x.warnings.len(), 1);
    assert_eq!(x.warnings[0].kind, WarningKind::EncryptedSmb);
}

#[test]
fn smb2_message_split_over_segments_and_resync_after_gap() {
    let w1 = nbss(&[smb2_write(1, b"AAAA")]);
    let w3 = nbss(&[smb2_write(3, b"CCCC")]);
    let (a, b) = w1.split_at(30);
    let mut frames =
        vec![pkt_ports(true, 50000, 445, 1, 1, PSH_ACK, a), pkt_ports(true, 50000, 445, 31, 1, PSH_ACK, b)];
    let next = 1 + u32::try_from(w1.len()).unwrap();
    // A whole message (seq next..next+len) is lost; then garbage tail of an unknown message, then w3.
    let lost = u32::try_from(nbss(&[smb2_write(2, b"BBBB")]).len()).unwrap();
    let mut tail = vec![0x42u8; 7];
    tail.extend(&w3);
    frames.push(pkt_ports(true, 50000, 445, next + lost, 1, PSH_ACK, &tail));
    let c = parse(&simple_pcap(&frames));
    let x = c.extract_pipes(&c.tcp_streams());
    let p = &x.pipes[0];
    assert_eq!(p.c2s.segments.len(), 2);
    assert_eq!(p.c2s.segments[0].data, b"AAAA");
    assert_eq!(p.c2s.segments[1].data, b"CCCC");
    assert_eq!(p.c2s.gaps, [Gap { offset: 4, len: 0, after_frame: Some(2) }]);
    assert_eq!(p.c2s.frame_of(0).unwrap().number, 2); // the frame completing the SMB message
    assert_eq!(p.c2s.frame_of(4).unwrap().number, 3);
    assert!(x.warnings.iter().any(|w| w.kind == WarningKind::SmbResync));
}

fn smb1(cmd: u8, response: bool, mid: u16, blocks: &[u8]) -> Vec<u8> {
    let mut h = vec![0xff, b'S', b'M', b'B', cmd, 0, 0, 0, 0, if response { 0x80 } else { 0 }, 0x01, 0xc8];
    h.extend([0u8; 12]);
    h.extend(7u16.to_le_bytes()); // TID
    h.extend(0x1234u16.to_le_bytes()); // PID
    h.extend(100u16.to_le_bytes()); // UID
    h.extend(mid.to_le_bytes());
    h.extend(blocks);
    h
}

#[test]
fn smb1_andx_chain_and_transact_nmpipe() {
    // NT_CREATE_ANDX request: 24 words, name "\pipe1" in Unicode (pad byte: bytes start at odd offset 83).
    let mut create = vec![24u8];
    let mut w = vec![0u8; 48];
    w[0] = 0xff;
    w[5..7].copy_from_slice(&14u16.to_le_bytes());
    create.extend(&w);
    let name = utf16("\\pipe1\0");
    create.extend(u16::try_from(name.len() + 1).unwrap().to_le_bytes());
    create.push(0);
    create.extend(&name);
    let create_req = smb1(0xa2, false, 1, &create);
    let mut resp = vec![34u8];
    let mut w = vec![0u8; 68];
    w[0] = 0xff;
    w[5..7].copy_from_slice(&0x4001u16.to_le_bytes());
    resp.extend(&w);
    resp.extend([0, 0]);
    let create_resp = smb1(0xa2, true, 1, &resp);
    // WRITE_ANDX (14 words) chained to READ_ANDX (12 words).
    let data = b"request-bytes";
    let write_block_len = 1 + 28 + 2;
    let read_off = 32 + write_block_len + data.len();
    let mut chain = vec![14u8];
    let mut w = vec![0u8; 28];
    w[0] = 0x2e;
    w[2..4].copy_from_slice(&u16::try_from(read_off).unwrap().to_le_bytes());
    w[4..6].copy_from_slice(&0x4001u16.to_le_bytes());
    w[20..22].copy_from_slice(&u16::try_from(data.len()).unwrap().to_le_bytes());
    w[22..24].copy_from_slice(&u16::try_from(32 + write_block_len).unwrap().to_le_bytes());
    chain.extend(&w);
    chain.extend(u16::try_from(data.len()).unwrap().to_le_bytes());
    chain.extend(data);
    let mut r = vec![0u8; 24];
    r[0] = 0xff;
    r[4..6].copy_from_slice(&0x4001u16.to_le_bytes());
    chain.push(12);
    chain.extend(&r);
    chain.extend([0, 0]);
    let write_read = smb1(0x2f, false, 2, &chain);
    // Response: WRITE_ANDX (6 words) chained to READ_ANDX response (12 words) with data.
    let reply = b"reply-bytes";
    let read_resp_off = 32 + 1 + 12 + 2;
    let data_off = read_resp_off + 1 + 24 + 2;
    let mut chain = vec![6u8];
    let mut w = vec![0u8; 12];
    w[0] = 0x2e;
    w[2..4].copy_from_slice(&u16::try_from(read_resp_off).unwrap().to_le_bytes());
    chain.extend(&w);
    chain.extend([0, 0]);
    chain.push(12);
    let mut r = vec![0u8; 24];
    r[0] = 0xff;
    r[10..12].copy_from_slice(&u16::try_from(reply.len()).unwrap().to_le_bytes());
    r[12..14].copy_from_slice(&u16::try_from(data_off).unwrap().to_le_bytes());
    chain.extend(&r);
    chain.extend(u16::try_from(reply.len()).unwrap().to_le_bytes());
    chain.extend(reply);
    let write_read_resp = smb1(0x2f, true, 2, &chain);
    // TRANSACTION TransactNmPipe on the same FID.
    let tdata = b"trans-in";
    let setup_words = 2;
    let words_len = (14 + setup_words) * 2;
    let name = b"\\PIPE\\\0";
    let toff = 32 + 1 + words_len + 2 + name.len();
    let mut t = vec![u8::try_from(14 + setup_words).unwrap()];
    let mut w = vec![0u8; words_len];
    w[22..24].copy_from_slice(&u16::try_from(tdata.len()).unwrap().to_le_bytes());
    w[24..26].copy_from_slice(&u16::try_from(toff).unwrap().to_le_bytes());
    w[26] = 2;
    w[28..30].copy_from_slice(&0x0026u16.to_le_bytes());
    w[30..32].copy_from_slice(&0x4001u16.to_le_bytes());
    t.extend(&w);
    t.extend(u16::try_from(name.len() + tdata.len()).unwrap().to_le_bytes());
    t.extend(name);
    t.extend(tdata);
    let trans = smb1(0x25, false, 3, &t);
    let tout = b"trans-out";
    let rwords = 10 * 2;
    let roff = 32 + 1 + rwords + 2;
    let mut t = vec![10u8];
    let mut w = vec![0u8; rwords];
    w[12..14].copy_from_slice(&u16::try_from(tout.len()).unwrap().to_le_bytes());
    w[14..16].copy_from_slice(&u16::try_from(roff).unwrap().to_le_bytes());
    t.extend(&w);
    t.extend(u16::try_from(tout.len()).unwrap().to_le_bytes());
    t.extend(tout);
    let trans_resp = smb1(0x25, true, 3, &t);
    let msgs = [
        (true, nbss(&[create_req])),
        (false, nbss(&[create_resp])),
        (true, nbss(&[write_read])),
        (false, nbss(&[write_read_resp])),
        (true, nbss(&[trans])),
        (false, nbss(&[trans_resp])),
    ];
    let c = parse(&simple_pcap(&conversation(139, &msgs)));
    let x = c.extract_pipes(&c.tcp_streams());
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
    assert_eq!(x.pipes.len(), 1);
    let p = &x.pipes[0];
    assert_eq!(p.version, SmbVersion::Smb1);
    assert_eq!(p.file_id, FileId::Smb1(0x4001));
    assert_eq!(p.name.as_deref(), Some("\\pipe1"));
    assert_eq!(p.c2s.segments[0].data, b"request-bytestrans-in");
    assert_eq!(p.s2c.segments[0].data, b"reply-bytestrans-out");
    assert_eq!(p.s2c.frame_of(0).unwrap().number, 4);
    assert_eq!(p.s2c.frame_of(11).unwrap().number, 6);
}

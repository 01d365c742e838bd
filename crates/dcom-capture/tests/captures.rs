//! Every capture in `/work/shared/captures` (`../../../shared/captures` from this crate) against tshark 4.0
//! output checked in under `tests/data/` (see `tests/data/README.md` for how it was generated).

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions")]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use dcom_capture::{Capture, Flow, Limits, TcpStream};

const CAPTURES: &[&str] = &[
    "bind-ack-no-inband-null.pcap",
    "cs_window7-join_stream092.pcap",
    "dce_rpc_netlogon.pcapng",
    "dce_rpc_ntlm.pcapng",
    "dcerpc_msdrsr_cracknames.pcapng.gz",
    "dcerpc_msnrpc.pcapng.gz",
    "dcerpc_privacy_krb.pcapng.gz",
    "dcerpc_privacy_ntlm.pcapng.gz",
    "kerberos135_auth.pcapng",
    "lsarpc_retrieve_private_data.pcapng",
    "mapi.pcap",
    "netlogon_ntlm_privacy.pcapng",
    "ntlm-empty-av-sequence.pcap",
    "ntlm-unterminated-av-sequence.pcap",
    "samr_lookupnames.pcapng",
    "wmi_win32_process_create.pcapng",
];

fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures")
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn load(name: &str) -> Capture {
    let bytes = std::fs::read(captures_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    Capture::parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture(name: &str, kind: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data_dir().join(format!("{name}.{kind}.tsv"))).unwrap();
    text.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

/// (frame, tcp.stream, frag_len, ptype) of every DCE/RPC PDU.
type Pdu = (u32, u32, u16, u8);

/// Frames connection-oriented DCE/RPC PDUs (C706 12.6.1 common header: rpc_vers 5, minor 0/1, drep at 4,
/// frag_length at 8) from the start of every segment, the way a decoder would.
fn frame_pdus(flow: &Flow, stream: u32, out: &mut Vec<Pdu>) {
    for seg in &flow.segments {
        let d = &seg.data;
        let mut p = 0usize;
        while p + 16 <= d.len() {
            if d[p] != 5 || d[p + 1] > 1 {
                break;
            }
            let le = d[p + 4] & 0xf0 == 0x10;
            let raw = [d[p + 8], d[p + 9]];
            let len = if le { u16::from_le_bytes(raw) } else { u16::from_be_bytes(raw) };
            if len < 16 || p + usize::from(len) > d.len() {
                break;
            }
            let start = seg.start + p as u64;
            let frame = flow.frame_for_range(start, start + u64::from(len)).expect("pdu bytes present").number;
            out.push((frame, stream, len, d[p + 2]));
            p += usize::from(len);
        }
    }
}

fn our_pdus(cap: &Capture, streams: &[TcpStream]) -> Vec<Pdu> {
    let mut out = Vec::new();
    let pipes = cap.extract_pipes(streams);
    let smb: Vec<u32> = pipes.pipes.iter().map(|p| p.tcp_stream).collect();
    for s in streams {
        if !smb.contains(&s.index) {
            frame_pdus(&s.c2s, s.index, &mut out);
            frame_pdus(&s.s2c, s.index, &mut out);
        }
    }
    for p in &pipes.pipes {
        frame_pdus(&p.c2s, p.tcp_stream, &mut out);
        frame_pdus(&p.s2c, p.tcp_stream, &mut out);
    }
    out.sort_unstable();
    out
}

fn tshark_pdus(name: &str) -> Vec<Pdu> {
    let mut out = Vec::new();
    for row in fixture(name, "dcerpc") {
        let frame: u32 = row[0].parse().unwrap();
        let stream: u32 = row[1].parse().unwrap();
        for (len, ty) in row[2].split(',').zip(row[3].split(',')) {
            out.push((frame, stream, len.parse().unwrap(), ty.parse().unwrap()));
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn tcp_stream_indices_match_tshark() {
    for name in CAPTURES {
        let cap = load(name);
        let expected = fixture(name, "streams");
        assert_eq!(cap.frames.len(), expected.len(), "{name}: frame count");
        let streams = cap.tcp_streams();
        let mut ours: HashMap<u32, u32> = HashMap::new();
        for s in &streams {
            for &f in &s.frames {
                assert!(ours.insert(f, s.index).is_none(), "{name}: frame {f} in two streams");
            }
        }
        for (i, row) in expected.iter().enumerate() {
            let frame: u32 = row[0].parse().unwrap();
            assert_eq!(frame as usize, i + 1);
            let want: Option<u32> = row.get(1).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap());
            assert_eq!(ours.get(&frame).copied(), want, "{name}: frame {frame} tcp.stream");
        }
        let max = expected.iter().filter_map(|r| r.get(1).filter(|s| !s.is_empty())).count();
        assert!(max == 0 || !streams.is_empty());
    }
}

#[test]
fn every_tshark_dcerpc_pdu_is_frameable() {
    let mut report = BTreeMap::new();
    for name in CAPTURES {
        let cap = load(name);
        let streams = cap.tcp_streams();
        let ours = our_pdus(&cap, &streams);
        let want = tshark_pdus(name);
        let missing: Vec<&Pdu> = want.iter().filter(|p| !ours.contains(p)).collect();
        let extra: Vec<&Pdu> = ours.iter().filter(|p| !want.contains(p)).collect();
        report.insert(*name, (want.len(), missing.len(), extra.len()));
        assert!(missing.is_empty(), "{name}: tshark PDUs we cannot frame (frame, stream, len, type): {missing:?}");
        assert!(extra.is_empty(), "{name}: PDUs tshark does not report: {extra:?}");
    }
    println!("{report:#?}");
}

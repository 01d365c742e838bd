//! Property tests: reassembly against a model, pcap encode -> parse -> encode, and no panics on hostile input.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use dcom_capture::{Capture, Frame, Limits, fuzz_parse};
use proptest::prelude::*;

fn frame(c2s: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) =
        if c2s { ([10, 0, 0, 1], [10, 0, 0, 2], 50000u16, 135u16) } else { ([10, 0, 0, 2], [10, 0, 0, 1], 135, 50000) };
    let mut t = Vec::new();
    t.extend(sp.to_be_bytes());
    t.extend(dp.to_be_bytes());
    t.extend(seq.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend(payload);
    let mut ip = vec![0x45, 0];
    ip.extend(u16::try_from(20 + t.len()).unwrap().to_be_bytes());
    ip.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    ip.extend(t);
    let mut e = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    e.extend(ip);
    e
}

/// Encodes frames as a pcap file.
fn encode_pcap(big: bool, nano: bool, link: u32, frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend(w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend(w16(2));
    f.extend(w16(4));
    f.extend(w32(0));
    f.extend(w32(0));
    f.extend(w32(262_144));
    f.extend(w32(link));
    for (s, frac, d) in frames {
        f.extend(w32(*s));
        f.extend(w32(*frac));
        f.extend(w32(u32::try_from(d.len()).unwrap()));
        f.extend(w32(u32::try_from(d.len()).unwrap()));
        f.extend(d);
    }
    f
}

fn decode_back(big: bool, nano: bool, link: u32, frames: &[Frame]) -> Vec<u8> {
    let recs: Vec<(u32, u32, Vec<u8>)> = frames
        .iter()
        .map(|f| {
            let frac = if nano { f.timestamp.nanos } else { f.timestamp.nanos / 1000 };
            (u32::try_from(f.timestamp.secs).unwrap(), frac, f.data.clone())
        })
        .collect();
    encode_pcap(big, nano, link, &recs)
}

proptest! {
    #[test]
    fn pcap_round_trip(big: bool, nano: bool, link in 0u32..300,
                       recs in prop::collection::vec((any::<u32>(), 0u32..1_000_000, prop::collection::vec(any::<u8>(), 0..200)), 0..20)) {
        let recs: Vec<(u32, u32, Vec<u8>)> = recs.into_iter().map(|(s, f, d)| (s >> 1, f, d)).collect();
        let bytes = encode_pcap(big, nano, link, &recs);
        let cap = Capture::parse(&bytes, &Limits::default()).unwrap();
        prop_assert!(cap.warnings.is_empty());
        prop_assert_eq!(cap.frames.len(), recs.len());
        for (i, (f, r)) in cap.frames.iter().zip(&recs).enumerate() {
            prop_assert_eq!(f.number as usize, i + 1);
            prop_assert_eq!(&f.data, &r.2);
            prop_assert_eq!(f.link_type, link & 0xffff);
        }
        prop_assert_eq!(decode_back(big, nano, link, &cap.frames), bytes);
    }

    /// A byte stream cut into segments, some duplicated, delivered in random order, some dropped, with an
    /// arbitrary initial sequence number (so wrap-around happens): the flow must equal the model.
    #[test]
    fn reassembly_matches_model(data in prop::collection::vec(any::<u8>(), 1..600),
                                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
                                order in any::<prop::sample::Index>(),
                                dups in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
                                drop in prop::collection::vec(any::<prop::sample::Index>(), 0..2),
                                isn in prop_oneof![any::<u32>(), (u32::MAX - 700)..=u32::MAX]) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len())).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        points.dedup();
        let mut pieces: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        let dropped: Vec<usize> = drop.iter().map(|d| d.index(pieces.len())).filter(|&i| i != 0).collect();
        let kept: Vec<(usize, usize)> = pieces.iter().enumerate().filter(|(i, _)| !dropped.contains(i)).map(|(_, p)| *p).collect();
        pieces = kept.clone();
        for d in &dups {
            pieces.push(kept[d.index(kept.len())]);
        }
        // Rotate by a random amount to get out-of-order delivery.
        let r = order.index(pieces.len());
        pieces.rotate_left(r);
        let mut frames = vec![frame(true, isn, 0x02, b"")];
        for (a, b) in &pieces {
            let seq = isn.wrapping_add(1).wrapping_add(u32::try_from(*a).unwrap());
            frames.push(frame(true, seq, 0x18, &data[*a..*b]));
        }
        let recs: Vec<(u32, u32, Vec<u8>)> = frames.into_iter().map(|f| (1, 0, f)).collect();
        let cap = Capture::parse(&encode_pcap(false, false, 1, &recs), &Limits::default()).unwrap();
        let streams = cap.tcp_streams();
        prop_assert_eq!(streams.len(), 1);
        let flow = &streams[0].c2s;
        // Model: for each byte, present? and the first frame (file order) that carried it.
        for off in 0..data.len() {
            let first = pieces.iter().position(|(a, b)| *a <= off && off < *b).map(|i| u32::try_from(i).unwrap() + 2);
            let got = flow.frame_of(off as u64).map(|f| f.number);
            prop_assert_eq!(got, first, "offset {}", off);
            if first.is_some() {
                prop_assert_eq!(flow.bytes(off as u64, off as u64 + 1), Some(&data[off..=off]));
            }
        }
        // Segments and gaps tile [0, len) in order.
        let mut cursor = 0u64;
        let mut gaps = flow.gaps.iter();
        for seg in &flow.segments {
            if seg.start != cursor {
                let g = gaps.next().unwrap();
                prop_assert_eq!(g.offset, cursor);
                prop_assert_eq!(g.offset + g.len, seg.start);
            }
            prop_assert!(!seg.data.is_empty());
            cursor = seg.end();
        }
        prop_assert!(gaps.next().is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_parse(&data);
        let mut with_magic = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        with_magic.extend(&data);
        fuzz_parse(&with_magic);
        let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
        ng.extend([0xff; 8]);
        ng.extend([28, 0, 0, 0]);
        ng.extend(&data);
        fuzz_parse(&ng);
    }
}

/// Mutations of real captures (SMB1, SMB2 and plain TCP) must never panic.
#[test]
fn mutated_real_captures_never_panic() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures");
    for name in
        ["lsarpc_retrieve_private_data.pcapng", "samr_lookupnames.pcapng", "bind-ack-no-inband-null.pcap", "mapi.pcap"]
    {
        let orig = std::fs::read(dir.join(name)).unwrap();
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let rounds = if name == "mapi.pcap" { 20 } else { 300 };
        for _ in 0..rounds {
            let mut m = orig.clone();
            for _ in 0..(1 + next() % 8) {
                let i = usize::try_from(next() % m.len() as u64).unwrap();
                m[i] = u8::try_from(next() & 0xff).unwrap();
            }
            if next() % 4 == 0 {
                let cut = usize::try_from(next() % m.len() as u64).unwrap();
                m.truncate(cut);
            }
            fuzz_parse(&m);
        }
    }
}

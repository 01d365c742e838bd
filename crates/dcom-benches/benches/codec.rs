//! `cargo bench -p dcom-benches`: PDU and NDR decoding and encoding, each beside a plain copy of the same
//! bytes measured in the same run (the ratio is what carries over between machines).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use dcom_benches::{measure, report};
use dcom_ndr::{ConfArray, DataRep, NdrContext, Syntax};
use dcom_pdu::{Pdu, PduBody, PfcFlags, Request};

const BUDGET: Duration = Duration::from_millis(1500);

fn memcpy_baseline(len: usize) -> dcom_benches::Measurement {
    let src = vec![0x5au8; len];
    let mut dst = vec![0u8; len];
    measure(len, BUDGET, || {
        dst.copy_from_slice(black_box(&src));
        dst[0]
    })
}

fn pdu_benches() {
    // A 5,840-byte request fragment (the max_xmit_frag Windows negotiates), stub not copied on decode.
    let frag_len = 5840usize;
    let stub = Bytes::from(vec![0xabu8; frag_len - 24]);
    let body = PduBody::Request(Request { alloc_hint: 65536, p_cont_id: 1, opnum: 4, object: None, stub });
    let pdu = Pdu::new(7, PfcFlags::FIRST_FRAG, body);
    let wire = Bytes::from(pdu.to_bytes().expect("encodes"));
    assert_eq!(wire.len(), frag_len);
    let base = memcpy_baseline(frag_len);
    eprintln!("--- PDU codec ({frag_len}-byte request fragment) ---");
    report("memcpy of the same bytes (baseline)", base, base);
    let decode = measure(frag_len, BUDGET, || Pdu::decode(black_box(wire.clone())).expect("decodes"));
    report("Pdu::decode (request, 5840 B)", decode, base);
    let mut out = Vec::with_capacity(frag_len);
    let encode = measure(frag_len, BUDGET, || {
        out.clear();
        black_box(&pdu).encode(&mut out).expect("encodes");
        out.len()
    });
    report("Pdu::encode into a reused buffer (request, 5840 B)", encode, base);
    eprintln!("goal: decode < 200 ns: {}", if decode.ns_per_iter < 200.0 { "met" } else { "NOT met" });
}

fn ndr_benches() {
    let len = 1 << 20;
    let ctx = NdrContext::new(Syntax::Ndr20, DataRep::default());
    let value = ConfArray(vec![0x42u8; len]);
    let wire = dcom_ndr::encode(&value, ctx).expect("encodes");
    let base = memcpy_baseline(len);
    eprintln!("--- NDR engine (1 MiB conformant byte array) ---");
    report("memcpy of the same bytes (baseline)", base, base);
    let decode = measure(len, BUDGET, || dcom_ndr::decode::<ConfArray<u8>>(black_box(&wire), ctx).expect("decodes"));
    report("decode ConfArray<u8> (1 MiB, NDR20)", decode, base);
    let mut buf = Vec::with_capacity(wire.len());
    let encode = measure(len, BUDGET, || {
        buf = dcom_ndr::encode_into(black_box(&value), ctx, std::mem::take(&mut buf)).expect("encodes");
        buf.clear();
    });
    report("encode ConfArray<u8> (1 MiB, NDR20, reused buffer)", encode, base);
    let ratio = base.ns_per_iter / decode.ns_per_iter;
    eprintln!("goal: decode >= 0.8x memcpy: {} ({ratio:.2}x)", if ratio >= 0.8 { "met" } else { "NOT met" });
}

fn epm_benches() {
    use dcom_epm::{EptMapOut, Tower, Twr};
    use dcom_ndr::{ConfVarArray, ContextHandle};
    // An ept_map answer with 4 towers, as Windows sends for a multi-homed server.
    let iface = (uuid::Uuid::from_u128(0x12345678_1234_abcd_ef00_01234567cffb), 1, 0);
    let ndr = (uuid::Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860), 2, 0);
    let towers: Vec<Option<Twr>> = (0..4u8)
        .map(|i| {
            let t = Tower::ncacn_ip_tcp(iface, ndr, 49664 + u16::from(i), std::net::Ipv4Addr::new(10, 0, 0, i));
            Some(Twr::from_tower(&t).expect("encodes"))
        })
        .collect();
    let value = EptMapOut {
        entry_handle: ContextHandle::default(),
        num_towers: 4,
        towers: ConfVarArray::with_max(towers, 4),
        status: 0,
    };
    let ctx = NdrContext::new(Syntax::Ndr20, DataRep::default());
    let wire = dcom_ndr::encode(&value, ctx).expect("encodes");
    let base = memcpy_baseline(wire.len());
    eprintln!("--- NDR engine (ept_map response with 4 towers, {} bytes) ---", wire.len());
    report("memcpy of the same bytes (baseline)", base, base);
    let decode = measure(wire.len(), BUDGET, || dcom_ndr::decode::<EptMapOut>(black_box(&wire), ctx).expect("decodes"));
    report("decode EptMapOut (NDR20)", decode, base);
    let floors = measure(wire.len(), BUDGET, || {
        let v = dcom_ndr::decode::<EptMapOut>(black_box(&wire), ctx).expect("decodes");
        v.towers.items.iter().flatten().map(|t| t.tower().map_or(0, |t| t.floors.len())).sum::<usize>()
    });
    report("decode EptMapOut + every tower's floors", floors, base);
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; run quickly then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    eprintln!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.to_owned()))
            .unwrap_or_default()
    );
    pdu_benches();
    ndr_benches();
    epm_benches();
}

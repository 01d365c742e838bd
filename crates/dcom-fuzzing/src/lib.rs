//! Oracles for the fuzz targets in `fuzz/`.
//!
//! Each oracle takes arbitrary bytes, runs one decoder over them, and panics only when an invariant of ours
//! breaks (a decoded value that does not re-encode to the same bytes, say): that is how an oracle reports a bug
//! to the fuzzing engine. A decoder itself must never panic. The same oracles replay every committed crash in
//! `fuzz/regressions/` from `cargo test` (see `tests/regressions.rs`).

/// One connection-oriented PDU: decode, and re-encode byte for byte what decodes.
pub fn pdu_decode(data: &[u8]) {
    dcom_pdu::fuzz::fuzz_decode(data);
}

/// A stream of PDUs through the framer and the fragment reassembler.
pub fn pdu_stream(data: &[u8]) {
    dcom_pdu::fuzz::fuzz_stream(data);
}

/// A capture file through the capture reader: pcap/pcapng/gzip, link layers, TCP and SMB reassembly.
pub fn capture_parse(data: &[u8]) {
    dcom_capture::fuzz_parse(data);
}

/// A capture file through the whole `dcomctl decode` pipeline, text and JSON rendering included.
pub fn capture_decode(data: &[u8]) {
    if let Ok(report) = dcom_decode::decode_capture(data, &dcom_decode::Options::default()) {
        for r in &report.records {
            let _ = dcom_decode::pdu_line(r);
            let _ = dcom_decode::pdu_json(r);
        }
    }
}

/// Names and oracles of every target, for the regression replay.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("pdu_decode", pdu_decode),
    ("pdu_stream", pdu_stream),
    ("capture_parse", capture_parse),
    ("capture_decode", capture_decode),
];

//! Helpers shared by the capture tests: load a gzip capture, cut a flow into PDUs, take a handshake token.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

use std::io::Read;

use dcom_pdu::{Pdu, peek_header};

/// [MS-RPCE 2.2.2.13.1] verification trailer signature.
pub(crate) const VT_SIGNATURE: [u8; 8] = [0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71];

/// A gzip-compressed capture, relative to the crate.
pub(crate) fn load(capture: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(capture);
    let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
    out
}

/// The PDUs of one gap-free flow.
pub(crate) fn frames(flow: &dcom_capture::Flow) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for seg in &flow.segments {
        assert_eq!(usize::try_from(seg.start).unwrap(), bytes.len(), "gap in flow");
        bytes.extend_from_slice(&seg.data);
    }
    let mut out = Vec::new();
    let mut off = 0;
    while let Some(h) = peek_header(&bytes[off..]).unwrap() {
        let end = off + usize::from(h.frag_len);
        out.push(bytes[off..end].to_vec());
        off = end;
    }
    assert_eq!(off, bytes.len());
    out
}

/// The auth value of a handshake PDU.
pub(crate) fn auth_value(frame: &[u8]) -> Vec<u8> {
    let pdu = Pdu::decode(bytes::Bytes::copy_from_slice(frame)).unwrap();
    pdu.auth.expect("handshake pdu carries a verifier").auth_value.to_vec()
}

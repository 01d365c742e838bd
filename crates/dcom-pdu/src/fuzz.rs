//! Oracles for fuzz targets: they panic when an invariant breaks, which is how they report a bug to the fuzzing
//! engine. Decoding itself never panics.

use bytes::Bytes;

use crate::body::PduBody;
use crate::frag::{Fragment, Reassembler, ReassemblyLimits};
use crate::header::peek_header;
use crate::pdu::Pdu;
use crate::vt::VerificationTrailer;

/// Decodes `data` as one PDU (first `frag_length` bytes); whatever decodes must re-encode to identical bytes,
/// and any verification trailer found in a request stub must re-encode identically too.
#[expect(clippy::panic, reason = "a fuzz oracle reports a broken invariant by panicking")]
pub fn fuzz_decode(data: &[u8]) {
    let Ok(Some(header)) = peek_header(data) else {
        return;
    };
    let Some(frame) = data.get(..usize::from(header.frag_len)) else {
        return;
    };
    let frame = Bytes::copy_from_slice(frame);
    let Ok(pdu) = Pdu::decode(frame.clone()) else {
        return;
    };
    if pdu.size() != frame.len() {
        panic!("size() {} differs from the decoded frame length {}", pdu.size(), frame.len());
    }
    if pdu.encoded_header().ok() != Some(pdu.header) {
        panic!("the header to encode differs from the decoded header");
    }
    match pdu.to_bytes() {
        Ok(bytes) if bytes == frame[..] => {}
        Ok(_) => panic!("re-encoding differs from the decoded frame"),
        Err(e) => panic!("re-encoding a decoded pdu failed: {e}"),
    }
    if let PduBody::Request(req) = &pdu.body
        && let Ok(Some((offset, vt))) = VerificationTrailer::find(&req.stub, pdu.header.byte_order())
    {
        let mut out = Vec::new();
        if vt.encode(&mut out, pdu.header.byte_order()).is_err() || req.stub.get(offset..) != Some(&out[..]) {
            panic!("verification trailer does not re-encode identically");
        }
    }
}

/// Frames `data` as a stream of PDUs and reassembles request/response fragments with small limits.
pub fn fuzz_stream(data: &[u8]) {
    let mut rest = data;
    let mut reassembler = Reassembler::new(ReassemblyLimits { max_stub_size: 64 * 1024, max_fragments: 16 });
    while let Ok(Some(header)) = peek_header(rest) {
        let len = usize::from(header.frag_len);
        let Some(frame) = rest.get(..len) else { return };
        fuzz_decode(frame);
        if let Ok(pdu) = Pdu::decode(Bytes::copy_from_slice(frame))
            && let Ok(fragment) = Fragment::from_pdu(&pdu)
        {
            let _ = reassembler.push(fragment);
        }
        rest = rest.get(len..).unwrap_or_default();
    }
}

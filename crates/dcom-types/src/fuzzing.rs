//! Oracles for fuzz targets: decode arbitrary bytes, re-encode whatever decodes, and panic only when a round-trip
//! invariant breaks (never on malformed input).

use dcom_ndr::{DataRep, Ndr, NdrContext, NdrWriter, Syntax, codec::decode_prefix_with_ids, encode_top_level};

use crate::activation::ActivationPropertiesBlob;
use crate::objref::{DualStringArray, ObjRef};
use crate::orpc::{OrpcThat, OrpcThis};

/// OBJREF ([MS-DCOM 2.2.18]): decode -> encode gives the input back; the decoded bindings never panic.
pub fn objref(data: &[u8]) {
    if let Ok(o) = ObjRef::decode(data) {
        let back = o.encode().unwrap_or_else(|e| invariant(&format!("decoded OBJREF does not encode: {e}")));
        check(back == data, "OBJREF round trip differs");
        if let Some(d) = o.resolver_bindings() {
            let _ = d.string_bindings();
            let _ = d.security_bindings();
        }
        if let Some(Ok(info)) = o.error_info() {
            let enc = info.encode().unwrap_or_else(|e| invariant(&format!("error info does not encode: {e}")));
            check(crate::orpc::CustomErrorInfo::decode(&enc).ok().as_ref() == Some(&info), "error info round trip");
        }
    }
}

/// DUALSTRINGARRAY, packet version and NDR form: decode -> encode gives the input back; rebuilding from the
/// parsed bindings gives the same bindings.
pub fn dualstringarray(data: &[u8]) {
    if let Ok(d) = DualStringArray::decode_packet(data) {
        let mut back = Vec::new();
        d.encode_packet(&mut back).unwrap_or_else(|e| invariant(&format!("decoded array does not encode: {e}")));
        check(back == data, "DUALSTRINGARRAY round trip differs");
        if let (Ok(s), Ok(sec)) = (d.string_bindings(), d.security_bindings())
            && let Ok(rebuilt) = DualStringArray::new(&s, &sec)
        {
            check(rebuilt.string_bindings().ok() == Some(s), "rebuilt string bindings differ");
            check(rebuilt.security_bindings().ok() == Some(sec), "rebuilt security bindings differ");
        }
    }
    ndr_roundtrip::<DualStringArray>(data);
}

/// ActivationPropertiesBlob ([MS-DCOM 2.2.22]): decode -> encode gives the input back except for padding (the
/// content of alignment gaps and of the padding of object buffers, which we write as zeros), so the re-encoding
/// must decode to the same value and re-encode to itself.
pub fn activation_blob(data: &[u8]) {
    if let Ok(b) = ActivationPropertiesBlob::decode(data) {
        let enc = b.encode().unwrap_or_else(|e| invariant(&format!("decoded blob does not encode: {e}")));
        let again = ActivationPropertiesBlob::decode(&enc)
            .unwrap_or_else(|e| invariant(&format!("re-encoded blob does not decode: {e}")));
        check(again == b, "blob round trip changed the value");
        check(again.encode().ok().as_deref() == Some(enc.as_slice()), "blob encoding is not stable");
    }
}

/// ORPCTHIS in NDR 2.0 (both byte orders) and NDR64.
pub fn orpcthis(data: &[u8]) {
    ndr_roundtrip::<OrpcThis>(data);
}

/// ORPCTHAT in NDR 2.0 (both byte orders) and NDR64.
pub fn orpcthat(data: &[u8]) {
    ndr_roundtrip::<OrpcThat>(data);
}

/// Decodes a prefix of `data` as `T`; re-encoding with the same referent ids must reproduce the bytes that were
/// read, apart from alignment padding, so it must decode to the same value.
fn ndr_roundtrip<T: Ndr + PartialEq + std::fmt::Debug>(data: &[u8]) {
    for ctx in [NdrContext::NDR20, NdrContext::new(Syntax::Ndr20, DataRep::BIG_ENDIAN), NdrContext::NDR64] {
        let Ok((v, used, ids)) = decode_prefix_with_ids::<T>(data, ctx) else { continue };
        let mut w = NdrWriter::new(ctx);
        w.replay_referent_ids(ids);
        let enc = encode_top_level(&v, &mut w).and_then(|()| w.finish());
        let enc = enc.unwrap_or_else(|e| invariant(&format!("decoded value does not encode: {e}")));
        check(enc.len() == used, "NDR re-encoding changed the length");
        let (again, _, _) = decode_prefix_with_ids::<T>(&enc, ctx)
            .unwrap_or_else(|e| invariant(&format!("re-encoded value does not decode: {e}")));
        check(again == v, "NDR round trip changed the value");
    }
}

fn check(ok: bool, what: &str) {
    if !ok {
        invariant(what);
    }
}

#[expect(clippy::panic, reason = "fuzz oracles report broken invariants by panicking")]
fn invariant(what: &str) -> ! {
    panic!("round-trip invariant broken: {what}")
}

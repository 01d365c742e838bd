//! ept_map request/response stubs from real captures, NDR20 and NDR64, byte-exact both ways.
//!
//! Sources (stub = TCP payload after the 24-byte request/response header):
//! - NDR20: `dcerpc_msnrpc.pcapng.gz` frames 3 (request) and 4 (response).
//! - NDR64: `dcerpc_privacy_ntlm.pcapng.gz` frames 6 (request) and 7 (response).

use dcom_ndr::{
    ConfArray, ConfVarArray, ContextHandle, NdrContext, NdrErrorKind, NdrReader, NdrWriter, decode, decode_top_level,
    encode_top_level,
};
use uuid::Uuid;

/// `twr_t` (C706 appendix L / [MS-RPCE 2.2.1.2.1]).
#[derive(Debug, Clone, PartialEq, Eq, Default, dcom_ndr::Ndr)]
#[ndr(name = "twr_t")]
struct Twr {
    tower_length: u32,
    #[ndr(size_is = "tower_length")]
    tower_octet_string: ConfArray<u8>,
}

/// `ept_map` [in] parameters (C706 appendix O).
#[derive(Debug, Clone, PartialEq, Eq, dcom_ndr::Ndr)]
#[ndr(params, name = "ept_map_in")]
struct EptMapIn {
    object: Option<Uuid>,
    map_tower: Option<Twr>,
    entry_handle: ContextHandle,
    max_towers: u32,
}

/// `ept_map` [out] parameters.
#[derive(Debug, Clone, PartialEq, Eq, dcom_ndr::Ndr)]
#[ndr(params, name = "ept_map_out")]
struct EptMapOut {
    entry_handle: ContextHandle,
    num_towers: u32,
    #[ndr(length_is = "num_towers")]
    towers: ConfVarArray<Option<Twr>>,
    status: u32,
}

const NDR20_REQ: &str = "0100000000000000000000000000000000000000020000004b0000004b000000050013000d785634123412cdabef0001234567cffb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200008701000904000000000000000000000000000000000000000000000000000004000000";
const NDR20_RESP: &str = "00000000000000000000000000000000000000000200000004000000000000000200000003000000040000004b0000004b000000050013000d785634123412cdabef0001234567cffb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200c20c0100090400c0a87a11004b0000004b000000050013000d785634123412cdabef0001234567cffb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200c2030100090400c0a87a110000000000";
const NDR64_REQ: &str = "01000000000000000000000000000000000000000000000002000000000000004b000000000000004b000000050013000d81bb7a364498f135ad3298f03800100302000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b02000000010007020000870100090400c0a8006400000000000000000000000000000000000000000004000000";
const NDR64_RESP: &str = "00000000000000000000000000000000000000000100000004000000000000000000000000000000010000000000000003000000000000004b000000000000004b000000050013000d81bb7a364498f135ad3298f03800100302000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200c20f0100090400c0a800640000000000";

fn encode_with_ids<T: dcom_ndr::Ndr>(v: &T, ctx: NdrContext, first_id: u64) -> Vec<u8> {
    let mut w = NdrWriter::new(ctx);
    w.set_referent_ids(first_id, 1);
    encode_top_level(v, &mut w).expect("valid");
    w.finish().expect("valid")
}

fn check_request(hex_stub: &str, ctx: NdrContext, interface: Uuid, port: u16) {
    let bytes = hex::decode(hex_stub).expect("valid");
    let req: EptMapIn = decode(&bytes, ctx).expect("valid");
    assert_eq!(req.object, Some(Uuid::nil()));
    assert_eq!(req.max_towers, 4);
    assert!(req.entry_handle.is_null());
    let tower = req.map_tower.as_ref().expect("valid");
    assert_eq!(tower.tower_length, 75);
    assert_eq!(tower.tower_octet_string.len(), 75);
    // floor count 5, floor 1 = interface UUID (little-endian GUID bytes).
    assert_eq!(&tower.tower_octet_string[..2], &[5, 0]);
    assert_eq!(&tower.tower_octet_string[5..21], &interface.to_bytes_le());
    // floor 4: TCP port, big-endian.
    assert_eq!(&tower.tower_octet_string[64..66], &port.to_be_bytes());
    assert_eq!(encode_with_ids(&req, ctx, 1), bytes);
}

#[test]
fn ndr20_ept_map_request() {
    let netlogon = Uuid::parse_str("12345678-1234-abcd-ef00-01234567cffb").expect("valid");
    check_request(NDR20_REQ, NdrContext::NDR20, netlogon, 135);
}

#[test]
fn ndr64_ept_map_request() {
    let svcctl = Uuid::parse_str("367abb81-9844-35f1-ad32-98f038001003").expect("valid");
    check_request(NDR64_REQ, NdrContext::NDR64, svcctl, 135);
}

#[test]
fn ndr20_ept_map_response() {
    let bytes = hex::decode(NDR20_RESP).expect("valid");
    let resp: EptMapOut = decode(&bytes, NdrContext::NDR20).expect("valid");
    assert_eq!(resp.num_towers, 2);
    assert_eq!(resp.towers.max_count, 4);
    assert_eq!(resp.towers.items.len(), 2);
    let ports: Vec<u16> = resp
        .towers
        .items
        .iter()
        .map(|t| {
            let t = t.as_ref().expect("valid");
            u16::from_be_bytes([t.tower_octet_string[64], t.tower_octet_string[65]])
        })
        .collect();
    assert_eq!(ports, vec![49676, 49667]);
    assert_eq!(resp.status, 0);
    assert_eq!(encode_with_ids(&resp, NdrContext::NDR20, 3), bytes);
}

#[test]
fn ndr64_ept_map_response() {
    let bytes = hex::decode(NDR64_RESP).expect("valid");
    let resp: EptMapOut = decode(&bytes, NdrContext::NDR64).expect("valid");
    assert_eq!(resp.num_towers, 1);
    assert_eq!(resp.towers.max_count, 4);
    let t = resp.towers.items[0].as_ref().expect("valid");
    assert_eq!(u16::from_be_bytes([t.tower_octet_string[64], t.tower_octet_string[65]]), 49679);
    assert_eq!(encode_with_ids(&resp, NdrContext::NDR64, 3), bytes);
}

#[test]
fn ndr20_request_truncated_everywhere_fails_cleanly() {
    let bytes = hex::decode(NDR20_REQ).expect("valid");
    for n in 0..bytes.len() {
        let e = decode::<EptMapIn>(&bytes[..n], NdrContext::NDR20).unwrap_err();
        assert!(
            matches!(e.kind(), NdrErrorKind::UnexpectedEof { .. } | NdrErrorKind::CountTooLarge { .. }),
            "{n}: {e}"
        );
    }
}

#[test]
fn tower_length_mismatch_names_the_path() {
    let mut bytes = hex::decode(NDR20_REQ).expect("valid");
    // tower_length (offset 28) no longer matches the hoisted conformance (offset 24).
    bytes[28] = 0x4a;
    let e = decode::<EptMapIn>(&bytes, NdrContext::NDR20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::InconsistentCount { what: "size_is", expected: 74, actual: 75 }), "{e}");
    assert_eq!(e.path_string(), "ept_map_in.map_tower -> twr_t.tower_octet_string");
}

#[test]
fn huge_conformance_is_rejected_before_allocating() {
    let mut bytes = hex::decode(NDR20_REQ).expect("valid");
    bytes[24..28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let e = decode::<EptMapIn>(&bytes, NdrContext::NDR20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::CountTooLarge { count: 0xffff_fff0, .. }), "{e}");
    assert_eq!(e.offset(), 32);
    assert_eq!(e.path_string(), "ept_map_in.map_tower -> twr_t.tower_octet_string");
}

#[test]
fn response_reader_reports_position() {
    let bytes = hex::decode(NDR64_RESP).expect("valid");
    let mut r = NdrReader::new(&bytes, NdrContext::NDR64);
    let h: ContextHandle = decode_top_level(&mut r).expect("valid");
    assert!(h.is_null());
    assert_eq!(r.position(), 20);
    let n: u32 = decode_top_level(&mut r).expect("valid");
    assert_eq!(n, 1);
}

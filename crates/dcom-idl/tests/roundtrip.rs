//! Property tests (encode -> decode -> encode in every syntax), dispatch enums, attribute checks, and hostile
//! input: every truncation of every valid stub is an error, mutated and arbitrary bytes never panic.

use dcom_idl::common::{RpcSid, RpcUnicodeString};
use dcom_idl::{Direction, IdlErrorKind, Operation, dssetup, mgmt, rpcecho, samr, wkssvc};
use dcom_ndr::{ConfArray, ConfVarArray, Limits, NdrContext, NdrErrorKind, WString};
use proptest::prelude::*;
use proptest::strategy::Union;

use crate::common::{AnyPair, SYNTAXES, is_ndr64, pair_strategies, random_pairs, samples, uni_with_spare};

/// Decodes a stub of `opnum` of every interface through the dispatch enums; the result is discarded, the point
/// is that nothing panics.
fn decode_everywhere(opnum: u16, stub: &[u8], ctx: NdrContext) -> usize {
    let mut ok = 0;
    ok += usize::from(rpcecho::Request::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(rpcecho::Response::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(mgmt::Request::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(mgmt::Response::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(samr::Request::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(samr::Response::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(dssetup::Request::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(dssetup::Response::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(wkssvc::Request::decode(opnum, stub, ctx).is_ok());
    ok += usize::from(wkssvc::Response::decode(opnum, stub, ctx).is_ok());
    ok
}

/// Decodes `stub` as the request (or response) of the pair's operation through its interface's dispatch enum.
fn decode_as(p: &dyn AnyPair, request: bool, stub: &[u8], ctx: NdrContext) -> Result<(), String> {
    let op = p.opnum();
    let name = p.idl_name();
    let r = if name.starts_with("echo_") {
        if request {
            rpcecho::Request::decode(op, stub, ctx).map(drop)
        } else {
            rpcecho::Response::decode(op, stub, ctx).map(drop)
        }
    } else if name.starts_with("mgmt_") {
        if request {
            mgmt::Request::decode(op, stub, ctx).map(drop)
        } else {
            mgmt::Response::decode(op, stub, ctx).map(drop)
        }
    } else if name.starts_with("samr_") {
        if request {
            samr::Request::decode(op, stub, ctx).map(drop)
        } else {
            samr::Response::decode(op, stub, ctx).map(drop)
        }
    } else if name.starts_with("dssetup_") {
        if request {
            dssetup::Request::decode(op, stub, ctx).map(drop)
        } else {
            dssetup::Response::decode(op, stub, ctx).map(drop)
        }
    } else if request {
        wkssvc::Request::decode(op, stub, ctx).map(drop)
    } else {
        wkssvc::Response::decode(op, stub, ctx).map(drop)
    };
    r.map_err(|e| e.to_string())
}

/// Cut points of a stub: all of them for small stubs, a spread plus the last bytes for large ones.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 4096 { (0..len).collect() } else { (0..len).step_by(997).chain(len - 64..len).collect() }
}

#[test]
fn samples_roundtrip_in_every_syntax() {
    for p in samples() {
        for (name, ctx) in SYNTAXES {
            p.check_roundtrip(ctx).unwrap_or_else(|e| panic!("{p:?} {name}: {e}"));
            let (i, o) = p.encode(ctx);
            decode_as(p.as_ref(), true, &i, ctx).unwrap_or_else(|e| panic!("{p:?} {name}: {e}"));
            decode_as(p.as_ref(), false, &o, ctx).unwrap_or_else(|e| panic!("{p:?} {name}: {e}"));
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let mut pairs = samples();
    pairs.extend(random_pairs(8));
    let mut checked = 0usize;
    for p in &pairs {
        for (name, ctx) in SYNTAXES {
            let (i, o) = p.encode(ctx);
            for (request, stub) in [(true, &i), (false, &o)] {
                for cut in cuts(stub.len()) {
                    let r = decode_as(p.as_ref(), request, &stub[..cut], ctx);
                    assert!(r.is_err(), "{p:?} {name} request={request}: prefix of {cut}/{} bytes decoded", stub.len());
                    checked += 1;
                }
                // One extra byte is left over.
                let mut longer = stub.clone();
                longer.push(0);
                let e = decode_as(p.as_ref(), request, &longer, ctx).expect_err("trailing byte");
                assert!(e.contains("trailing"), "{e}");
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn large_counts_fail_before_allocating() {
    let ctx = NdrContext::NDR20;
    // echo_EchoData: len and conformance say 4 GiB, 4 bytes follow.
    let stub = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4];
    let e = rpcecho::EchoData::decode_in(&stub, ctx).expect_err("huge");
    match e.kind() {
        IdlErrorKind::Ndr(n) => assert!(matches!(n.kind(), NdrErrorKind::CountTooLarge { .. }), "{n}"),
        k => panic!("{k:?}"),
    }
    assert_eq!(e.offset(), Some(8));
    assert_eq!((e.interface(), e.opnum(), e.direction()), ("rpcecho", 1, Direction::Request));
    assert!(e.to_string().starts_with("rpcecho opnum 1 request: "), "{e}");
    // samr_EnumDomains: a SamArray whose entries claim 0x10000000 elements.
    let mut out = vec![0u8; 4];
    out.extend([0, 0, 2, 0, 0, 0, 0, 0x10, 4, 0, 2, 0, 0, 0, 0, 0x10]);
    out.extend([0u8; 64]);
    assert!(samr::EnumDomains::decode_out(&out, ctx).is_err());
    // The allocation limit applies across the whole stub.
    let small = NdrContext::NDR20.with_limits(Limits { max_alloc: 16, ..Limits::default() });
    let data = vec![7u8; 64];
    let stub = rpcecho::EchoData::encode_in(&rpcecho::EchoDataIn::new(data).expect("len"), ctx).expect("encode");
    assert!(rpcecho::EchoData::decode_in(&stub, small).is_err());
}

#[test]
fn deep_nesting_is_bounded() {
    // TestDoublePointer with limits of depth 1: the nested referent exceeds it.
    let v = rpcecho::TestDoublePointerIn { data: Some(Some(5)) };
    let stub = rpcecho::TestDoublePointer::encode_in(&v, NdrContext::NDR20).expect("encode");
    let shallow = NdrContext::NDR20.with_limits(Limits { max_depth: 1, ..Limits::default() });
    assert!(rpcecho::TestDoublePointer::decode_in(&stub, shallow).is_err());
    assert_eq!(rpcecho::TestDoublePointer::decode_in(&stub, NdrContext::NDR20).expect("decode"), v);
}

#[test]
fn inconsistent_values_are_refused() {
    let ctx = NdrContext::NDR20;
    // size_is(len) with a different array length.
    let bad = rpcecho::EchoDataIn { len: 5, in_data: ConfArray(vec![1, 2, 3]) };
    assert!(rpcecho::EchoData::encode_in(&bad, ctx).is_err());
    // switch_is(*foo1) disagreeing with the union arm.
    let e2 = rpcecho::EchoEnum2::default();
    let bad = rpcecho::TestEnumParams { foo1: rpcecho::EchoEnum1::Enum1, foo2: e2, foo3: rpcecho::EchoEnum3::E2(e2) };
    assert!(rpcecho::TestEnum::encode_in(&bad, ctx).is_err());
    // [range(0, 15)] SubAuthorityCount.
    let bad = RpcSid {
        revision: 1,
        sub_authority_count: 16,
        identifier_authority: [0; 6],
        sub_authority: ConfArray(vec![0; 16]),
    };
    let v = samr::LookupDomainOut { sid: Some(bad), result: 0 };
    assert!(samr::LookupDomain::encode_out(&v, ctx).is_err());
    assert!(RpcSid::new(5, &[0; 16]).is_none());
    assert!(RpcSid::new(1 << 48, &[]).is_none());
    // The same SID on the wire (count 16) is refused when decoding.
    let mut stub = hex::decode("00000200100000000110000000000005").expect("hex");
    stub.extend([0u8; 64]);
    stub.extend([0u8; 4]);
    assert!(samr::LookupDomain::decode_out(&stub, ctx).is_err());
    // size_is(MaximumLength/2), length_is(Length/2) checked.
    let bad = RpcUnicodeString { length: 10, maximum_length: 10, buffer: Some(ConfVarArray::new(vec![65; 3])) };
    let v = samr::LookupDomainIn { connect_handle: Default::default(), domain_name: bad };
    assert!(samr::LookupDomain::encode_in(&v, ctx).is_err());
    // Connect5 level_in must select the union arm.
    let v = samr::Connect5In {
        system_name: None,
        access_mask: 0,
        level_in: 2,
        info_in: samr::ConnectInfo::Info1(samr::ConnectInfo1::default()),
    };
    assert!(samr::Connect5::encode_in(&v, ctx).is_err());
    // A princ_name that does not fit its buffer.
    assert!(mgmt::InqPrincNameOut::new("abc", 3, 0).is_none());
    assert_eq!(mgmt::InqPrincNameOut::new("abc", 4, 0).expect("fits").name(), "abc");
}

#[test]
fn unknown_opnums_and_arms() {
    let ctx = NdrContext::NDR20;
    let e = samr::Request::decode(2, &[], ctx).expect_err("opnum 2 is not modelled");
    assert_eq!(e.kind(), &IdlErrorKind::UnknownOpnum);
    assert_eq!(e.offset(), None);
    assert_eq!(e.to_string(), "samr opnum 2 request: unknown operation");
    assert!(wkssvc::Response::decode(1, &[], ctx).is_err());
    // dssetup level 4 is not a DSROLE_PRIMARY_DOMAIN_INFO_LEVEL.
    assert!(dssetup::GetPrimaryDomainInformation::decode_in(&[4, 0], ctx).is_err());
    assert!(dssetup::GetPrimaryDomainInformation::decode_in(&[3, 0], ctx).is_ok());
    // echo_Info level 8 has no arm.
    assert!(rpcecho::TestCall2::decode_out(&[8, 0, 0, 0, 0, 0, 0, 0], ctx).is_err());
    // wkssvc's default arm: any other level decodes without data.
    let out = wkssvc::NetrWkstaGetInfo::decode_out(&[0x0f, 0x27, 0, 0, 0x7c, 0, 0, 0], ctx).expect("default arm");
    assert_eq!(out, wkssvc::NetrWkstaGetInfoOut { info: wkssvc::WkstaInfo::Other(9999), result: 124 });
    // The dispatch enums report their opnum and re-encode.
    let r = rpcecho::Request::decode(rpcecho::opnum::ADD_ONE, &[1, 0, 0, 0], ctx).expect("decode");
    assert_eq!(r, rpcecho::Request::AddOne(rpcecho::AddOneIn { in_data: 1 }));
    assert_eq!(r.opnum(), 0);
    assert_eq!(r.encode(ctx).expect("encode"), [1, 0, 0, 0]);
    let (r, used) = rpcecho::Response::decode_prefix(0, &[1, 0, 0, 0, 0xaa, 0xbb], ctx).expect("prefix");
    assert_eq!((r.opnum(), used), (0, 4));
    assert!(matches!(
        rpcecho::Response::decode(0, &[1, 0, 0, 0, 0xaa], ctx).expect_err("trailing").kind(),
        IdlErrorKind::TrailingBytes { used: 4, len: 5 }
    ));
    let e = rpcecho::Response::SinkData(rpcecho::SinkDataOut {});
    assert_eq!((e.opnum(), e.encode(ctx).expect("empty")), (2, vec![]));
}

#[test]
fn strings_with_spare_allocation_roundtrip() {
    // Windows sends MaximumLength > Length (see the capture vectors); Samba always sends them equal.
    for (name, ctx) in SYNTAXES {
        let v = samr::LookupDomainIn { connect_handle: Default::default(), domain_name: uni_with_spare("Builtin", 1) };
        let stub = samr::LookupDomain::encode_in(&v, ctx).expect("encode");
        assert_eq!(samr::LookupDomain::decode_in(&stub, ctx).expect("decode"), v, "{name}");
        let words = if is_ndr64(ctx) { 8 } else { 4 };
        // handle 20, (pad), length 2, size 2, (pad), pointer, max, offset, actual, 7 units
        let header = if is_ndr64(ctx) { 40 } else { 28 };
        assert_eq!(stub.len(), header + 3 * words + 14, "{name}");
    }
    assert_eq!(uni_with_spare("ab", 3).to_string_lossy(), "ab");
    assert_eq!(RpcUnicodeString::null().units(), &[] as &[u16]);
    assert!(RpcUnicodeString::new(&"x".repeat(32768)).is_none());
    assert_eq!(WString::from("x").0, [0x78]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn random_pairs_roundtrip(p in Union::new(pair_strategies())) {
        for (_, ctx) in SYNTAXES {
            prop_assert!(p.check_roundtrip(ctx).is_ok(), "{:?}: {:?}", p, p.check_roundtrip(ctx));
        }
    }

    #[test]
    fn mutated_stubs_never_panic(
        p in Union::new(pair_strategies()),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        syntax in 0usize..3,
    ) {
        let ctx = SYNTAXES[syntax].1;
        let (i, o) = p.encode(ctx);
        for (request, mut stub) in [(true, i), (false, o)] {
            if stub.is_empty() {
                continue;
            }
            for (at, x) in &flips {
                let k = at.index(stub.len());
                stub[k] ^= x | 1;
            }
            let _ = decode_as(p.as_ref(), request, &stub, ctx);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(stub in proptest::collection::vec(any::<u8>(), 0..256), opnum in 0u16..70) {
        for (_, ctx) in SYNTAXES {
            let _ = decode_everywhere(opnum, &stub, ctx);
        }
    }
}

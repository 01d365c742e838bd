//! Property tests: encode -> decode -> encode in NDR20/NDR64, little and big endian; decoding
//! arbitrary bytes never panics; type serialization v1.

use dcom_ndr::{
    ConfArray, ConfVarArray, ContextHandle, DataRep, Full, Limits, MInterfacePointer, Ndr, NdrContext, NdrErrorKind,
    NdrString, Ref, Syntax, TypeDeserializer, TypeSerializer, VarArray, WString, decode, decode_type_serialized,
    encode, encode_type_serialized,
};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "twr_t")]
struct Twr {
    len: u32,
    #[ndr(size_is = "len")]
    bytes: ConfArray<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
enum Kind {
    #[default]
    Zero,
    One,
    Big = 1000,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(switch_type = u16)]
enum Arm {
    #[ndr(case = 1)]
    Byte(u8),
    #[ndr(case = 2)]
    Hyper(i64),
    #[ndr(case = 3)]
    Tower(Option<Twr>),
    #[ndr(case = 4)]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
struct Record {
    a: u8,
    b: i16,
    c: u32,
    d: i64,
    flag: bool,
    kind: Kind,
    id: Uuid,
    handle: ContextHandle,
    fixed: [u16; 3],
    var: VarArray<u32, 4>,
    name: Option<WString>,
    ascii: Option<NdrString>,
    sel: u16,
    #[ndr(switch_is = "sel")]
    arm: Arm,
    towers: Option<ConfVarArray<Option<Twr>>>,
    itf: Option<MInterfacePointer>,
    full: Full<u32>,
    full_again: Full<u32>,
    r: Ref<Twr>,
    tail_len: u32,
    #[ndr(size_is = "tail_len")]
    tail: ConfArray<u16>,
}

fn twr() -> impl Strategy<Value = Twr> {
    proptest::collection::vec(any::<u8>(), 0..20)
        .prop_map(|b| Twr { len: u32::try_from(b.len()).expect("small"), bytes: ConfArray(b) })
}

fn arm() -> impl Strategy<Value = Arm> {
    prop_oneof![
        any::<u8>().prop_map(Arm::Byte),
        any::<i64>().prop_map(Arm::Hyper),
        proptest::option::of(twr()).prop_map(Arm::Tower),
        Just(Arm::Empty),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        (any::<u8>(), any::<i16>(), any::<u32>(), any::<i64>(), any::<bool>()),
        (
            prop_oneof![Just(Kind::Zero), Just(Kind::One), Just(Kind::Big)],
            any::<u128>(),
            any::<u32>(),
            any::<[u16; 3]>(),
        ),
        (0u64..2, proptest::collection::vec(any::<u32>(), 0..3)),
        (
            proptest::option::of(proptest::collection::vec(1u16.., 0..8)),
            proptest::option::of(proptest::collection::vec(1u8.., 0..8)),
        ),
        arm(),
        proptest::option::of(proptest::collection::vec(proptest::option::of(twr()), 0..3)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        (any::<u32>(), any::<bool>(), twr(), proptest::collection::vec(any::<u16>(), 0..6)),
    )
        .prop_map(
            |((a, b, c, d, flag), (kind, id, attrs, fixed), (off, var), (name, ascii), arm, towers, itf, rest)| {
                let (fv, alias, r, tail) = rest;
                let sel = arm_disc(&arm);
                Record {
                    a,
                    b,
                    c,
                    d,
                    flag,
                    kind,
                    id: Uuid::from_u128(id),
                    handle: ContextHandle { attributes: attrs, uuid: Uuid::from_u128(id.rotate_left(7)) },
                    fixed,
                    var: VarArray { offset: off, items: var },
                    name: name.map(WString),
                    ascii: ascii.map(NdrString),
                    sel,
                    arm,
                    towers: towers.map(|t| {
                        let max = t.len() as u64 + 1;
                        ConfVarArray::with_max(t, max)
                    }),
                    itf: itf.and_then(MInterfacePointer::new),
                    full: Full::Object { id: 9, value: Box::new(fv) },
                    full_again: if alias { Full::Alias(9) } else { Full::Null },
                    r: Ref::new(r),
                    tail_len: u32::try_from(tail.len()).expect("small"),
                    tail: ConfArray(tail),
                }
            },
        )
}

fn arm_disc(a: &Arm) -> u16 {
    match a {
        Arm::Byte(_) => 1,
        Arm::Hyper(_) => 2,
        Arm::Tower(_) => 3,
        Arm::Empty => 4,
    }
}

fn contexts() -> [NdrContext; 4] {
    [
        NdrContext::NDR20,
        NdrContext::new(Syntax::Ndr20, DataRep::BIG_ENDIAN),
        NdrContext::NDR64,
        NdrContext::new(Syntax::Ndr64, DataRep::BIG_ENDIAN),
    ]
}

/// Full pointers decode with wire ids; normalise the caller's id so values compare.
fn normalise(mut r: Record) -> Record {
    if let Full::Object { id, .. } = &mut r.full {
        *id = 0;
    }
    if let Full::Alias(id) = &mut r.full_again {
        *id = 0;
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn record_round_trips(v in record()) {
        for ctx in contexts() {
            let bytes = encode(&v, ctx).expect("valid");
            let back: Record = decode(&bytes, ctx).expect("valid");
            prop_assert_eq!(normalise(back.clone()), normalise(v.clone()));
            prop_assert_eq!(encode(&back, ctx).expect("valid"), bytes);
        }
    }

    #[test]
    fn type_serialization_round_trips(v in record(), t in twr()) {
        for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
            let mut s = TypeSerializer::new(drep);
            s.push(&v).expect("valid");
            s.push(&t).expect("valid");
            let bytes = s.finish();
            let mut d = TypeDeserializer::new(&bytes, Limits::default()).expect("valid");
            let back: Record = d.read().expect("valid");
            let back_t: Twr = d.read().expect("valid");
            prop_assert!(d.is_empty());
            prop_assert_eq!(normalise(back), normalise(v.clone()));
            prop_assert_eq!(back_t, t.clone());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = dcom_ndr::fuzzing::decode_mix(&data);
        for ctx in contexts() {
            let _ = decode::<Record>(&data, ctx);
        }
    }

    #[test]
    fn mutated_records_never_panic(v in record(), pos in any::<usize>(), byte in any::<u8>()) {
        for ctx in contexts() {
            let mut bytes = encode(&v, ctx).expect("valid");
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = decode::<Record>(&bytes, ctx);
            let _ = dcom_ndr::fuzzing::decode_mix(&bytes);
        }
    }
}

#[test]
fn type_serialization_header_layout() {
    let bytes = encode_type_serialized(&0x1122_3344u32, DataRep::LITTLE_ENDIAN).expect("valid");
    // [MS-RPCE 2.2.6.1] common header, 2.2.6.2 private header, data padded to 8.
    assert_eq!(hex::encode(&bytes), "01100800cccccccc".to_owned() + "0800000000000000" + "4433221100000000");
    assert_eq!(decode_type_serialized::<u32>(&bytes, Limits::default()).expect("valid"), 0x1122_3344);
    let be = encode_type_serialized(&0x1122_3344u32, DataRep::BIG_ENDIAN).expect("valid");
    assert_eq!(hex::encode(&be), "01000008cccccccc".to_owned() + "0000000800000000" + "1122334400000000");
    assert_eq!(decode_type_serialized::<u32>(&be, Limits::default()).expect("valid"), 0x1122_3344);
}

#[test]
fn type_serialization_rejects_bad_headers() {
    let good = encode_type_serialized(&7u32, DataRep::LITTLE_ENDIAN).expect("valid");
    let mut v2 = good.clone();
    v2[0] = 2;
    assert!(matches!(
        decode_type_serialized::<u32>(&v2, Limits::default()).unwrap_err().kind(),
        NdrErrorKind::TypeSerialization { what: "version is not 1" }
    ));
    let mut odd = good.clone();
    odd[8] = 7;
    assert!(matches!(
        decode_type_serialized::<u32>(&odd, Limits::default()).unwrap_err().kind(),
        NdrErrorKind::TypeSerialization { what: "object buffer length is not a multiple of 8" }
    ));
    let mut long = good.clone();
    long[8] = 0x40;
    assert!(decode_type_serialized::<u32>(&long, Limits::default()).is_err());
    assert!(decode_type_serialized::<u32>(&good[..7], Limits::default()).is_err());
    // Errors inside the object report offsets in the whole buffer.
    let e = decode_type_serialized::<WString>(&good, Limits::default()).unwrap_err();
    assert!(e.offset() >= 16, "{e}");
}

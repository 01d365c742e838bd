//! Hand-derived vectors (C706 chapter 14, [MS-RPCE 2.2.5], [MS-RPCE 4.8]) and negative tests.

use dcom_ndr::{
    ConfArray, ConfVarArray, DataRep, Full, IntRep, Limits, Ndr, NdrChar, NdrContext, NdrErrorKind, NdrString,
    NdrWriter, Ref, Syntax, VarArray, WString, decode, encode, encode_top_level,
};
use uuid::Uuid;

const LE20: NdrContext = NdrContext::NDR20;
const LE64: NdrContext = NdrContext::NDR64;

fn be20() -> NdrContext {
    NdrContext::new(Syntax::Ndr20, DataRep::BIG_ENDIAN)
}

fn enc<T: Ndr>(v: &T, ctx: NdrContext) -> Vec<u8> {
    let mut w = NdrWriter::new(ctx);
    w.set_referent_ids(1, 1);
    encode_top_level(v, &mut w).expect("valid");
    w.finish().expect("valid")
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("valid")
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct Counted {
    a: u16,
    #[ndr(size_is = "a")]
    data: ConfArray<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct Outer {
    x: u8,
    inner: Counted,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct WithPad {
    l: i32,
    s: i16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
enum Color {
    #[default]
    Red,
    Green = 5,
    Blue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
#[ndr(v1_enum)]
enum Wide {
    #[default]
    A = 1,
    B = 0x7fff_0000,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(switch_type = u32)]
enum Info {
    #[ndr(case = 1)]
    Short(u16),
    #[ndr(case = 2)]
    Long(u64),
    #[ndr(case = 3)]
    Name(Option<WString>),
    #[ndr(case = 4)]
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(switch_type = u16)]
enum WithDefault {
    #[ndr(case = 7)]
    Seven(u32),
    #[ndr(default)]
    Other(u16),
}

/// Non-encapsulated union inside a structure: `[switch_is(level)] union Info info`.
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
struct Leveled {
    level: u32,
    #[ndr(switch_is = "level")]
    info: Info,
}

/// Encapsulated union: `union switch (u32 tag) { ... }` as tag field + arm.
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
struct Encapsulated {
    tag: u32,
    #[ndr(encapsulated = "tag")]
    body: Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct B {
    q: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct A {
    p1: Option<B>,
    p2: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(name = "node")]
struct Node {
    value: u16,
    next: Full<Box<Self>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
struct List {
    value: u32,
    next: Option<Box<Self>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct Ranged {
    #[ndr(range(1, 10))]
    n: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct UnicodeString {
    length: u16,
    maximum_length: u16,
    #[ndr(size_is = "maximum_length / 2", length_is = "length / 2")]
    buffer: Option<ConfVarArray<u16>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct Refs {
    r: Ref<u32>,
    #[ndr(string)]
    s: Option<NdrString>,
}

#[test]
fn primitives_both_byte_orders() {
    assert_eq!(enc(&0x0102_0304u32, LE20), h("04030201"));
    assert_eq!(enc(&0x0102_0304u32, be20()), h("01020304"));
    assert_eq!(enc(&-2i16, be20()), h("fffe"));
    assert_eq!(enc(&1.5f64, be20()), h("3ff8000000000000"));
    assert_eq!(decode::<u64>(&h("0807060504030201"), LE20).expect("valid"), 0x0102_0304_0506_0708);
    assert_eq!(decode::<f32>(&h("3fc00000"), be20()).expect("valid"), 1.5);
    assert!(decode::<bool>(&h("02"), LE20).expect("valid"));
    assert_eq!(enc(&true, LE20), h("01"));
}

#[test]
fn guid_layout_follows_drep() {
    let g = Uuid::parse_str("8a885d04-1ceb-11c9-9fe8-08002b104860").expect("valid");
    assert_eq!(enc(&g, LE20), h("045d888aeb1cc9119fe808002b104860"));
    assert_eq!(enc(&g, be20()), g.as_bytes().to_vec());
    assert_eq!(decode::<Uuid>(&g.to_bytes_le(), LE64).expect("valid"), g);
}

#[test]
fn alignment_is_relative_to_stub_start() {
    #[derive(Debug, PartialEq, Ndr)]
    struct S {
        a: u8,
        b: u32,
        c: u8,
        d: u64,
    }
    let v = S { a: 1, b: 2, c: 3, d: 4 };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("01000000 02000000 03000000 00000000 0400000000000000"));
    assert_eq!(decode::<S>(&bytes, LE20).expect("valid"), v);
}

#[test]
fn conformance_hoisted_to_outermost_structure() {
    // C706 14.3.7.1: the maximum count precedes the structure.
    let c = Counted { a: 2, data: ConfArray(vec![1, 2]) };
    assert_eq!(enc(&c, LE20), h("02000000 0200 0100 0200"));
    assert_eq!(enc(&c, LE64), h("0200000000000000 0200 0100 0200"));
    let o = Outer { x: 5, inner: c };
    // Nested conformant structure: one count, at the start of the outer structure.
    let bytes = enc(&o, LE20);
    assert_eq!(bytes, h("02000000 05 00 0200 0100 0200"));
    assert_eq!(decode::<Outer>(&bytes, LE20).expect("valid"), o);
}

#[test]
fn ndr64_structure_trailing_gap() {
    // [MS-RPCE 4.8]: struct { long l; short s; } is 8 bytes in NDR64 (2-byte trailing gap).
    let v = WithPad { l: 1, s: 2 };
    assert_eq!(enc(&v, LE20), h("01000000 0200"));
    assert_eq!(enc(&v, LE64), h("01000000 0200 0000"));
    assert_eq!(decode::<WithPad>(&h("01000000 0200 0000"), LE64).expect("valid"), v);
}

#[test]
fn enums_are_16_bit_in_ndr20_and_32_bit_in_ndr64() {
    assert_eq!(enc(&Color::Blue, LE20), h("0600"));
    assert_eq!(enc(&Color::Blue, LE64), h("06000000"));
    assert_eq!(enc(&Wide::B, LE20), h("0000ff7f"));
    assert_eq!(decode::<Color>(&h("0500"), LE20).expect("valid"), Color::Green);
    let e = decode::<Color>(&h("0900"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::UnknownEnumValue { value: 9 });
}

#[test]
fn unions() {
    // Non-encapsulated: discriminant then arm (C706 14.3.8).
    assert_eq!(enc(&Info::Short(0x1234), LE20), h("01000000 3412"));
    // NDR64: arm aligned to the largest arm (u64 / pointer = 8).
    assert_eq!(enc(&Info::Short(0x1234), LE64), h("01000000 00000000 3412"));
    assert_eq!(enc(&Info::Long(1), LE20), h("02000000 00000000 0100000000000000"));
    assert_eq!(enc(&Info::Nothing, LE20), h("04000000"));
    let name = Info::Name(Some(WString::from("a")));
    let bytes = enc(&name, LE20);
    assert_eq!(bytes, h("03000000 01000000 02000000 00000000 02000000 6100 0000"));
    assert_eq!(decode::<Info>(&bytes, LE20).expect("valid"), name);
    // Unknown discriminant without default arm.
    let e = decode::<Info>(&h("09000000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::UnknownDiscriminant { value: 9 });
    assert_eq!(e.path_string(), "Info");
    // Default arm keeps the discriminant.
    let d = decode::<WithDefault>(&h("0900"), LE20).expect("valid");
    assert_eq!(d, WithDefault::Other(9));
    assert_eq!(enc(&d, LE20), h("0900"));
}

#[test]
fn union_in_structure_with_switch_is() {
    let v = Leveled { level: 1, info: Info::Short(7) };
    let bytes = enc(&v, LE20);
    // The discriminant appears again as part of the union representation.
    assert_eq!(bytes, h("01000000 01000000 0700"));
    assert_eq!(decode::<Leveled>(&bytes, LE20).expect("valid"), v);
    let e = decode::<Leveled>(&h("02000000 01000000 0700"), LE20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::DiscriminantMismatch { expected: 2, actual: 1 }));
    assert_eq!(e.path_string(), "Leveled.info");
    let bad = Leveled { level: 2, info: Info::Short(7) };
    assert!(encode(&bad, LE20).is_err());
}

#[test]
fn encapsulated_union() {
    let v = Encapsulated { tag: 2, body: Info::Long(3) };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("02000000 00000000 0300000000000000"));
    assert_eq!(decode::<Encapsulated>(&bytes, LE20).expect("valid"), v);
    let e = decode::<Encapsulated>(&h("05000000 00000000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::UnknownDiscriminant { value: 5 });
}

#[test]
fn deferred_pointees_are_depth_first_in_pointer_order() {
    // C706 14.3.12.3: embedded referents follow the construct, in order; MIDL marshals a
    // referent's own referents right after it.
    let v = A { p1: Some(B { q: Some(7) }), p2: Some(9) };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("01000000 02000000 03000000 0700 0000 09000000"));
    assert_eq!(decode::<A>(&bytes, LE20).expect("valid"), v);
    let bytes64 = enc(&v, LE64);
    assert_eq!(bytes64, h("0100000000000000 0200000000000000 0300000000000000 0700 0000 09000000"));
    assert_eq!(decode::<A>(&bytes64, LE64).expect("valid"), v);
    let null = A::default();
    assert_eq!(enc(&null, LE20), h("00000000 00000000"));
}

#[test]
fn strings() {
    let s = WString::from("ab");
    assert_eq!(enc(&s, LE20), h("03000000 00000000 03000000 6100 6200 0000"));
    assert_eq!(enc(&NdrString::from("hi"), be20()), h("00000003 00000000 00000003 686900"));
    // Offset must be 0.
    let e = decode::<WString>(&h("03000000 01000000 02000000 6200 0000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::StringOffset { offset: 1 });
    // Actual must not exceed max.
    let e = decode::<WString>(&h("01000000 00000000 02000000 6100 0000"), LE20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::ActualExceedsMax { actual: 2, max: 1, .. }));
    // Terminator required.
    let e = decode::<WString>(&h("02000000 00000000 02000000 6100 6200"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::MissingTerminator);
    let e = decode::<NdrString>(&h("00000000 00000000 00000000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::MissingTerminator);
}

#[test]
fn unicode_string_with_count_expressions() {
    let v = UnicodeString { length: 4, maximum_length: 8, buffer: Some(ConfVarArray::with_max(vec![0x61, 0x62], 4)) };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("0400 0800 01000000 04000000 00000000 02000000 6100 6200"));
    assert_eq!(decode::<UnicodeString>(&bytes, LE20).expect("valid"), v);
    let mut bad = bytes.clone();
    bad[0] = 6; // length / 2 = 3, but 2 units are transmitted
    let e = decode::<UnicodeString>(&bad, LE20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::InconsistentCount { what: "length_is", expected: 3, actual: 2 }));
    assert_eq!(e.path_string(), "UnicodeString.buffer");
}

#[test]
fn fixed_and_varying_arrays() {
    let f: [u16; 3] = [1, 2, 3];
    assert_eq!(enc(&f, LE20), h("0100 0200 0300"));
    let v: VarArray<u16, 4> = VarArray { offset: 1, items: vec![5, 6] };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("01000000 02000000 0500 0600"));
    assert_eq!(decode::<VarArray<u16, 4>>(&bytes, LE20).expect("valid"), v);
    let e = decode::<VarArray<u16, 4>>(&h("03000000 02000000 0500 0600"), LE20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::ActualExceedsMax { .. }));
    let chars = [NdrChar(b'x'); 2];
    assert_eq!(enc(&chars, LE20), h("7878"));
}

#[test]
fn ref_pointers() {
    let v = Refs { r: Ref::new(5), s: Some(NdrString::from("a")) };
    let bytes = enc(&v, LE20);
    assert_eq!(bytes, h("01000000 02000000 05000000 02000000 00000000 02000000 6100"));
    assert_eq!(decode::<Refs>(&bytes, LE20).expect("valid"), v);
    let e = decode::<Refs>(&h("00000000 00000000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::NullRefPointer);
    assert_eq!(e.path_string(), "Refs.r");
}

#[test]
fn full_pointer_cycle_terminates() {
    // Full<Node> -> Node { 7, next -> the same object }.
    let bytes = h("01000000 0700 0000 01000000");
    let v: Full<Node> = decode(&bytes, LE20).expect("valid");
    let Full::Object { id, value } = &v else { panic!("expected object") };
    assert_eq!(*id, 1);
    assert_eq!(value.value, 7);
    assert_eq!(value.next, Full::Alias(1));
    assert_eq!(enc(&v, LE20), bytes);
}

#[test]
fn full_pointer_aliasing_marshals_once() {
    let shared = Full::Object { id: 42, value: Box::new(Box::new(Node { value: 1, next: Full::Null })) };
    let pair = [shared.clone(), Full::Alias(42)];
    let bytes = enc(&pair, LE20);
    assert_eq!(bytes, h("01000000 01000000 0100 0000 00000000"));
    let back: [Full<Box<Node>>; 2] = decode(&bytes, LE20).expect("valid");
    assert_eq!(back[1], Full::Alias(1));
    // An alias whose object is never written is an error.
    let mut w = NdrWriter::new(LE20);
    encode_top_level(&Full::<u32>::Alias(3), &mut w).expect("valid");
    assert!(matches!(w.finish().unwrap_err().kind(), NdrErrorKind::DanglingFullPointer { id: 3 }));
}

#[test]
fn depth_limit_stops_long_pointer_chains() {
    let mut list = List { value: 0, next: None };
    for i in 1..100 {
        list = List { value: i, next: Some(Box::new(list)) };
    }
    let deep = NdrContext::NDR20.with_limits(Limits { max_depth: 1000, max_alloc: 1 << 20 });
    let bytes = encode(&list, deep).expect("valid");
    assert_eq!(decode::<List>(&bytes, deep).expect("valid"), list);
    let e = decode::<List>(&bytes, LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::DepthLimit { limit: 64 });
    assert!(e.path_string().starts_with("List.next -> List.next"));
}

#[test]
fn hostile_counts() {
    // NDR64 max count u64::MAX.
    let e = decode::<ConfArray<u8>>(&h("ffffffffffffffff"), LE64).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::CountTooLarge { count: u64::MAX, remaining: 0 }));
    // Count fits the bytes but exceeds the allocation limit.
    let small = NdrContext::NDR20.with_limits(Limits { max_depth: 8, max_alloc: 16 });
    let mut bytes = h("20000000");
    bytes.extend_from_slice(&[0u8; 32]);
    let e = decode::<ConfArray<u8>>(&bytes, small).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::AllocationLimit { requested: 32, limit: 16 }));
    // Element count times element wire size must fit: 5 u32 in 16 bytes.
    let e = decode::<ConfArray<u32>>(&h("05000000 00000000 00000000 00000000 00000000"), LE20).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::CountTooLarge { count: 5, remaining: 16 }));
    // Offset + actual overflow.
    let e = decode::<ConfVarArray<u8>>(&h("0100000000000000 ffffffffffffffff 0200000000000000"), LE64).unwrap_err();
    assert!(matches!(e.kind(), NdrErrorKind::ActualExceedsMax { .. }));
}

#[test]
fn range_checks() {
    assert!(decode::<Ranged>(&h("05000000"), LE20).is_ok());
    let e = decode::<Ranged>(&h("0b000000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::RangeViolation { value: 11, min: 1, max: 10 });
    assert!(encode(&Ranged { n: 0 }, LE20).is_err());
}

#[test]
fn unsupported_representations() {
    let ebcdic = NdrContext::new(Syntax::Ndr20, DataRep { char: dcom_ndr::CharRep::Ebcdic, ..DataRep::LITTLE_ENDIAN });
    assert_eq!(
        decode::<NdrString>(&h("01000000 00000000 01000000 00"), ebcdic).unwrap_err().kind(),
        &NdrErrorKind::UnsupportedCharRep
    );
    assert_eq!(decode::<u32>(&h("01000000"), ebcdic).expect("valid"), 1);
    let vax = NdrContext::new(Syntax::Ndr20, DataRep { float: dcom_ndr::FloatRep::Vax, ..DataRep::LITTLE_ENDIAN });
    assert_eq!(encode(&1.0f32, vax).unwrap_err().kind(), &NdrErrorKind::UnsupportedFloatRep);
    assert_eq!(
        DataRep::from_bytes([0x10, 0, 0, 0]).expect("valid"),
        DataRep { int: IntRep::LittleEndian, ..DataRep::LITTLE_ENDIAN }
    );
    assert_eq!(DataRep::from_bytes([0x01, 0x03, 0, 0]).expect("valid").float, dcom_ndr::FloatRep::Ibm);
    assert!(DataRep::from_bytes([0x20, 0, 0, 0]).is_err());
    assert!(DataRep::from_bytes([0x10, 4, 0, 0]).is_err());
    assert_eq!(DataRep::BIG_ENDIAN.to_bytes(), [0, 0, 0, 0]);
}

#[test]
fn transfer_syntax_ids() {
    assert_eq!(Syntax::Ndr20.transfer_syntax().0.to_string(), "8a885d04-1ceb-11c9-9fe8-08002b104860");
    assert_eq!(
        Syntax::Ndr64.transfer_syntax(),
        (Uuid::parse_str("71710533-beba-4937-8319-b5dbef9ccc36").expect("valid"), 1)
    );
    assert_eq!(Syntax::from_transfer_syntax(Syntax::NDR64_UUID, 1), Some(Syntax::Ndr64));
    assert_eq!(Syntax::from_transfer_syntax(Syntax::NDR20_UUID, 1), None);
}

#[test]
fn trailing_bytes_and_reused_buffer() {
    let e = decode::<u16>(&h("010000"), LE20).unwrap_err();
    assert_eq!(e.kind(), &NdrErrorKind::TrailingBytes { count: 1 });
    let buf = Vec::with_capacity(64);
    let out = dcom_ndr::encode_into(&7u32, LE20, buf).expect("valid");
    assert_eq!(out, h("07000000"));
    assert!(out.capacity() >= 64);
}

#[test]
fn one_mib_byte_array_decodes_in_bulk() {
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| i.to_le_bytes()[0]).collect();
    let v = ConfArray(data);
    let bytes = encode(&v, LE20).expect("valid");
    let start = std::time::Instant::now();
    for _ in 0..10 {
        let back: ConfArray<u8> = decode(&bytes, LE20).expect("valid");
        assert_eq!(back.len(), 1 << 20);
    }
    // Bulk copy: 10 MiB in well under a second even unoptimised.
    assert!(start.elapsed().as_millis() < 1000, "{:?}", start.elapsed());
}

//! A fuzzing entry point: decodes a fixed mix of constructs from arbitrary bytes.

use crate::arrays::{ConfArray, ConfVarArray, NdrString, WString};
use crate::drep::{DataRep, Limits, NdrContext, Syntax};
use crate::pointers::{Full, Ref};
use crate::types::{ContextHandle, MInterfacePointer};
use crate::{Ndr, decode, decode_type_serialized, encode};

/// `twr_t` (C706 appendix L): a conformant structure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "twr_t")]
struct Tower {
    tower_length: u32,
    #[ndr(size_is = "tower_length")]
    tower_octet_string: ConfArray<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(switch_type = u32)]
enum Arm {
    #[ndr(case = 1)]
    Long(u32),
    #[ndr(case = 2)]
    Str(Option<WString>),
    #[ndr(case = 3)]
    Empty,
    #[ndr(default)]
    Other(u32, u16),
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(name = "node")]
struct Node {
    value: u16,
    next: Full<Box<Self>>,
    other: Option<Box<Self>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
struct Counted {
    len: u16,
    max: u16,
    #[ndr(size_is = "max / 2", length_is = "len / 2")]
    buf: Option<ConfVarArray<u16>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(name = "mix")]
struct Mix {
    handle: ContextHandle,
    tag: u32,
    #[ndr(switch_is = "tag")]
    arm: Arm,
    name: Option<NdrString>,
    #[ndr(range(0, 1000))]
    small: u32,
    head: Full<Node>,
    itf: Option<MInterfacePointer>,
    counted: Counted,
    reference: Ref<Counted>,
    towers: ConfVarArray<Option<Tower>>,
}

/// Decodes the fixed mix in NDR20 (both byte orders), NDR64 and type serialization v1 from
/// `data`; every successful decode is re-encoded and decoded again. Never panics.
pub fn decode_mix(data: &[u8]) -> usize {
    let limits = Limits { max_depth: 32, max_alloc: 1 << 20 };
    let mut ok = 0;
    for syntax in [Syntax::Ndr20, Syntax::Ndr64] {
        for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
            let ctx = NdrContext::new(syntax, drep).with_limits(limits);
            if let Ok(v) = decode::<Mix>(data, ctx) {
                ok += 1;
                if let Ok(bytes) = encode(&v, ctx) {
                    let _ = decode::<Mix>(&bytes, ctx);
                }
            }
            ok += usize::from(decode::<Tower>(data, ctx).is_ok());
            ok += usize::from(decode::<WString>(data, ctx).is_ok());
        }
    }
    ok += usize::from(decode_type_serialized::<Mix>(data, limits).is_ok());
    ok
}

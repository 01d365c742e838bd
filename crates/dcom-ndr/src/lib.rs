#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "NDR 2.0 / NDR64 marshalling engine.")]

extern crate self as dcom_ndr;

mod arrays;
pub mod codec;
mod drep;
mod error;
pub mod fuzzing;
mod pointers;
mod reader;
mod serialize;
mod traits;
mod types;
mod writer;

pub use arrays::{ArrayCounts, ConfArray, ConfVarArray, NdrString, VarArray, WString};
pub use codec::{
    Discriminant, NdrUnion, decode, decode_prefix, decode_prefix_with_ids, decode_top_level, encode, encode_into,
    encode_top_level, encode_with_ids,
};
pub use dcom_ndr_derive::Ndr;
pub use drep::{CharRep, DataRep, FloatRep, IntRep, Limits, NdrContext, Syntax};
pub use error::{NdrError, NdrErrorKind, PathSegment, Result};
pub use pointers::{Full, Ref};
pub use reader::{Frame, NdrReader};
pub use serialize::{TypeDeserializer, TypeSerializer, decode_type_serialized, encode_type_serialized};
pub use traits::{Ndr, NdrChar};
pub use types::{ContextHandle, IsString, MInterfacePointer, SwitchIs};
pub use writer::NdrWriter;

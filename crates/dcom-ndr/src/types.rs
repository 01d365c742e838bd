//! Well-known RPC types: context handles, interface pointers, and helper traits.

use uuid::Uuid;

use crate::arrays::{ConfArray, NdrString, WString};
use crate::drep::Syntax;
use crate::error::Result;
use crate::pointers::{Full, Ref};
use crate::reader::NdrReader;
use crate::traits::Ndr;
use crate::writer::NdrWriter;

/// Context handle wire form (C706 appendix N `ndr_context_handle`; [MS-RPCE 2.2.4.1] context_handle):
/// `u32 context_handle_attributes` + `GUID context_handle_uuid`, 20 bytes, alignment 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ContextHandle {
    /// Attributes (0 in practice).
    pub attributes: u32,
    /// Handle identity; all-zero is the null handle.
    pub uuid: Uuid,
}

impl ContextHandle {
    /// True for the null (all-zero) handle.
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.attributes == 0 && self.uuid.is_nil()
    }
}

impl Ndr for ContextHandle {
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 20;
    fn ndr_align(_: Syntax) -> usize {
        4
    }
    fn encode_inline(&self, w: &mut NdrWriter) -> Result<()> {
        w.write_u32(self.attributes);
        self.uuid.encode_inline(w)
    }
    fn decode_inline(r: &mut NdrReader<'_>) -> Result<Self> {
        let attributes = r.read_u32()?;
        let uuid = Uuid::decode_inline(r)?;
        Ok(Self { attributes, uuid })
    }
}

/// `MInterfacePointer` ([MS-DCOM 2.2.14]): `unsigned long ulCntData; [size_is(ulCntData)] byte
/// abData[];` kept opaque here (the OBJREF is decoded by the DCOM layer). A conformant structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, crate::Ndr)]
#[ndr(name = "MInterfacePointer")]
pub struct MInterfacePointer {
    /// Byte count.
    pub ul_cnt_data: u32,
    /// The OBJREF bytes.
    #[ndr(size_is = "ul_cnt_data")]
    pub ab_data: ConfArray<u8>,
}

impl MInterfacePointer {
    /// Wraps OBJREF bytes; fails if longer than `u32::MAX`.
    pub fn new(objref: Vec<u8>) -> Option<Self> {
        let ul_cnt_data = u32::try_from(objref.len()).ok()?;
        Some(Self { ul_cnt_data, ab_data: ConfArray(objref) })
    }
}

/// The discriminant of a union value (through pointers), used by `switch_is` checks.
pub trait SwitchIs {
    /// Discriminant, `None` when absent (null pointer).
    fn switch_value(&self) -> Option<i128>;
}

impl<T: SwitchIs> SwitchIs for Option<T> {
    fn switch_value(&self) -> Option<i128> {
        self.as_ref().and_then(T::switch_value)
    }
}

impl<T: SwitchIs> SwitchIs for Box<T> {
    fn switch_value(&self) -> Option<i128> {
        (**self).switch_value()
    }
}

impl<T: SwitchIs> SwitchIs for Ref<T> {
    fn switch_value(&self) -> Option<i128> {
        self.0.switch_value()
    }
}

impl<T: SwitchIs> SwitchIs for Full<T> {
    fn switch_value(&self) -> Option<i128> {
        self.value().and_then(T::switch_value)
    }
}

/// Types accepted by `#[ndr(string)]`: [`NdrString`], [`WString`] and pointers to them.
pub trait IsString {}
impl IsString for NdrString {}
impl IsString for WString {}
impl<T: IsString> IsString for Option<T> {}
impl<T: IsString> IsString for Box<T> {}
impl<T: IsString> IsString for Ref<T> {}
impl<T: IsString> IsString for Full<T> {}

//! `rpcecho` (`60a15ec5-4de8-11d7-a637-005056a20182` v1.0): Samba's echo test interface (`librpc/idl/echo.idl`),
//! exercised by smbtorture `rpc.echo`. `pointer_default(unique)`.

use dcom_ndr::{ConfArray, Ndr, NdrError, NdrErrorKind, NdrReader, NdrWriter, Syntax, WString};
use uuid::uuid;

use crate::SyntaxId;

/// Interface UUID and version 1.0.
pub const SYNTAX: SyntaxId = SyntaxId::new(uuid!("60a15ec5-4de8-11d7-a637-005056a20182"), 1, 0);

interface! {
    /// The `rpcecho` interface.
    Rpcecho = "rpcecho", SYNTAX;
    /// `void echo_AddOne([in] uint32 in_data, [out] uint32 *out_data)`.
    0 ADD_ONE AddOne("echo_AddOne", AddOneIn, AddOneOut);
    /// `void echo_EchoData([in] uint32 len, [in,size_is(len)] uint8 in_data[], [out,size_is(len)] uint8 out_data[])`.
    1 ECHO_DATA EchoData("echo_EchoData", EchoDataIn, EchoDataOut);
    /// `void echo_SinkData([in] uint32 len, [in,size_is(len)] uint8 data[])`.
    2 SINK_DATA SinkData("echo_SinkData", SinkDataIn, SinkDataOut);
    /// `void echo_SourceData([in] uint32 len, [out,size_is(len)] uint8 data[])`.
    3 SOURCE_DATA SourceData("echo_SourceData", SourceDataIn, SourceDataOut);
    /// `void echo_TestCall([in,string,charset(UTF16)] uint16 *s1, [out,string,charset(UTF16)] uint16 **s2)`.
    4 TEST_CALL TestCall("echo_TestCall", TestCallIn, TestCallOut);
    /// `NTSTATUS echo_TestCall2([in] uint16 level, [out,switch_is(level)] echo_Info *info)`.
    5 TEST_CALL2 TestCall2("echo_TestCall2", TestCall2In, TestCall2Out);
    /// `uint32 echo_TestSleep([in] uint32 seconds)`.
    6 TEST_SLEEP TestSleep("echo_TestSleep", TestSleepIn, TestSleepOut);
    /// `void echo_TestEnum([in,out,ref] echo_Enum1 *foo1, [in,out,ref] echo_Enum2 *foo2,
    /// [in,out,ref,switch_is(*foo1)] echo_Enum3 *foo3)`.
    7 TEST_ENUM TestEnum("echo_TestEnum", TestEnumParams, TestEnumParams);
    /// `void echo_TestSurrounding([in,out,ref] echo_Surrounding *data)`.
    8 TEST_SURROUNDING TestSurrounding("echo_TestSurrounding", TestSurroundingParams, TestSurroundingParams);
    /// `uint16 echo_TestDoublePointer([in] uint16 ***data)`.
    9 TEST_DOUBLE_POINTER TestDoublePointer("echo_TestDoublePointer", TestDoublePointerIn, TestDoublePointerOut);
}

/// `echo_AddOne` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_AddOne_in")]
pub struct AddOneIn {
    /// `in_data`.
    pub in_data: u32,
}

/// `echo_AddOne` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_AddOne_out")]
pub struct AddOneOut {
    /// `[out] uint32 *out_data` (top-level `[ref]`).
    pub out_data: u32,
}

/// `echo_EchoData` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_EchoData_in")]
pub struct EchoDataIn {
    /// `len`.
    pub len: u32,
    /// `[size_is(len)] uint8 in_data[]`.
    #[ndr(size_is = "len")]
    pub in_data: ConfArray<u8>,
}

impl EchoDataIn {
    /// A request echoing `data`; `None` above `u32::MAX` bytes.
    #[must_use]
    pub fn new(data: Vec<u8>) -> Option<Self> {
        Some(Self { len: u32::try_from(data.len()).ok()?, in_data: ConfArray(data) })
    }
}

/// `echo_EchoData` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_EchoData_out")]
pub struct EchoDataOut {
    /// `[out,size_is(len)] uint8 out_data[]`; `len` is the request's.
    pub out_data: ConfArray<u8>,
}

/// `echo_SinkData` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_SinkData_in")]
pub struct SinkDataIn {
    /// `len`.
    pub len: u32,
    /// `[size_is(len)] uint8 data[]`.
    #[ndr(size_is = "len")]
    pub data: ConfArray<u8>,
}

/// `echo_SinkData` response: no parameters, no return value (an empty stub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_SinkData_out")]
pub struct SinkDataOut {}

/// `echo_SourceData` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_SourceData_in")]
pub struct SourceDataIn {
    /// `len`.
    pub len: u32,
}

/// `echo_SourceData` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_SourceData_out")]
pub struct SourceDataOut {
    /// `[out,size_is(len)] uint8 data[]`; `len` is the request's.
    pub data: ConfArray<u8>,
}

/// `echo_TestCall` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestCall_in")]
pub struct TestCallIn {
    /// `[in,string] uint16 *s1` (top-level `[ref]`: never null).
    #[ndr(string)]
    pub s1: WString,
}

/// `echo_TestCall` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestCall_out")]
pub struct TestCallOut {
    /// `[out,string] uint16 **s2`: a `[ref]` to a unique pointer to the string.
    #[ndr(string)]
    pub s2: Option<WString>,
}

/// `echo_info1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info1")]
pub struct EchoInfo1 {
    /// `uint8 v`.
    pub v: u8,
}

/// `echo_info2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info2")]
pub struct EchoInfo2 {
    /// `uint16 v`.
    pub v: u16,
}

/// `echo_info3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info3")]
pub struct EchoInfo3 {
    /// `uint32 v`.
    pub v: u32,
}

/// `struct echo_info4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info4")]
pub struct EchoInfo4 {
    /// `hyper v`.
    pub v: u64,
}

/// `echo_info5`: a byte then an 8-aligned hyper (7 bytes of padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info5")]
pub struct EchoInfo5 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `hyper v2`.
    pub v2: u64,
}

/// `echo_info6`: a byte then a nested 1-aligned structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info6")]
pub struct EchoInfo6 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `echo_info1 info1`.
    pub info1: EchoInfo1,
}

/// `echo_info7`: a byte then a nested 8-aligned structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_info7")]
pub struct EchoInfo7 {
    /// `uint8 v1`.
    pub v1: u8,
    /// `struct echo_info4 info4`.
    pub info4: EchoInfo4,
}

/// `[switch_type(uint16)] union echo_Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(switch_type = u16, name = "echo_Info")]
pub enum EchoInfo {
    /// `[case(1)] echo_info1 info1`.
    #[ndr(case = 1)]
    Info1(EchoInfo1),
    /// `[case(2)] echo_info2 info2`.
    #[ndr(case = 2)]
    Info2(EchoInfo2),
    /// `[case(3)] echo_info3 info3`.
    #[ndr(case = 3)]
    Info3(EchoInfo3),
    /// `[case(4)] struct echo_info4 info4`.
    #[ndr(case = 4)]
    Info4(EchoInfo4),
    /// `[case(5)] echo_info5 info5`.
    #[ndr(case = 5)]
    Info5(EchoInfo5),
    /// `[case(6)] echo_info6 info6`.
    #[ndr(case = 6)]
    Info6(EchoInfo6),
    /// `[case(7)] echo_info7 info7`.
    #[ndr(case = 7)]
    Info7(EchoInfo7),
}

impl EchoInfo {
    /// The level (discriminant) of the arm.
    #[must_use]
    pub fn level(&self) -> u16 {
        match self {
            Self::Info1(_) => 1,
            Self::Info2(_) => 2,
            Self::Info3(_) => 3,
            Self::Info4(_) => 4,
            Self::Info5(_) => 5,
            Self::Info6(_) => 6,
            Self::Info7(_) => 7,
        }
    }
}

/// `echo_TestCall2` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestCall2_in")]
pub struct TestCall2In {
    /// `level` (1 to 7).
    pub level: u16,
}

/// `echo_TestCall2` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(params, name = "echo_TestCall2_out")]
pub struct TestCall2Out {
    /// `[out,switch_is(level)] echo_Info *info` (top-level `[ref]`; the union carries its discriminant).
    pub info: EchoInfo,
    /// `NTSTATUS` return value.
    pub result: u32,
}

/// `echo_TestSleep` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestSleep_in")]
pub struct TestSleepIn {
    /// `seconds`.
    pub seconds: u32,
}

/// `echo_TestSleep` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestSleep_out")]
pub struct TestSleepOut {
    /// `uint32` return value.
    pub result: u32,
}

/// `echo_Enum1`: a plain enumeration (16 bits in NDR, 32 in NDR64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
pub enum EchoEnum1 {
    /// `ECHO_ENUM1`.
    #[default]
    Enum1 = 1,
    /// `ECHO_ENUM2`.
    Enum2 = 2,
}

/// `[v1_enum] echo_Enum1_32`: a 32-bit enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(v1_enum)]
pub enum EchoEnum32 {
    /// `ECHO_ENUM1_32`.
    #[default]
    Enum1 = 1,
    /// `ECHO_ENUM2_32`.
    Enum2 = 2,
}

/// `echo_Enum2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "echo_Enum2")]
pub struct EchoEnum2 {
    /// `echo_Enum1 e1`: an enum16 on the wire, kept as its number because Samba passes unknown values through
    /// (smbtorture `rpc.echo` sends 76 here and expects it back).
    pub e1: u16,
    /// `echo_Enum1_32 e2`.
    pub e2: EchoEnum32,
}

/// `[switch_type(uint16)] union echo_Enum3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(switch_type = u16, name = "echo_Enum3")]
pub enum EchoEnum3 {
    /// `[case(ECHO_ENUM1)] echo_Enum1 e1`.
    #[ndr(case = 1)]
    E1(EchoEnum1),
    /// `[case(ECHO_ENUM2)] echo_Enum2 e2`.
    #[ndr(case = 2)]
    E2(EchoEnum2),
}

/// `echo_TestEnum` parameters: the same `[in,out,ref]` parameters in the request and the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(params, name = "echo_TestEnum")]
pub struct TestEnumParams {
    /// `echo_Enum1 *foo1`.
    pub foo1: EchoEnum1,
    /// `echo_Enum2 *foo2`.
    pub foo2: EchoEnum2,
    /// `[switch_is(*foo1)] echo_Enum3 *foo3`.
    #[ndr(switch_is = "foo1")]
    pub foo3: EchoEnum3,
}

/// `echo_Surrounding`: a conformant structure whose array size the server changes (smbtorture sends 20
/// elements and expects 40 back).
///
/// Hand-written [`Ndr`] impl: the same representation as a derived one (conformance hoisted to the front,
/// C706 14.3.7.1; [MS-RPCE 2.2.5.3.4.2]) plus, in NDR64, the trailing pad to the structure's 4-byte alignment
/// after the array that Samba's pidl code writes and requires when reading (`ndr_push_trailer_align`). The
/// interface exists only in Samba, so its NDR64 follows Samba.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EchoSurrounding {
    /// `x`.
    pub x: u32,
    /// `[size_is(x)] uint16 surrounding[*]`.
    pub surrounding: ConfArray<u16>,
}

impl EchoSurrounding {
    /// `n` zero elements; `None` above `u32::MAX`.
    #[must_use]
    pub fn zeroed(n: usize) -> Option<Self> {
        Some(Self { x: u32::try_from(n).ok()?, surrounding: ConfArray(vec![0; n]) })
    }

    /// `[size_is(x)]`: the array holds `x` elements.
    fn check_size(&self, offset: usize) -> dcom_ndr::Result<()> {
        let actual = u64::try_from(self.surrounding.len()).unwrap_or(u64::MAX);
        if u64::from(self.x) == actual {
            Ok(())
        } else {
            let kind = NdrErrorKind::InconsistentCount { what: "size_is", expected: i128::from(self.x), actual };
            Err(NdrError::new(kind, offset).in_field("surrounding").in_type("echo_Surrounding"))
        }
    }
}

/// Structure alignment: the largest member alignment, `uint32 x` (C706 14.3.7).
const SURROUNDING_ALIGN: usize = 4;

impl Ndr for EchoSurrounding {
    const CONFORMANT: bool = true;
    const HAS_POINTERS: bool = false;
    const MIN_WIRE_SIZE: usize = 4;

    fn ndr_align(_: Syntax) -> usize {
        SURROUNDING_ALIGN
    }

    fn conformance(&self) -> Option<u64> {
        self.surrounding.conformance()
    }

    fn encode_inline(&self, w: &mut NdrWriter) -> dcom_ndr::Result<()> {
        self.check_size(w.position())?;
        // C706 14.3.7.1: the outermost conformant structure writes the maximum count first.
        if !w.has_hoisted() {
            w.hoist_conformance(u64::from(self.x))?;
        }
        w.align(SURROUNDING_ALIGN);
        w.write_u32(self.x);
        // Consumes the hoisted conformance, then writes the elements.
        self.surrounding.encode_inline(w).map_err(|e| e.in_field("surrounding").in_type("echo_Surrounding"))?;
        if w.syntax() == Syntax::Ndr64 {
            w.align(SURROUNDING_ALIGN);
        }
        Ok(())
    }

    fn decode_inline(r: &mut NdrReader<'_>) -> dcom_ndr::Result<Self> {
        r.enter()?;
        let start = r.position();
        let hoisted_here = !r.has_hoisted();
        if hoisted_here {
            let c = r.read_word()?;
            r.set_hoisted(c);
        }
        r.align(SURROUNDING_ALIGN)?;
        let x = u32::decode_inline(r)?;
        let surrounding =
            ConfArray::<u16>::decode_inline(r).map_err(|e| e.in_field("surrounding").in_type("echo_Surrounding"))?;
        if hoisted_here && r.take_hoisted().is_some() {
            return Err(r.error(NdrErrorKind::ConformanceNotConsumed));
        }
        if r.syntax() == Syntax::Ndr64 {
            r.align(SURROUNDING_ALIGN)?;
        }
        r.leave();
        let v = Self { x, surrounding };
        v.check_size(start)?;
        Ok(v)
    }
}

/// `echo_TestSurrounding` parameters (request and response).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestSurrounding")]
pub struct TestSurroundingParams {
    /// `[in,out,ref] echo_Surrounding *data`.
    pub data: EchoSurrounding,
}

/// `echo_TestDoublePointer` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestDoublePointer_in")]
pub struct TestDoublePointerIn {
    /// `uint16 ***data`: a top-level `[ref]` (no wire form) to a unique pointer to a unique pointer to the
    /// value; `None` and `Some(None)` are the two null levels.
    pub data: Option<Option<u16>>,
}

/// `echo_TestDoublePointer` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "echo_TestDoublePointer_out")]
pub struct TestDoublePointerOut {
    /// `uint16` return value.
    pub result: u16,
}

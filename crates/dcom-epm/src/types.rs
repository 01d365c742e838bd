//! The endpoint mapper's NDR types and the parameters of its methods (C706 appendix O, [MS-RPCE 2.2.1.2] and
//! [MS-RPCE 3.1.1.2.1]).

use dcom_ndr::{ConfArray, ConfVarArray, ContextHandle, Ndr, VarArray};
use uuid::Uuid;

use crate::tower::{Tower, TowerError};

/// `ept_max_annotation_size` (C706 appendix O): an annotation holds at most 64 characters with its NUL.
pub const MAX_ANNOTATION: usize = 64;

/// `twr_t`: a protocol tower as a counted octet string (C706 appendix L, [MS-RPCE 2.2.1.2.1]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "twr_t")]
pub struct Twr {
    /// `tower_length`.
    pub tower_length: u32,
    /// `[size_is(tower_length)] byte tower_octet_string[]`.
    #[ndr(size_is = "tower_length")]
    pub tower_octet_string: ConfArray<u8>,
}

impl Twr {
    /// Wraps an encoded tower.
    pub fn from_tower(tower: &Tower) -> Result<Self, TowerError> {
        let mut octets = Vec::new();
        tower.encode(&mut octets)?;
        let tower_length =
            u32::try_from(octets.len()).map_err(|_| TowerError { offset: 0, what: "tower longer than 4 GiB" })?;
        Ok(Self { tower_length, tower_octet_string: ConfArray(octets) })
    }

    /// Decodes the floors.
    pub fn tower(&self) -> Result<Tower, TowerError> {
        Tower::decode(&self.tower_octet_string)
    }
}

/// `rpc_if_id_t`: an interface UUID and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "rpc_if_id_t")]
pub struct RpcIfId {
    /// `uuid`.
    pub uuid: Uuid,
    /// `vers_major`.
    pub vers_major: u16,
    /// `vers_minor`.
    pub vers_minor: u16,
}

/// `ept_entry_t`: one registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ept_entry_t")]
pub struct EptEntry {
    /// `object`.
    pub object: Uuid,
    /// `tower` (`twr_p_t`, a unique pointer).
    pub tower: Option<Twr>,
    /// `[string] char annotation[ept_max_annotation_size]`: a varying array including the NUL.
    pub annotation: VarArray<u8, MAX_ANNOTATION>,
}

impl EptEntry {
    /// The annotation text without its terminator.
    pub fn annotation_text(&self) -> String {
        let a = &self.annotation.items;
        let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
        String::from_utf8_lossy(a.get(..end).unwrap_or_default()).into_owned()
    }
}

/// Inquiry types of `ept_lookup` (C706 appendix O, `rpc_c_ep_*`).
pub mod inquiry {
    /// Every element.
    pub const ALL_ELTS: u32 = 0;
    /// Elements for an interface.
    pub const MATCH_BY_IF: u32 = 1;
    /// Elements for an object.
    pub const MATCH_BY_OBJ: u32 = 2;
    /// Elements for an interface and object.
    pub const MATCH_BY_BOTH: u32 = 3;
}

/// `ept_insert` (opnum 0) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_insert_in")]
pub struct EptInsertIn {
    /// `num_ents`.
    pub num_ents: u32,
    /// `[size_is(num_ents)] ept_entry_t entries[]`.
    #[ndr(size_is = "num_ents")]
    pub entries: ConfArray<EptEntry>,
    /// `replace` (boolean32).
    pub replace: u32,
}

/// `ept_delete` (opnum 1) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_delete_in")]
pub struct EptDeleteIn {
    /// `num_ents`.
    pub num_ents: u32,
    /// `[size_is(num_ents)] ept_entry_t entries[]`.
    #[ndr(size_is = "num_ents")]
    pub entries: ConfArray<EptEntry>,
}

/// Out-parameters that are only a status (`ept_insert`, `ept_delete`, `ept_mgmt_delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_status_out")]
pub struct StatusOut {
    /// `error_status_t status`.
    pub status: u32,
}

/// `ept_lookup` (opnum 2) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_lookup_in")]
pub struct EptLookupIn {
    /// `inquiry_type` (see [`inquiry`]).
    pub inquiry_type: u32,
    /// `uuid_p_t object`.
    pub object: Option<Uuid>,
    /// `rpc_if_id_p_t interface_id`.
    pub interface_id: Option<RpcIfId>,
    /// `vers_option`.
    pub vers_option: u32,
    /// `[in, out] ept_lookup_handle_t *entry_handle`.
    pub entry_handle: ContextHandle,
    /// `max_ents`.
    pub max_ents: u32,
}

/// `ept_lookup` out-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_lookup_out")]
pub struct EptLookupOut {
    /// `entry_handle`.
    pub entry_handle: ContextHandle,
    /// `num_ents`.
    pub num_ents: u32,
    /// `[length_is(*num_ents), size_is(max_ents)] ept_entry_t entries[]`.
    #[ndr(length_is = "num_ents")]
    pub entries: ConfVarArray<EptEntry>,
    /// `status`.
    pub status: u32,
}

/// `ept_map` (opnum 3) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_map_in")]
pub struct EptMapIn {
    /// `uuid_p_t object`.
    pub object: Option<Uuid>,
    /// `twr_p_t map_tower`.
    pub map_tower: Option<Twr>,
    /// `[in, out] ept_lookup_handle_t *entry_handle`.
    pub entry_handle: ContextHandle,
    /// `max_towers`.
    pub max_towers: u32,
}

/// `ept_map` out-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_map_out")]
pub struct EptMapOut {
    /// `entry_handle`.
    pub entry_handle: ContextHandle,
    /// `num_towers`.
    pub num_towers: u32,
    /// `[length_is(*num_towers), size_is(max_towers)] twr_p_t towers[]`.
    #[ndr(length_is = "num_towers")]
    pub towers: ConfVarArray<Option<Twr>>,
    /// `status`.
    pub status: u32,
}

/// `ept_lookup_handle_free` (opnum 4) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_lookup_handle_free_in")]
pub struct EptLookupHandleFreeIn {
    /// `[in, out] entry_handle`.
    pub entry_handle: ContextHandle,
}

/// `ept_lookup_handle_free` out-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_lookup_handle_free_out")]
pub struct EptLookupHandleFreeOut {
    /// `entry_handle`.
    pub entry_handle: ContextHandle,
    /// `status`.
    pub status: u32,
}

/// `ept_inq_object` (opnum 5) out-parameters (it has no in-parameters besides the binding).
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_inq_object_out")]
pub struct EptInqObjectOut {
    /// `ept_object`.
    pub ept_object: Uuid,
    /// `status`.
    pub status: u32,
}

/// `ept_mgmt_delete` (opnum 6) in-parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_mgmt_delete_in")]
pub struct EptMgmtDeleteIn {
    /// `object_speced` (boolean32).
    pub object_speced: u32,
    /// `uuid_p_t object`.
    pub object: Option<Uuid>,
    /// `twr_p_t tower`.
    pub tower: Option<Twr>,
}

/// Opnums of the `ept` interface.
pub mod opnum {
    /// `ept_insert`.
    pub const INSERT: u16 = 0;
    /// `ept_delete`.
    pub const DELETE: u16 = 1;
    /// `ept_lookup`.
    pub const LOOKUP: u16 = 2;
    /// `ept_map`.
    pub const MAP: u16 = 3;
    /// `ept_lookup_handle_free`.
    pub const LOOKUP_HANDLE_FREE: u16 = 4;
    /// `ept_inq_object`.
    pub const INQ_OBJECT: u16 = 5;
    /// `ept_mgmt_delete`.
    pub const MGMT_DELETE: u16 = 6;
}

/// The name of an `ept` method.
pub fn method_name(opnum: u16) -> Option<&'static str> {
    Some(match opnum {
        opnum::INSERT => "ept_insert",
        opnum::DELETE => "ept_delete",
        opnum::LOOKUP => "ept_lookup",
        opnum::MAP => "ept_map",
        opnum::LOOKUP_HANDLE_FREE => "ept_lookup_handle_free",
        opnum::INQ_OBJECT => "ept_inq_object",
        opnum::MGMT_DELETE => "ept_mgmt_delete",
        _ => return None,
    })
}

/// The parameters of one `ept` call in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpmCall {
    /// `ept_insert` request.
    InsertIn(EptInsertIn),
    /// `ept_delete` request.
    DeleteIn(EptDeleteIn),
    /// `ept_lookup` request.
    LookupIn(EptLookupIn),
    /// `ept_lookup` response.
    LookupOut(EptLookupOut),
    /// `ept_map` request.
    MapIn(EptMapIn),
    /// `ept_map` response.
    MapOut(EptMapOut),
    /// `ept_lookup_handle_free` request.
    LookupHandleFreeIn(EptLookupHandleFreeIn),
    /// `ept_lookup_handle_free` response.
    LookupHandleFreeOut(EptLookupHandleFreeOut),
    /// `ept_inq_object` request (no parameters).
    InqObjectIn,
    /// `ept_inq_object` response.
    InqObjectOut(EptInqObjectOut),
    /// `ept_mgmt_delete` request.
    MgmtDeleteIn(EptMgmtDeleteIn),
    /// A response carrying only a status (`ept_insert`, `ept_delete`, `ept_mgmt_delete`).
    StatusOut(StatusOut),
}

/// Why a stub is not a valid `ept` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpmError {
    /// The opnum is not one of the seven `ept` methods.
    UnknownOpnum(u16),
    /// The stub does not decode as the method's parameters.
    Ndr(dcom_ndr::NdrError),
    /// The parameters ended before the stub did.
    TrailingBytes {
        /// Bytes the parameters took.
        used: usize,
        /// The stub length.
        len: usize,
    },
}

impl std::fmt::Display for EpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownOpnum(op) => write!(f, "ept has no opnum {op}"),
            Self::Ndr(e) => write!(f, "{e}"),
            Self::TrailingBytes { used, len } => {
                write!(f, "{} trailing bytes after the parameters at stub offset {used}", len.saturating_sub(*used))
            }
        }
    }
}

impl std::error::Error for EpmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ndr(e) => Some(e),
            Self::UnknownOpnum(_) | Self::TrailingBytes { .. } => None,
        }
    }
}

impl From<dcom_ndr::NdrError> for EpmError {
    fn from(e: dcom_ndr::NdrError) -> Self {
        Self::Ndr(e)
    }
}

impl EpmCall {
    /// Decodes the stub of a request (`is_request`) or response of `opnum`. The whole stub must be used.
    pub fn decode(opnum: u16, is_request: bool, stub: &[u8], ctx: dcom_ndr::NdrContext) -> Result<Self, EpmError> {
        let (call, used) = Self::decode_prefix(opnum, is_request, stub, ctx)?;
        if used == stub.len() { Ok(call) } else { Err(EpmError::TrailingBytes { used, len: stub.len() }) }
    }

    /// Decodes the parameters at the start of `stub` and returns them with the number of bytes they took. The
    /// caller decides what may follow (stub padding and a verification trailer, [MS-RPCE 2.2.2.13]).
    pub fn decode_prefix(
        opnum: u16,
        is_request: bool,
        stub: &[u8],
        ctx: dcom_ndr::NdrContext,
    ) -> Result<(Self, usize), EpmError> {
        Self::decode_prefix_with_ids(opnum, is_request, stub, ctx).map(|(c, used, _)| (c, used))
    }

    /// Like [`EpmCall::decode_prefix`], and also returns the sender's referent ids in wire order, for
    /// [`EpmCall::encode_with_ids`].
    pub fn decode_prefix_with_ids(
        opnum: u16,
        is_request: bool,
        stub: &[u8],
        ctx: dcom_ndr::NdrContext,
    ) -> Result<(Self, usize, Vec<u64>), EpmError> {
        fn d<T: Ndr>(
            stub: &[u8],
            ctx: dcom_ndr::NdrContext,
            f: impl FnOnce(T) -> EpmCall,
        ) -> Result<(EpmCall, usize, Vec<u64>), EpmError> {
            let (v, used, ids) = dcom_ndr::decode_prefix_with_ids::<T>(stub, ctx)?;
            Ok((f(v), used, ids))
        }
        match (opnum, is_request) {
            (opnum::INSERT, true) => d(stub, ctx, Self::InsertIn),
            (opnum::DELETE, true) => d(stub, ctx, Self::DeleteIn),
            (opnum::LOOKUP, true) => d(stub, ctx, Self::LookupIn),
            (opnum::LOOKUP, false) => d(stub, ctx, Self::LookupOut),
            (opnum::MAP, true) => d(stub, ctx, Self::MapIn),
            (opnum::MAP, false) => d(stub, ctx, Self::MapOut),
            (opnum::LOOKUP_HANDLE_FREE, true) => d(stub, ctx, Self::LookupHandleFreeIn),
            (opnum::LOOKUP_HANDLE_FREE, false) => d(stub, ctx, Self::LookupHandleFreeOut),
            (opnum::INQ_OBJECT, true) => Ok((Self::InqObjectIn, 0, Vec::new())),
            (opnum::INQ_OBJECT, false) => d(stub, ctx, Self::InqObjectOut),
            (opnum::MGMT_DELETE, true) => d(stub, ctx, Self::MgmtDeleteIn),
            (opnum::INSERT | opnum::DELETE | opnum::MGMT_DELETE, false) => d(stub, ctx, Self::StatusOut),
            (op, _) => Err(EpmError::UnknownOpnum(op)),
        }
    }

    /// Encodes the parameters as a stub (referent ids numbered as MIDL does).
    pub fn encode(&self, ctx: dcom_ndr::NdrContext) -> Result<Vec<u8>, EpmError> {
        self.encode_with_ids(ctx, &[])
    }

    /// Encodes the parameters as a stub, numbering pointers with `ids` first (a decoded stub's numbering).
    pub fn encode_with_ids(&self, ctx: dcom_ndr::NdrContext, ids: &[u64]) -> Result<Vec<u8>, EpmError> {
        Ok(match self {
            Self::InsertIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::DeleteIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::LookupIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::LookupOut(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::MapIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::MapOut(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::LookupHandleFreeIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::LookupHandleFreeOut(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::InqObjectIn => Vec::new(),
            Self::InqObjectOut(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::MgmtDeleteIn(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
            Self::StatusOut(v) => dcom_ndr::encode_with_ids(v, ctx, ids)?,
        })
    }

    /// Every tower the call carries, in wire order.
    pub fn towers(&self) -> Vec<&Twr> {
        match self {
            Self::InsertIn(v) => v.entries.iter().filter_map(|e| e.tower.as_ref()).collect(),
            Self::DeleteIn(v) => v.entries.iter().filter_map(|e| e.tower.as_ref()).collect(),
            Self::LookupOut(v) => v.entries.items.iter().filter_map(|e| e.tower.as_ref()).collect(),
            Self::MapIn(v) => v.map_tower.iter().collect(),
            Self::MapOut(v) => v.towers.items.iter().flatten().collect(),
            Self::MgmtDeleteIn(v) => v.tower.iter().collect(),
            _ => Vec::new(),
        }
    }
}

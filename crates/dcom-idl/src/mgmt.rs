//! `mgmt` (`afa8bd80-7d8a-11c9-bef4-08002b102989` v1.0): the remote management interface every DCE/RPC server
//! exposes (C706 appendix Q; [MS-RPCE 2.2.1.3]; Samba `librpc/idl/mgmt.idl`). `pointer_default(unique)`.
//!
//! Parameters follow Samba's IDL, whose wire form is the one Windows uses: the `error_status_t` of C706 is the
//! return value here.

use dcom_ndr::{ConfArray, ConfVarArray, Ndr};
use uuid::{Uuid, uuid};

use crate::SyntaxId;

/// Interface UUID and version 1.0.
pub const SYNTAX: SyntaxId = SyntaxId::new(uuid!("afa8bd80-7d8a-11c9-bef4-08002b102989"), 1, 0);

/// Index of "calls received" in [`Statistics::statistics`] (`rpc_c_stats_calls_in`).
pub const STATS_CALLS_IN: usize = 0;
/// Index of "calls sent" (`rpc_c_stats_calls_out`).
pub const STATS_CALLS_OUT: usize = 1;
/// Index of "packets received" (`rpc_c_stats_pkts_in`).
pub const STATS_PKTS_IN: usize = 2;
/// Index of "packets sent" (`rpc_c_stats_pkts_out`).
pub const STATS_PKTS_OUT: usize = 3;
/// Number of statistics (`rpc_c_stats_array_max_size`).
pub const STATS_ARRAY_MAX_SIZE: u32 = 4;

interface! {
    /// The `mgmt` interface.
    Mgmt = "mgmt", SYNTAX;
    /// `WERROR mgmt_inq_if_ids([out] rpc_if_id_vector_t **if_id_vector)`.
    0 INQ_IF_IDS InqIfIds("mgmt_inq_if_ids", InqIfIdsIn, InqIfIdsOut);
    /// `WERROR mgmt_inq_stats([in] uint32 max_count, [in] uint32 unknown, [out,ref] mgmt_statistics *statistics)`.
    1 INQ_STATS InqStats("mgmt_inq_stats", InqStatsIn, InqStatsOut);
    /// `boolean32 mgmt_is_server_listening([out,ref] error_status_t *status)`.
    2 IS_SERVER_LISTENING IsServerListening("mgmt_is_server_listening", IsServerListeningIn, IsServerListeningOut);
    /// `WERROR mgmt_stop_server_listening()`.
    3 STOP_SERVER_LISTENING StopServerListening(
        "mgmt_stop_server_listening",
        StopServerListeningIn,
        StopServerListeningOut
    );
    /// `WERROR mgmt_inq_princ_name([in] uint32 authn_proto, [in] uint32 princ_name_size,
    /// [out,string,size_is(princ_name_size)] uint8 princ_name[])`.
    4 INQ_PRINC_NAME InqPrincName("mgmt_inq_princ_name", InqPrincNameIn, InqPrincNameOut);
}

/// `rpc_if_id_t` (C706 appendix Q; Windows `RPC_IF_ID`): interface UUID and version. Samba declares the two
/// versions as one `uint32 if_version` (`ndr_syntax_id`), the same bytes in little-endian order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "rpc_if_id_t")]
pub struct RpcIfId {
    /// `uuid`.
    pub uuid: Uuid,
    /// `vers_major`.
    pub vers_major: u16,
    /// `vers_minor`.
    pub vers_minor: u16,
}

impl From<SyntaxId> for RpcIfId {
    fn from(s: SyntaxId) -> Self {
        Self { uuid: s.uuid, vers_major: s.major, vers_minor: s.minor }
    }
}

impl From<RpcIfId> for SyntaxId {
    fn from(i: RpcIfId) -> Self {
        Self::new(i.uuid, i.vers_major, i.vers_minor)
    }
}

/// `rpc_if_id_vector_t`: a counted array of unique pointers to interface ids (a conformant structure).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "rpc_if_id_vector_t")]
pub struct RpcIfIdVector {
    /// `count`.
    pub count: u32,
    /// `[size_is(count)] rpc_if_id_p_t if_id[*]` (Samba wraps each pointer in `ndr_syntax_id_p`, the same
    /// bytes).
    #[ndr(size_is = "count")]
    pub if_id: ConfArray<Option<RpcIfId>>,
}

impl RpcIfIdVector {
    /// A vector of non-null ids; `None` above `u32::MAX` entries.
    #[must_use]
    pub fn new(ids: impl IntoIterator<Item = RpcIfId>) -> Option<Self> {
        let if_id: Vec<Option<RpcIfId>> = ids.into_iter().map(Some).collect();
        Some(Self { count: u32::try_from(if_id.len()).ok()?, if_id: ConfArray(if_id) })
    }
}

/// `mgmt_inq_if_ids` request: no parameters (an empty stub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_if_ids_in")]
pub struct InqIfIdsIn {}

/// `mgmt_inq_if_ids` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_if_ids_out")]
pub struct InqIfIdsOut {
    /// `[out] rpc_if_id_vector_t **if_id_vector`: a `[ref]` to a unique pointer.
    pub if_id_vector: Option<RpcIfIdVector>,
    /// `WERROR` return value (C706 `error_status_t status`).
    pub result: u32,
}

/// `mgmt_inq_stats` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_stats_in")]
pub struct InqStatsIn {
    /// `max_count`: statistics wanted ([`STATS_ARRAY_MAX_SIZE`]).
    pub max_count: u32,
    /// `unknown` (0).
    pub unknown: u32,
}

/// `mgmt_statistics` (`rpc_stats_vector_t`): a conformant structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "mgmt_statistics")]
pub struct Statistics {
    /// `count`.
    pub count: u32,
    /// `[size_is(count)] uint32 statistics[*]`, indexed by [`STATS_CALLS_IN`] and the following constants.
    #[ndr(size_is = "count")]
    pub statistics: ConfArray<u32>,
}

/// `mgmt_inq_stats` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_stats_out")]
pub struct InqStatsOut {
    /// `[out,ref] mgmt_statistics *statistics`.
    pub statistics: Statistics,
    /// `WERROR` return value.
    pub result: u32,
}

/// `mgmt_is_server_listening` request: no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_is_server_listening_in")]
pub struct IsServerListeningIn {}

/// `mgmt_is_server_listening` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_is_server_listening_out")]
pub struct IsServerListeningOut {
    /// `[out,ref] error_status_t *status`.
    pub status: u32,
    /// `boolean32` return value (non-zero: listening).
    pub result: u32,
}

/// `mgmt_stop_server_listening` request: no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_stop_server_listening_in")]
pub struct StopServerListeningIn {}

/// `mgmt_stop_server_listening` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_stop_server_listening_out")]
pub struct StopServerListeningOut {
    /// `WERROR` return value.
    pub result: u32,
}

/// `mgmt_inq_princ_name` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_princ_name_in")]
pub struct InqPrincNameIn {
    /// `authn_proto`: the authentication service ([MS-RPCE 2.2.1.1.7]).
    pub authn_proto: u32,
    /// `princ_name_size`: the buffer size the caller offers, terminator included.
    pub princ_name_size: u32,
}

/// `mgmt_inq_princ_name` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "mgmt_inq_princ_name_out")]
pub struct InqPrincNameOut {
    /// `[string,size_is(princ_name_size)] uint8 princ_name[]`: a conformant varying array whose maximum count
    /// is the request's `princ_name_size` and whose transmitted part ends with the NUL (C706 14.3.4).
    pub princ_name: ConfVarArray<u8>,
    /// `WERROR` return value.
    pub result: u32,
}

impl InqPrincNameOut {
    /// The name for a buffer of `size` bytes; `None` when the name and its NUL do not fit.
    #[must_use]
    pub fn new(name: &str, size: u32, result: u32) -> Option<Self> {
        let mut bytes = name.as_bytes().to_vec();
        bytes.push(0);
        if u64::try_from(bytes.len()).ok()? > u64::from(size) {
            return None;
        }
        Some(Self { princ_name: ConfVarArray::with_max(bytes, u64::from(size)), result })
    }

    /// The name without its terminator (and anything after an embedded NUL), lossily decoded.
    #[must_use]
    pub fn name(&self) -> String {
        let b = &self.princ_name.items;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
    }
}

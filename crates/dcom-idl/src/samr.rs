//! `samr` (`12345778-1234-abcd-ef00-0123456789ac` v1.0): the few Security Account Manager calls a client needs
//! to reach a domain ([MS-SAMR 3.1.5]; Samba `librpc/idl/samr.idl`). `pointer_default(unique)`.

use dcom_ndr::{ConfArray, Ndr, WString};
use uuid::uuid;

use crate::SyntaxId;
use crate::common::{PolicyHandle, RpcSid, RpcUnicodeString};

/// Interface UUID and version 1.0.
pub const SYNTAX: SyntaxId = SyntaxId::new(uuid!("12345778-1234-abcd-ef00-0123456789ac"), 1, 0);

/// `SAM_SERVER_CONNECT` access right ([MS-SAMR 2.2.1.3]).
pub const SAM_SERVER_CONNECT: u32 = 0x0000_0001;
/// `SAM_SERVER_ENUMERATE_DOMAINS`.
pub const SAM_SERVER_ENUMERATE_DOMAINS: u32 = 0x0000_0010;
/// `SAM_SERVER_LOOKUP_DOMAIN`.
pub const SAM_SERVER_LOOKUP_DOMAIN: u32 = 0x0000_0020;
/// `MAXIMUM_ALLOWED` ([MS-DTYP 2.4.3]).
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;

interface! {
    /// The `samr` interface (the operations this crate models).
    Samr = "samr", SYNTAX;
    /// `NTSTATUS samr_Close([in,out,ref] policy_handle *handle)` ([MS-SAMR 3.1.5.13.1] SamrCloseHandle).
    1 CLOSE Close("samr_Close", CloseIn, CloseOut);
    /// `NTSTATUS samr_LookupDomain([in,ref] policy_handle *connect_handle, [in,ref] lsa_String *domain_name,
    /// [out,ref] dom_sid2 **sid)` ([MS-SAMR 3.1.5.11.1] SamrLookupDomainInSamServer).
    5 LOOKUP_DOMAIN LookupDomain("samr_LookupDomain", LookupDomainIn, LookupDomainOut);
    /// `NTSTATUS samr_EnumDomains([in] policy_handle *connect_handle, [in,out,ref] uint32 *resume_handle,
    /// [out,ref] samr_SamArray **sam, [in] uint32 buf_size, [out,ref] uint32 *num_entries)`
    /// ([MS-SAMR 3.1.5.2.1] SamrEnumerateDomainsInSamServer).
    6 ENUM_DOMAINS EnumDomains("samr_EnumDomains", EnumDomainsIn, EnumDomainsOut);
    /// `NTSTATUS samr_Connect2([in,unique,string] uint16 *system_name, [in] uint32 access_mask,
    /// [out,ref] policy_handle *connect_handle)` ([MS-SAMR 3.1.5.1.4] SamrConnect2).
    57 CONNECT2 Connect2("samr_Connect2", Connect2In, Connect2Out);
    /// `NTSTATUS samr_Connect5([in,unique,string] uint16 *system_name, [in] uint32 access_mask,
    /// [in] uint32 level_in, [in,ref,switch_is(level_in)] samr_ConnectInfo *info_in,
    /// [out,ref] uint32 *level_out, [out,ref,switch_is(*level_out)] samr_ConnectInfo *info_out,
    /// [out,ref] policy_handle *connect_handle)` ([MS-SAMR 3.1.5.1.1] SamrConnect5).
    64 CONNECT5 Connect5("samr_Connect5", Connect5In, Connect5Out);
}

/// `samr_Close` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_Close_in")]
pub struct CloseIn {
    /// `handle`.
    pub handle: PolicyHandle,
}

/// `samr_Close` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_Close_out")]
pub struct CloseOut {
    /// `handle`: zeroed by the server on success.
    pub handle: PolicyHandle,
    /// `NTSTATUS` return value.
    pub result: u32,
}

/// `samr_LookupDomain` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_LookupDomain_in")]
pub struct LookupDomainIn {
    /// `connect_handle`.
    pub connect_handle: PolicyHandle,
    /// `domain_name` (`RPC_UNICODE_STRING`).
    pub domain_name: RpcUnicodeString,
}

/// `samr_LookupDomain` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_LookupDomain_out")]
pub struct LookupDomainOut {
    /// `dom_sid2 **sid`: a `[ref]` to a unique pointer to the domain SID.
    pub sid: Option<RpcSid>,
    /// `NTSTATUS` return value.
    pub result: u32,
}

/// `samr_SamEntry` (`SAMPR_RID_ENUMERATION`): an index and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "samr_SamEntry")]
pub struct SamEntry {
    /// `idx` (`RelativeId`).
    pub idx: u32,
    /// `name`.
    pub name: RpcUnicodeString,
}

/// `samr_SamArray` (`SAMPR_ENUMERATION_BUFFER`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "samr_SamArray")]
pub struct SamArray {
    /// `count` (`EntriesRead`).
    pub count: u32,
    /// `[size_is(count)] samr_SamEntry *entries`.
    #[ndr(size_is = "count")]
    pub entries: Option<ConfArray<SamEntry>>,
}

impl SamArray {
    /// An array of `entries` (a non-null pointer even when empty); `None` above `u32::MAX` entries.
    #[must_use]
    pub fn new(entries: Vec<SamEntry>) -> Option<Self> {
        Some(Self { count: u32::try_from(entries.len()).ok()?, entries: Some(ConfArray(entries)) })
    }
}

/// `samr_EnumDomains` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_EnumDomains_in")]
pub struct EnumDomainsIn {
    /// `connect_handle`.
    pub connect_handle: PolicyHandle,
    /// `resume_handle` (0 on the first call).
    pub resume_handle: u32,
    /// `buf_size` (`PreferedMaximumLength`).
    pub buf_size: u32,
}

/// `samr_EnumDomains` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_EnumDomains_out")]
pub struct EnumDomainsOut {
    /// `resume_handle`.
    pub resume_handle: u32,
    /// `samr_SamArray **sam`: a `[ref]` to a unique pointer.
    pub sam: Option<SamArray>,
    /// `num_entries`.
    pub num_entries: u32,
    /// `NTSTATUS` return value (`STATUS_MORE_ENTRIES` 0x00000105 when `resume_handle` continues).
    pub result: u32,
}

/// `samr_Connect2` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_Connect2_in")]
pub struct Connect2In {
    /// `[unique,string] uint16 *system_name` (`ServerName`).
    #[ndr(string)]
    pub system_name: Option<WString>,
    /// `access_mask` (`DesiredAccess`).
    pub access_mask: u32,
}

/// `samr_Connect2` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "samr_Connect2_out")]
pub struct Connect2Out {
    /// `connect_handle` (`ServerHandle`).
    pub connect_handle: PolicyHandle,
    /// `NTSTATUS` return value.
    pub result: u32,
}

/// `samr_ConnectInfo1` (`SAMPR_REVISION_INFO_V1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "samr_ConnectInfo1")]
pub struct ConnectInfo1 {
    /// `client_version` (`Revision`, 3).
    pub client_version: u32,
    /// `supported_features` (`SupportedFeatures`).
    pub supported_features: u32,
}

/// `[switch_type(uint32)] union samr_ConnectInfo` (`SAMPR_REVISION_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(switch_type = u32, name = "samr_ConnectInfo")]
pub enum ConnectInfo {
    /// `[case(1)] samr_ConnectInfo1 info1`.
    #[ndr(case = 1)]
    Info1(ConnectInfo1),
}

/// `samr_Connect5` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Ndr)]
#[ndr(params, name = "samr_Connect5_in")]
pub struct Connect5In {
    /// `[unique,string] uint16 *system_name` (`ServerName`).
    #[ndr(string)]
    pub system_name: Option<WString>,
    /// `access_mask` (`DesiredAccess`).
    pub access_mask: u32,
    /// `level_in` (`InVersion`, 1).
    pub level_in: u32,
    /// `[ref,switch_is(level_in)] samr_ConnectInfo *info_in`.
    #[ndr(switch_is = "level_in")]
    pub info_in: ConnectInfo,
}

/// `samr_Connect5` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Ndr)]
#[ndr(params, name = "samr_Connect5_out")]
pub struct Connect5Out {
    /// `level_out` (`OutVersion`).
    pub level_out: u32,
    /// `[ref,switch_is(*level_out)] samr_ConnectInfo *info_out`.
    #[ndr(switch_is = "level_out")]
    pub info_out: ConnectInfo,
    /// `connect_handle` (`ServerHandle`).
    pub connect_handle: PolicyHandle,
    /// `NTSTATUS` return value.
    pub result: u32,
}

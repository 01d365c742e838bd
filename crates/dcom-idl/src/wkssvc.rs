//! `wkssvc` (`6bffd098-a112-3610-9833-46c3f87e345a` v1.0): the Workstation Service Remote Protocol ([MS-WKST];
//! Samba `librpc/idl/wkssvc.idl`), of which only `NetrWkstaGetInfo` is modelled. `pointer_default(unique)`.

use dcom_ndr::{Ndr, WString};
use uuid::uuid;

use crate::SyntaxId;

/// Interface UUID and version 1.0 ([MS-WKST 2.1]).
pub const SYNTAX: SyntaxId = SyntaxId::new(uuid!("6bffd098-a112-3610-9833-46c3f87e345a"), 1, 0);

/// `PLATFORM_ID_DOS` ([MS-WKST 2.2.5.1]).
pub const PLATFORM_ID_DOS: u32 = 300;
/// `PLATFORM_ID_OS2`.
pub const PLATFORM_ID_OS2: u32 = 400;
/// `PLATFORM_ID_NT`.
pub const PLATFORM_ID_NT: u32 = 500;
/// `PLATFORM_ID_OSF`.
pub const PLATFORM_ID_OSF: u32 = 600;
/// `PLATFORM_ID_VMS`.
pub const PLATFORM_ID_VMS: u32 = 700;

interface! {
    /// The `wkssvc` interface.
    Wkssvc = "wkssvc", SYNTAX;
    /// `WERROR wkssvc_NetWkstaGetInfo([in,unique,string] uint16 *server_name, [in] uint32 level,
    /// [out,switch_is(level),ref] wkssvc_NetWkstaInfo *info)` ([MS-WKST 3.2.4.1] NetrWkstaGetInfo).
    0 NETR_WKSTA_GET_INFO NetrWkstaGetInfo("wkssvc_NetWkstaGetInfo", NetrWkstaGetInfoIn, NetrWkstaGetInfoOut);
}

/// `WKSTA_INFO_100` ([MS-WKST 2.2.5.1]; Samba `wkssvc_NetWkstaInfo100`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "WKSTA_INFO_100")]
pub struct WkstaInfo100 {
    /// `wki100_platform_id` (`PLATFORM_ID_*`; Samba a `v1_enum`, the same 32 bits).
    pub platform_id: u32,
    /// `[string] wchar_t* wki100_computername` (Samba `server_name`).
    #[ndr(string)]
    pub server_name: Option<WString>,
    /// `[string] wchar_t* wki100_langroup` (Samba `domain_name`).
    #[ndr(string)]
    pub domain_name: Option<WString>,
    /// `wki100_ver_major`.
    pub version_major: u32,
    /// `wki100_ver_minor`.
    pub version_minor: u32,
}

/// `WKSTA_INFO_101` ([MS-WKST 2.2.5.2]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "WKSTA_INFO_101")]
pub struct WkstaInfo101 {
    /// `wki101_platform_id`.
    pub platform_id: u32,
    /// `wki101_computername`.
    #[ndr(string)]
    pub server_name: Option<WString>,
    /// `wki101_langroup`.
    #[ndr(string)]
    pub domain_name: Option<WString>,
    /// `wki101_ver_major`.
    pub version_major: u32,
    /// `wki101_ver_minor`.
    pub version_minor: u32,
    /// `wki101_lanroot`.
    #[ndr(string)]
    pub lan_root: Option<WString>,
}

/// `WKSTA_INFO_102` ([MS-WKST 2.2.5.3]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "WKSTA_INFO_102")]
pub struct WkstaInfo102 {
    /// `wki102_platform_id`.
    pub platform_id: u32,
    /// `wki102_computername`.
    #[ndr(string)]
    pub server_name: Option<WString>,
    /// `wki102_langroup`.
    #[ndr(string)]
    pub domain_name: Option<WString>,
    /// `wki102_ver_major`.
    pub version_major: u32,
    /// `wki102_ver_minor`.
    pub version_minor: u32,
    /// `wki102_lanroot`.
    #[ndr(string)]
    pub lan_root: Option<WString>,
    /// `wki102_logged_on_users`.
    pub logged_on_users: u32,
}

/// `WKSTA_INFO_502` ([MS-WKST 2.2.5.4]): 35 32-bit settings, in wire order (the last 15 are `BOOL`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "WKSTA_INFO_502")]
pub struct WkstaInfo502 {
    /// `wki502_char_wait`.
    pub char_wait: u32,
    /// `wki502_collection_time`.
    pub collection_time: u32,
    /// `wki502_maximum_collection_count`.
    pub maximum_collection_count: u32,
    /// `wki502_keep_conn`.
    pub keep_connection: u32,
    /// `wki502_max_cmds`.
    pub max_commands: u32,
    /// `wki502_sess_timeout`.
    pub session_timeout: u32,
    /// `wki502_siz_char_buf`.
    pub size_char_buf: u32,
    /// `wki502_max_threads`.
    pub max_threads: u32,
    /// `wki502_lock_quota`.
    pub lock_quota: u32,
    /// `wki502_lock_increment`.
    pub lock_increment: u32,
    /// `wki502_lock_maximum`.
    pub lock_maximum: u32,
    /// `wki502_pipe_increment`.
    pub pipe_increment: u32,
    /// `wki502_pipe_maximum`.
    pub pipe_maximum: u32,
    /// `wki502_cache_file_timeout`.
    pub cache_file_timeout: u32,
    /// `wki502_dormant_file_limit`.
    pub dormant_file_limit: u32,
    /// `wki502_read_ahead_throughput`.
    pub read_ahead_throughput: u32,
    /// `wki502_num_mailslot_buffers`.
    pub num_mailslot_buffers: u32,
    /// `wki502_num_srv_announce_buffers`.
    pub num_srv_announce_buffers: u32,
    /// `wki502_max_illegal_datagram_events`.
    pub max_illegal_dgram_events: u32,
    /// `wki502_illegal_datagram_event_reset_frequency`.
    pub dgram_event_reset_freq: u32,
    /// `wki502_log_election_packets`.
    pub log_election_packets: u32,
    /// `wki502_use_opportunistic_locking`.
    pub use_opportunistic_locking: u32,
    /// `wki502_use_unlock_behind`.
    pub use_unlock_behind: u32,
    /// `wki502_use_close_behind`.
    pub use_close_behind: u32,
    /// `wki502_buf_named_pipes`.
    pub buf_named_pipes: u32,
    /// `wki502_use_lock_read_unlock`.
    pub use_lock_read_unlock: u32,
    /// `wki502_utilize_nt_caching`.
    pub utilize_nt_caching: u32,
    /// `wki502_use_raw_read`.
    pub use_raw_read: u32,
    /// `wki502_use_raw_write`.
    pub use_raw_write: u32,
    /// `wki502_use_write_raw_data`.
    pub use_write_raw_data: u32,
    /// `wki502_use_encryption`.
    pub use_encryption: u32,
    /// `wki502_buf_files_deny_write`.
    pub buf_files_deny_write: u32,
    /// `wki502_buf_read_only_files`.
    pub buf_read_only_files: u32,
    /// `wki502_force_core_create_mode`.
    pub force_core_create_mode: u32,
    /// `wki502_use_512_byte_max_transfer`.
    pub use_512_byte_max_transfer: u32,
}

/// `[switch_type(unsigned long)] union WKSTA_INFO` ([MS-WKST 2.2.4.1]; Samba `wkssvc_NetWkstaInfo`): each arm a
/// unique pointer. The levels 1010-1062 point to structures of a single `DWORD`, modelled as `Option<u32>`
/// (the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Ndr)]
#[ndr(switch_type = u32, name = "WKSTA_INFO")]
pub enum WkstaInfo {
    /// `[case(100)] LPWKSTA_INFO_100 WkstaInfo100`.
    #[ndr(case = 100)]
    Info100(Option<WkstaInfo100>),
    /// `[case(101)] LPWKSTA_INFO_101 WkstaInfo101`.
    #[ndr(case = 101)]
    Info101(Option<WkstaInfo101>),
    /// `[case(102)] LPWKSTA_INFO_102 WkstaInfo102`.
    #[ndr(case = 102)]
    Info102(Option<WkstaInfo102>),
    /// `[case(502)] LPWKSTA_INFO_502 WkstaInfo502`.
    #[ndr(case = 502)]
    Info502(Option<WkstaInfo502>),
    /// `[case(1010)]` char_wait.
    #[ndr(case = 1010)]
    Info1010(Option<u32>),
    /// `[case(1011)]` collection_time.
    #[ndr(case = 1011)]
    Info1011(Option<u32>),
    /// `[case(1012)]` maximum_collection_count.
    #[ndr(case = 1012)]
    Info1012(Option<u32>),
    /// `[case(1013)]` keep_connection.
    #[ndr(case = 1013)]
    Info1013(Option<u32>),
    /// `[case(1018)]` session_timeout.
    #[ndr(case = 1018)]
    Info1018(Option<u32>),
    /// `[case(1023)]` size_char_buf.
    #[ndr(case = 1023)]
    Info1023(Option<u32>),
    /// `[case(1027)]` errorlog_sz.
    #[ndr(case = 1027)]
    Info1027(Option<u32>),
    /// `[case(1028)]` print_buf_time.
    #[ndr(case = 1028)]
    Info1028(Option<u32>),
    /// `[case(1032)]` wrk_heuristics.
    #[ndr(case = 1032)]
    Info1032(Option<u32>),
    /// `[case(1033)]` max_threads.
    #[ndr(case = 1033)]
    Info1033(Option<u32>),
    /// `[case(1041)]` lock_quota.
    #[ndr(case = 1041)]
    Info1041(Option<u32>),
    /// `[case(1042)]` lock_increment.
    #[ndr(case = 1042)]
    Info1042(Option<u32>),
    /// `[case(1043)]` lock_maximum.
    #[ndr(case = 1043)]
    Info1043(Option<u32>),
    /// `[case(1044)]` pipe_increment.
    #[ndr(case = 1044)]
    Info1044(Option<u32>),
    /// `[case(1045)]` pipe_maximum.
    #[ndr(case = 1045)]
    Info1045(Option<u32>),
    /// `[case(1046)]` dormant_file_limit.
    #[ndr(case = 1046)]
    Info1046(Option<u32>),
    /// `[case(1047)]` cache_file_timeout.
    #[ndr(case = 1047)]
    Info1047(Option<u32>),
    /// `[case(1048)]` use_opportunistic_locking.
    #[ndr(case = 1048)]
    Info1048(Option<u32>),
    /// `[case(1049)]` use_unlock_behind.
    #[ndr(case = 1049)]
    Info1049(Option<u32>),
    /// `[case(1050)]` use_close_behind.
    #[ndr(case = 1050)]
    Info1050(Option<u32>),
    /// `[case(1051)]` buf_named_pipes.
    #[ndr(case = 1051)]
    Info1051(Option<u32>),
    /// `[case(1052)]` use_lock_read_unlock.
    #[ndr(case = 1052)]
    Info1052(Option<u32>),
    /// `[case(1053)]` utilize_nt_caching.
    #[ndr(case = 1053)]
    Info1053(Option<u32>),
    /// `[case(1054)]` use_raw_read.
    #[ndr(case = 1054)]
    Info1054(Option<u32>),
    /// `[case(1055)]` use_raw_write.
    #[ndr(case = 1055)]
    Info1055(Option<u32>),
    /// `[case(1056)]` use_write_raw_data.
    #[ndr(case = 1056)]
    Info1056(Option<u32>),
    /// `[case(1057)]` use_encryption.
    #[ndr(case = 1057)]
    Info1057(Option<u32>),
    /// `[case(1058)]` buf_files_deny_write.
    #[ndr(case = 1058)]
    Info1058(Option<u32>),
    /// `[case(1059)]` buf_read_only_files.
    #[ndr(case = 1059)]
    Info1059(Option<u32>),
    /// `[case(1060)]` force_core_create_mode.
    #[ndr(case = 1060)]
    Info1060(Option<u32>),
    /// `[case(1061)]` use_512_byte_max_transfer.
    #[ndr(case = 1061)]
    Info1061(Option<u32>),
    /// `[case(1062)]` read_ahead_throughput.
    #[ndr(case = 1062)]
    Info1062(Option<u32>),
    /// `[default]`: an empty arm (servers answer unsupported levels with `ERROR_INVALID_LEVEL`).
    #[ndr(default)]
    Other(u32),
}

/// `NetrWkstaGetInfo` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(params, name = "NetrWkstaGetInfo_in")]
pub struct NetrWkstaGetInfoIn {
    /// `[unique,string] WKSSVC_IDENTIFY_HANDLE ServerName` (Samba `server_name`).
    #[ndr(string)]
    pub server_name: Option<WString>,
    /// `Level`.
    pub level: u32,
}

/// `NetrWkstaGetInfo` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Ndr)]
#[ndr(params, name = "NetrWkstaGetInfo_out")]
pub struct NetrWkstaGetInfoOut {
    /// `[switch_is(Level)] LPWKSTA_INFO WkstaInfo` (top-level `[ref]`; the union carries its discriminant).
    pub info: WkstaInfo,
    /// `NET_API_STATUS` (Samba `WERROR`) return value.
    pub result: u32,
}

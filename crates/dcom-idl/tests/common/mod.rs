//! Shared by the test binaries: request/response pairs of every operation (hand-picked and proptest
//! strategies) behind one object-safe trait.

use std::any::Any;
use std::fmt::Debug;

use dcom_idl::common::{PolicyHandle, RpcSid, RpcUnicodeString};
use dcom_idl::{Operation, dssetup, mgmt, rpcecho, samr, wkssvc};
use dcom_ndr::{ConfArray, ConfVarArray, DataRep, NdrContext, Syntax, WString};
use proptest::prelude::*;
use uuid::Uuid;

/// The three encodings tested: NDR 2.0 little and big endian, NDR64.
pub(crate) const SYNTAXES: [(&str, NdrContext); 3] = [
    ("ndr20", NdrContext::NDR20),
    ("ndr20be", NdrContext { drep: DataRep::BIG_ENDIAN, ..NdrContext::NDR20 }),
    ("ndr64", NdrContext::NDR64),
];

/// Samba's Python name of an operation: `echo_AddOne` -> `echo.AddOne`.
pub(crate) fn samba_name(idl_name: &str) -> String {
    idl_name.replacen('_', ".", 1)
}

/// The request and the response of one call.
pub(crate) struct Pair<O: Operation> {
    pub(crate) inp: O::In,
    pub(crate) out: O::Out,
}

impl<O: Operation> Debug for Pair<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(O::NAME).field("in", &self.inp).field("out", &self.out).finish()
    }
}

/// A [`Pair`] of any operation.
pub(crate) trait AnyPair: Debug {
    fn idl_name(&self) -> &'static str;
    fn opnum(&self) -> u16;
    /// Request and response stubs.
    fn encode(&self, ctx: NdrContext) -> (Vec<u8>, Vec<u8>);
    /// Encodes, decodes (through the operation and the interface's dispatch enums), compares, re-encodes.
    fn check_roundtrip(&self, ctx: NdrContext) -> Result<(), String>;
    fn as_any(&self) -> &dyn Any;
}

impl<O: Operation + 'static> AnyPair for Pair<O> {
    fn idl_name(&self) -> &'static str {
        O::NAME
    }

    fn opnum(&self) -> u16 {
        O::OPNUM
    }

    fn encode(&self, ctx: NdrContext) -> (Vec<u8>, Vec<u8>) {
        let i = O::encode_in(&self.inp, ctx).unwrap_or_else(|e| panic!("{e} encoding {self:?}"));
        let o = O::encode_out(&self.out, ctx).unwrap_or_else(|e| panic!("{e} encoding {self:?}"));
        (i, o)
    }

    fn check_roundtrip(&self, ctx: NdrContext) -> Result<(), String> {
        let (i, o) = self.encode(ctx);
        let di = O::decode_in(&i, ctx).map_err(|e| format!("decode in: {e}"))?;
        let dout = O::decode_out(&o, ctx).map_err(|e| format!("decode out: {e}"))?;
        if di != self.inp {
            return Err(format!("in differs: {di:?}"));
        }
        if dout != self.out {
            return Err(format!("out differs: {dout:?}"));
        }
        if O::encode_in(&di, ctx).map_err(|e| e.to_string())? != i {
            return Err("in re-encodes differently".into());
        }
        if O::encode_out(&dout, ctx).map_err(|e| e.to_string())? != o {
            return Err("out re-encodes differently".into());
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub(crate) fn pair<O: Operation + 'static>(inp: O::In, out: O::Out) -> Box<dyn AnyPair> {
    Box::new(Pair::<O> { inp, out })
}

fn ws(s: &str) -> WString {
    WString::from(s)
}

fn guid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn handle(attributes: u32, n: u128) -> PolicyHandle {
    PolicyHandle { attributes, uuid: guid(n) }
}

fn uni(s: &str) -> RpcUnicodeString {
    RpcUnicodeString::new(s).expect("short string")
}

/// Hand-picked values of every operation (edge cases: empty arrays, null pointers, large sizes, every union arm).
pub(crate) fn samples() -> Vec<Box<dyn AnyPair>> {
    use rpcecho::*;
    let mut v: Vec<Box<dyn AnyPair>> = Vec::new();
    v.push(pair::<AddOne>(AddOneIn { in_data: 41 }, AddOneOut { out_data: 42 }));
    v.push(pair::<AddOne>(AddOneIn { in_data: u32::MAX }, AddOneOut { out_data: 0 }));
    for n in [0usize, 1, 7, 100_000] {
        let data: Vec<u8> = (0..n).map(|i| u8::try_from(i % 251).expect("below 251")).collect();
        v.push(pair::<EchoData>(
            EchoDataIn::new(data.clone()).expect("len"),
            EchoDataOut { out_data: ConfArray(data.clone()) },
        ));
        v.push(pair::<SinkData>(
            SinkDataIn { len: u32::try_from(n).expect("len"), data: ConfArray(data.clone()) },
            SinkDataOut {},
        ));
        v.push(pair::<SourceData>(
            SourceDataIn { len: u32::try_from(n).expect("len") },
            SourceDataOut { data: ConfArray(data) },
        ));
    }
    v.push(pair::<TestCall>(TestCallIn { s1: ws("") }, TestCallOut { s2: None }));
    v.push(pair::<TestCall>(TestCallIn { s1: ws("foo") }, TestCallOut { s2: Some(ws("bar baz")) }));
    v.push(pair::<TestCall>(TestCallIn { s1: ws(&"€".repeat(2000)) }, TestCallOut { s2: Some(ws("")) }));
    let infos = [
        EchoInfo::Info1(EchoInfo1 { v: 1 }),
        EchoInfo::Info2(EchoInfo2 { v: 0x0203 }),
        EchoInfo::Info3(EchoInfo3 { v: 0x0405_0607 }),
        EchoInfo::Info4(EchoInfo4 { v: u64::MAX }),
        EchoInfo::Info5(EchoInfo5 { v1: 0xAA, v2: 0x0102_0304_0506_0708 }),
        EchoInfo::Info6(EchoInfo6 { v1: 0xBB, info1: EchoInfo1 { v: 0xCC } }),
        EchoInfo::Info7(EchoInfo7 { v1: 0xDD, info4: EchoInfo4 { v: 0xEE } }),
    ];
    for info in infos {
        v.push(pair::<TestCall2>(TestCall2In { level: info.level() }, TestCall2Out { info, result: 0 }));
    }
    v.push(pair::<TestSleep>(TestSleepIn { seconds: 3 }, TestSleepOut { result: 3 }));
    let e2 = EchoEnum2 { e1: 76, e2: EchoEnum32::Enum1 };
    v.push(pair::<TestEnum>(
        TestEnumParams { foo1: EchoEnum1::Enum1, foo2: e2, foo3: EchoEnum3::E1(EchoEnum1::Enum2) },
        TestEnumParams { foo1: EchoEnum1::Enum2, foo2: e2, foo3: EchoEnum3::E2(e2) },
    ));
    v.push(pair::<TestSurrounding>(
        TestSurroundingParams { data: EchoSurrounding::zeroed(20).expect("20") },
        TestSurroundingParams { data: EchoSurrounding::zeroed(40).expect("40") },
    ));
    v.push(pair::<TestSurrounding>(
        TestSurroundingParams { data: EchoSurrounding::zeroed(0).expect("0") },
        TestSurroundingParams { data: EchoSurrounding { x: 3, surrounding: ConfArray(vec![1, 0xFFFF, 3]) } },
    ));
    for (data, result) in [(None, 0), (Some(None), 1), (Some(Some(0x1234)), 0x1234)] {
        v.push(pair::<TestDoublePointer>(TestDoublePointerIn { data }, TestDoublePointerOut { result }));
    }

    use mgmt::*;
    let ids = [
        RpcIfId { uuid: rpcecho::SYNTAX.uuid, vers_major: 1, vers_minor: 0 },
        RpcIfId::from(samr::SYNTAX),
        RpcIfId { uuid: guid(u128::MAX), vers_major: u16::MAX, vers_minor: u16::MAX },
    ];
    v.push(pair::<InqIfIds>(InqIfIdsIn {}, InqIfIdsOut { if_id_vector: None, result: 5 }));
    v.push(pair::<InqIfIds>(
        InqIfIdsIn {},
        InqIfIdsOut { if_id_vector: Some(RpcIfIdVector::new([]).expect("empty")), result: 0 },
    ));
    v.push(pair::<InqIfIds>(
        InqIfIdsIn {},
        InqIfIdsOut {
            if_id_vector: Some(RpcIfIdVector {
                count: 4,
                if_id: ConfArray(vec![Some(ids[0]), None, Some(ids[1]), Some(ids[2])]),
            }),
            result: 0,
        },
    ));
    v.push(pair::<InqStats>(
        InqStatsIn { max_count: STATS_ARRAY_MAX_SIZE, unknown: 0 },
        InqStatsOut { statistics: Statistics { count: 4, statistics: ConfArray(vec![10, 9, 20, 19]) }, result: 0 },
    ));
    v.push(pair::<InqStats>(
        InqStatsIn { max_count: 0, unknown: 0 },
        InqStatsOut { statistics: Statistics::default(), result: 5 },
    ));
    v.push(pair::<IsServerListening>(IsServerListeningIn {}, IsServerListeningOut { status: 0, result: 1 }));
    v.push(pair::<StopServerListening>(StopServerListeningIn {}, StopServerListeningOut { result: 5 }));
    v.push(pair::<InqPrincName>(
        InqPrincNameIn { authn_proto: 10, princ_name_size: 256 },
        InqPrincNameOut::new("HOST/server@EXAMPLE.COM", 256, 0).expect("fits"),
    ));
    v.push(pair::<InqPrincName>(
        InqPrincNameIn { authn_proto: 9, princ_name_size: 1 },
        InqPrincNameOut::new("", 1, 0).expect("fits"),
    ));

    use samr::*;
    let h = handle(0, 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    v.push(pair::<Close>(CloseIn { handle: h }, CloseOut { handle: PolicyHandle::default(), result: 0 }));
    v.push(pair::<LookupDomain>(
        LookupDomainIn { connect_handle: h, domain_name: uni("EXAMPLE") },
        LookupDomainOut { sid: RpcSid::new(5, &[21, 1, 2, 3]), result: 0 },
    ));
    v.push(pair::<LookupDomain>(
        LookupDomainIn { connect_handle: h, domain_name: RpcUnicodeString::null() },
        LookupDomainOut { sid: None, result: 0xC000_00DF },
    ));
    v.push(pair::<LookupDomain>(
        LookupDomainIn { connect_handle: h, domain_name: uni("") },
        LookupDomainOut { sid: RpcSid::new(5, &[u32::MAX; 15]), result: 0 },
    ));
    v.push(pair::<LookupDomain>(
        LookupDomainIn { connect_handle: h, domain_name: uni(&"x".repeat(32767)) },
        LookupDomainOut { sid: RpcSid::new(1, &[]), result: 0 },
    ));
    let entries = vec![SamEntry { idx: 0, name: uni("EXAMPLE") }, SamEntry { idx: 1, name: uni("Builtin") }];
    v.push(pair::<EnumDomains>(
        EnumDomainsIn { connect_handle: h, resume_handle: 0, buf_size: 0x2000 },
        EnumDomainsOut { resume_handle: 2, sam: SamArray::new(entries), num_entries: 2, result: 0 },
    ));
    v.push(pair::<EnumDomains>(
        EnumDomainsIn { connect_handle: h, resume_handle: 2, buf_size: 0 },
        EnumDomainsOut { resume_handle: 2, sam: SamArray::new(vec![]), num_entries: 0, result: 0 },
    ));
    v.push(pair::<EnumDomains>(
        EnumDomainsIn { connect_handle: h, resume_handle: 2, buf_size: 0 },
        EnumDomainsOut { resume_handle: 0, sam: None, num_entries: 0, result: 0xC000_0022 },
    ));
    v.push(pair::<Connect2>(
        Connect2In { system_name: Some(ws("\\\\dc1")), access_mask: SAM_SERVER_CONNECT | SAM_SERVER_LOOKUP_DOMAIN },
        Connect2Out { connect_handle: h, result: 0 },
    ));
    v.push(pair::<Connect2>(
        Connect2In { system_name: None, access_mask: MAXIMUM_ALLOWED },
        Connect2Out { connect_handle: PolicyHandle::default(), result: 0xC000_0022 },
    ));
    let ci = ConnectInfo::Info1(ConnectInfo1 { client_version: 3, supported_features: 0 });
    v.push(pair::<Connect5>(
        Connect5In { system_name: Some(ws("\\\\dc1.example.com")), access_mask: 0x30, level_in: 1, info_in: ci },
        Connect5Out { level_out: 1, info_out: ci, connect_handle: h, result: 0 },
    ));

    use dssetup::*;
    let basic = PrimaryDomainInfoBasic {
        role: DsRole::PrimaryDomainController,
        flags: DS_ROLE_PRIMARY_DS_RUNNING | DS_ROLE_PRIMARY_DOMAIN_GUID_PRESENT,
        domain: Some(ws("EXAMPLE")),
        dns_domain: Some(ws("example.com")),
        forest: Some(ws("example.com")),
        domain_guid: guid(0x1122_3344_5566_7788_99aa_bbcc_ddee_ff00),
    };
    v.push(pair::<GetPrimaryDomainInformation>(
        GetPrimaryDomainInformationIn { level: DsRoleInfoLevel::Basic },
        GetPrimaryDomainInformationOut { info: Some(DsRoleInfo::Basic(basic)), result: 0 },
    ));
    v.push(pair::<GetPrimaryDomainInformation>(
        GetPrimaryDomainInformationIn { level: DsRoleInfoLevel::Basic },
        GetPrimaryDomainInformationOut {
            info: Some(DsRoleInfo::Basic(PrimaryDomainInfoBasic {
                domain: Some(ws("WORKGROUP")),
                ..Default::default()
            })),
            result: 0,
        },
    ));
    v.push(pair::<GetPrimaryDomainInformation>(
        GetPrimaryDomainInformationIn { level: DsRoleInfoLevel::UpgradeStatus },
        GetPrimaryDomainInformationOut {
            info: Some(DsRoleInfo::UpgradeStatus(UpgradeStatusInfo {
                operation_state: 1,
                previous_server_state: DsServerState::Backup,
            })),
            result: 0,
        },
    ));
    v.push(pair::<GetPrimaryDomainInformation>(
        GetPrimaryDomainInformationIn { level: DsRoleInfoLevel::OperationState },
        GetPrimaryDomainInformationOut {
            info: Some(DsRoleInfo::OperationState(OperationStateInfo {
                operation_state: DsOperationState::NeedsReboot,
            })),
            result: 0,
        },
    ));
    v.push(pair::<GetPrimaryDomainInformation>(
        GetPrimaryDomainInformationIn { level: DsRoleInfoLevel::OperationState },
        GetPrimaryDomainInformationOut { info: None, result: 5 },
    ));

    use wkssvc::*;
    let i100 = WkstaInfo100 {
        platform_id: PLATFORM_ID_NT,
        server_name: Some(ws("WS01")),
        domain_name: Some(ws("EXAMPLE")),
        version_major: 10,
        version_minor: 0,
    };
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: Some(ws("\\\\ws01")), level: 100 },
        NetrWkstaGetInfoOut { info: WkstaInfo::Info100(Some(i100)), result: 0 },
    ));
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: None, level: 100 },
        NetrWkstaGetInfoOut { info: WkstaInfo::Info100(None), result: 5 },
    ));
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: None, level: 102 },
        NetrWkstaGetInfoOut {
            info: WkstaInfo::Info102(Some(WkstaInfo102 {
                platform_id: PLATFORM_ID_NT,
                server_name: Some(ws("A")),
                domain_name: None,
                version_major: 6,
                version_minor: 1,
                lan_root: Some(ws("C:\\")),
                logged_on_users: 2,
            })),
            result: 0,
        },
    ));
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: None, level: 502 },
        NetrWkstaGetInfoOut {
            info: WkstaInfo::Info502(Some(WkstaInfo502 {
                char_wait: 1,
                use_512_byte_max_transfer: 2,
                ..Default::default()
            })),
            result: 0,
        },
    ));
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: None, level: 1062 },
        NetrWkstaGetInfoOut { info: WkstaInfo::Info1062(Some(7)), result: 0 },
    ));
    v.push(pair::<NetrWkstaGetInfo>(
        NetrWkstaGetInfoIn { server_name: None, level: 7 },
        NetrWkstaGetInfoOut { info: WkstaInfo::Other(7), result: 124 },
    ));
    v
}

// ------------------------------------------------------------------------------------------------------------
// proptest strategies: values Samba can represent too (text without NUL in the BMP, consistent counts).

fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 ._\\\\$éü€ß-]{0,24}").expect("regex")
}

fn ascii() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,40}").expect("regex")
}

fn wstring() -> impl Strategy<Value = WString> {
    text().prop_map(|s| WString::from(s.as_str()))
}

fn opt_wstring() -> impl Strategy<Value = Option<WString>> {
    proptest::option::of(wstring())
}

fn any_guid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn any_handle() -> impl Strategy<Value = PolicyHandle> {
    (any::<u32>(), any_guid()).prop_map(|(attributes, uuid)| PolicyHandle { attributes, uuid })
}

fn any_uni() -> impl Strategy<Value = RpcUnicodeString> {
    prop_oneof![1 => Just(RpcUnicodeString::null()), 4 => text().prop_map(|s| uni(&s))]
}

fn any_sid() -> impl Strategy<Value = RpcSid> {
    (0u64..(1 << 32), proptest::collection::vec(any::<u32>(), 0..=15))
        .prop_map(|(a, subs)| RpcSid::new(a, &subs).expect("valid sid"))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn echo_info() -> impl Strategy<Value = rpcecho::EchoInfo> {
    use rpcecho::*;
    prop_oneof![
        any::<u8>().prop_map(|v| EchoInfo::Info1(EchoInfo1 { v })),
        any::<u16>().prop_map(|v| EchoInfo::Info2(EchoInfo2 { v })),
        any::<u32>().prop_map(|v| EchoInfo::Info3(EchoInfo3 { v })),
        any::<u64>().prop_map(|v| EchoInfo::Info4(EchoInfo4 { v })),
        (any::<u8>(), any::<u64>()).prop_map(|(v1, v2)| EchoInfo::Info5(EchoInfo5 { v1, v2 })),
        (any::<u8>(), any::<u8>()).prop_map(|(v1, v)| EchoInfo::Info6(EchoInfo6 { v1, info1: EchoInfo1 { v } })),
        (any::<u8>(), any::<u64>()).prop_map(|(v1, v)| EchoInfo::Info7(EchoInfo7 { v1, info4: EchoInfo4 { v } })),
    ]
}

fn enum_params() -> impl Strategy<Value = rpcecho::TestEnumParams> {
    use rpcecho::*;
    let e1 = prop_oneof![Just(EchoEnum1::Enum1), Just(EchoEnum1::Enum2)];
    let e32 = prop_oneof![Just(EchoEnum32::Enum1), Just(EchoEnum32::Enum2)];
    let e2 = (e1.clone(), e32).prop_map(|(e1, e2)| EchoEnum2 { e1: e1 as u16, e2 });
    let foo3 = prop_oneof![e1.prop_map(EchoEnum3::E1), e2.clone().prop_map(EchoEnum3::E2)];
    (e2, foo3).prop_map(|(foo2, foo3)| {
        let foo1 = match foo3 {
            EchoEnum3::E1(_) => EchoEnum1::Enum1,
            EchoEnum3::E2(_) => EchoEnum1::Enum2,
        };
        TestEnumParams { foo1, foo2, foo3 }
    })
}

fn surrounding() -> impl Strategy<Value = rpcecho::EchoSurrounding> {
    proptest::collection::vec(any::<u16>(), 0..50)
        .prop_map(|s| rpcecho::EchoSurrounding { x: u32::try_from(s.len()).expect("small"), surrounding: ConfArray(s) })
}

fn if_id_vector() -> impl Strategy<Value = mgmt::RpcIfIdVector> {
    let id = (any_guid(), any::<u16>(), any::<u16>()).prop_map(|(uuid, vers_major, vers_minor)| mgmt::RpcIfId {
        uuid,
        vers_major,
        vers_minor,
    });
    proptest::collection::vec(proptest::option::of(id), 0..12)
        .prop_map(|ids| mgmt::RpcIfIdVector { count: u32::try_from(ids.len()).expect("small"), if_id: ConfArray(ids) })
}

fn sam_array() -> impl Strategy<Value = samr::SamArray> {
    let entry = (any::<u32>(), any_uni()).prop_map(|(idx, name)| samr::SamEntry { idx, name });
    prop_oneof![
        4 => proptest::collection::vec(entry, 0..8).prop_map(|e| samr::SamArray::new(e).expect("small")),
        1 => any::<u32>().prop_map(|count| samr::SamArray { count, entries: None }),
    ]
}

fn ds_role_info() -> impl Strategy<Value = dssetup::DsRoleInfo> {
    use dssetup::*;
    let role = prop_oneof![
        Just(DsRole::StandaloneWorkstation),
        Just(DsRole::MemberWorkstation),
        Just(DsRole::StandaloneServer),
        Just(DsRole::MemberServer),
        Just(DsRole::BackupDomainController),
        Just(DsRole::PrimaryDomainController),
    ];
    let basic = (role, any::<u32>(), opt_wstring(), opt_wstring(), opt_wstring(), any_guid()).prop_map(
        |(role, flags, domain, dns_domain, forest, domain_guid)| {
            DsRoleInfo::Basic(PrimaryDomainInfoBasic { role, flags, domain, dns_domain, forest, domain_guid })
        },
    );
    let prev = prop_oneof![Just(DsServerState::Unknown), Just(DsServerState::Primary), Just(DsServerState::Backup)];
    let upgrade = (any::<u32>(), prev).prop_map(|(operation_state, previous_server_state)| {
        DsRoleInfo::UpgradeStatus(UpgradeStatusInfo { operation_state, previous_server_state })
    });
    let op =
        prop_oneof![Just(DsOperationState::Idle), Just(DsOperationState::Active), Just(DsOperationState::NeedsReboot)]
            .prop_map(|operation_state| DsRoleInfo::OperationState(OperationStateInfo { operation_state }));
    prop_oneof![basic, upgrade, op]
}

fn wksta_info() -> impl Strategy<Value = wkssvc::WkstaInfo> {
    use wkssvc::*;
    let i100 = (any::<u32>(), opt_wstring(), opt_wstring(), any::<u32>(), any::<u32>())
        .prop_map(|(platform_id, server_name, domain_name, version_major, version_minor)| WkstaInfo100 {
            platform_id,
            server_name,
            domain_name,
            version_major,
            version_minor,
        })
        .boxed();
    let i101 = (i100.clone(), opt_wstring())
        .prop_map(|(a, lan_root)| WkstaInfo101 {
            platform_id: a.platform_id,
            server_name: a.server_name,
            domain_name: a.domain_name,
            version_major: a.version_major,
            version_minor: a.version_minor,
            lan_root,
        })
        .boxed();
    let i102 = (i101.clone(), any::<u32>()).prop_map(|(a, logged_on_users)| WkstaInfo102 {
        platform_id: a.platform_id,
        server_name: a.server_name,
        domain_name: a.domain_name,
        version_major: a.version_major,
        version_minor: a.version_minor,
        lan_root: a.lan_root,
        logged_on_users,
    });
    let i502 = proptest::array::uniform32(any::<u32>()).prop_map(|a| WkstaInfo502 {
        char_wait: a[0],
        max_threads: a[7],
        read_ahead_throughput: a[15],
        use_encryption: a[30],
        use_512_byte_max_transfer: a[31],
        ..Default::default()
    });
    let small = proptest::option::of(any::<u32>());
    prop_oneof![
        proptest::option::of(i100).prop_map(WkstaInfo::Info100),
        proptest::option::of(i101).prop_map(WkstaInfo::Info101),
        proptest::option::of(i102).prop_map(WkstaInfo::Info102),
        proptest::option::of(i502).prop_map(WkstaInfo::Info502),
        small.clone().prop_map(WkstaInfo::Info1010),
        small.clone().prop_map(WkstaInfo::Info1045),
        small.prop_map(WkstaInfo::Info1062),
        (0u32..100).prop_map(WkstaInfo::Other),
    ]
}

/// The level a `WKSTA_INFO` value belongs to.
pub(crate) fn wksta_level(i: &wkssvc::WkstaInfo) -> u32 {
    use dcom_ndr::NdrUnion;
    u32::try_from(i.discriminant()).expect("u32 discriminant")
}

/// One strategy per operation, each producing a consistent request/response pair.
pub(crate) fn pair_strategies() -> Vec<BoxedStrategy<Box<dyn AnyPair>>> {
    use rpcecho::*;
    fn b<O: Operation + 'static>(
        s: impl Strategy<Value = (O::In, O::Out)> + 'static,
    ) -> BoxedStrategy<Box<dyn AnyPair>> {
        s.prop_map(|(i, o)| pair::<O>(i, o)).boxed()
    }
    vec![
        b::<AddOne>(
            (any::<u32>(), any::<u32>()).prop_map(|(a, b)| (AddOneIn { in_data: a }, AddOneOut { out_data: b })),
        ),
        b::<EchoData>(bytes(300).prop_map(|d| {
            let out = d.iter().rev().copied().collect();
            (EchoDataIn::new(d).expect("len"), EchoDataOut { out_data: ConfArray(out) })
        })),
        b::<SinkData>(bytes(300).prop_map(|d| {
            (SinkDataIn { len: u32::try_from(d.len()).expect("len"), data: ConfArray(d) }, SinkDataOut {})
        })),
        b::<SourceData>(bytes(300).prop_map(|d| {
            (SourceDataIn { len: u32::try_from(d.len()).expect("len") }, SourceDataOut { data: ConfArray(d) })
        })),
        b::<TestCall>((wstring(), opt_wstring()).prop_map(|(s1, s2)| (TestCallIn { s1 }, TestCallOut { s2 }))),
        b::<TestCall2>(
            (echo_info(), any::<u32>())
                .prop_map(|(info, result)| (TestCall2In { level: info.level() }, TestCall2Out { info, result })),
        ),
        b::<TestSleep>(
            (any::<u32>(), any::<u32>())
                .prop_map(|(seconds, result)| (TestSleepIn { seconds }, TestSleepOut { result })),
        ),
        b::<TestEnum>((enum_params(), enum_params())),
        b::<TestSurrounding>(
            (surrounding(), surrounding())
                .prop_map(|(a, b)| (TestSurroundingParams { data: a }, TestSurroundingParams { data: b })),
        ),
        b::<TestDoublePointer>(
            (proptest::option::of(proptest::option::of(any::<u16>())), any::<u16>())
                .prop_map(|(data, result)| (TestDoublePointerIn { data }, TestDoublePointerOut { result })),
        ),
        b::<mgmt::InqIfIds>(
            (proptest::option::of(if_id_vector()), any::<u32>())
                .prop_map(|(if_id_vector, result)| (mgmt::InqIfIdsIn {}, mgmt::InqIfIdsOut { if_id_vector, result })),
        ),
        b::<mgmt::InqStats>(
            (any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u32>(), 0..10), any::<u32>()).prop_map(
                |(max_count, unknown, s, result)| {
                    let count = u32::try_from(s.len()).expect("small");
                    (
                        mgmt::InqStatsIn { max_count, unknown },
                        mgmt::InqStatsOut { statistics: mgmt::Statistics { count, statistics: ConfArray(s) }, result },
                    )
                },
            ),
        ),
        b::<mgmt::IsServerListening>((any::<u32>(), any::<u32>()).prop_map(|(status, result)| {
            (mgmt::IsServerListeningIn {}, mgmt::IsServerListeningOut { status, result })
        })),
        b::<mgmt::StopServerListening>(
            any::<u32>().prop_map(|result| (mgmt::StopServerListeningIn {}, mgmt::StopServerListeningOut { result })),
        ),
        b::<mgmt::InqPrincName>((any::<u32>(), ascii(), 0u32..20, any::<u32>()).prop_map(
            |(authn_proto, name, spare, result)| {
                let size = u32::try_from(name.len()).expect("small") + 1 + spare;
                (
                    mgmt::InqPrincNameIn { authn_proto, princ_name_size: size },
                    mgmt::InqPrincNameOut::new(&name, size, result).expect("fits"),
                )
            },
        )),
        b::<samr::Close>(
            (any_handle(), any_handle(), any::<u32>())
                .prop_map(|(a, handle, result)| (samr::CloseIn { handle: a }, samr::CloseOut { handle, result })),
        ),
        b::<samr::LookupDomain>((any_handle(), any_uni(), proptest::option::of(any_sid()), any::<u32>()).prop_map(
            |(connect_handle, domain_name, sid, result)| {
                (samr::LookupDomainIn { connect_handle, domain_name }, samr::LookupDomainOut { sid, result })
            },
        )),
        b::<samr::EnumDomains>((any_handle(), any::<[u32; 5]>(), proptest::option::of(sam_array())).prop_map(
            |(connect_handle, n, sam)| {
                (
                    samr::EnumDomainsIn { connect_handle, resume_handle: n[0], buf_size: n[1] },
                    samr::EnumDomainsOut { resume_handle: n[2], sam, num_entries: n[3], result: n[4] },
                )
            },
        )),
        b::<samr::Connect2>((opt_wstring(), any::<u32>(), any_handle(), any::<u32>()).prop_map(
            |(system_name, access_mask, connect_handle, result)| {
                (samr::Connect2In { system_name, access_mask }, samr::Connect2Out { connect_handle, result })
            },
        )),
        b::<samr::Connect5>((opt_wstring(), any::<[u32; 6]>(), any_handle()).prop_map(
            |(system_name, n, connect_handle)| {
                let info_in =
                    samr::ConnectInfo::Info1(samr::ConnectInfo1 { client_version: n[1], supported_features: n[2] });
                let info_out =
                    samr::ConnectInfo::Info1(samr::ConnectInfo1 { client_version: n[3], supported_features: n[4] });
                (
                    samr::Connect5In { system_name, access_mask: n[0], level_in: 1, info_in },
                    samr::Connect5Out { level_out: 1, info_out, connect_handle, result: n[5] },
                )
            },
        )),
        b::<dssetup::GetPrimaryDomainInformation>(
            (ds_role_info(), proptest::bool::weighted(0.8), any::<u32>()).prop_map(|(info, present, result)| {
                let level = match info {
                    dssetup::DsRoleInfo::Basic(_) => dssetup::DsRoleInfoLevel::Basic,
                    dssetup::DsRoleInfo::UpgradeStatus(_) => dssetup::DsRoleInfoLevel::UpgradeStatus,
                    dssetup::DsRoleInfo::OperationState(_) => dssetup::DsRoleInfoLevel::OperationState,
                };
                (
                    dssetup::GetPrimaryDomainInformationIn { level },
                    dssetup::GetPrimaryDomainInformationOut { info: present.then_some(info), result },
                )
            }),
        ),
        b::<wkssvc::NetrWkstaGetInfo>((opt_wstring(), wksta_info(), any::<u32>()).prop_map(
            |(server_name, info, result)| {
                let level = wksta_level(&info);
                (wkssvc::NetrWkstaGetInfoIn { server_name, level }, wkssvc::NetrWkstaGetInfoOut { info, result })
            },
        )),
    ]
}

/// `count` values drawn deterministically from every strategy.
pub(crate) fn random_pairs(count: usize) -> Vec<Box<dyn AnyPair>> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut out = Vec::new();
    for s in pair_strategies() {
        for _ in 0..count {
            out.push(s.new_tree(&mut runner).expect("value tree").current());
        }
    }
    out
}

/// A `ConfVarArray` whose allocation exceeds the transmitted part (Windows sends such strings).
pub(crate) fn uni_with_spare(s: &str, spare_units: u16) -> RpcUnicodeString {
    let units: Vec<u16> = s.encode_utf16().collect();
    let len = u16::try_from(units.len() * 2).expect("short");
    let max = len + 2 * spare_units;
    RpcUnicodeString {
        length: len,
        maximum_length: max,
        buffer: Some(ConfVarArray::with_max(units, u64::from(max / 2))),
    }
}

/// The syntax of an encoding name.
pub(crate) fn ctx_of(name: &str) -> NdrContext {
    SYNTAXES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).unwrap_or_else(|| panic!("syntax {name}"))
}

/// True for NDR64.
pub(crate) fn is_ndr64(ctx: NdrContext) -> bool {
    ctx.syntax == Syntax::Ndr64
}

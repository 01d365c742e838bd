//! Round trips (encode -> decode -> encode) for every type, spec vectors, negative cases, helpers and the fuzz
//! oracles.

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    reason = "test helpers and strategies report failures by panicking; generated counts are small"
)]

use dcom_ndr::{ConfArray, ConfVarArray, DataRep, MInterfacePointer, Ndr, NdrContext, Syntax, WString, decode, encode};
use dcom_types::interfaces::{
    ComplexPingIn, ComplexPingOut, EstablishPositionIn, EstablishPositionOut, NtlmLoginIn, OrpcHresultOut,
    RemAddRefOut, RemInterfaceRef, RemQiResult, RemQueryInterface2In, RemQueryInterface2Out, RemQueryInterfaceIn,
    RemQueryInterfaceOut, RemRefsIn, RemoteActivationIn, RemoteActivationOut, RemoteCreateInstanceIn,
    RemoteCreateInstanceOut, RemoteGetClassObjectIn, RemoteGetClassObjectOut, RequestChallengeIn, RequestChallengeOut,
    ResolveOxid2Out, ResolveOxidIn, ResolveOxidOut, ServerAlive2Out, SetClientInfoIn, SimplePingIn, StatusOut,
    WbemLoginIn, WbemLoginOut,
};
use dcom_types::{
    ActivationContextInfoData, ActivationPropertiesBlob, ActivationProperty, CoServerInfo, ComVersion,
    ContextExtension, CustomErrorInfo, CustomRemoteReplyScmInfo, CustomRemoteRequestScmInfo, DataElement,
    DcomErrorKind, DualStringArray, EntryHeader, ErrorInfoString, ErrorObjectData, Hresult, InstanceInfoData,
    InstantiationInfoData, KnownExtension, LocationInfoData, ObjRef, ObjRefBody, ObjRefCustom, ObjRefExtended,
    ObjRefHandler, ObjRefStandard, OrpcExtent, OrpcExtentArray, OrpcThat, OrpcThis, PropsOutInfo, ScmReplyInfoData,
    ScmRequestInfoData, SecurityBinding, SecurityInfoData, SpecialPropertiesData, SpecialPropertiesDataAlternate,
    StdObjRef, StringBinding, fuzzing, guids, pick_string_binding, tower_id,
};
use proptest::prelude::*;
use uuid::Uuid;

const CONTEXTS: [NdrContext; 3] = [
    NdrContext::NDR20,
    NdrContext { syntax: Syntax::Ndr20, drep: DataRep::BIG_ENDIAN, limits: NdrContext::NDR20.limits },
    NdrContext::NDR64,
];

/// encode -> decode gives the value, and re-encoding gives the same bytes, in every transfer syntax.
fn ndr_rt<T: Ndr + PartialEq + std::fmt::Debug>(v: &T) {
    for ctx in CONTEXTS {
        let bytes = encode(v, ctx).unwrap_or_else(|e| panic!("{ctx:?}: {e}"));
        let back: T = decode(&bytes, ctx).unwrap_or_else(|e| panic!("{ctx:?}: {e}"));
        assert_eq!(&back, v, "{ctx:?}");
        assert_eq!(encode(&back, ctx).expect("re-encodes"), bytes, "{ctx:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Strategies.

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn version() -> impl Strategy<Value = ComVersion> {
    (any::<u16>(), any::<u16>()).prop_map(|(major, minor)| ComVersion { major, minor })
}

fn extent() -> impl Strategy<Value = OrpcExtent> {
    (uuid(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(id, d)| OrpcExtent::new(id, &d).unwrap())
}

fn extensions() -> impl Strategy<Value = Option<OrpcExtentArray>> {
    proptest::option::of(proptest::collection::vec(extent(), 0..4).prop_map(|v| OrpcExtentArray::new(v).unwrap()))
}

fn orpcthis() -> impl Strategy<Value = OrpcThis> {
    (version(), any::<u32>(), any::<u32>(), uuid(), extensions())
        .prop_map(|(version, flags, reserved1, cid, ext)| OrpcThis { version, flags, reserved1, cid, extensions: ext })
}

fn orpcthat() -> impl Strategy<Value = OrpcThat> {
    (any::<u32>(), extensions()).prop_map(|(flags, extensions)| OrpcThat { flags, extensions })
}

fn std_objref() -> impl Strategy<Value = StdObjRef> {
    (any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>(), uuid())
        .prop_map(|(flags, c_public_refs, oxid, oid, ipid)| StdObjRef { flags, c_public_refs, oxid, oid, ipid })
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.\\[\\]\\\\/-]{0,20}"
}

fn dsa() -> impl Strategy<Value = DualStringArray> {
    (proptest::collection::vec((1u16.., text()), 0..4), proptest::collection::vec((1u16.., any::<u16>(), text()), 0..4))
        .prop_map(|(s, sec)| {
            let s: Vec<StringBinding> = s.iter().map(|(t, a)| StringBinding::new(*t, a)).collect();
            let sec: Vec<SecurityBinding> = sec.iter().map(|(a, z, p)| SecurityBinding::new(*a, *z, p)).collect();
            DualStringArray::new(&s, &sec).unwrap()
        })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn objref() -> impl Strategy<Value = ObjRef> {
    let body = prop_oneof![
        (std_objref(), dsa()).prop_map(|(std, sa_res_addr)| ObjRefBody::Standard(ObjRefStandard { std, sa_res_addr })),
        (std_objref(), uuid(), dsa()).prop_map(|(std, clsid, sa_res_addr)| ObjRefBody::Handler(ObjRefHandler {
            std,
            clsid,
            sa_res_addr
        })),
        (uuid(), any::<u32>(), any::<u32>(), bytes(64)).prop_map(|(clsid, cb_extension, reserved, object_data)| {
            ObjRefBody::Custom(ObjRefCustom { clsid, cb_extension, reserved, object_data })
        }),
        (std_objref(), dsa(), uuid(), bytes(40)).prop_map(|(std, sa_res_addr, data_id, d)| {
            let cb_size = d.len() as u32;
            let mut data = d;
            data.resize(data.len().div_ceil(8) * 8, 0);
            let cb_rounded = data.len() as u32;
            ObjRefBody::Extended(ObjRefExtended {
                std,
                sa_res_addr,
                elements: vec![DataElement { data_id, cb_size, cb_rounded, data }],
            })
        }),
    ];
    (uuid(), body).prop_map(|(iid, body)| ObjRef { iid, body, trailing: Vec::new() })
}

fn mip() -> impl Strategy<Value = Option<MInterfacePointer>> {
    proptest::option::of(objref().prop_map(|o| o.to_mip().unwrap()))
}

fn wstring() -> impl Strategy<Value = Option<WString>> {
    proptest::option::of(text().prop_map(|s| WString::from(s.as_str())))
}

fn uuids(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Uuid>> {
    proptest::collection::vec(uuid(), n)
}

fn property() -> impl Strategy<Value = ActivationProperty> {
    prop_oneof![
        (any::<u32>(), any::<i32>(), any::<u32>(), uuid(), any::<u32>(), any::<u64>()).prop_map(
            |(s, f, l, g, c, r)| {
                ActivationProperty::SpecialSystem(SpecialPropertiesData {
                    dw_session_id: s,
                    f_remote_this_session_id: f,
                    f_client_impersonating: f,
                    f_partition_id_present: 0,
                    dw_default_authn_lvl: l,
                    guid_partition: g,
                    dw_prt_flags: c,
                    dw_orig_clsctx: c,
                    dw_flags: 2,
                    reserved1: 0,
                    reserved2: r,
                    reserved3: [1, 2, 3, 4, 5],
                })
            }
        ),
        (uuid(), any::<u32>(), uuids(1..4), version()).prop_map(|(class_id, ctx, iids, v)| {
            ActivationProperty::Instantiation(InstantiationInfoData {
                class_id,
                class_ctx: ctx,
                actvflags: 0,
                f_is_surrogate: 0,
                c_iid: iids.len() as u32,
                inst_flag: 0,
                p_iid: Some(ConfArray(iids)),
                this_size: 88,
                client_com_version: v,
            })
        }),
        (mip(), mip()).prop_map(|(a, b)| ActivationProperty::ActivationContext(ActivationContextInfoData {
            client_ok: 0,
            b_reserved1: 0,
            dw_reserved1: 0,
            dw_reserved2: 0,
            p_ifd_client_ctx: a,
            p_ifd_prototype_ctx: b,
        })),
        wstring().prop_map(|n| ActivationProperty::Security(SecurityInfoData {
            dw_authn_flags: 0,
            p_server_info: Some(CoServerInfo { dw_reserved1: 0, pwsz_name: n, pdw_reserved: None, dw_reserved2: 0 }),
            pdw_reserved: None,
        })),
        (wstring(), any::<u32>()).prop_map(|(m, p)| ActivationProperty::ServerLocation(LocationInfoData {
            machine_name: m,
            process_id: p,
            apartment_id: 0,
            context_id: 0,
        })),
        proptest::collection::vec(any::<u16>(), 1..4).prop_map(|p| ActivationProperty::ScmRequest(
            ScmRequestInfoData {
                pdw_reserved: None,
                remote_request: Some(CustomRemoteRequestScmInfo {
                    client_imp_level: 2,
                    c_requested_protseqs: p.len() as u16,
                    p_requested_protseqs: Some(ConfArray(p)),
                }),
            }
        )),
        (any::<u64>(), proptest::option::of(dsa()), uuid(), any::<u32>(), version()).prop_map(
            |(oxid, d, ipid, h, v)| {
                ActivationProperty::ScmReply(ScmReplyInfoData {
                    pdw_reserved: None,
                    remote_reply: Some(CustomRemoteReplyScmInfo {
                        oxid,
                        pdsa_oxid_bindings: d,
                        ipid_rem_unknown: ipid,
                        authn_hint: h,
                        server_version: v,
                    }),
                })
            }
        ),
        (uuids(1..3), mip()).prop_map(|(iids, m)| {
            let n = iids.len();
            ActivationProperty::PropsOut(PropsOutInfo {
                c_ifs: n as u32,
                piid: Some(ConfArray(iids)),
                phresults: Some(ConfArray(vec![Hresult::S_OK; n])),
                pp_intf_data: Some(ConfArray(vec![m; n])),
            })
        }),
        (wstring(), mip()).prop_map(|(f, m)| ActivationProperty::InstanceInfo(InstanceInfoData {
            file_name: f,
            mode: 1,
            ifd_rot: m,
            ifd_stg: None,
        })),
    ]
}

// ---------------------------------------------------------------------------------------------------------------
// Property tests.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn orpc_framing_roundtrips(this in orpcthis(), that in orpcthat(), e in extent()) {
        ndr_rt(&this);
        ndr_rt(&that);
        ndr_rt(&e);
        prop_assert_eq!(e.payload().len(), e.size as usize);
        prop_assert_eq!(e.data.len() % 8, 0);
        if let Some(a) = &this.extensions {
            prop_assert_eq!(a.extent.as_ref().unwrap().len() % 2, 0);
            prop_assert_eq!(this.extents().count(), a.size as usize);
        }
    }

    #[test]
    fn objref_roundtrips(o in objref()) {
        let bytes = o.encode().unwrap();
        let back = ObjRef::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &o);
        prop_assert_eq!(back.encode().unwrap(), bytes.clone());
        let mip = o.to_mip().unwrap();
        prop_assert_eq!(ObjRef::from_mip(&mip).unwrap(), o);
        ndr_rt(&mip);
        fuzzing::objref(&bytes);
    }

    #[test]
    fn dualstringarray_roundtrips(d in dsa()) {
        let mut bytes = Vec::new();
        d.encode_packet(&mut bytes).unwrap();
        prop_assert_eq!(DualStringArray::decode_packet(&bytes).unwrap(), d.clone());
        ndr_rt(&d);
        let s = d.string_bindings().unwrap();
        let sec = d.security_bindings().unwrap();
        prop_assert_eq!(DualStringArray::new(&s, &sec).unwrap(), d);
        fuzzing::dualstringarray(&bytes);
    }

    #[test]
    fn std_and_remunknown_types_roundtrip(s in std_objref(), ipid in uuid(), h in any::<u32>()) {
        ndr_rt(&s);
        ndr_rt(&RemQiResult { h_result: Hresult(h), std: s });
        ndr_rt(&RemInterfaceRef { ipid, c_public_refs: h, c_private_refs: 0 });
    }

    #[test]
    fn activation_properties_roundtrip(props in proptest::collection::vec(property(), 1..7)) {
        for p in &props {
            let bytes = p.encode().unwrap();
            prop_assert_eq!(&ActivationProperty::decode(p.clsid(), &bytes, Default::default()).unwrap(), p);
        }
        let blob = ActivationPropertiesBlob::new(2, props).unwrap();
        let bytes = blob.encode().unwrap();
        prop_assert_eq!(blob.dw_size as usize, bytes.len() - 8);
        let back = ActivationPropertiesBlob::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &blob);
        prop_assert_eq!(back.encode().unwrap(), bytes.clone());
        let objref = blob.to_objref(true).unwrap();
        let (o2, b2) = ActivationPropertiesBlob::from_mip(&objref.to_mip().unwrap()).unwrap();
        prop_assert_eq!(o2, objref);
        prop_assert_eq!(b2, blob);
        fuzzing::activation_blob(&bytes);
    }

    #[test]
    fn activator_stubs_roundtrip(this in orpcthis(), that in orpcthat(), a in mip(), b in mip(), h in any::<u32>()) {
        ndr_rt(&RemoteGetClassObjectIn { orpcthis: this.clone(), p_act_properties: a.clone() });
        ndr_rt(&RemoteGetClassObjectOut { orpcthat: that.clone(), pp_act_properties: b.clone(), hresult: Hresult(h) });
        ndr_rt(&RemoteCreateInstanceIn { orpcthis: this, p_unk_outer: None, p_act_properties: a });
        ndr_rt(&RemoteCreateInstanceOut { orpcthat: that, pp_act_properties: b, hresult: Hresult(h) });
    }

    #[test]
    fn remote_activation_roundtrips(this in orpcthis(), that in orpcthat(), iids in uuids(1..4), d in proptest::option::of(dsa()), m in mip()) {
        let n = iids.len();
        ndr_rt(&RemoteActivationIn {
            orpcthis: this,
            clsid: iids[0],
            pwsz_object_name: Some(WString::from("obj")),
            p_object_storage: m.clone(),
            client_imp_level: 2,
            mode: 0,
            interfaces: n as u32,
            p_iids: Some(ConfArray(iids)),
            c_requested_protseqs: 2,
            a_requested_protseqs: ConfArray(vec![7, 15]),
        });
        ndr_rt(&RemoteActivationOut {
            orpcthat: that,
            oxid: 0x1122_3344_5566_7788,
            pdsa_oxid_bindings: d,
            ipid_rem_unknown: Uuid::from_u128(9),
            authn_hint: 4,
            server_version: ComVersion::V5_7,
            hr: Hresult::S_OK,
            pp_interface_data: ConfArray(vec![m; n]),
            p_results: ConfArray(vec![Hresult::E_NOINTERFACE; n]),
            status: Hresult::S_OK,
        });
    }

    #[test]
    fn exporter_stubs_roundtrip(oxid in any::<u64>(), d in proptest::option::of(dsa()), ipid in uuid(), add in proptest::collection::vec(any::<u64>(), 0..4)) {
        ndr_rt(&ResolveOxidIn { oxid, c_requested_protseqs: 2, ar_requested_protseqs: ConfArray(vec![7, 15]) });
        ndr_rt(&ResolveOxidOut { pdsa_oxid_bindings: d.clone(), ipid_rem_unknown: ipid, authn_hint: 2, status: Hresult::S_OK });
        ndr_rt(&ResolveOxid2Out { pdsa_oxid_bindings: d.clone(), ipid_rem_unknown: ipid, authn_hint: 2, com_version: ComVersion::V5_7, status: Hresult::OR_INVALID_OXID });
        ndr_rt(&SimplePingIn { set_id: oxid });
        ndr_rt(&StatusOut { status: Hresult::OR_INVALID_SET });
        ndr_rt(&ComplexPingIn {
            set_id: oxid,
            sequence_num: 1,
            c_add_to_set: add.len() as u16,
            c_del_from_set: 0,
            add_to_set: Some(ConfArray(add)),
            del_from_set: None,
        });
        ndr_rt(&ComplexPingOut { set_id: oxid, ping_backoff_factor: 0, status: Hresult::S_OK });
        ndr_rt(&ServerAlive2Out { com_version: ComVersion::V5_7, pdsa_or_bindings: d, reserved: 0, status: Hresult::S_OK });
    }

    #[test]
    fn remunknown_stubs_roundtrip(this in orpcthis(), that in orpcthat(), iids in uuids(1..4), s in std_objref(), m in mip()) {
        let n = iids.len();
        ndr_rt(&RemQueryInterfaceIn { orpcthis: this.clone(), ripid: s.ipid, c_refs: 5, c_iids: n as u16, iids: ConfArray(iids.clone()) });
        ndr_rt(&RemQueryInterfaceOut {
            orpcthat: that.clone(),
            pp_qi_results: Some(ConfArray(vec![RemQiResult { h_result: Hresult::S_OK, std: s }; n])),
            hresult: Hresult::S_OK,
        });
        let refs = vec![RemInterfaceRef { ipid: s.ipid, c_public_refs: 5, c_private_refs: 0 }; n];
        ndr_rt(&RemRefsIn { orpcthis: this.clone(), c_interface_refs: n as u16, interface_refs: ConfArray(refs) });
        ndr_rt(&RemAddRefOut { orpcthat: that.clone(), p_results: ConfArray(vec![Hresult::S_OK; n]), hresult: Hresult::S_OK });
        ndr_rt(&OrpcHresultOut { orpcthat: that.clone(), hresult: Hresult::RPC_E_INVALID_IPID });
        ndr_rt(&RemQueryInterface2In { orpcthis: this, ripid: s.ipid, c_iids: n as u16, iids: ConfArray(iids) });
        ndr_rt(&RemQueryInterface2Out {
            orpcthat: that,
            phr: ConfArray(vec![Hresult::S_OK; n]),
            pp_mif: ConfArray(vec![m; n]),
            hresult: Hresult::S_OK,
        });
    }

    #[test]
    fn wmi_login_stubs_roundtrip(this in orpcthis(), that in orpcthat(), m in mip(), s in wstring()) {
        ndr_rt(&EstablishPositionIn { orpcthis: this.clone(), reserved1: s.clone(), reserved2: 0 });
        ndr_rt(&EstablishPositionOut { orpcthat: that.clone(), locale_version: 1, hresult: Hresult::S_OK });
        ndr_rt(&RequestChallengeIn { orpcthis: this.clone(), reserved1: s.clone(), reserved2: None });
        ndr_rt(&RequestChallengeOut { orpcthat: that.clone(), reserved3: ConfVarArray::new(vec![7; 16]), hresult: Hresult::S_OK });
        ndr_rt(&WbemLoginIn { orpcthis: this.clone(), reserved1: s.clone(), reserved2: Some(ConfVarArray::new(vec![1; 16])), reserved3: 0, reserved4: m.clone() });
        ndr_rt(&NtlmLoginIn { orpcthis: this.clone(), wsz_network_resource: s.clone(), wsz_preferred_locale: None, l_flags: 0, p_ctx: m.clone() });
        ndr_rt(&WbemLoginOut { orpcthat: that, pp_namespace: m, hresult: Hresult::WBEM_E_ACCESS_DENIED });
        ndr_rt(&SetClientInfoIn { orpcthis: this, wsz_client_machine: s, l_client_proc_id: 1234, l_reserved: 0 });
    }

    #[test]
    fn error_info_roundtrips(iid in uuid(), a in text(), b in text(), sig in 1u32.., ctx in any::<u32>()) {
        let eod = ErrorObjectData {
            dw_version: 0,
            dw_help_context: ctx,
            iid,
            psz_source: Some(WString::from(a.as_str())),
            psz_description: Some(WString::from(b.as_str())),
            psz_help_file: None,
        };
        ndr_rt(&eod);
        let name = |s: &str| { let mut v: Vec<u16> = s.encode_utf16().collect(); v.push(0); v };
        let info = CustomErrorInfo {
            version: 0,
            help_context: ctx,
            iid,
            source: ErrorInfoString { signature: sig, max: name(&a).len() as u32, offset: 0, name: name(&a) },
            description: ErrorInfoString::default(),
            help_file: ErrorInfoString { signature: sig, max: 1, offset: 0, name: name("") },
            trailing: Vec::new(),
        };
        let data = info.encode().unwrap();
        prop_assert_eq!(&CustomErrorInfo::decode(&data).unwrap(), &info);
        prop_assert_eq!(info.source.text(), a);
        // Carried as an ORPC extension in an OBJREF_CUSTOM with CLSID_ErrorObject ([MS-DCOM 2.2.21.1]).
        let objref = ObjRef {
            iid: Uuid::from_u128(0x1cf2_b120_547d_101b_8e65_0800_2b2b_d119),
            body: ObjRefBody::Custom(ObjRefCustom { clsid: guids::CLSID_ERROR_OBJECT, cb_extension: 0, reserved: 0, object_data: data }),
            trailing: Vec::new(),
        };
        let ext = OrpcExtent::new(guids::CLSID_ERROR_EXTENSION, &objref.encode().unwrap()).unwrap();
        prop_assert_eq!(ext.name(), Some("error_info"));
        let Some(KnownExtension::ErrorInfo(o)) = ext.decode_known(true).unwrap() else { panic!("error info") };
        prop_assert_eq!(o.error_info().unwrap().unwrap(), info);
    }

    #[test]
    fn context_extension_roundtrips(ids in uuids(0..3), data in bytes(32), little in any::<bool>()) {
        let c = ContextExtension {
            signature: ContextExtension::SIGNATURE,
            version: 0x0001_0000,
            cb_buffer: 0,
            cb_size: 0,
            hr: Hresult::S_OK,
            hr_server: Hresult::S_OK,
            reserved: 0,
            entries: ids.iter().map(|&policy_id| EntryHeader { signature: ContextExtension::ENTRY_SIGNATURE, cb_eh_buffer: 8, cb_size: 64, reserved: 0, policy_id }).collect(),
            policy_data: data,
        };
        let bytes = c.encode(little).unwrap();
        prop_assert_eq!(&ContextExtension::decode(&bytes, little).unwrap(), &c);
    }

    #[test]
    fn oracles_never_panic_on_random_input(data in bytes(300)) {
        fuzzing::objref(&data);
        fuzzing::dualstringarray(&data);
        fuzzing::activation_blob(&data);
        fuzzing::orpcthis(&data);
        fuzzing::orpcthat(&data);
    }

    #[test]
    fn oracles_never_panic_on_mutated_valid_input(o in objref(), props in proptest::collection::vec(property(), 1..4), this in orpcthis(), at in any::<prop::sample::Index>(), val in any::<u8>()) {
        let mutate = |mut v: Vec<u8>| { if !v.is_empty() { let i = at.index(v.len()); v[i] = val; } v };
        fuzzing::objref(&mutate(o.encode().unwrap()));
        let blob = ActivationPropertiesBlob::new(2, props).unwrap().encode().unwrap();
        fuzzing::activation_blob(&mutate(blob));
        fuzzing::orpcthis(&mutate(encode(&this, NdrContext::NDR20).unwrap()));
        let mut d = Vec::new();
        o.resolver_bindings().cloned().unwrap_or_default().encode_packet(&mut d).ok();
        fuzzing::dualstringarray(&mutate(d));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Vectors and negative cases.

/// [MS-DCOM 2.2.19.1]: "The smallest possible DUALSTRINGARRAY structure consists of wNumEntries=0x0004 and
/// wSecurityOffset=0x0002 followed by an array of 4 unsigned shorts" (all zero).
#[test]
fn smallest_dualstringarray() {
    let d = DualStringArray::new(&[], &[]).unwrap();
    let mut bytes = Vec::new();
    d.encode_packet(&mut bytes).unwrap();
    assert_eq!(hex::encode(&bytes), "040002000000000000000000");
    assert!(d.string_bindings().unwrap().is_empty());
    assert!(d.security_bindings().unwrap().is_empty());
}

/// The standard OBJREF of IWbemServices from the NTLMLogin response (frame 46 of the wmi capture).
const OBJREF_FRAME46: &str = "4d454f570100000099dc56958c82cf11a37e00aa003240c700000000050000006736217f507337050a73470f6a8c0f2a1b40010030050000032412059210a4893600200007003000310035003600360073002d00770069006e00310036002d0069007200000007003100370032002e00310036002e00360036002e0033003600000000000900ffff00001e00ffff00001000ffff00000a00ffff00001600ffff00001f00ffff00000e00ffff00000000";

#[test]
fn standard_objref_vector() {
    let bytes = hex::decode(OBJREF_FRAME46).unwrap();
    let o = ObjRef::decode(&bytes).unwrap();
    assert_eq!(o.iid, guids::IID_IWBEMSERVICES);
    let std = o.std().unwrap();
    assert_eq!(std.c_public_refs, 5);
    assert_eq!(std.oxid, 0x0537_7350_7f21_3667);
    let d = o.resolver_bindings().unwrap();
    let s = d.string_bindings().unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[1].tower_id, s[1].addr()), (tower_id::NCACN_IP_TCP, "172.16.66.36".to_owned()));
    assert_eq!(s[1].port(), None, "resolver bindings name no port");
    let sec = d.security_bindings().unwrap();
    assert_eq!(sec.iter().map(|b| b.authn_svc).collect::<Vec<_>>(), vec![9, 0x1e, 0x10, 0x0a, 0x16, 0x1f, 0x0e]);
    assert!(sec.iter().all(|b| b.authz_svc == 0xffff && b.princ_name.is_empty()));
    assert_eq!(o.encode().unwrap(), bytes);
}

#[test]
fn objref_truncated_everywhere_fails_cleanly() {
    let bytes = hex::decode(OBJREF_FRAME46).unwrap();
    for n in 0..bytes.len() {
        let e = ObjRef::decode(&bytes[..n]).unwrap_err();
        assert!(matches!(e.kind(), DcomErrorKind::Truncated { .. }), "{n}: {e}");
        assert!(e.offset() <= n, "{n}: {e}");
    }
}

#[test]
fn objref_rejects_bad_signature_and_flags() {
    let mut bytes = hex::decode(OBJREF_FRAME46).unwrap();
    bytes[4] = 3;
    let e = ObjRef::decode(&bytes).unwrap_err();
    assert_eq!(e.kind(), &DcomErrorKind::UnknownObjrefFlags(3));
    assert_eq!(e.offset(), 4);
    assert_eq!(e.to_string(), "OBJREF at offset 4: unknown OBJREF flags 0x00000003");
    bytes[0] = 0;
    assert!(matches!(
        ObjRef::decode(&bytes).unwrap_err().kind(),
        DcomErrorKind::BadSignature { expected: 0x574f454d, .. }
    ));
}

#[test]
fn dualstringarray_rejects_inconsistent_counts() {
    // wSecurityOffset beyond wNumEntries.
    let e = DualStringArray::decode_packet(&hex::decode("0200030000000000").unwrap()).unwrap_err();
    assert!(matches!(e.kind(), DcomErrorKind::InvalidValue { field: "wSecurityOffset", value: 3 }), "{e}");
    // wNumEntries larger than the data.
    let e = DualStringArray::decode_packet(&hex::decode("ff7f02000000").unwrap()).unwrap_err();
    assert!(matches!(e.kind(), DcomErrorKind::Truncated { needed: 0xfffe, .. }), "{e}");
    // An unterminated string binding.
    let d = DualStringArray { num_entries: 3, security_offset: 3, string_array: ConfArray(vec![7, 0x41, 0x42]) };
    assert!(matches!(d.string_bindings().unwrap_err().kind(), DcomErrorKind::Unterminated));
    // NDR form: the conformance must equal wNumEntries.
    let bytes = hex::decode("03000000020002000000000000000000").unwrap();
    assert!(decode::<DualStringArray>(&bytes, NdrContext::NDR20).is_err());
}

#[test]
fn activation_blob_rejects_bad_sizes() {
    let props = vec![ActivationProperty::ServerLocation(LocationInfoData::default())];
    let mut bytes = ActivationPropertiesBlob::new(2, props).unwrap().encode().unwrap();
    let mut short = bytes.clone();
    short.truncate(bytes.len() - 8);
    assert!(ActivationPropertiesBlob::decode(&short).is_err());
    bytes[0] ^= 0x40; // dwSize
    let e = ActivationPropertiesBlob::decode(&bytes).unwrap_err();
    assert!(matches!(e.kind(), DcomErrorKind::InvalidValue { field: "dwSize", .. }), "{e}");
}

#[test]
fn special_properties_alternate_layout_decodes() {
    let alt = ActivationProperty::SpecialSystemAlternate(SpecialPropertiesDataAlternate {
        dw_session_id: 0xffff_ffff,
        dw_default_authn_lvl: 2,
        ..Default::default()
    });
    let bytes = alt.encode().unwrap();
    assert_eq!(bytes.len(), 16 + 80);
    assert_eq!(
        ActivationProperty::decode(guids::CLSID_SPECIAL_SYSTEM_PROPERTIES, &bytes, Default::default()).unwrap(),
        alt
    );
    let std = ActivationProperty::SpecialSystem(SpecialPropertiesData::default()).encode().unwrap();
    assert_eq!(std.len(), 16 + 88, "84 bytes padded to 88, as Windows sends");
}

#[test]
fn unknown_property_is_kept_verbatim() {
    let data = ActivationProperty::ServerLocation(LocationInfoData::default()).encode().unwrap();
    let clsid = Uuid::from_u128(42);
    let p = ActivationProperty::decode(clsid, &data, Default::default()).unwrap();
    assert_eq!(p, ActivationProperty::Unknown { clsid, data: data.clone() });
    assert_eq!(p.encode().unwrap(), data);
}

#[test]
fn binding_helpers() {
    let s = [
        StringBinding::new(tower_id::NCACN_NP, "\\\\HOST[\\PIPE\\atsvc]"),
        StringBinding::new(tower_id::NCACN_IP_TCP, "host[49670]"),
        StringBinding::new(tower_id::NCACN_IP_TCP, "10.0.0.1[49670]"),
        StringBinding::new(tower_id::NCACN_IP_TCP, "172.16.66.36[49671]"),
    ];
    assert_eq!(s[0].endpoint().as_deref(), Some("\\PIPE\\atsvc"));
    assert_eq!(s[0].port(), None);
    assert_eq!(s[1].host(), "host");
    let c = pick_string_binding(&s, "172.16.66.36".parse().ok()).unwrap();
    assert_eq!((c.addr.as_str(), c.port), ("172.16.66.36", Some(49671)));
    let c = pick_string_binding(&s, None).unwrap();
    assert_eq!((c.addr.as_str(), c.port, c.ip), ("10.0.0.1", Some(49670), "10.0.0.1".parse().ok()));
    let c = pick_string_binding(&s[..2], None).unwrap();
    assert_eq!((c.addr.as_str(), c.ip), ("host", None));
    assert!(pick_string_binding(&s[..1], None).is_none());
}

#[test]
fn hresult_names() {
    assert_eq!(Hresult(0x8000_4002).name(), Some("E_NOINTERFACE"));
    assert_eq!(Hresult::RPC_E_ACCESS_DENIED.to_string(), "RPC_E_ACCESS_DENIED");
    assert_eq!(Hresult(0x1234).to_string(), "0x00001234");
    assert!(Hresult::S_FALSE.is_success());
    assert!(!Hresult::E_ACCESSDENIED.is_success());
    assert_eq!(Hresult::OR_INVALID_OXID.0, 1910);
    assert_eq!(format!("{:?}", Hresult::S_OK), "S_OK(0x00000000)");
}

#[test]
fn interface_names() {
    assert_eq!(guids::interface_name(&guids::IID_IREMOTESCMACTIVATOR), Some("IRemoteSCMActivator"));
    assert!(guids::is_rpc_level_interface(&guids::IID_IOBJECTEXPORTER));
    assert!(!guids::is_rpc_level_interface(&guids::IID_IREMUNKNOWN2));
    assert_eq!(guids::clsid_name(&guids::CLSID_SCM_REPLY_INFO), Some("ScmReplyInfo"));
}

//! Every ISystemActivator, IRemUnknown2, IWbemLevel1Login and IWbemLoginClientID stub of
//! `wmi_win32_process_create.pcapng` decodes and re-encodes to the same bytes. The field-by-field comparison with
//! tshark lives in `proto-tests/tests/dcom.rs`.

#![expect(clippy::panic, reason = "test helpers report failures by panicking")]

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::Bytes;
use dcom_capture::{Capture, Limits};
use dcom_ndr::codec::decode_prefix_with_ids;
use dcom_ndr::{DataRep, Ndr, NdrContext, NdrWriter, encode_top_level};
use dcom_pdu::{AuthLevel, Pdu, PduBody, ResultCode, SyntaxId, peek_header};
use dcom_types::guids::{
    CLSID_WBEM_LEVEL1_LOGIN, IID_IACTIVATIONPROPERTIESOUT, IID_IREMOTESCMACTIVATOR, IID_IREMUNKNOWN2,
    IID_IWBEMLEVEL1LOGIN, IID_IWBEMLOGINCLIENTID, IID_IWBEMSERVICES,
};
use dcom_types::interfaces::{
    EstablishPositionIn, EstablishPositionOut, NtlmLoginIn, OrpcHresultOut, RemQueryInterfaceIn, RemQueryInterfaceOut,
    RemRefsIn, RemoteCreateInstanceIn, RemoteCreateInstanceOut, SetClientInfoIn, WbemLoginOut,
};
use dcom_types::{ActivationPropertiesBlob, ActivationProperty, DcomCall, ObjRef, OxidResolution, decode_call};
use uuid::Uuid;

fn capture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures/wmi_win32_process_create.pcapng")
}

/// One request or response PDU with what the call layer knows about it.
#[derive(Debug, Clone)]
struct CallPdu {
    frame: u32,
    interface: Uuid,
    opnum: u16,
    is_request: bool,
    object: Option<Uuid>,
    stub: Bytes,
    drep: [u8; 4],
    ndr64: bool,
    sealed: bool,
}

fn call_pdus() -> Vec<CallPdu> {
    let bytes = std::fs::read(capture_path()).expect("capture present");
    let cap = Capture::parse(&bytes, &Limits::default()).expect("capture parses");
    let streams = cap.reassemble().streams;
    let mut out = Vec::new();
    for s in &streams {
        // (frame, is_c2s, pdu)
        let mut pdus: Vec<(u32, bool, Pdu)> = Vec::new();
        for (c2s, flow) in [(true, &s.c2s), (false, &s.s2c)] {
            for seg in &flow.segments {
                let mut off = 0usize;
                while let Ok(Some(h)) = peek_header(&seg.data[off..]) {
                    let len = usize::from(h.frag_len);
                    if off + len > seg.data.len() {
                        break;
                    }
                    let start = seg.start + off as u64;
                    let frame = flow.frame_for_range(start, start + len as u64).expect("frame").number;
                    let pdu = Pdu::decode(Bytes::copy_from_slice(&seg.data[off..off + len])).expect("pdu decodes");
                    pdus.push((frame, c2s, pdu));
                    off += len;
                }
            }
        }
        pdus.sort_by_key(|(f, c2s, _)| (*f, !*c2s));
        let mut pending_binds: HashMap<u32, Vec<(u16, SyntaxId, bool)>> = HashMap::new();
        let mut contexts: HashMap<u16, (Uuid, bool)> = HashMap::new();
        let mut calls: HashMap<u32, (Uuid, u16, Option<Uuid>, bool)> = HashMap::new();
        for (frame, _, pdu) in pdus {
            let sealed = pdu.auth.as_ref().is_some_and(|a| a.trailer.auth_level == AuthLevel::PKT_PRIVACY);
            let call_id = pdu.header.call_id;
            let drep = pdu.header.drep.0;
            match &pdu.body {
                PduBody::Bind(b) | PduBody::AlterContext(b) => {
                    let elems = b
                        .contexts
                        .elems
                        .iter()
                        .map(|e| {
                            let ndr64 = e.transfer_syntaxes.first() == Some(&SyntaxId::NDR64);
                            (e.p_cont_id, e.abstract_syntax, ndr64)
                        })
                        .collect();
                    pending_binds.insert(call_id, elems);
                }
                PduBody::BindAck(a) | PduBody::AlterContextResp(a) => {
                    if let Some(elems) = pending_binds.remove(&call_id) {
                        for (r, (id, syn, ndr64)) in a.results.results.iter().zip(elems) {
                            if r.result == ResultCode::ACCEPTANCE {
                                contexts.insert(id, (syn.uuid, ndr64));
                            }
                        }
                    }
                }
                PduBody::Request(r) => {
                    let Some(&(interface, ndr64)) = contexts.get(&r.p_cont_id) else { continue };
                    calls.insert(call_id, (interface, r.opnum, r.object, ndr64));
                    out.push(CallPdu {
                        frame,
                        interface,
                        opnum: r.opnum,
                        is_request: true,
                        object: r.object,
                        stub: r.stub.clone(),
                        drep,
                        ndr64,
                        sealed,
                    });
                }
                PduBody::Response(r) => {
                    let Some(&(interface, opnum, object, ndr64)) = calls.get(&call_id) else { continue };
                    out.push(CallPdu {
                        frame,
                        interface,
                        opnum,
                        is_request: false,
                        object,
                        stub: r.stub.clone(),
                        drep,
                        ndr64,
                        sealed,
                    });
                }
                _ => {}
            }
        }
    }
    out.sort_by_key(|c| c.frame);
    out
}

fn is_target(c: &CallPdu) -> bool {
    [IID_IREMOTESCMACTIVATOR, IID_IREMUNKNOWN2, IID_IWBEMLEVEL1LOGIN, IID_IWBEMLOGINCLIENTID].contains(&c.interface)
        && !c.sealed
}

fn decode_json(c: &CallPdu) -> dcom_types::DcomDecoded {
    let call = DcomCall {
        interface: c.interface,
        opnum: c.opnum,
        is_request: c.is_request,
        object: c.object,
        stub: &c.stub,
        ndr64: c.ndr64,
        drep: c.drep,
    };
    decode_call(&call).expect("known interface").unwrap_or_else(|e| panic!("frame {}: {e}", c.frame))
}

/// Decodes with the peer's referent ids and re-encodes with the same ids: the bytes must be identical.
fn roundtrip<T: Ndr + std::fmt::Debug>(c: &CallPdu) -> T {
    let ctx = NdrContext::new(dcom_ndr::Syntax::Ndr20, DataRep::from_bytes(c.drep).expect("drep"));
    let (v, used, ids) = decode_prefix_with_ids::<T>(&c.stub, ctx).unwrap_or_else(|e| panic!("frame {}: {e}", c.frame));
    assert_eq!(used, c.stub.len(), "frame {}: whole stub used", c.frame);
    let mut w = NdrWriter::new(ctx);
    w.replay_referent_ids(ids);
    encode_top_level(&v, &mut w).expect("encodes");
    let back = w.finish().expect("finishes");
    assert_eq!(hex::encode(&back), hex::encode(&c.stub), "frame {}: re-encoding differs", c.frame);
    v
}

fn act_blob_roundtrip(frame: u32, mip: &dcom_ndr::MInterfacePointer) -> ActivationPropertiesBlob {
    let (objref, blob) = ActivationPropertiesBlob::from_mip(mip).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
    assert_eq!(objref.encode().expect("objref encodes"), mip.ab_data.0, "frame {frame}: OBJREF round trip");
    let reply = objref.iid == IID_IACTIVATIONPROPERTIESOUT;
    let rebuilt = blob.to_objref(reply).expect("objref");
    assert_eq!(rebuilt, objref, "frame {frame}: blob -> OBJREF_CUSTOM reproduces Windows' wrapper");
    // Rebuilding the blob from its properties alone recomputes every size field as Windows did.
    let fresh = ActivationPropertiesBlob::new(blob.header.dest_ctx, blob.properties.clone()).expect("builds");
    assert_eq!(fresh, blob, "frame {frame}: computed sizes equal Windows'");
    blob
}

#[test]
fn wmi_capture_stubs_decode_and_roundtrip() {
    let pdus = call_pdus();
    let targets: Vec<&CallPdu> = pdus.iter().filter(|c| is_target(c)).collect();
    let frames: Vec<u32> = targets.iter().map(|c| c.frame).collect();
    assert_eq!(frames, vec![24, 25, 35, 36, 39, 40, 43, 44, 45, 46, 47, 48, 129, 130]);
    let mut n_roundtrip = 0;
    for c in &targets {
        let d = decode_json(c);
        assert!(d.json.get("trailing_bytes").is_none(), "frame {}: {}", c.frame, d.json);
        match (c.interface, c.opnum, c.is_request) {
            (IID_IREMOTESCMACTIVATOR, 4, true) => {
                let v: RemoteCreateInstanceIn = roundtrip(c);
                let blob = act_blob_roundtrip(c.frame, v.p_act_properties.as_ref().expect("properties"));
                assert_eq!(blob.properties.len(), 6);
                let inst = blob.instantiation().expect("instantiation info");
                assert_eq!(inst.class_id, CLSID_WBEM_LEVEL1_LOGIN);
                assert_eq!(inst.p_iid.as_deref().map(Vec::as_slice), Some(&[IID_IWBEMLEVEL1LOGIN][..]));
                assert_eq!(inst.client_com_version, dcom_types::ComVersion::V5_7);
                let security = blob
                    .find(|p| match p {
                        ActivationProperty::Security(s) => s.p_server_info.as_ref(),
                        _ => None,
                    })
                    .expect("security info");
                assert_eq!(security.pwsz_name.as_ref().map(|n| n.to_string_lossy()).as_deref(), Some("172.16.66.36"));
            }
            (IID_IREMOTESCMACTIVATOR, 4, false) => {
                let v: RemoteCreateInstanceOut = roundtrip(c);
                assert_eq!(v.hresult, dcom_types::Hresult::S_OK);
                let blob = act_blob_roundtrip(c.frame, v.pp_act_properties.as_ref().expect("properties"));
                let res = OxidResolution::from_activation(&blob).expect("scm reply");
                assert_eq!(res.oxid, Some(0x0537_7350_7f21_3667));
                assert_eq!(res.authn_hint, 4);
                assert_eq!(res.com_version, Some(dcom_types::ComVersion::V5_7));
                assert_eq!(res.ipid_rem_unknown, Uuid::parse_str("0000c000-0530-0000-7d85-2faeeac5c880").unwrap());
                let chosen = res.pick("172.16.66.36".parse().ok()).expect("bindings").expect("a tcp binding");
                assert_eq!((chosen.addr.as_str(), chosen.port), ("172.16.66.36", Some(49670)));
                let sec = res.security_bindings().expect("security bindings");
                assert_eq!(sec.len(), 6);
                assert_eq!((sec[3].authn_svc, sec[3].princ_name()), (9, "host/01566s-win16-ir.threebeesco.com".into()));
                assert_eq!(d.endpoints, vec![(None, 49670), (Some("172.16.66.36".parse().unwrap()), 49670)]);
                // The interface pointer in PropsOutInfo is a standard OBJREF for IWbemLevel1Login.
                let props = blob.props_out().expect("props out");
                let mip = props.pp_intf_data.as_ref().unwrap()[0].as_ref().expect("interface");
                let objref = ObjRef::from_mip(mip).expect("objref");
                assert_eq!(objref.encode().unwrap(), mip.ab_data.0);
                assert_eq!(objref.iid, IID_IWBEMLEVEL1LOGIN);
                assert_eq!(objref.std().unwrap().oid, 0xf6e3_db64_50cc_a71a);
            }
            (IID_IREMUNKNOWN2, 3, true) => {
                let v: RemQueryInterfaceIn = roundtrip(c);
                assert_eq!(&v.iids[..], &[IID_IWBEMLOGINCLIENTID]);
            }
            (IID_IREMUNKNOWN2, 3, false) => {
                let v: RemQueryInterfaceOut = roundtrip(c);
                assert_eq!(v.pp_qi_results.as_ref().unwrap()[0].std.c_public_refs, 5);
            }
            (IID_IREMUNKNOWN2, 5, true) => {
                let v: RemRefsIn = roundtrip(c);
                assert!(v.interface_refs.iter().all(|r| r.c_public_refs == 5));
            }
            (IID_IREMUNKNOWN2, 5, false) | (IID_IWBEMLOGINCLIENTID, 3, false) => {
                let v: OrpcHresultOut = roundtrip(c);
                assert_eq!(v.hresult, dcom_types::Hresult::S_OK);
            }
            (IID_IWBEMLOGINCLIENTID, 3, true) => {
                let v: SetClientInfoIn = roundtrip(c);
                assert_eq!(v.wsz_client_machine.unwrap().to_string_lossy(), "02694W-WIN10");
                assert_eq!(v.orpcthis.version, dcom_types::ComVersion::V5_7);
            }
            (IID_IWBEMLEVEL1LOGIN, 3, true) => {
                let _: EstablishPositionIn = roundtrip(c);
            }
            (IID_IWBEMLEVEL1LOGIN, 3, false) => {
                let v: EstablishPositionOut = roundtrip(c);
                assert_eq!(v.locale_version, 1);
            }
            (IID_IWBEMLEVEL1LOGIN, 6, true) => {
                let v: NtlmLoginIn = roundtrip(c);
                assert_eq!(v.wsz_network_resource.unwrap().to_string_lossy(), "\\\\172.16.66.36\\ROOT\\CIMV2");
            }
            (IID_IWBEMLEVEL1LOGIN, 6, false) => {
                let v: WbemLoginOut = roundtrip(c);
                let objref = ObjRef::from_mip(v.pp_namespace.as_ref().unwrap()).expect("objref");
                assert_eq!(objref.iid, IID_IWBEMSERVICES);
                assert_eq!(objref.encode().unwrap(), v.pp_namespace.unwrap().ab_data.0);
            }
            other => panic!("unexpected call {other:?}"),
        }
        n_roundtrip += 1;
    }
    println!("{n_roundtrip} DCOM stubs decoded and re-encoded byte for byte");
}

/// Sealed IWbemServices traffic and unknown interfaces: never an error, named by UUID.
#[test]
fn sealed_and_unknown_interfaces_are_not_errors() {
    let pdus = call_pdus();
    let sealed: Vec<&CallPdu> = pdus.iter().filter(|c| c.sealed).collect();
    assert!(!sealed.is_empty());
    let unknown = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
    let stub = hex::decode("0500070000000000000000001bd27efdc9dad249aadd65b0c706fc49000000000102").unwrap();
    let call = DcomCall {
        interface: unknown,
        opnum: 7,
        is_request: true,
        object: Some(Uuid::nil()),
        stub: &stub,
        ndr64: false,
        drep: [0x10, 0, 0, 0],
    };
    let d = decode_call(&call).expect("orpc").expect("decodes");
    assert_eq!(d.json["interface"], unknown.to_string());
    assert_eq!(d.json["method"], "opnum 7");
    assert_eq!(d.json["orpcthis"]["cid"], "fd7ed21b-dac9-49d2-aadd-65b0c706fc49");
    // Without an object UUID an unknown interface is not DCOM.
    assert!(decode_call(&DcomCall { object: None, ..call }).is_none());
}

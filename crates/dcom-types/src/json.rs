//! The decoder-facing entry point: a DCOM stub -> the `dcom` JSON object of `dcomctl decode --json`, plus the
//! TCP endpoints that activation and OXID resolution replies name (for port following).
//!
//! How the caller tells whether a context is ORPC: it passes the object UUID of the request (`DcomCall::object`;
//! for a response, the object UUID of the matching request). Every ORPC request carries the IPID as object UUID
//! ([MS-DCOM 3.2.4.2], PFC_OBJECT_UUID), while the RPC-level interfaces (activators, OXID resolver, endpoint
//! mapper) are called without one. An interface this crate knows by name is classified by that name
//! ([`crate::is_rpc_level_interface`]); an unknown interface is treated as ORPC exactly when `object` is `Some`,
//! and only its ORPCTHIS / ORPCTHAT is decoded.

use std::net::IpAddr;

use dcom_ndr::{DataRep, MInterfacePointer, Ndr, NdrContext, Syntax, decode_prefix};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::activation::{ActivationPropertiesBlob, ActivationProperty};
use crate::guids::{
    IID_EPM, IID_IACTIVATION, IID_IOBJECTEXPORTER, IID_IREMOTESCMACTIVATOR, IID_IREMUNKNOWN, IID_IREMUNKNOWN2,
    IID_IWBEMLEVEL1LOGIN, IID_IWBEMLOGINCLIENTID, clsid_name, interface_name, is_rpc_level_interface,
};
use crate::hresult::Hresult;
use crate::interfaces::{
    ComplexPingIn, ComplexPingOut, EstablishPositionIn, EstablishPositionOut, NtlmLoginIn, OrpcHresultOut,
    RemAddRefOut, RemQueryInterface2In, RemQueryInterface2Out, RemQueryInterfaceIn, RemQueryInterfaceOut, RemRefsIn,
    RemoteActivationIn, RemoteActivationOut, RemoteCreateInstanceIn, RemoteCreateInstanceOut, RemoteGetClassObjectIn,
    RemoteGetClassObjectOut, RequestChallengeIn, RequestChallengeOut, ResolveOxid2Out, ResolveOxidIn, ResolveOxidOut,
    ServerAlive2Out, SetClientInfoIn, SimplePingIn, StatusOut, WbemLoginIn, WbemLoginOut,
};
use crate::objref::{DualStringArray, ObjRef, ObjRefBody, StdObjRef};
use crate::orpc::{ComVersion, KnownExtension, OrpcExtent, OrpcThat, OrpcThis};

pub use crate::resolve::OxidResolution;

/// One call PDU's stub and what the caller knows about it.
#[derive(Debug, Clone, Copy)]
pub struct DcomCall<'a> {
    /// The abstract syntax bound to the PDU's presentation context.
    pub interface: Uuid,
    /// The request's opnum (for a response: the opnum of the matching request).
    pub opnum: u16,
    /// Request (true) or response (false).
    pub is_request: bool,
    /// The request's object UUID (the IPID for ORPC calls); for a response, that of the matching request.
    pub object: Option<Uuid>,
    /// The complete (reassembled, unsealed) stub.
    pub stub: &'a [u8],
    /// NDR64 was negotiated for the context.
    pub ndr64: bool,
    /// The PDU's data representation.
    pub drep: [u8; 4],
}

/// What [`decode_call`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DcomDecoded {
    /// The `dcom` JSON object.
    pub json: Value,
    /// TCP endpoints named by string bindings of activation / OXID resolution replies (address `None` when the
    /// binding names a host name rather than an IP literal).
    pub endpoints: Vec<(Option<IpAddr>, u16)>,
}

/// Name of the RPC-level or ORPC interface, or `None`.
#[must_use]
pub fn rpc_interface_name(iid: &Uuid) -> Option<&'static str> {
    interface_name(iid)
}

/// [`decode_call`] without an object UUID: decodes the interfaces this crate knows by name; `None` for the others.
#[must_use]
pub fn decode_orpc_json(
    interface: Uuid,
    opnum: u16,
    is_request: bool,
    stub: &[u8],
    ndr64: bool,
    drep: [u8; 4],
) -> Option<Result<DcomDecoded, String>> {
    decode_call(&DcomCall { interface, opnum, is_request, object: None, stub, ndr64, drep })
}

/// Decodes a DCOM call stub. `None` when the interface is not DCOM (the endpoint mapper, or an unknown interface
/// called without an object UUID); `Some(Err(..))` when the stub does not decode as the interface says.
#[must_use]
pub fn decode_call(call: &DcomCall<'_>) -> Option<Result<DcomDecoded, String>> {
    if call.interface == IID_EPM {
        return None;
    }
    let known = interface_name(&call.interface).is_some();
    let orpc = !is_rpc_level_interface(&call.interface) && (known || call.object.is_some());
    if !known && !orpc {
        return None;
    }
    Some(decode_inner(call, orpc))
}

struct Out {
    method: Option<&'static str>,
    obj: Map<String, Value>,
    endpoints: Vec<(Option<IpAddr>, u16)>,
    used: usize,
}

impl Out {
    fn new(method: &'static str) -> Self {
        Self { method: Some(method), obj: Map::new(), endpoints: Vec::new(), used: 0 }
    }
    fn set(&mut self, k: &str, v: Value) {
        self.obj.insert(k.to_owned(), v);
    }
}

fn decode_inner(call: &DcomCall<'_>, orpc: bool) -> Result<DcomDecoded, String> {
    let drep = DataRep::from_bytes(call.drep).map_err(|e| e.to_string())?;
    let syntax = if call.ndr64 { Syntax::Ndr64 } else { Syntax::Ndr20 };
    let ctx = NdrContext::new(syntax, drep);
    let little = drep.is_little_endian();
    let mut top = Map::new();
    let iface_name = interface_name(&call.interface).map_or_else(|| call.interface.to_string(), str::to_owned);
    top.insert("interface".into(), json!(iface_name));
    top.insert("interface_uuid".into(), json!(call.interface.to_string()));
    top.insert("opnum".into(), json!(call.opnum));
    top.insert("direction".into(), json!(if call.is_request { "request" } else { "response" }));
    if let Some(o) = call.object.filter(|_| orpc) {
        top.insert("ipid".into(), json!(o.to_string()));
    }
    let out = match call.interface {
        IID_IREMOTESCMACTIVATOR => scm_activator(call, ctx, little)?,
        IID_IACTIVATION => activation(call, ctx, little)?,
        IID_IOBJECTEXPORTER => exporter(call, ctx)?,
        IID_IREMUNKNOWN | IID_IREMUNKNOWN2 => rem_unknown(call, ctx, little)?,
        IID_IWBEMLEVEL1LOGIN => wbem_login(call, ctx, little)?,
        IID_IWBEMLOGINCLIENTID => wbem_client_id(call, ctx, little)?,
        _ => None,
    };
    let out = match out {
        Some(o) => o,
        None if orpc => orpc_prefix(call, ctx, little)?,
        None => {
            let mut o = Out::new("");
            o.method = None;
            o
        }
    };
    let method = out.method.map_or_else(|| format!("opnum {}", call.opnum), str::to_owned);
    top.insert("method".into(), json!(method));
    let trailing = call.stub.len().saturating_sub(out.used);
    for (k, v) in out.obj {
        top.insert(k, v);
    }
    if trailing > 0 {
        top.insert("trailing_bytes".into(), json!(trailing));
    }
    Ok(DcomDecoded { json: Value::Object(top), endpoints: out.endpoints })
}

fn dec<T: Ndr>(stub: &[u8], ctx: NdrContext) -> Result<(T, usize), String> {
    decode_prefix::<T>(stub, ctx).map_err(|e| e.to_string())
}

macro_rules! decode_to {
    ($out:ident, $t:ty, $call:expr, $ctx:expr) => {{
        let (v, used) = dec::<$t>($call.stub, $ctx)?;
        $out.used = used;
        v
    }};
}

// ---------------------------------------------------------------------------------------------------------------
// Field renderers.

fn hex64(v: u64) -> Value {
    json!(format!("{v:#018x}"))
}

fn hres(h: Hresult) -> Value {
    match h.name() {
        Some(n) => json!({ "hresult": h.hex(), "name": n }),
        None => json!({ "hresult": h.hex() }),
    }
}

fn version_json(v: ComVersion) -> Value {
    json!({ "major": v.major, "minor": v.minor })
}

fn extent_json(e: &OrpcExtent, little: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id.to_string()));
    if let Some(n) = e.name() {
        m.insert("name".into(), json!(n));
    }
    m.insert("size".into(), json!(e.size));
    match e.decode_known(little) {
        Ok(Some(KnownExtension::ErrorInfo(o))) => {
            m.insert("objref".into(), objref_json(&o));
            if let Some(Ok(info)) = o.error_info() {
                m.insert(
                    "error_info".into(),
                    json!({
                        "iid": info.iid.to_string(),
                        "source": info.source.text(),
                        "description": info.description.text(),
                        "help_file": info.help_file.text(),
                        "help_context": info.help_context,
                    }),
                );
            }
        }
        Ok(Some(KnownExtension::Context(c))) => {
            m.insert(
                "context".into(),
                json!({
                    "hr": c.hr.hex(),
                    "hr_server": c.hr_server.hex(),
                    "policies": c.entries.iter().map(|p| p.policy_id.to_string()).collect::<Vec<_>>(),
                }),
            );
        }
        Ok(_) => {}
        Err(err) => {
            m.insert("error".into(), json!(err.to_string()));
        }
    }
    Value::Object(m)
}

fn orpcthis_json(t: &OrpcThis, little: bool) -> Value {
    json!({
        "version": version_json(t.version),
        "flags": format!("{:#010x}", t.flags),
        "reserved1": t.reserved1,
        "cid": t.cid.to_string(),
        "extensions": t.extents().map(|e| extent_json(e, little)).collect::<Vec<_>>(),
    })
}

fn orpcthat_json(t: &OrpcThat, little: bool) -> Value {
    json!({
        "flags": format!("{:#010x}", t.flags),
        "extensions": t.extents().map(|e| extent_json(e, little)).collect::<Vec<_>>(),
    })
}

fn std_json(s: &StdObjRef) -> Value {
    json!({
        "flags": format!("{:#010x}", s.flags),
        "public_refs": s.c_public_refs,
        "oxid": hex64(s.oxid),
        "oid": hex64(s.oid),
        "ipid": s.ipid.to_string(),
    })
}

fn dsa_json(d: &DualStringArray) -> Value {
    let mut m = Map::new();
    m.insert("num_entries".into(), json!(d.num_entries));
    m.insert("security_offset".into(), json!(d.security_offset));
    match d.string_bindings() {
        Ok(v) => {
            let v: Vec<Value> = v.iter().map(|b| json!({ "tower_id": b.tower_id, "addr": b.addr() })).collect();
            m.insert("string_bindings".into(), Value::Array(v));
        }
        Err(e) => {
            m.insert("string_bindings_error".into(), json!(e.to_string()));
        }
    }
    match d.security_bindings() {
        Ok(v) => {
            let v: Vec<Value> = v
                .iter()
                .map(|b| json!({ "authn_svc": b.authn_svc, "authz_svc": b.authz_svc, "princ_name": b.princ_name() }))
                .collect();
            m.insert("security_bindings".into(), Value::Array(v));
        }
        Err(e) => {
            m.insert("security_bindings_error".into(), json!(e.to_string()));
        }
    }
    Value::Object(m)
}

fn objref_json(o: &ObjRef) -> Value {
    let mut m = Map::new();
    m.insert("flags".into(), json!(o.flags()));
    m.insert("iid".into(), json!(o.iid.to_string()));
    if let Some(n) = interface_name(&o.iid) {
        m.insert("iid_name".into(), json!(n));
    }
    match &o.body {
        ObjRefBody::Standard(s) => {
            m.insert("type".into(), json!("standard"));
            m.insert("std".into(), std_json(&s.std));
            m.insert("resolver".into(), dsa_json(&s.sa_res_addr));
        }
        ObjRefBody::Handler(h) => {
            m.insert("type".into(), json!("handler"));
            m.insert("std".into(), std_json(&h.std));
            m.insert("clsid".into(), json!(h.clsid.to_string()));
            m.insert("resolver".into(), dsa_json(&h.sa_res_addr));
        }
        ObjRefBody::Custom(c) => {
            m.insert("type".into(), json!("custom"));
            m.insert("clsid".into(), json!(c.clsid.to_string()));
            if let Some(n) = clsid_name(&c.clsid) {
                m.insert("clsid_name".into(), json!(n));
            }
            m.insert("cb_extension".into(), json!(c.cb_extension));
            m.insert("size".into(), json!(c.reserved));
            m.insert("object_data_len".into(), json!(c.object_data.len()));
        }
        ObjRefBody::Extended(e) => {
            m.insert("type".into(), json!("extended"));
            m.insert("std".into(), std_json(&e.std));
            m.insert("resolver".into(), dsa_json(&e.sa_res_addr));
            m.insert(
                "elements".into(),
                json!(
                    e.elements
                        .iter()
                        .map(|d| json!({"data_id": d.data_id.to_string(), "size": d.cb_size}))
                        .collect::<Vec<_>>()
                ),
            );
        }
    }
    if !o.trailing.is_empty() {
        m.insert("trailing_bytes".into(), json!(o.trailing.len()));
    }
    Value::Object(m)
}

/// An MInterfacePointer: its OBJREF, or the decoding error.
fn mip_json(mip: Option<&MInterfacePointer>) -> Value {
    let Some(mip) = mip else { return Value::Null };
    match ObjRef::from_mip(mip) {
        Ok(o) => objref_json(&o),
        Err(e) => json!({ "cnt_data": mip.ul_cnt_data, "error": e.to_string() }),
    }
}

fn uuids(v: Option<&[Uuid]>) -> Value {
    json!(v.unwrap_or(&[]).iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn hresults(v: &[Hresult]) -> Value {
    json!(v.iter().map(|h| h.hex()).collect::<Vec<_>>())
}

fn push_endpoints(d: Option<&DualStringArray>, out: &mut Vec<(Option<IpAddr>, u16)>) {
    let Some(d) = d else { return };
    for b in d.string_bindings().unwrap_or_default() {
        if b.tower_id == crate::objref::tower_id::NCACN_IP_TCP
            && let Some(port) = b.port()
        {
            let ep = (b.ip(), port);
            if !out.contains(&ep) {
                out.push(ep);
            }
        }
    }
}

fn property_json(p: &ActivationProperty, out: &mut Vec<(Option<IpAddr>, u16)>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name()));
    m.insert("clsid".into(), json!(p.clsid().to_string()));
    match p {
        ActivationProperty::SpecialSystem(s) => {
            m.insert("session_id".into(), json!(s.dw_session_id));
            m.insert("remote_this_session_id".into(), json!(s.f_remote_this_session_id));
            m.insert("client_impersonating".into(), json!(s.f_client_impersonating));
            m.insert("default_authn_level".into(), json!(s.dw_default_authn_lvl));
            m.insert("orig_clsctx".into(), json!(s.dw_orig_clsctx));
            m.insert("flags".into(), json!(s.dw_flags));
        }
        ActivationProperty::SpecialSystemAlternate(s) => {
            m.insert("session_id".into(), json!(s.dw_session_id));
            m.insert("default_authn_level".into(), json!(s.dw_default_authn_lvl));
            m.insert("orig_clsctx".into(), json!(s.dw_orig_clsctx));
            m.insert("flags".into(), json!(s.dw_flags));
        }
        ActivationProperty::Instantiation(i) => {
            m.insert("class_id".into(), json!(i.class_id.to_string()));
            if let Some(n) = clsid_name(&i.class_id) {
                m.insert("class_name".into(), json!(n));
            }
            m.insert("class_ctx".into(), json!(i.class_ctx));
            m.insert("actvflags".into(), json!(i.actvflags));
            m.insert("iids".into(), uuids(i.p_iid.as_deref().map(Vec::as_slice)));
            m.insert("this_size".into(), json!(i.this_size));
            m.insert("com_version".into(), version_json(i.client_com_version));
        }
        ActivationProperty::ActivationContext(a) => {
            m.insert("client_ok".into(), json!(a.client_ok));
            m.insert("client_ctx".into(), mip_json(a.p_ifd_client_ctx.as_ref()));
            m.insert("prototype_ctx".into(), mip_json(a.p_ifd_prototype_ctx.as_ref()));
        }
        ActivationProperty::Security(s) => {
            m.insert("authn_flags".into(), json!(s.dw_authn_flags));
            let name = s.p_server_info.as_ref().and_then(|i| i.pwsz_name.as_ref()).map(|n| n.to_string_lossy());
            m.insert("server_name".into(), json!(name));
        }
        ActivationProperty::ServerLocation(l) => {
            m.insert("machine_name".into(), json!(l.machine_name.as_ref().map(|n| n.to_string_lossy())));
            m.insert("process_id".into(), json!(l.process_id));
            m.insert("apartment_id".into(), json!(l.apartment_id));
            m.insert("context_id".into(), json!(l.context_id));
        }
        ActivationProperty::ScmRequest(r) => {
            if let Some(rr) = &r.remote_request {
                m.insert("client_imp_level".into(), json!(rr.client_imp_level));
                m.insert(
                    "protseqs".into(),
                    json!(rr.p_requested_protseqs.as_deref().map(Vec::as_slice).unwrap_or(&[])),
                );
            }
        }
        ActivationProperty::ScmReply(r) => {
            if let Some(rr) = &r.remote_reply {
                m.insert("oxid".into(), hex64(rr.oxid));
                m.insert("ipid_rem_unknown".into(), json!(rr.ipid_rem_unknown.to_string()));
                m.insert("authn_hint".into(), json!(rr.authn_hint));
                m.insert("com_version".into(), version_json(rr.server_version));
                m.insert("oxid_bindings".into(), rr.pdsa_oxid_bindings.as_ref().map_or(Value::Null, dsa_json));
                push_endpoints(rr.pdsa_oxid_bindings.as_ref(), out);
            }
        }
        ActivationProperty::PropsOut(p) => {
            m.insert("iids".into(), uuids(p.piid.as_deref().map(Vec::as_slice)));
            m.insert("hresults".into(), hresults(p.phresults.as_deref().map_or(&[], Vec::as_slice)));
            let ifs: Vec<Value> =
                p.pp_intf_data.as_deref().map_or(&[][..], Vec::as_slice).iter().map(|i| mip_json(i.as_ref())).collect();
            m.insert("interfaces".into(), json!(ifs));
        }
        ActivationProperty::InstanceInfo(i) => {
            m.insert("file_name".into(), json!(i.file_name.as_ref().map(|n| n.to_string_lossy())));
            m.insert("mode".into(), json!(i.mode));
            m.insert("ifd_rot".into(), mip_json(i.ifd_rot.as_ref()));
            m.insert("ifd_stg".into(), mip_json(i.ifd_stg.as_ref()));
        }
        ActivationProperty::Unknown { data, .. } => {
            m.insert("size".into(), json!(data.len()));
        }
    }
    Value::Object(m)
}

/// An activation-properties MInterfacePointer: the OBJREF and the decoded blob.
fn act_props_json(mip: Option<&MInterfacePointer>, out: &mut Vec<(Option<IpAddr>, u16)>) -> Value {
    let Some(mip) = mip else { return Value::Null };
    let mut v = mip_json(Some(mip));
    match ActivationPropertiesBlob::from_mip(mip) {
        Ok((_, blob)) => {
            let props: Vec<Value> = blob.properties.iter().map(|p| property_json(p, out)).collect();
            if let Value::Object(m) = &mut v {
                m.insert("dest_ctx".into(), json!(blob.header.dest_ctx));
                m.insert("properties".into(), json!(props));
            }
        }
        Err(e) => {
            if let Value::Object(m) = &mut v {
                m.insert("properties_error".into(), json!(e.to_string()));
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------------------------
// Interfaces.

fn scm_activator(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Option<Out>, String> {
    let mut o = match call.opnum {
        3 => Out::new("RemoteGetClassObject"),
        4 => Out::new("RemoteCreateInstance"),
        _ => return Ok(None),
    };
    let mut eps = Vec::new();
    match (call.opnum, call.is_request) {
        (3, true) => {
            let v = decode_to!(o, RemoteGetClassObjectIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("act_properties", act_props_json(v.p_act_properties.as_ref(), &mut eps));
        }
        (3, false) => {
            let v = decode_to!(o, RemoteGetClassObjectOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("act_properties", act_props_json(v.pp_act_properties.as_ref(), &mut eps));
            o.set("result", hres(v.hresult));
        }
        (_, true) => {
            let v = decode_to!(o, RemoteCreateInstanceIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("unk_outer", mip_json(v.p_unk_outer.as_ref()));
            o.set("act_properties", act_props_json(v.p_act_properties.as_ref(), &mut eps));
        }
        (_, false) => {
            let v = decode_to!(o, RemoteCreateInstanceOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("act_properties", act_props_json(v.pp_act_properties.as_ref(), &mut eps));
            o.set("result", hres(v.hresult));
        }
    }
    o.endpoints = eps;
    Ok(Some(o))
}

fn activation(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Option<Out>, String> {
    if call.opnum != 0 {
        return Ok(None);
    }
    let mut o = Out::new("RemoteActivation");
    if call.is_request {
        let v = decode_to!(o, RemoteActivationIn, call, ctx);
        o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
        o.set("clsid", json!(v.clsid.to_string()));
        o.set("object_name", json!(v.pwsz_object_name.as_ref().map(|s| s.to_string_lossy())));
        o.set("object_storage", mip_json(v.p_object_storage.as_ref()));
        o.set("client_imp_level", json!(v.client_imp_level));
        o.set("mode", json!(v.mode));
        o.set("iids", uuids(v.p_iids.as_deref().map(Vec::as_slice)));
        o.set("protseqs", json!(v.a_requested_protseqs.as_slice()));
    } else {
        let v = decode_to!(o, RemoteActivationOut, call, ctx);
        o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
        o.set("oxid", hex64(v.oxid));
        o.set("oxid_bindings", v.pdsa_oxid_bindings.as_ref().map_or(Value::Null, dsa_json));
        o.set("ipid_rem_unknown", json!(v.ipid_rem_unknown.to_string()));
        o.set("authn_hint", json!(v.authn_hint));
        o.set("com_version", version_json(v.server_version));
        o.set("hr", hres(v.hr));
        let ifs: Vec<Value> = v.pp_interface_data.iter().map(|m| mip_json(m.as_ref())).collect();
        o.set("interfaces", json!(ifs));
        o.set("hresults", hresults(&v.p_results));
        o.set("result", hres(v.status));
        push_endpoints(v.pdsa_oxid_bindings.as_ref(), &mut o.endpoints);
    }
    Ok(Some(o))
}

fn exporter(call: &DcomCall<'_>, ctx: NdrContext) -> Result<Option<Out>, String> {
    let name = match call.opnum {
        0 => "ResolveOxid",
        1 => "SimplePing",
        2 => "ComplexPing",
        3 => "ServerAlive",
        4 => "ResolveOxid2",
        5 => "ServerAlive2",
        _ => return Ok(None),
    };
    let mut o = Out::new(name);
    match (call.opnum, call.is_request) {
        (0 | 4, true) => {
            let v = decode_to!(o, ResolveOxidIn, call, ctx);
            o.set("oxid", hex64(v.oxid));
            o.set("protseqs", json!(v.ar_requested_protseqs.as_slice()));
        }
        (0, false) => {
            let v = decode_to!(o, ResolveOxidOut, call, ctx);
            o.set("oxid_bindings", v.pdsa_oxid_bindings.as_ref().map_or(Value::Null, dsa_json));
            o.set("ipid_rem_unknown", json!(v.ipid_rem_unknown.to_string()));
            o.set("authn_hint", json!(v.authn_hint));
            o.set("result", hres(v.status));
            push_endpoints(v.pdsa_oxid_bindings.as_ref(), &mut o.endpoints);
        }
        (4, false) => {
            let v = decode_to!(o, ResolveOxid2Out, call, ctx);
            o.set("oxid_bindings", v.pdsa_oxid_bindings.as_ref().map_or(Value::Null, dsa_json));
            o.set("ipid_rem_unknown", json!(v.ipid_rem_unknown.to_string()));
            o.set("authn_hint", json!(v.authn_hint));
            o.set("com_version", version_json(v.com_version));
            o.set("result", hres(v.status));
            push_endpoints(v.pdsa_oxid_bindings.as_ref(), &mut o.endpoints);
        }
        (1, true) => {
            let v = decode_to!(o, SimplePingIn, call, ctx);
            o.set("set_id", hex64(v.set_id));
        }
        (2, true) => {
            let v = decode_to!(o, ComplexPingIn, call, ctx);
            o.set("set_id", hex64(v.set_id));
            o.set("sequence_num", json!(v.sequence_num));
            let oids = |a: &Option<dcom_ndr::ConfArray<u64>>| -> Value {
                json!(
                    a.as_deref()
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .map(|&x| format!("{x:#018x}"))
                        .collect::<Vec<_>>()
                )
            };
            o.set("add_to_set", oids(&v.add_to_set));
            o.set("del_from_set", oids(&v.del_from_set));
        }
        (2, false) => {
            let v = decode_to!(o, ComplexPingOut, call, ctx);
            o.set("set_id", hex64(v.set_id));
            o.set("ping_backoff_factor", json!(v.ping_backoff_factor));
            o.set("result", hres(v.status));
        }
        (1 | 3, false) => {
            let v = decode_to!(o, StatusOut, call, ctx);
            o.set("result", hres(v.status));
        }
        (5, false) => {
            let v = decode_to!(o, ServerAlive2Out, call, ctx);
            o.set("com_version", version_json(v.com_version));
            o.set("or_bindings", v.pdsa_or_bindings.as_ref().map_or(Value::Null, dsa_json));
            o.set("result", hres(v.status));
        }
        // ServerAlive / ServerAlive2 requests have no parameters.
        _ => {}
    }
    Ok(Some(o))
}

fn rem_unknown(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Option<Out>, String> {
    let name = match call.opnum {
        3 => "RemQueryInterface",
        4 => "RemAddRef",
        5 => "RemRelease",
        6 if call.interface == IID_IREMUNKNOWN2 => "RemQueryInterface2",
        _ => return Ok(None),
    };
    let mut o = Out::new(name);
    let refs_json = |v: &RemRefsIn| -> Value {
        json!(v
            .interface_refs
            .iter()
            .map(|r| json!({"ipid": r.ipid.to_string(), "public_refs": r.c_public_refs, "private_refs": r.c_private_refs}))
            .collect::<Vec<_>>())
    };
    match (call.opnum, call.is_request) {
        (3, true) => {
            let v = decode_to!(o, RemQueryInterfaceIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("ripid", json!(v.ripid.to_string()));
            o.set("public_refs", json!(v.c_refs));
            o.set("iids", uuids(Some(&v.iids)));
        }
        (3, false) => {
            let v = decode_to!(o, RemQueryInterfaceOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            let res: Vec<Value> = v
                .pp_qi_results
                .as_deref()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|r| json!({"hresult": r.h_result.hex(), "std": std_json(&r.std)}))
                .collect();
            o.set("qi_results", json!(res));
            o.set("result", hres(v.hresult));
        }
        (4 | 5, true) => {
            let v = decode_to!(o, RemRefsIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("interface_refs", refs_json(&v));
        }
        (4, false) => {
            let v = decode_to!(o, RemAddRefOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("hresults", hresults(&v.p_results));
            o.set("result", hres(v.hresult));
        }
        (5, false) => {
            let v = decode_to!(o, OrpcHresultOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("result", hres(v.hresult));
        }
        (_, true) => {
            let v = decode_to!(o, RemQueryInterface2In, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("ripid", json!(v.ripid.to_string()));
            o.set("iids", uuids(Some(&v.iids)));
        }
        (_, false) => {
            let v = decode_to!(o, RemQueryInterface2Out, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("hresults", hresults(&v.phr));
            let ifs: Vec<Value> = v.pp_mif.iter().map(|m| mip_json(m.as_ref())).collect();
            o.set("interfaces", json!(ifs));
            o.set("result", hres(v.hresult));
        }
    }
    Ok(Some(o))
}

fn wstr(s: Option<&dcom_ndr::WString>) -> Value {
    json!(s.map(dcom_ndr::WString::to_string_lossy))
}

fn wbem_login(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Option<Out>, String> {
    let name = match call.opnum {
        3 => "EstablishPosition",
        4 => "RequestChallenge",
        5 => "WBEMLogin",
        6 => "NTLMLogin",
        _ => return Ok(None),
    };
    let mut o = Out::new(name);
    match (call.opnum, call.is_request) {
        (3, true) => {
            let v = decode_to!(o, EstablishPositionIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("reserved2", json!(v.reserved2));
        }
        (3, false) => {
            let v = decode_to!(o, EstablishPositionOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("locale_version", json!(v.locale_version));
            o.set("result", hres(v.hresult));
        }
        (4, true) => {
            let v = decode_to!(o, RequestChallengeIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
        }
        (4, false) => {
            let v = decode_to!(o, RequestChallengeOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("result", hres(v.hresult));
        }
        (5, true) => {
            let v = decode_to!(o, WbemLoginIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
        }
        (6, true) => {
            let v = decode_to!(o, NtlmLoginIn, call, ctx);
            o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
            o.set("network_resource", wstr(v.wsz_network_resource.as_ref()));
            o.set("preferred_locale", wstr(v.wsz_preferred_locale.as_ref()));
            o.set("flags", json!(v.l_flags));
            o.set("ctx", mip_json(v.p_ctx.as_ref()));
        }
        (_, false) => {
            let v = decode_to!(o, WbemLoginOut, call, ctx);
            o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
            o.set("namespace", mip_json(v.pp_namespace.as_ref()));
            o.set("result", hres(v.hresult));
        }
        _ => return Ok(None),
    }
    Ok(Some(o))
}

fn wbem_client_id(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Option<Out>, String> {
    if call.opnum != 3 {
        return Ok(None);
    }
    let mut o = Out::new("SetClientInfo");
    if call.is_request {
        let v = decode_to!(o, SetClientInfoIn, call, ctx);
        o.set("orpcthis", orpcthis_json(&v.orpcthis, little));
        o.set("client_machine", wstr(v.wsz_client_machine.as_ref()));
        o.set("client_proc_id", json!(v.l_client_proc_id));
    } else {
        let v = decode_to!(o, OrpcHresultOut, call, ctx);
        o.set("orpcthat", orpcthat_json(&v.orpcthat, little));
        o.set("result", hres(v.hresult));
    }
    Ok(Some(o))
}

/// ORPCTHIS / ORPCTHAT of an ORPC call whose parameters are not known.
fn orpc_prefix(call: &DcomCall<'_>, ctx: NdrContext, little: bool) -> Result<Out, String> {
    let mut o = Out::new("");
    o.method = None;
    if call.is_request {
        let v = decode_to!(o, OrpcThis, call, ctx);
        o.set("orpcthis", orpcthis_json(&v, little));
    } else {
        let v = decode_to!(o, OrpcThat, call, ctx);
        o.set("orpcthat", orpcthat_json(&v, little));
    }
    // The parameters that follow are not decoded: do not report them as trailing bytes.
    o.used = call.stub.len();
    Ok(o)
}

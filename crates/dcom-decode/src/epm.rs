//! Endpoint mapper stubs in the decoder: typed decoding with `dcom-epm`, rendered as JSON, and the TCP
//! endpoints the answers name (so that the decoder follows them to new ports).

use std::collections::BTreeSet;
use std::net::IpAddr;

use dcom_epm::{EpmCall, FloorValue, Tower, Twr, method_name};
use dcom_ndr::{ContextHandle, DataRep, NdrContext, Syntax};
use serde_json::{Value, json};

use crate::json::hex;

fn handle(h: &ContextHandle) -> Value {
    let mut b = h.attributes.to_le_bytes().to_vec();
    b.extend_from_slice(&h.uuid.to_bytes_le());
    json!(hex(&b))
}

/// A tower as JSON: its floors, the binding string it describes, and any decoding problem.
pub(crate) fn tower_json(t: &Twr) -> Value {
    match t.tower() {
        Ok(tower) => {
            let floors: Vec<Value> = tower.floors.iter().map(floor_json).collect();
            let mut v = json!({ "length": t.tower_length, "floors": floors });
            if let Some(b) = tower.binding_string() {
                v["binding"] = json!(b);
            }
            v
        }
        Err(e) => json!({ "length": t.tower_length, "error": e.to_string(), "octets": hex(&t.tower_octet_string) }),
    }
}

fn floor_json(f: &dcom_epm::Floor) -> Value {
    let mut v = json!({
        "protocol": f.protocol.0,
        "protocol_name": f.protocol.name(),
        "lhs_len": f.lhs_data.len() + 1,
        "rhs_len": f.rhs.len(),
    });
    match f.value() {
        FloorValue::Uuid { uuid, major, minor } => {
            v["uuid"] = json!(uuid.to_string());
            v["version_major"] = json!(major);
            v["version_minor"] = json!(minor);
        }
        FloorValue::Rpc { minor, .. } => v["version_minor"] = json!(minor),
        FloorValue::Port { port, .. } => v["port"] = json!(port),
        FloorValue::Ipv4(a) => v["ip"] = json!(a.to_string()),
        FloorValue::Ipv6(a) => v["ip"] = json!(a.to_string()),
        FloorValue::Name { name, .. } => v["name"] = json!(name),
        FloorValue::Other => {
            v["lhs"] = json!(hex(&f.lhs_data));
            v["rhs"] = json!(hex(&f.rhs));
        }
    }
    v
}

fn entry_json(e: &dcom_epm::EptEntry) -> Value {
    json!({
        "object": e.object.to_string(),
        "tower": e.tower.as_ref().map_or(Value::Null, tower_json),
        "annotation": e.annotation_text(),
    })
}

fn tower_endpoint(t: &Twr) -> Option<(Option<IpAddr>, u16)> {
    let tower: Tower = t.tower().ok()?;
    let port = tower.tcp_port()?;
    let ip = tower.floors.iter().find_map(|f| match f.value() {
        FloorValue::Ipv4(a) => Some(IpAddr::V4(a)),
        FloorValue::Ipv6(a) => Some(IpAddr::V6(a)),
        _ => None,
    });
    Some((ip, port))
}

fn opt_uuid(u: Option<&uuid::Uuid>) -> Value {
    u.map_or(Value::Null, |u| json!(u.to_string()))
}

/// Decodes an `ept` stub and renders it; adds the TCP endpoints that response towers name to `endpoints`.
pub(crate) fn decode(
    opnum: u16,
    is_request: bool,
    stub: &[u8],
    ndr64: bool,
    drep: [u8; 4],
    endpoints: &mut BTreeSet<(Option<IpAddr>, u16)>,
) -> Result<Value, String> {
    let drep = DataRep::from_bytes(drep).map_err(|e| e.to_string())?;
    let ctx = NdrContext::new(if ndr64 { Syntax::Ndr64 } else { Syntax::Ndr20 }, drep);
    let (call, used, ids) = EpmCall::decode_prefix_with_ids(opnum, is_request, stub, ctx).map_err(|e| e.to_string())?;
    // What follows the parameters may only be stub padding (zeros, less than the largest alignment) and, on a
    // request, the verification trailer ([MS-RPCE 2.2.2.13]: "server implementations SHOULD NOT assume that the
    // verification trailer immediately follows the stub data").
    let rest = stub.get(used..).unwrap_or_default();
    let vt_at = if is_request { find_vt(rest) } else { None };
    let padding = rest.get(..vt_at.unwrap_or(rest.len())).unwrap_or_default();
    if padding.len() >= 8 || padding.iter().any(|&b| b != 0) {
        return Err(format!("{} unexpected bytes after the parameters at stub offset {used}", rest.len()));
    }
    if !is_request {
        endpoints.extend(call.towers().into_iter().filter_map(tower_endpoint));
    }
    let method = method_name(opnum).unwrap_or("unknown");
    let mut v = match &call {
        EpmCall::MapIn(m) => json!({
            "object": opt_uuid(m.object.as_ref()),
            "map_tower": m.map_tower.as_ref().map_or(Value::Null, tower_json),
            "entry_handle": handle(&m.entry_handle),
            "max_towers": m.max_towers,
        }),
        EpmCall::MapOut(m) => json!({
            "entry_handle": handle(&m.entry_handle),
            "num_towers": m.num_towers,
            "max_count": m.towers.max_count,
            "towers": m.towers.items.iter().map(|t| t.as_ref().map_or(Value::Null, tower_json)).collect::<Vec<_>>(),
            "status": m.status,
        }),
        EpmCall::LookupIn(l) => json!({
            "inquiry_type": l.inquiry_type,
            "object": opt_uuid(l.object.as_ref()),
            "interface_id": l.interface_id.map_or(Value::Null, |i| json!({
                "uuid": i.uuid.to_string(), "version_major": i.vers_major, "version_minor": i.vers_minor,
            })),
            "vers_option": l.vers_option,
            "entry_handle": handle(&l.entry_handle),
            "max_ents": l.max_ents,
        }),
        EpmCall::LookupOut(l) => json!({
            "entry_handle": handle(&l.entry_handle),
            "num_ents": l.num_ents,
            "max_count": l.entries.max_count,
            "entries": l.entries.items.iter().map(entry_json).collect::<Vec<_>>(),
            "status": l.status,
        }),
        EpmCall::InsertIn(i) => json!({
            "num_ents": i.num_ents,
            "entries": i.entries.iter().map(entry_json).collect::<Vec<_>>(),
            "replace": i.replace,
        }),
        EpmCall::DeleteIn(i) => json!({
            "num_ents": i.num_ents,
            "entries": i.entries.iter().map(entry_json).collect::<Vec<_>>(),
        }),
        EpmCall::LookupHandleFreeIn(h) => json!({ "entry_handle": handle(&h.entry_handle) }),
        EpmCall::LookupHandleFreeOut(h) => json!({ "entry_handle": handle(&h.entry_handle), "status": h.status }),
        EpmCall::InqObjectIn => json!({}),
        EpmCall::InqObjectOut(o) => json!({ "ept_object": o.ept_object.to_string(), "status": o.status }),
        EpmCall::MgmtDeleteIn(m) => json!({
            "object_speced": m.object_speced,
            "object": opt_uuid(m.object.as_ref()),
            "tower": m.tower.as_ref().map_or(Value::Null, tower_json),
        }),
        EpmCall::StatusOut(s) => json!({ "status": s.status }),
    };
    v["interface"] = json!("epm");
    v["method"] = json!(method);
    v["summary"] = json!(summary(method, is_request, &call));
    // Re-encoding proves the decode kept every byte that matters (padding excepted, which NDR writes as zero).
    if let Ok(again) = call.encode_with_ids(ctx, &ids) {
        let original = stub.get(..used).unwrap_or_default();
        v["reencodes_identically"] = json!(original == &again[..]);
        if let Some(at) = original.iter().zip(&again).position(|(a, b)| a != b) {
            // Windows leaves alignment padding uninitialised; we write zeros there.
            v["reencode_first_difference"] = json!(at);
        }
    }
    Ok(v)
}

fn summary(method: &str, is_request: bool, call: &EpmCall) -> String {
    let bindings: Vec<String> = call
        .towers()
        .iter()
        .filter_map(|t| t.tower().ok())
        .map(|t| {
            let iface = t.interface().map(|(u, ma, mi)| format!("{u} v{ma}.{mi}")).unwrap_or_default();
            match t.binding_string() {
                Some(b) => format!("{iface} @ {b}"),
                None => iface,
            }
        })
        .collect();
    let dir = if is_request { "request" } else { "response" };
    if bindings.is_empty() { format!("{method} {dir}") } else { format!("{method} {dir}: {}", bindings.join("; ")) }
}

/// Offset of the verification trailer signature inside `rest`, if present ([MS-RPCE 2.2.2.13.1]).
fn find_vt(rest: &[u8]) -> Option<usize> {
    rest.windows(dcom_pdu::VT_SIGNATURE.len()).position(|w| w == dcom_pdu::VT_SIGNATURE)
}

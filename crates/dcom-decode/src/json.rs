//! JSON rendering of records.

use bytes::Bytes;
use dcom_pdu::{
    AuthVerifier, ByteOrder, ContextList, Header, PduBody, ResultList, SyntaxId, VerificationTrailer, VtCommand,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Record;

fn syntax(s: &SyntaxId) -> Value {
    let mut v = json!({
        "uuid": s.uuid.to_string(),
        "version": format!("{}.{}", s.version_major, s.version_minor),
    });
    if let Some(name) = crate::names::syntax_name(s.uuid) {
        v["name"] = json!(name);
    }
    if let Some(b) = s.btfn_bitmask() {
        v["btfn"] = json!(b.0);
    }
    v
}

fn contexts(list: &ContextList) -> Value {
    Value::Array(
        list.elems
            .iter()
            .map(|e| {
                json!({
                    "ctx_id": e.p_cont_id,
                    "abstract_syntax": syntax(&e.abstract_syntax),
                    "transfer_syntaxes": e.transfer_syntaxes.iter().map(syntax).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn results(list: &ResultList) -> Value {
    Value::Array(
        list.results
            .iter()
            .map(|r| {
                json!({
                    "result": r.result.0,
                    "result_name": r.result.name(),
                    "reason": r.reason,
                    "transfer_syntax": syntax(&r.transfer_syntax),
                })
            })
            .collect(),
    )
}

fn auth(a: &AuthVerifier, m: &mut Map<String, Value>) {
    let t = &a.trailer;
    m.insert("auth_type".into(), json!(t.auth_type.0));
    m.insert("auth_type_name".into(), json!(t.auth_type.name()));
    m.insert("auth_level".into(), json!(t.auth_level.0));
    m.insert("auth_level_name".into(), json!(t.auth_level.name()));
    m.insert("auth_pad_len".into(), json!(t.auth_pad_length));
    m.insert("auth_ctx_id".into(), json!(t.auth_context_id));
    m.insert("auth_value_len".into(), json!(a.auth_value.len()));
}

fn header(h: &Header, m: &mut Map<String, Value>) {
    m.insert("rpc_vers".into(), json!(h.rpc_vers));
    m.insert("rpc_vers_minor".into(), json!(h.rpc_vers_minor));
    m.insert("ptype".into(), json!(h.ptype.0));
    m.insert("ptype_name".into(), json!(h.ptype.name()));
    m.insert("flags".into(), json!(h.pfc_flags.0));
    m.insert("flag_names".into(), json!(crate::names::flag_names(h)));
    let d = h.drep.0;
    m.insert("drep".into(), json!(format!("{:02x}:{:02x}:{:02x}:{:02x}", d[0], d[1], d[2], d[3])));
    m.insert("frag_len".into(), json!(h.frag_len));
    m.insert("auth_len".into(), json!(h.auth_len));
    m.insert("call_id".into(), json!(h.call_id));
}

/// The JSON object for one record ([`crate::Record`]): header fields, the fields of its PDU type, the
/// verifier, call facts, and `error`.
pub fn pdu_json(r: &Record) -> Value {
    let mut m = Map::new();
    m.insert("frame".into(), json!(r.frame));
    m.insert("stream".into(), json!(r.stream));
    if let Some(p) = &r.pipe {
        m.insert("pipe".into(), json!(p));
    }
    m.insert("dir".into(), json!(r.dir.as_str()));
    let (src, dst) = match r.dir {
        crate::Dir::C2s => (r.client, r.server),
        crate::Dir::S2c => (r.server, r.client),
    };
    m.insert("src".into(), json!(src.to_string()));
    m.insert("dst".into(), json!(dst.to_string()));
    m.insert("offset".into(), json!(r.offset));
    match &r.pdu {
        Some(pdu) => {
            header(&pdu.header, &mut m);
            body(&pdu.body, &mut m);
            if let Some(a) = &pdu.auth {
                auth(a, &mut m);
            }
        }
        None => {
            // Show what the header says even when the PDU did not decode.
            if let Ok(h) = Header::decode(&r.raw) {
                header(&h, &mut m);
            }
        }
    }
    if let Some(c) = &r.call {
        if let Some(i) = &c.interface {
            m.insert("interface".into(), syntax(i));
        }
        if let Some(t) = &c.transfer_syntax {
            m.insert("transfer_syntax".into(), syntax(t));
        }
        if let Some(stub) = &c.stub {
            // On the PDU that completes a call: the whole (decrypted) stub of the call.
            m.insert("stub_len".into(), json!(stub.len()));
            m.insert("stub_sha256".into(), json!(hex(&Sha256::digest(stub))));
        }
        if let Some(vt) = &c.verification_trailer {
            m.insert("verification_trailer".into(), vt.clone());
        }
        if let Some(d) = &c.decoded {
            m.insert("decoded".into(), d.clone());
        }
        if let Some(d) = &c.dcom {
            m.insert("dcom".into(), d.clone());
        }
        if let Some(e) = &c.decode_error {
            m.insert("decode_error".into(), json!(e));
        }
    }
    if let Some(pdu) = &r.pdu
        && let Some(a) = &pdu.auth
        && stub_of_pdu(&pdu.body)
        && a.trailer.auth_level.0 >= dcom_pdu::AuthLevel::CALL.0
    {
        m.insert("verified".into(), r.verified.map_or(Value::Null, |v| json!(v)));
        if let Some(n) = &r.verify_note {
            m.insert("verify_note".into(), json!(n));
        }
    }
    m.insert("error".into(), r.error.as_ref().map_or(Value::Null, |e| json!(e)));
    Value::Object(m)
}

fn stub_of_pdu(b: &PduBody) -> bool {
    matches!(b, PduBody::Request(_) | PduBody::Response(_) | PduBody::Fault(_))
}

fn body(b: &PduBody, m: &mut Map<String, Value>) {
    match b {
        PduBody::Request(r) => {
            m.insert("ctx_id".into(), json!(r.p_cont_id));
            m.insert("opnum".into(), json!(r.opnum));
            m.insert("object".into(), r.object.map_or(Value::Null, |o| json!(o.to_string())));
            m.insert("alloc_hint".into(), json!(r.alloc_hint));
            m.insert("frag_stub_len".into(), json!(r.stub.len()));
            m.insert("stub_len".into(), json!(r.stub.len()));
        }
        PduBody::Response(r) => {
            m.insert("ctx_id".into(), json!(r.p_cont_id));
            m.insert("alloc_hint".into(), json!(r.alloc_hint));
            m.insert("cancel_count".into(), json!(r.cancel_count));
            m.insert("frag_stub_len".into(), json!(r.stub.len()));
            m.insert("stub_len".into(), json!(r.stub.len()));
        }
        PduBody::Fault(f) => {
            m.insert("ctx_id".into(), json!(f.p_cont_id));
            m.insert("alloc_hint".into(), json!(f.alloc_hint));
            m.insert("cancel_count".into(), json!(f.cancel_count));
            m.insert("status".into(), json!(f.status.0));
            m.insert("status_name".into(), f.status.name().map_or(Value::Null, |n| json!(n)));
            m.insert("frag_stub_len".into(), json!(f.stub.len()));
            m.insert("stub_len".into(), json!(f.stub.len()));
        }
        PduBody::Bind(b) | PduBody::AlterContext(b) => {
            m.insert("max_xmit".into(), json!(b.max_xmit_frag));
            m.insert("max_recv".into(), json!(b.max_recv_frag));
            m.insert("assoc_group".into(), json!(b.assoc_group_id));
            m.insert("contexts".into(), contexts(&b.contexts));
        }
        PduBody::BindAck(a) | PduBody::AlterContextResp(a) => {
            m.insert("max_xmit".into(), json!(a.max_xmit_frag));
            m.insert("max_recv".into(), json!(a.max_recv_frag));
            m.insert("assoc_group".into(), json!(a.assoc_group_id));
            m.insert("sec_addr".into(), a.sec_addr_str().map_or(Value::Null, |s| json!(s)));
            m.insert("results".into(), results(&a.results));
        }
        PduBody::BindNak(n) => {
            m.insert("reject_reason".into(), json!(n.provider_reject_reason.0));
            m.insert("reject_reason_name".into(), json!(n.provider_reject_reason.name()));
            if let Some(v) = &n.versions {
                m.insert(
                    "versions".into(),
                    Value::Array(v.iter().map(|v| json!(format!("{}.{}", v.major, v.minor))).collect()),
                );
            }
        }
        _ => {}
    }
}

/// Hex digits of `b`.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn vt_command(c: &VtCommand) -> Value {
    match c {
        VtCommand::Bitmask1 { must_process, bits } => {
            json!({"command": "bitmask1", "must_process": must_process, "bits": bits})
        }
        VtCommand::Pcontext { must_process, interface_id, transfer_syntax } => json!({
            "command": "pcontext",
            "must_process": must_process,
            "interface": syntax(interface_id),
            "transfer_syntax": syntax(transfer_syntax),
        }),
        VtCommand::Header2 { must_process, header } => json!({
            "command": "header2",
            "must_process": must_process,
            "ptype": header.ptype.0,
            "drep": hex(&header.drep.0),
            "call_id": header.call_id,
            "ctx_id": header.p_cont_id,
            "opnum": header.opnum,
        }),
        VtCommand::Unknown { command, must_process, data } => json!({
            "command": command,
            "must_process": must_process,
            "data": hex(data),
        }),
    }
}

/// The verification trailer at the end of a complete request stub, as JSON ([MS-RPCE 2.2.2.13]).
pub(crate) fn verification_trailer(stub: &Bytes, order: ByteOrder) -> Option<Value> {
    // The trailer is part of the stub and is marshalled in the request's data representation.
    match VerificationTrailer::find(stub, order) {
        Ok(Some((offset, vt))) => Some(json!({
            "offset": offset,
            "commands": vt.commands.iter().map(vt_command).collect::<Vec<_>>(),
        })),
        Ok(None) => None,
        Err(e) => Some(json!({ "error": e.to_string() })),
    }
}

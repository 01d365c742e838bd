//! One readable line per record.

use std::fmt::Write as _;

use dcom_pdu::PduBody;

use crate::Record;

/// A one-line summary of a record: frame, stream, direction, type, call id and the fields that matter.
pub fn pdu_line(r: &Record) -> String {
    let mut s = format!("{:>6} s{:<3} {} ", r.frame, r.stream, r.dir.as_str());
    if let Some(p) = &r.pipe {
        let _ = write!(s, "[{p}] ");
    }
    let Some(pdu) = &r.pdu else {
        let _ = write!(s, "ERROR {}", r.error.as_deref().unwrap_or("undecodable"));
        return s;
    };
    let h = &pdu.header;
    let _ = write!(s, "{:<18} call={:<4} len={:<5}", h.ptype.name(), h.call_id, h.frag_len);
    match &pdu.body {
        PduBody::Bind(b) | PduBody::AlterContext(b) => {
            let _ = write!(s, " xmit={} recv={} group=0x{:08x}", b.max_xmit_frag, b.max_recv_frag, b.assoc_group_id);
            for e in &b.contexts.elems {
                let name = crate::names::syntax_name(e.abstract_syntax.uuid)
                    .map_or_else(|| e.abstract_syntax.uuid.to_string(), str::to_owned);
                let ts: Vec<String> = e
                    .transfer_syntaxes
                    .iter()
                    .map(|t| crate::names::syntax_name(t.uuid).map_or_else(|| t.uuid.to_string(), str::to_owned))
                    .collect();
                let _ = write!(
                    s,
                    " ctx{}={}v{}.{}/{}",
                    e.p_cont_id,
                    name,
                    e.abstract_syntax.version_major,
                    e.abstract_syntax.version_minor,
                    ts.join("|")
                );
            }
        }
        PduBody::BindAck(a) | PduBody::AlterContextResp(a) => {
            let _ = write!(s, " xmit={} recv={} group=0x{:08x}", a.max_xmit_frag, a.max_recv_frag, a.assoc_group_id);
            if let Some(addr) = a.sec_addr_str().filter(|a| !a.is_empty()) {
                let _ = write!(s, " addr={addr}");
            }
            let rs: Vec<String> = a
                .results
                .results
                .iter()
                .map(|r| {
                    if r.result.0 == 0 {
                        crate::names::syntax_name(r.transfer_syntax.uuid)
                            .map_or_else(|| r.transfer_syntax.uuid.to_string(), str::to_owned)
                    } else {
                        format!("{}({})", r.result.name(), r.reason)
                    }
                })
                .collect();
            let _ = write!(s, " results=[{}]", rs.join(","));
        }
        PduBody::BindNak(n) => {
            let _ = write!(s, " reason={}", n.provider_reject_reason.name());
        }
        PduBody::Request(q) => {
            let _ = write!(s, " ctx={} opnum={} stub={}", q.p_cont_id, q.opnum, q.stub.len());
            if let Some(o) = q.object {
                let _ = write!(s, " object={o}");
            }
        }
        PduBody::Response(q) => {
            let _ = write!(s, " ctx={} stub={}", q.p_cont_id, q.stub.len());
        }
        PduBody::Fault(f) => {
            let _ = write!(s, " status=0x{:08x}", f.status.0);
            if let Some(n) = f.status.name() {
                let _ = write!(s, " ({n})");
            }
        }
        _ => {}
    }
    if let Some(a) = &pdu.auth {
        let t = &a.trailer;
        let _ = write!(s, " auth={}/{} ctx={}", t.auth_type.name(), t.auth_level.name(), t.auth_context_id);
    }
    match r.verified {
        Some(true) => s.push_str(" verified"),
        Some(false) => {
            let _ = write!(s, " VERIFY FAILED ({})", r.verify_note.as_deref().unwrap_or("bad signature"));
        }
        None => {}
    }
    if let Some(c) = &r.call {
        if let Some(n) = c.interface.and_then(|i| crate::names::syntax_name(i.uuid)) {
            let _ = write!(s, " if={n}");
        }
        if let Some(summary) = c.decoded.as_ref().and_then(|d| d.get("summary")).and_then(|v| v.as_str()) {
            let _ = write!(s, " | {summary}");
        }
        if let Some(d) = &c.dcom {
            let iface = d.get("interface").and_then(|v| v.as_str()).unwrap_or("?");
            let method = d.get("method").and_then(|v| v.as_str()).unwrap_or("?");
            let _ = write!(s, " | dcom {iface}::{method}");
        }
        if let Some(e) = &c.decode_error {
            let _ = write!(s, " | stub error: {e}");
        }
    }
    s
}

//! Framing PDUs on a reassembled byte stream, and following calls across PDUs.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use bytes::Bytes;
use dcom_capture::Flow;
use dcom_pdu::{AuthLevel, Header, Pdu, PduBody, PfcFlags, SyntaxId, peek_header};

use crate::{CallInfo, Conversation, Dir, Record, stub_of};

/// Largest stub we reassemble for one call while following calls (bytes).
const MAX_CALL_STUB: usize = 64 << 20;

/// True when each direction that carries data starts with a well-formed connection-oriented header at its
/// first byte (and at least one does).
pub(crate) fn looks_like_dcerpc(c2s: &Flow, s2c: &Flow) -> bool {
    let ok = |f: &Flow| f.is_empty() || starts_with_header(f);
    (starts_with_header(c2s) || starts_with_header(s2c)) && ok(c2s) && ok(s2c)
}

fn first_bytes(flow: &Flow) -> Option<&[u8]> {
    let seg = flow.segments.first()?;
    (seg.start == 0).then_some(seg.data.as_slice())
}

fn plausible(h: &Header) -> bool {
    h.ptype.is_connection_oriented() && usize::from(h.frag_len) >= Header::SIZE && h.drep.0[1] <= 3
}

fn starts_with_header(flow: &Flow) -> bool {
    match first_bytes(flow).map(peek_header) {
        Some(Ok(Some(h))) => plausible(&h),
        _ => false,
    }
}

/// True when the flow's first PDU is one that only a server sends (bind_ack, response, ...).
pub(crate) fn sends_server_pdus_first(flow: &Flow) -> bool {
    use dcom_pdu::PacketType as P;
    match first_bytes(flow).map(peek_header) {
        Some(Ok(Some(h))) => {
            matches!(h.ptype, P::BIND_ACK | P::BIND_NAK | P::ALTER_CONTEXT_RESP | P::RESPONSE | P::FAULT | P::SHUTDOWN)
        }
        _ => false,
    }
}

/// Cuts every PDU out of both directions of a conversation.
pub(crate) fn frame_conversation(conv: &Conversation<'_>) -> Vec<Record> {
    let mut out = Vec::new();
    for (dir, flow) in [(Dir::C2s, conv.c2s), (Dir::S2c, conv.s2c)] {
        frame_flow(conv, dir, flow, &mut out);
    }
    out.sort_by_key(|a| (a.frame, a.dir, a.offset));
    out
}

fn frame_flow(conv: &Conversation<'_>, dir: Dir, flow: &Flow, out: &mut Vec<Record>) {
    for seg in &flow.segments {
        let data = Bytes::from(seg.data.clone());
        let mut pos = 0usize;
        while pos < data.len() {
            let offset = seg.start.saturating_add(pos as u64);
            let rest = data.slice(pos..);
            // tshark reports a PDU in the highest-numbered frame that carries any of its bytes.
            let record = |raw: Bytes, end: u64, pdu: Option<Pdu>, error: Option<String>| Record {
                frame: flow.frame_for_range(offset, end).map_or(0, |f| f.number),
                stream: conv.stream,
                pipe: conv.pipe.clone(),
                dir,
                client: conv.client,
                server: conv.server,
                offset,
                raw,
                pdu,
                error,
                call: None,
                verified: None,
                verify_note: None,
                clear_stub: None,
            };
            let seg_end = seg.end();
            match peek_header(&rest) {
                Ok(Some(h)) if usize::from(h.frag_len) >= Header::SIZE => {
                    let len = usize::from(h.frag_len);
                    if len > rest.len() {
                        let why = if seg.end() < flow.len() {
                            format!("pdu of {len} bytes cut short after {} bytes by missing tcp segments", rest.len())
                        } else {
                            format!("pdu of {len} bytes cut short after {} bytes by the end of the capture", rest.len())
                        };
                        out.push(record(rest, seg_end, None, Some(why)));
                        break;
                    }
                    let raw = rest.slice(..len);
                    let last = offset.saturating_add(len as u64);
                    match Pdu::decode(raw.clone()) {
                        Ok(pdu) => out.push(record(raw, last, Some(pdu), None)),
                        Err(e) => out.push(record(raw, last, None, Some(e.to_string()))),
                    }
                    pos = pos.saturating_add(len);
                }
                Ok(Some(h)) => {
                    let why = format!("frag_length {} is smaller than the 16-byte header", h.frag_len);
                    out.push(record(rest, seg_end, None, Some(why)));
                    break;
                }
                Ok(None) => {
                    let why = format!("{} bytes left, fewer than a 16-byte header", rest.len());
                    out.push(record(rest, seg_end, None, Some(why)));
                    break;
                }
                Err(e) => {
                    // Lost framing: report once and skip to the next contiguous segment.
                    out.push(record(rest, seg_end, None, Some(e.to_string())));
                    break;
                }
            }
        }
    }
}

/// A presentation context as bind and bind_ack settled it.
#[derive(Debug, Clone, Default)]
struct Context {
    interface: Option<SyntaxId>,
    accepted: Option<SyntaxId>,
}

/// A call being reassembled in one direction.
#[derive(Debug, Default)]
struct PartialCall {
    stub: Vec<u8>,
    sealed: bool,
    broken: bool,
}

/// Follows binds, contexts and calls over the records of one conversation (in frame order) and attaches
/// [`CallInfo`] to requests and responses. Adds to `ports` every TCP port an EPM answer names.
pub(crate) fn follow_calls(records: &mut [Record], ports: &mut BTreeSet<(Option<IpAddr>, u16)>, keys: &crate::Keys) {
    let mut security = crate::security::Security::default();
    let mut contexts: HashMap<u16, Context> = HashMap::new();
    // Contexts proposed by a bind or alter_context, by call id, until the ack arrives.
    let mut proposed: HashMap<u32, Vec<(u16, SyntaxId)>> = HashMap::new();
    let mut partial: HashMap<(Dir, u32), PartialCall> = HashMap::new();
    // Request facts by call id, for the response: (context id, opnum, object UUID).
    let mut requests: HashMap<u32, (u16, u16, Option<uuid::Uuid>)> = HashMap::new();

    for rec in records.iter_mut() {
        security.observe(rec, keys);
        let Some(pdu) = &rec.pdu else { continue };
        let call_id = pdu.header.call_id;
        match &pdu.body {
            PduBody::Bind(b) | PduBody::AlterContext(b) => {
                let list = b.contexts.elems.iter().map(|e| (e.p_cont_id, e.abstract_syntax)).collect();
                proposed.insert(call_id, list);
            }
            PduBody::BindAck(a) | PduBody::AlterContextResp(a) => {
                if let Some(list) = proposed.remove(&call_id) {
                    for ((ctx_id, interface), result) in list.into_iter().zip(&a.results.results) {
                        let entry = contexts.entry(ctx_id).or_default();
                        entry.interface = Some(interface);
                        if result.result.0 == 0 {
                            entry.accepted = Some(result.transfer_syntax);
                        }
                    }
                }
            }
            PduBody::Request(_) | PduBody::Response(_) | PduBody::Fault(_) => {}
            _ => continue,
        }
        let (ctx_id, opnum) = match &pdu.body {
            PduBody::Request(r) => (r.p_cont_id, Some(r.opnum)),
            PduBody::Response(r) => (r.p_cont_id, requests.get(&call_id).map(|&(_, op, _)| op)),
            PduBody::Fault(f) => (f.p_cont_id, requests.get(&call_id).map(|&(_, op, _)| op)),
            _ => continue,
        };
        if let PduBody::Request(q) = &pdu.body
            && let Some(op) = opnum
        {
            requests.insert(call_id, (ctx_id, op, q.object));
        }
        // [MS-DCOM 2.2.1]: the object UUID of an ORPC request is the IPID; a response inherits its request's.
        let object = match &pdu.body {
            PduBody::Request(q) => q.object,
            _ => requests.get(&call_id).and_then(|&(_, _, o)| o),
        };
        let ctx = contexts.get(&ctx_id).cloned().unwrap_or_default();
        let mut info = CallInfo { interface: ctx.interface, transfer_syntax: ctx.accepted, ..CallInfo::default() };

        // Reassemble the call's stub in this direction (MS-RPCE 3.3.1.5.1: fragments of a call in order).
        let key = (rec.dir, call_id);
        if pdu.header.pfc_flags.contains(PfcFlags::FIRST_FRAG) {
            partial.insert(key, PartialCall::default());
        }
        // A sealed stub counts as readable once it was opened with a key.
        let sealed = rec.clear_stub.is_none()
            && pdu.auth.as_ref().is_some_and(|a| a.trailer.auth_level == AuthLevel::PKT_PRIVACY);
        if let Some(p) = partial.get_mut(&key)
            && let Some(stub) = rec.clear_stub.as_ref().or_else(|| stub_of(&pdu.body))
        {
            p.sealed |= sealed;
            if p.stub.len().saturating_add(stub.len()) <= MAX_CALL_STUB {
                p.stub.extend_from_slice(stub);
            } else {
                p.broken = true;
            }
        }
        if pdu.header.pfc_flags.contains(PfcFlags::LAST_FRAG)
            && let Some(p) = partial.remove(&key)
            && !p.broken
        {
            if !p.sealed {
                let stub = Bytes::from(p.stub);
                if let PduBody::Request(_) = &pdu.body {
                    info.verification_trailer = crate::json::verification_trailer(&stub, pdu.header.byte_order());
                }
                if let (Some(iface), Some(op)) = (ctx.interface, opnum)
                    && !matches!(pdu.body, PduBody::Fault(_))
                {
                    let is_request = matches!(pdu.body, PduBody::Request(_));
                    let ndr64 = ctx.accepted == Some(SyntaxId::NDR64);
                    let drep = pdu.header.drep.0;
                    if iface.uuid == dcom_epm::EPM_INTERFACE.0 {
                        match crate::epm::decode(op, is_request, &stub, ndr64, drep, ports) {
                            Ok(v) => info.decoded = Some(v),
                            Err(e) => info.decode_error = Some(e),
                        }
                    } else {
                        let call = dcom_types::DcomCall {
                            interface: iface.uuid,
                            opnum: op,
                            is_request,
                            object,
                            stub: &stub,
                            ndr64,
                            drep,
                        };
                        match dcom_types::decode_call(&call) {
                            Some(Ok(d)) => {
                                ports.extend(d.endpoints);
                                info.dcom = Some(d.json);
                            }
                            Some(Err(e)) => info.decode_error = Some(e),
                            None => {}
                        }
                    }
                }
                info.stub = Some(stub);
            }
            if let PduBody::Response(_) | PduBody::Fault(_) = &pdu.body {
                requests.remove(&call_id);
            }
        }
        rec.call = Some(info);
    }
}

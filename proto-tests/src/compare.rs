//! Field-by-field comparison of our decoder's output with tshark's dissection of the same capture.

use std::collections::BTreeMap;
use std::path::Path;

use dcom_decode::{Options, Record, Report, decode_capture, pdu_json};
use serde_json::Value;

use crate::tshark::{self, Fields, TsharkFrame};

/// The outcome of comparing one capture.
#[derive(Debug, Default)]
pub struct Comparison {
    /// PDUs we decoded.
    pub ours: usize,
    /// PDUs tshark dissected.
    pub theirs: usize,
    /// tshark PDUs matched with one of ours (same frame, same position in the frame).
    pub matched: usize,
    /// Fields compared and found equal.
    pub fields_equal: usize,
    /// Each disagreement: frame, field, ours, theirs.
    pub mismatches: Vec<String>,
    /// tshark PDUs (in frames tshark does not mark malformed) for which we have no PDU.
    pub missing: Vec<String>,
    /// Our PDUs with a decode error in frames that tshark does not mark malformed.
    pub errors: Vec<String>,
    /// Our PDUs with a decode error in frames that tshark marks malformed (allowed).
    pub errors_in_malformed: usize,
    /// Frames tshark marks malformed.
    pub malformed_frames: usize,
    /// EPM fields compared and found equal.
    pub epm_fields_equal: usize,
}

impl Comparison {
    /// True when nothing disagrees and nothing is missing.
    pub fn clean(&self) -> bool {
        self.mismatches.is_empty() && self.missing.is_empty() && self.errors.is_empty()
    }
}

fn num(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Values are equal when equal as text, or as numbers (`0x03` and `3`).
fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || matches!((num(a), num(b)), (Some(x), Some(y)) if x == y)
}

fn push(f: &mut Fields, key: &str, v: impl ToString) {
    f.entry(format!("dcerpc.{key}")).or_default().push(v.to_string());
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Our record, expressed with tshark's field names.
pub fn our_fields(r: &Record) -> Fields {
    let j = pdu_json(r);
    let mut f = Fields::new();
    let get = |k: &str| j.get(k).filter(|v| !v.is_null());
    for (ours, theirs) in [
        ("rpc_vers", "ver"),
        ("rpc_vers_minor", "ver_minor"),
        ("ptype", "pkt_type"),
        ("flags", "cn_flags"),
        ("drep", "drep"),
        ("frag_len", "cn_frag_len"),
        ("auth_len", "cn_auth_len"),
        ("call_id", "cn_call_id"),
        ("max_xmit", "cn_max_xmit"),
        ("max_recv", "cn_max_recv"),
        ("assoc_group", "cn_assoc_group"),
        ("alloc_hint", "cn_alloc_hint"),
        ("opnum", "opnum"),
        ("object", "obj_id"),
        ("cancel_count", "cn_cancel_count"),
        ("status", "cn_status"),
        ("reject_reason", "cn_reject_reason"),
        ("auth_type", "auth_type"),
        ("auth_level", "auth_level"),
        ("auth_pad_len", "auth_pad_len"),
        ("auth_ctx_id", "auth_ctx_id"),
    ] {
        if let Some(v) = get(ours) {
            push(&mut f, theirs, s(v));
        }
    }
    if let Some(v) = get("ctx_id") {
        push(&mut f, "cn_ctx_id", s(v));
    }
    if let Some(Value::Array(ctxs)) = get("contexts") {
        push(&mut f, "cn_num_ctx_items", ctxs.len());
        for c in ctxs {
            push(&mut f, "cn_ctx_id", s(&c["ctx_id"]));
            let ts = c["transfer_syntaxes"].as_array().cloned().unwrap_or_default();
            push(&mut f, "cn_num_trans_items", ts.len());
            push(&mut f, "cn_bind_to_uuid", s(&c["abstract_syntax"]["uuid"]));
            let ver = s(&c["abstract_syntax"]["version"]);
            let (major, minor) = ver.split_once('.').unwrap_or((&ver, "0"));
            push(&mut f, "cn_bind_if_ver", major);
            push(&mut f, "cn_bind_if_ver_minor", minor);
            for t in &ts {
                push(&mut f, "cn_bind_trans_id", s(&t["uuid"]));
                // tshark shows a transfer syntax version as one 32-bit number (major + minor << 16).
                let ver = s(&t["version"]);
                let (major, minor) = ver.split_once('.').unwrap_or((&ver, "0"));
                let v = num(major).unwrap_or(0) + (num(minor).unwrap_or(0) << 16);
                push(&mut f, "cn_bind_trans_ver", v);
            }
        }
    }
    if let Some(Value::Array(results)) = get("results") {
        push(&mut f, "cn_num_results", results.len());
        for r in results {
            push(&mut f, "cn_ack_result", s(&r["result"]));
            // tshark shows the reason only for rejections.
            if matches!(r["result"].as_u64(), Some(1 | 2)) {
                push(&mut f, "cn_ack_reason", s(&r["reason"]));
            }
            push(&mut f, "cn_ack_trans_id", s(&r["transfer_syntax"]["uuid"]));
            let ver = s(&r["transfer_syntax"]["version"]);
            let (major, minor) = ver.split_once('.').unwrap_or((&ver, "0"));
            push(&mut f, "cn_ack_trans_ver", num(major).unwrap_or(0) + (num(minor).unwrap_or(0) << 16));
        }
    }
    if let Some(v) = get("sec_addr") {
        let addr = s(v);
        if !addr.is_empty() {
            push(&mut f, "cn_sec_addr", addr);
        }
    }
    f
}

fn epm_push(f: &mut Fields, key: &str, v: impl ToString) {
    f.entry(format!("epm.{key}")).or_default().push(v.to_string());
}

fn epm_tower(f: &mut Fields, t: &Value) {
    if t.is_null() {
        return;
    }
    // tshark shows the conformance and tower_length, both equal for a valid tower.
    epm_push(f, "tower.len", s(&t["length"]));
    epm_push(f, "tower.len", s(&t["length"]));
    let floors = t["floors"].as_array().cloned().unwrap_or_default();
    epm_push(f, "tower.num_floors", floors.len());
    for fl in &floors {
        epm_push(f, "tower.lhs.len", s(&fl["lhs_len"]));
        epm_push(f, "tower.proto_id", format!("0x{:02x}", fl["protocol"].as_u64().unwrap_or(0)));
        if let Some(u) = fl.get("uuid") {
            epm_push(f, "uuid", s(u));
            // tshark reads the floor's major version as a big-endian u16.
            let major = u16::try_from(fl["version_major"].as_u64().unwrap_or(0)).unwrap_or(0);
            epm_push(f, "uuid_version", major.swap_bytes());
        }
        epm_push(f, "tower.rhs.len", s(&fl["rhs_len"]));
        if fl.get("uuid").is_some() {
            // ... and the minor version on the right-hand side likewise.
            let minor = u16::try_from(fl["version_minor"].as_u64().unwrap_or(0)).unwrap_or(0);
            epm_push(f, "ver_min", minor.swap_bytes());
        }
        if let Some(p) = fl.get("port") {
            let key = match fl["protocol"].as_u64() {
                Some(0x07) => "proto.tcp_port",
                Some(0x08) => "proto.udp_port",
                Some(0x1f) => "proto.http_port",
                _ => "proto.port",
            };
            epm_push(f, key, s(p));
        }
        if let Some(ip) = fl.get("ip") {
            epm_push(f, "proto.ip", s(ip));
        }
    }
}

/// The endpoint mapper stub we decoded, expressed with tshark's `epm.*` field names.
pub fn our_epm_fields(decoded: &Value) -> Fields {
    let mut f = Fields::new();
    let method = decoded["method"].as_str().unwrap_or_default();
    let is_response = decoded.get("status").is_some();
    match (method, is_response) {
        ("ept_map", false) => {
            if !decoded["object"].is_null() {
                epm_push(&mut f, "uuid", s(&decoded["object"]));
            }
            epm_tower(&mut f, &decoded["map_tower"]);
            epm_push(&mut f, "hnd", colon_hex(&decoded["entry_handle"]));
            epm_push(&mut f, "max_towers", s(&decoded["max_towers"]));
        }
        ("ept_map", true) => {
            epm_push(&mut f, "hnd", colon_hex(&decoded["entry_handle"]));
            epm_push(&mut f, "num_towers", s(&decoded["num_towers"]));
            for t in decoded["towers"].as_array().cloned().unwrap_or_default() {
                epm_tower(&mut f, &t);
            }
            epm_push(&mut f, "rc", format!("0x{:08x}", decoded["status"].as_u64().unwrap_or(0)));
        }
        ("ept_lookup", false) => {
            epm_push(&mut f, "inq_type", s(&decoded["inquiry_type"]));
            if !decoded["object"].is_null() {
                epm_push(&mut f, "object", s(&decoded["object"]));
            }
            let i = &decoded["interface_id"];
            if !i.is_null() {
                epm_push(&mut f, "if_id", s(&i["uuid"]));
                epm_push(&mut f, "ver_maj", s(&i["version_major"]));
                epm_push(&mut f, "ver_min", s(&i["version_minor"]));
            }
            epm_push(&mut f, "ver_opt", s(&decoded["vers_option"]));
            epm_push(&mut f, "hnd", colon_hex(&decoded["entry_handle"]));
            epm_push(&mut f, "max_ents", s(&decoded["max_ents"]));
        }
        ("ept_lookup", true) => {
            epm_push(&mut f, "hnd", colon_hex(&decoded["entry_handle"]));
            epm_push(&mut f, "num_ents", s(&decoded["num_ents"]));
            for e in decoded["entries"].as_array().cloned().unwrap_or_default() {
                epm_push(&mut f, "object", s(&e["object"]));
                epm_tower(&mut f, &e["tower"]);
                epm_push(&mut f, "annotation", s(&e["annotation"]));
            }
            epm_push(&mut f, "rc", format!("0x{:08x}", decoded["status"].as_u64().unwrap_or(0)));
        }
        _ => {}
    }
    f
}

fn colon_hex(v: &Value) -> String {
    let h = v.as_str().unwrap_or_default();
    let pairs: Vec<&str> = (0..h.len() / 2).filter_map(|i| h.get(2 * i..2 * i + 2)).collect();
    pairs.join(":")
}

/// Compares our report with tshark's frames.
pub fn compare(report: &Report, frames: &BTreeMap<u32, TsharkFrame>) -> Comparison {
    let mut c = Comparison { ours: report.records.len(), ..Comparison::default() };
    let mut by_frame: BTreeMap<u32, Vec<&Record>> = BTreeMap::new();
    for r in &report.records {
        by_frame.entry(r.frame).or_default().push(r);
    }
    c.malformed_frames = frames.values().filter(|f| f.malformed).count();
    for r in &report.records {
        if let Some(e) = &r.error {
            if frames.get(&r.frame).is_some_and(|f| f.malformed) {
                c.errors_in_malformed += 1;
            } else {
                c.errors.push(format!("frame {} stream {} {}: {e}", r.frame, r.stream, r.dir.as_str()));
            }
        }
    }
    for (&frame, tf) in frames {
        c.theirs += tf.dcerpc.len();
        let ours = by_frame.get(&frame).map(Vec::as_slice).unwrap_or_default();
        for (i, theirs) in tf.dcerpc.iter().enumerate() {
            let Some(r) = ours.get(i) else {
                if !tf.malformed {
                    let ptype = theirs.get("dcerpc.pkt_type").and_then(|v| v.first()).cloned().unwrap_or_default();
                    c.missing.push(format!("frame {frame} pdu {i} (tshark ptype {ptype})"));
                }
                continue;
            };
            c.matched += 1;
            if i == 0 && !tf.epm.is_empty() {
                // EPM fields of the frame (tshark lists them per frame).
                let mine_epm = ours.iter().filter_map(|r| r.call.as_ref().and_then(|c| c.decoded.as_ref())).fold(
                    Fields::new(),
                    |mut acc, d| {
                        for (k, mut v) in our_epm_fields(d) {
                            acc.entry(k).or_default().append(&mut v);
                        }
                        acc
                    },
                );
                if mine_epm.is_empty() {
                    c.mismatches.push(format!("frame {frame}: tshark decoded an EPM stub, we did not"));
                }
                for (key, their_vals) in &tf.epm {
                    let Some(my_vals) = mine_epm.get(key) else { continue };
                    if my_vals.len() == their_vals.len() && my_vals.iter().zip(their_vals).all(|(a, b)| same(a, b)) {
                        c.epm_fields_equal += my_vals.len();
                    } else {
                        c.mismatches.push(format!("frame {frame} {key}: ours {my_vals:?} tshark {their_vals:?}"));
                    }
                }
                let compared: usize = tf.epm.keys().filter(|k| mine_epm.contains_key(*k)).count();
                if compared == 0 && !mine_epm.is_empty() {
                    c.mismatches.push(format!("frame {frame}: no EPM field in common with tshark"));
                }
            }
            let mine = our_fields(r);
            for (key, their_vals) in theirs {
                let Some(my_vals) = mine.get(key) else { continue };
                if my_vals.len() == their_vals.len() && my_vals.iter().zip(their_vals).all(|(a, b)| same(a, b)) {
                    c.fields_equal += my_vals.len();
                } else {
                    c.mismatches.push(format!("frame {frame} pdu {i} {key}: ours {my_vals:?} tshark {their_vals:?}"));
                }
            }
        }
    }
    c
}

/// Decodes `file` with our decoder and with tshark (told about the same DCE/RPC ports) and compares them.
pub fn compare_file(file: &Path) -> Result<(Report, Comparison), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let report = decode_capture(&bytes, &Options::default()).map_err(|e| e.to_string())?;
    // Tell tshark about both ends of every connection we took as DCE/RPC: its "decode as" by port does not
    // always win over its other dissectors when only the server port is given.
    let mut ports: Vec<u16> = report.ports.keys().copied().collect();
    ports.extend(report.records.iter().filter(|r| r.pipe.is_none()).flat_map(|r| [r.client.port(), r.server.port()]));
    ports.sort_unstable();
    ports.dedup();
    let frames = tshark::dissect(file, &ports).map_err(|e| e.to_string())?;
    let cmp = compare(&report, &frames);
    Ok((report, cmp))
}

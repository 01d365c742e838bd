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
    let ports: Vec<u16> = report.ports.keys().copied().collect();
    let frames = tshark::dissect(file, &ports).map_err(|e| e.to_string())?;
    let cmp = compare(&report, &frames);
    Ok((report, cmp))
}

//! Runs tshark on a capture and turns its JSON dissection into per-PDU field lists, so that our decoder can be
//! compared with an independent dissector field by field.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The fields of one protocol layer instance (one DCE/RPC PDU, or one EPM stub) in dissection order.
/// A field that occurs several times (one per presentation context, one per tower floor) keeps every value.
pub type Fields = BTreeMap<String, Vec<String>>;

/// What tshark showed for one frame.
#[derive(Debug, Default, Clone)]
pub struct TsharkFrame {
    /// One entry per DCE/RPC PDU that tshark dissected in this frame.
    pub dcerpc: Vec<Fields>,
    /// EPM fields of the frame, all PDUs together.
    pub epm: Fields,
    /// tshark flagged the frame as malformed (`_ws.malformed`).
    pub malformed: bool,
}

/// Errors from running tshark.
#[derive(Debug)]
pub enum TsharkError {
    /// tshark is not installed; the test command installs it (`scripts/setup.sh`).
    Missing,
    /// tshark ran and failed.
    Failed(String),
    /// Its output was not the JSON we expect.
    BadJson(String),
}

impl std::fmt::Display for TsharkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => write!(f, "tshark is not installed (run scripts/setup.sh)"),
            Self::Failed(e) => write!(f, "tshark failed: {e}"),
            Self::BadJson(e) => write!(f, "tshark output is not the expected json: {e}"),
        }
    }
}

impl std::error::Error for TsharkError {}

/// Dissects `file` with tshark in two passes, treating every port in `ports` as DCE/RPC, and returns the
/// frames that carry DCE/RPC or were marked malformed, keyed by frame number.
pub fn dissect(file: &Path, ports: &[u16]) -> Result<BTreeMap<u32, TsharkFrame>, TsharkError> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-2").arg("-n").arg("-r").arg(file);
    for p in ports {
        cmd.arg("-d").arg(format!("tcp.port=={p},dcerpc"));
    }
    cmd.args(["-T", "json", "--no-duplicate-keys", "-J", "frame dcerpc epm _ws.malformed"]);
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => TsharkError::Missing,
        _ => TsharkError::Failed(e.to_string()),
    })?;
    if !out.status.success() {
        return Err(TsharkError::Failed(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| TsharkError::BadJson(e.to_string()))?;
    let packets = json.as_array().ok_or_else(|| TsharkError::BadJson("top level is not an array".into()))?;
    let mut frames = BTreeMap::new();
    for p in packets {
        let layers = &p["_source"]["layers"];
        let number: u32 = layers["frame"]["frame.number"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| TsharkError::BadJson("a packet without frame.number".into()))?;
        let mut frame = TsharkFrame { malformed: layers.get("_ws.malformed").is_some(), ..TsharkFrame::default() };
        match layers.get("dcerpc") {
            Some(Value::Array(items)) => {
                for item in items {
                    frame.dcerpc.push(flatten(item, "dcerpc."));
                }
            }
            Some(item @ Value::Object(_)) => frame.dcerpc.push(flatten(item, "dcerpc.")),
            _ => {}
        }
        match layers.get("epm") {
            Some(Value::Array(items)) => {
                for item in items {
                    merge(&mut frame.epm, flatten(item, "epm."));
                }
            }
            Some(item @ Value::Object(_)) => frame.epm = flatten(item, "epm."),
            _ => {}
        }
        if !frame.dcerpc.is_empty() || frame.malformed {
            frames.insert(number, frame);
        }
    }
    Ok(frames)
}

fn merge(into: &mut Fields, from: Fields) {
    for (k, mut v) in from {
        into.entry(k).or_default().append(&mut v);
    }
}

/// Collects every `key: "string"` pair below `v` whose key starts with `prefix`, in document order.
pub fn flatten(v: &Value, prefix: &str) -> Fields {
    let mut out = Fields::new();
    walk(v, prefix, &mut out, 0);
    out
}

fn walk(v: &Value, prefix: &str, out: &mut Fields, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match val {
                    Value::String(s) if k.starts_with(prefix) => out.entry(k.clone()).or_default().push(s.clone()),
                    Value::Array(items) if items.iter().all(Value::is_string) && k.starts_with(prefix) => {
                        for s in items.iter().filter_map(Value::as_str) {
                            out.entry(k.clone()).or_default().push(s.to_owned());
                        }
                    }
                    _ => walk(val, prefix, out, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, prefix, out, depth + 1);
            }
        }
        _ => {}
    }
}

//! DCOM in the Windows WMI capture: `dcomctl decode` shows the activation, the OXID, OIDs, IPIDs, string and
//! security bindings and the IRemUnknown2 calls, and every DCOM field tshark shows for those PDUs equals ours.

use std::collections::BTreeMap;
use std::process::Command;

use dcom_decode::{Options, decode_capture, pdu_json};
use proto_tests::dcom_fields::{collect, norm};
use serde_json::Value;

const CAPTURE: &str = "wmi_win32_process_create.pcapng";

/// tshark's DCOM fields per frame for the activator and IRemUnknown2 PDUs, flattened to `{field: [values]}`.
fn tshark_dcom_fields() -> BTreeMap<u32, BTreeMap<String, Vec<Value>>> {
    let path = proto_tests::captures_dir().join(CAPTURE);
    let out = Command::new("tshark")
        .arg("-2")
        .arg("-r")
        .arg(&path)
        .args(["-T", "json", "--no-duplicate-keys", "-Y", "isystemactivator || remunk2"])
        .output()
        .expect("tshark runs (the test command installs it)");
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let packets: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark json");
    let mut frames = BTreeMap::new();
    for p in packets {
        let layers = &p["_source"]["layers"];
        let n: u32 = layers["frame"]["frame.number"].as_str().and_then(|s| s.parse().ok()).expect("frame number");
        let mut acc = BTreeMap::new();
        for layer in ["isystemactivator", "remunk2"] {
            if let Some(l) = layers.get(layer) {
                walk(l, &mut acc);
            }
        }
        frames.insert(n, acc);
    }
    frames
}

fn walk(v: &Value, acc: &mut BTreeMap<String, Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k.starts_with("_ws") || k.ends_with("_tree") || k == "dcom.nospec" {
                    continue;
                }
                let leaf_list = matches!(x, Value::Array(a) if a.iter().all(Value::is_string));
                if (x.is_object() || x.is_array()) && !leaf_list {
                    walk(x, acc);
                } else if ["dcom.", "isystemactivator.", "remunk."].iter().any(|p| k.starts_with(p)) {
                    match x {
                        Value::Array(a) => acc.entry(k.clone()).or_default().extend(a.iter().cloned()),
                        other => acc.entry(k.clone()).or_default().push(other.clone()),
                    }
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, acc);
            }
        }
        _ => {}
    }
}

#[test]
fn wmi_dcom_fields_equal_tshark() {
    let bytes = std::fs::read(proto_tests::captures_dir().join(CAPTURE)).expect("capture");
    let report = decode_capture(&bytes, &Options::default()).expect("decodes");
    let theirs = tshark_dcom_fields();
    assert!(theirs.len() >= 8, "tshark found {} activator / IRemUnknown2 frames", theirs.len());
    let (mut compared, mut frames) = (0usize, 0usize);
    for (frame, fields) in &theirs {
        let rec = report.records.iter().find(|r| r.frame == *frame).unwrap_or_else(|| panic!("frame {frame}"));
        let json = pdu_json(rec);
        let dcom = json.get("dcom").unwrap_or_else(|| panic!("frame {frame}: no dcom object in {json}"));
        let mut ours = BTreeMap::new();
        collect(dcom, "", None, true, &mut ours);
        for (field, ours_vals) in &ours {
            let theirs_vals = fields.get(field).unwrap_or_else(|| panic!("frame {frame}: we show {field}, tshark not"));
            let mut a: Vec<String> = ours_vals.clone();
            let mut b: Vec<String> = theirs_vals.iter().map(norm).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "frame {frame}: {field}");
            compared += a.len();
        }
        // Every DCOM field tshark shows (but two that carry no protocol value), we show too.
        for field in fields.keys() {
            if field.starts_with("dcom.") && !matches!(field.as_str(), "dcom.ip_cnt_data" | "dcom.objref.signature") {
                assert!(ours.contains_key(field), "frame {frame}: tshark shows {field}, we do not");
            }
        }
        frames += 1;
    }
    eprintln!("DCOM: {compared} field values in {frames} frames equal tshark's");
    assert!(compared >= 148, "compared only {compared} DCOM values");
}

#[test]
fn wmi_decode_shows_activation_oxid_ipids_bindings_and_remunknown_calls() {
    let bytes = std::fs::read(proto_tests::captures_dir().join(CAPTURE)).expect("capture");
    let report = decode_capture(&bytes, &Options { heuristics: false, ..Options::default() }).expect("decodes");
    let calls: Vec<(String, String, Value)> = report
        .records
        .iter()
        .filter_map(|r| {
            let j = pdu_json(r);
            let d = j.get("dcom")?.clone();
            Some((d["interface"].as_str()?.to_owned(), d["method"].as_str()?.to_owned(), d))
        })
        .collect();
    let has = |i: &str, m: &str| calls.iter().filter(|(a, b, _)| a == i && b == m).count();
    assert_eq!(has("IRemoteSCMActivator", "RemoteCreateInstance"), 2, "activation request and reply");
    assert!(has("IRemUnknown2", "RemQueryInterface") >= 2);
    assert!(has("IRemUnknown2", "RemRelease") >= 2);
    let text = serde_json::to_string(&calls.iter().map(|c| &c.2).collect::<Vec<_>>()).expect("json");
    for needle in
        ["0x053773507f213667", "0xf6e3db6450cca71a", "0000c000-0530-0000-7d85-2faeeac5c880", "172.16.66.36[49670]"]
    {
        assert!(text.contains(needle), "{needle} missing from the decoded DCOM calls");
    }
    assert!(text.contains("host/01566s-win16-ir.threebeesco.com"), "security binding principal");
    // Without heuristics, the object port is found only through the activation reply's string bindings.
    assert_eq!(report.ports.get(&49670), Some(&dcom_decode::Found::EpmAnswer));
}

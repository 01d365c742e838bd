//! DCOM fields of our decoder's output under tshark's field names (`dcom.*`, `isystemactivator.*`, `remunk.*`), so
//! that the two can be compared field by field.

use std::collections::BTreeMap;

use serde_json::Value;

/// Normalizes a value: numbers and `0x` hex to decimal, everything else as text.
pub fn norm(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(h) => u128::from_str_radix(h, 16).map_or_else(|_| s.clone(), |n| n.to_string()),
            None => s.clone(),
        },
        other => other.to_string(),
    }
}

/// Maps our JSON keys (with their context) to tshark field names and collects the values.
pub fn collect(v: &Value, parent: &str, prop: Option<&str>, top: bool, out: &mut BTreeMap<String, Vec<String>>) {
    match v {
        Value::Array(a) => {
            for x in a {
                collect(x, parent, prop, false, out);
            }
        }
        Value::Object(m) => {
            let is_objref = m.contains_key("type") && m.contains_key("iid");
            let prop = m.get("name").and_then(Value::as_str).or(prop);
            for (k, x) in m {
                let field: Option<&str> = match (k.as_str(), x) {
                    ("ipid" | "ripid", _) => Some("dcom.ipid"),
                    ("ipid_rem_unknown", _) => Some("isystemactivator.properties.scmresp.rmtunknid"),
                    ("oxid", _) if parent == "std" => Some("dcom.oxid"),
                    ("oxid", _) => Some("isystemactivator.properties.scmresp.oxid"),
                    ("oid", _) => Some("dcom.oid"),
                    ("public_refs", _) if parent == "std" => Some("dcom.stdobjref.public_refs"),
                    ("public_refs", _) if top => Some("remunk.refs"),
                    ("public_refs", _) => Some("remunk.public_refs"),
                    ("private_refs", _) => Some("remunk.private_refs"),
                    ("iid", _) if is_objref => Some("dcom.iid"),
                    ("iids", _) if prop == Some("InstantiationInfo") => {
                        Some("isystemactivator.properties.instninfo.iid")
                    }
                    ("iids", _) if prop == Some("PropsOutInfo") => Some("isystemactivator.properties.iid"),
                    ("iids", _) if top => Some("dcom.iid"),
                    ("clsid", _) if is_objref => Some("dcom.clsid"),
                    ("clsid", _) if prop.is_some() && m.contains_key("name") => {
                        Some("isystemactivator.customhdr.clsid")
                    }
                    ("class_id", _) => Some("isystemactivator.properties.instninfo.clsid"),
                    ("hresult", _) => Some("dcom.hresult"),
                    ("hresults", _) if prop == Some("PropsOutInfo") => Some("isystemactivator.properties.retval"),
                    ("tower_id", _) => Some("dcom.dualstringarray.tower_id"),
                    ("addr", _) => Some("dcom.dualstringarray.network_addr"),
                    ("authn_svc", _) => Some("dcom.dualstringarray.security_authn_svc"),
                    ("authz_svc", _) => Some("dcom.dualstringarray.security_authz_svc"),
                    ("princ_name", _) => Some("dcom.dualstringarray.security_princ_name"),
                    ("num_entries", _) => Some("dcom.dualstringarray.num_entries"),
                    ("security_offset", _) => Some("dcom.dualstringarray.security_offset"),
                    ("major", _) => Some("dcom.version_major"),
                    ("minor", _) => Some("dcom.version_minor"),
                    ("flags", _) if parent == "orpcthis" => Some("dcom.this.flags"),
                    ("flags", _) if parent == "orpcthat" => Some("dcom.that.flags"),
                    ("flags", _) if parent == "std" => Some("dcom.stdobjref.flags"),
                    ("flags", _) if is_objref => Some("dcom.objref.flags"),
                    ("cid", _) => Some("dcom.this.uuid"),
                    ("reserved1", _) => Some("dcom.this.res"),
                    ("authn_hint", _) => Some("isystemactivator.properties.scmresp.authhint"),
                    ("size", _) if is_objref => Some("dcom.objref.size"),
                    ("cb_extension", _) => Some("dcom.objref.cbextension"),
                    _ => None,
                };
                match (field, x) {
                    (Some(f), Value::Array(a)) => {
                        out.entry(f.to_owned()).or_default().extend(a.iter().map(norm));
                    }
                    (Some(f), Value::Object(_)) => {
                        // e.g. "result": {"hresult": ..}: recurse, the leaf carries the name.
                        let _ = f;
                        collect(x, k, prop, false, out);
                    }
                    (Some(f), leaf) => out.entry(f.to_owned()).or_default().push(norm(leaf)),
                    (None, _) => collect(x, k, prop, top && k == "params", out),
                }
            }
        }
        _ => {}
    }
}

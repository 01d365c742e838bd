//! Samba's pidl-generated NDR (python3-samba, and libndr-standard through ctypes for dssetup) as the oracle.
//!
//! 1. Samba builds values, packs them in NDR20 little- and big-endian and NDR64; we decode its bytes, compare
//!    the values and re-encode byte for byte.
//! 2. We encode hand-picked and random values; Samba unpacks them (the values must be ours) and packs them again
//!    (the bytes must be ours).
//!
//! A missing python3-samba fails these tests: they never skip.

use std::cell::Cell;
use std::io::Write;
use std::marker::PhantomData;
use std::process::{Command, Stdio};

use dcom_idl::common::{PolicyHandle, RpcSid, RpcUnicodeString};
use dcom_idl::{Operation, dssetup, mgmt, rpcecho, samr, wkssvc};
use dcom_ndr::{ConfArray, Discriminant, NdrContext, WString};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::common::{AnyPair, Pair, SYNTAXES, ctx_of, random_pairs, samba_name, samples, wksta_level};

const PYTHON: &str = "/usr/bin/python3";

fn run_oracle(request: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/samba_oracle.py");
    let mut child = Command::new(PYTHON)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (Debian python3 with python3-samba is required): {e}"));
    let input = serde_json::to_vec(request).expect("json");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("oracle output");
    writer.join().expect("writer thread").expect("write request");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "samba oracle gave no JSON ({e}); status {:?}; stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    if let Some(fatal) = answer.get("fatal") {
        panic!("samba oracle failed: {}", fatal.as_str().unwrap_or_default());
    }
    answer
}

// ------------------------------------------------------------------------------------------------------------
// our values in the oracle's JSON convention

thread_local! {
    /// `rpc_if_id_t` vs Samba's `uint32 if_version`: the integer depends on the byte order.
    static BIG_ENDIAN: Cell<bool> = const { Cell::new(false) };
}

trait J {
    fn j(&self) -> Value;
}

macro_rules! j_int {
    ($($t:ty),*) => {$(
        impl J for $t {
            fn j(&self) -> Value {
                json!(*self)
            }
        }
    )*};
}
j_int!(u8, u16, u32, u64);

macro_rules! j_enum {
    ($($t:ty),*) => {$(
        impl J for $t {
            fn j(&self) -> Value {
                json!(i64::try_from(Discriminant::to_i128(self)).expect("small"))
            }
        }
    )*};
}
j_enum!(
    rpcecho::EchoEnum1,
    rpcecho::EchoEnum32,
    dssetup::DsRole,
    dssetup::DsRoleInfoLevel,
    dssetup::DsServerState,
    dssetup::DsOperationState
);

impl J for WString {
    fn j(&self) -> Value {
        Value::String(String::from_utf16(&self.0).expect("valid utf-16"))
    }
}

impl<T: J> J for Option<T> {
    fn j(&self) -> Value {
        self.as_ref().map_or(Value::Null, J::j)
    }
}

impl<T: J> J for ConfArray<T> {
    fn j(&self) -> Value {
        Value::Array(self.iter().map(J::j).collect())
    }
}

impl J for Uuid {
    fn j(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl J for PolicyHandle {
    fn j(&self) -> Value {
        json!({"handle_type": self.attributes, "uuid": self.uuid.to_string()})
    }
}

impl J for RpcUnicodeString {
    fn j(&self) -> Value {
        let s = self.buffer.as_ref().map(|b| String::from_utf16(&b.items).expect("valid utf-16"));
        json!({"length": self.length, "size": self.maximum_length, "string": s})
    }
}

impl J for RpcSid {
    fn j(&self) -> Value {
        Value::String(self.to_string())
    }
}

macro_rules! j_struct {
    ($($t:ty { $($f:ident $(as $k:literal)?),* $(,)? })*) => {$(
        impl J for $t {
            fn j(&self) -> Value {
                let entries: Vec<(String, Value)> = vec![$( (j_struct!(@key $f $($k)?).to_owned(), self.$f.j()) ),*];
                Value::Object(entries.into_iter().collect::<Map<String, Value>>())
            }
        }
    )*};
    (@key $f:ident) => { stringify!($f) };
    (@key $f:ident $k:literal) => { $k };
}

j_struct! {
    rpcecho::AddOneIn { in_data }
    rpcecho::AddOneOut { out_data }
    rpcecho::EchoDataIn { len, in_data }
    rpcecho::EchoDataOut { out_data }
    rpcecho::SinkDataIn { len, data }
    rpcecho::SinkDataOut {}
    rpcecho::SourceDataIn { len }
    rpcecho::SourceDataOut { data }
    rpcecho::TestCallIn { s1 }
    rpcecho::TestCallOut { s2 }
    rpcecho::EchoInfo1 { v }
    rpcecho::EchoInfo2 { v }
    rpcecho::EchoInfo3 { v }
    rpcecho::EchoInfo4 { v }
    rpcecho::EchoInfo5 { v1, v2 }
    rpcecho::EchoInfo6 { v1, info1 }
    rpcecho::EchoInfo7 { v1, info4 }
    rpcecho::TestCall2In { level }
    rpcecho::TestCall2Out { info, result }
    rpcecho::TestSleepIn { seconds }
    rpcecho::TestSleepOut { result }
    rpcecho::EchoEnum2 { e1, e2 }
    rpcecho::TestEnumParams { foo1, foo2, foo3 }
    rpcecho::EchoSurrounding { x, surrounding }
    rpcecho::TestSurroundingParams { data }
    rpcecho::TestDoublePointerOut { result }
    mgmt::InqIfIdsIn {}
    mgmt::InqIfIdsOut { if_id_vector, result }
    mgmt::InqStatsIn { max_count, unknown }
    mgmt::Statistics { count, statistics }
    mgmt::InqStatsOut { statistics, result }
    mgmt::IsServerListeningIn {}
    mgmt::IsServerListeningOut { status, result }
    mgmt::StopServerListeningIn {}
    mgmt::StopServerListeningOut { result }
    mgmt::InqPrincNameIn { authn_proto, princ_name_size }
    samr::CloseIn { handle }
    samr::CloseOut { handle, result }
    samr::LookupDomainIn { connect_handle, domain_name }
    samr::LookupDomainOut { sid, result }
    samr::SamEntry { idx, name }
    samr::SamArray { count, entries }
    samr::EnumDomainsIn { connect_handle, resume_handle, buf_size }
    samr::EnumDomainsOut { resume_handle, sam, num_entries, result }
    samr::Connect2In { system_name, access_mask }
    samr::Connect2Out { connect_handle, result }
    samr::ConnectInfo1 { client_version, supported_features }
    samr::Connect5In { system_name, access_mask, level_in, info_in }
    samr::Connect5Out { level_out, info_out, connect_handle, result }
    dssetup::GetPrimaryDomainInformationIn { level }
    dssetup::GetPrimaryDomainInformationOut { info, result }
    dssetup::PrimaryDomainInfoBasic { role, flags, domain, dns_domain, forest, domain_guid }
    dssetup::UpgradeStatusInfo { operation_state as "upgrading", previous_server_state as "previous_role" }
    dssetup::OperationStateInfo { operation_state as "status" }
    wkssvc::NetrWkstaGetInfoIn { server_name, level }
    wkssvc::NetrWkstaGetInfoOut { info, result }
    wkssvc::WkstaInfo100 { platform_id, server_name, domain_name, version_major, version_minor }
    wkssvc::WkstaInfo101 { platform_id, server_name, domain_name, version_major, version_minor, lan_root }
    wkssvc::WkstaInfo102 {
        platform_id, server_name, domain_name, version_major, version_minor, lan_root, logged_on_users
    }
    wkssvc::WkstaInfo502 {
        char_wait, collection_time, maximum_collection_count, keep_connection, max_commands, session_timeout,
        size_char_buf, max_threads, lock_quota, lock_increment, lock_maximum, pipe_increment, pipe_maximum,
        cache_file_timeout, dormant_file_limit, read_ahead_throughput, num_mailslot_buffers,
        num_srv_announce_buffers, max_illegal_dgram_events, dgram_event_reset_freq, log_election_packets,
        use_opportunistic_locking, use_unlock_behind, use_close_behind, buf_named_pipes, use_lock_read_unlock,
        utilize_nt_caching, use_raw_read, use_raw_write, use_write_raw_data, use_encryption,
        buf_files_deny_write, buf_read_only_files, force_core_create_mode, use_512_byte_max_transfer
    }
}

impl J for rpcecho::EchoInfo {
    fn j(&self) -> Value {
        use rpcecho::EchoInfo::*;
        match self {
            Info1(v) => v.j(),
            Info2(v) => v.j(),
            Info3(v) => v.j(),
            Info4(v) => v.j(),
            Info5(v) => v.j(),
            Info6(v) => v.j(),
            Info7(v) => v.j(),
        }
    }
}

impl J for rpcecho::EchoEnum3 {
    fn j(&self) -> Value {
        match self {
            Self::E1(v) => v.j(),
            Self::E2(v) => v.j(),
        }
    }
}

/// Samba's python binding collapses `uint16 ***`; the oracle reads the pointer levels from `ndr_print`.
impl J for rpcecho::TestDoublePointerIn {
    fn j(&self) -> Value {
        match self.data {
            None => json!({"data": null}),
            Some(inner) => json!({"data": {"ptr": inner}}),
        }
    }
}

/// Samba: `ndr_syntax_id { GUID uuid; uint32 if_version; }`, the same bytes as `rpc_if_id_t`.
impl J for mgmt::RpcIfId {
    fn j(&self) -> Value {
        let (major, minor) = (u32::from(self.vers_major), u32::from(self.vers_minor));
        let if_version = if BIG_ENDIAN.get() { (major << 16) | minor } else { major | (minor << 16) };
        json!({"uuid": self.uuid.to_string(), "if_version": if_version})
    }
}

/// Samba wraps each pointer in `ndr_syntax_id_p { ndr_syntax_id *id; }`.
impl J for mgmt::RpcIfIdVector {
    fn j(&self) -> Value {
        let ids: Vec<Value> = self.if_id.iter().map(|id| json!({"id": id.j()})).collect();
        json!({"count": self.count, "if_id": ids})
    }
}

/// Python sees `[string,charset(DOS)]` as the text up to the NUL.
impl J for mgmt::InqPrincNameOut {
    fn j(&self) -> Value {
        json!({"princ_name": self.name(), "result": self.result})
    }
}

impl J for samr::ConnectInfo {
    fn j(&self) -> Value {
        match self {
            Self::Info1(v) => v.j(),
        }
    }
}

impl J for dssetup::DsRoleInfo {
    fn j(&self) -> Value {
        match self {
            Self::Basic(v) => v.j(),
            Self::UpgradeStatus(v) => v.j(),
            Self::OperationState(v) => v.j(),
        }
    }
}

/// The member name of the one-`DWORD` structures of levels 1010-1062 (Samba `wkssvc_NetWkstaInfoNNNN`).
const WKSTA_SINGLE: &[(u32, &str)] = &[
    (1010, "char_wait"),
    (1011, "collection_time"),
    (1012, "maximum_collection_count"),
    (1013, "keep_connection"),
    (1018, "session_timeout"),
    (1023, "size_char_buf"),
    (1027, "errorlog_sz"),
    (1028, "print_buf_time"),
    (1032, "wrk_heuristics"),
    (1033, "max_threads"),
    (1041, "lock_quota"),
    (1042, "lock_increment"),
    (1043, "lock_maximum"),
    (1044, "pipe_increment"),
    (1045, "pipe_maximum"),
    (1046, "dormant_file_limit"),
    (1047, "cache_file_timeout"),
    (1048, "use_opportunistic_locking"),
    (1049, "use_unlock_behind"),
    (1050, "use_close_behind"),
    (1051, "buf_named_pipes"),
    (1052, "use_lock_read_unlock"),
    (1053, "utilize_nt_caching"),
    (1054, "use_raw_read"),
    (1055, "use_raw_write"),
    (1056, "use_write_raw_data"),
    (1057, "use_encryption"),
    (1058, "buf_files_deny_write"),
    (1059, "buf_read_only_files"),
    (1060, "force_core_create_mode"),
    (1061, "use_512_byte_max_transfer"),
    (1062, "read_ahead_throughput"),
];

impl J for wkssvc::WkstaInfo {
    fn j(&self) -> Value {
        use wkssvc::WkstaInfo::*;
        match self {
            Info100(v) => v.j(),
            Info101(v) => v.j(),
            Info102(v) => v.j(),
            Info502(v) => v.j(),
            Other(_) => Value::Null,
            Info1010(v) | Info1011(v) | Info1012(v) | Info1013(v) | Info1018(v) | Info1023(v) | Info1027(v)
            | Info1028(v) | Info1032(v) | Info1033(v) | Info1041(v) | Info1042(v) | Info1043(v) | Info1044(v)
            | Info1045(v) | Info1046(v) | Info1047(v) | Info1048(v) | Info1049(v) | Info1050(v) | Info1051(v)
            | Info1052(v) | Info1053(v) | Info1054(v) | Info1055(v) | Info1056(v) | Info1057(v) | Info1058(v)
            | Info1059(v) | Info1060(v) | Info1061(v) | Info1062(v) => {
                let level = wksta_level(self);
                let key = WKSTA_SINGLE.iter().find(|(l, _)| *l == level).map(|(_, k)| *k).expect("level name");
                v.map_or(Value::Null, |v| json!({ key: v }))
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// the operations by Samba name

trait OpCodec: Sync {
    /// Decodes a stub, returns its value in the oracle's convention and our re-encoding.
    fn decode(&self, request: bool, stub: &[u8], ctx: NdrContext) -> Result<(Value, Vec<u8>), String>;
}

struct Codec<O>(PhantomData<fn() -> O>);

impl<O: Operation> OpCodec for Codec<O>
where
    O::In: J,
    O::Out: J,
{
    fn decode(&self, request: bool, stub: &[u8], ctx: NdrContext) -> Result<(Value, Vec<u8>), String> {
        if request {
            let v = O::decode_in(stub, ctx).map_err(|e| e.to_string())?;
            Ok((v.j(), O::encode_in(&v, ctx).map_err(|e| e.to_string())?))
        } else {
            let v = O::decode_out(stub, ctx).map_err(|e| e.to_string())?;
            Ok((v.j(), O::encode_out(&v, ctx).map_err(|e| e.to_string())?))
        }
    }
}

macro_rules! all_ops {
    ($m:ident) => {
        $m!(
            rpcecho::AddOne,
            rpcecho::EchoData,
            rpcecho::SinkData,
            rpcecho::SourceData,
            rpcecho::TestCall,
            rpcecho::TestCall2,
            rpcecho::TestSleep,
            rpcecho::TestEnum,
            rpcecho::TestSurrounding,
            rpcecho::TestDoublePointer,
            mgmt::InqIfIds,
            mgmt::InqStats,
            mgmt::IsServerListening,
            mgmt::StopServerListening,
            mgmt::InqPrincName,
            samr::Close,
            samr::LookupDomain,
            samr::EnumDomains,
            samr::Connect2,
            samr::Connect5,
            dssetup::GetPrimaryDomainInformation,
            wkssvc::NetrWkstaGetInfo
        )
    };
}

fn codec(name: &str) -> Option<&'static dyn OpCodec> {
    macro_rules! find {
        ($($t:ty),*) => {
            $(
                if samba_name(<$t as Operation>::NAME) == name {
                    return Some(&Codec::<$t>(PhantomData));
                }
            )*
        };
    }
    all_ops!(find);
    None
}

fn all_names() -> Vec<String> {
    let mut v = Vec::new();
    macro_rules! names {
        ($($t:ty),*) => { $( v.push(samba_name(<$t as Operation>::NAME)); )* };
    }
    all_ops!(names);
    v
}

fn pair_json(p: &dyn AnyPair) -> (Value, Value) {
    macro_rules! try_ops {
        ($($t:ty),*) => {
            $(
                if let Some(x) = p.as_any().downcast_ref::<Pair<$t>>() {
                    return (x.inp.j(), x.out.j());
                }
            )*
        };
    }
    all_ops!(try_ops);
    panic!("no JSON for {}", p.idl_name())
}

fn hex_or_error(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))).expect("hex")
}

#[test]
fn samba_packs_we_decode_and_reencode() {
    let answer = run_oracle(&json!({"generate": true}));
    let generated = answer["generated"].as_array().expect("generated cases");
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for case in generated {
        let op = case["op"].as_str().expect("op");
        let syntax = case["syntax"].as_str().expect("syntax");
        if let Some(e) = case.get("error") {
            failures.push(format!("{op} {syntax}: samba could not pack: {e}"));
            continue;
        }
        let ctx = ctx_of(syntax);
        BIG_ENDIAN.set(syntax == "ndr20be");
        let c = codec(op).unwrap_or_else(|| panic!("no codec for {op}"));
        for (request, hex_key, value_key) in [(true, "in_hex", "in_value"), (false, "out_hex", "out_value")] {
            let samba = hex_or_error(case, hex_key);
            let decoded = c.decode(request, &samba, ctx);
            match decoded {
                Err(e) => failures.push(format!("{op} {syntax} {hex_key} {}: {e}", hex::encode(&samba))),
                Ok((value, ours)) => {
                    if value != case[value_key] {
                        failures.push(format!("{op} {syntax} {value_key}: samba {} ours {value}", case[value_key]));
                    }
                    if ours != samba {
                        failures.push(format!(
                            "{op} {syntax} {hex_key}: samba {} ours {}",
                            hex::encode(&samba),
                            hex::encode(&ours)
                        ));
                    }
                }
            }
        }
        covered.insert((op.to_owned(), syntax.to_owned()));
    }
    for name in all_names() {
        for (syntax, _) in SYNTAXES {
            assert!(covered.contains(&(name.clone(), syntax.to_owned())), "samba generated no {name} {syntax} case");
        }
    }
    assert!(generated.len() >= 400, "only {} generated cases", generated.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from samba:\n{}",
        failures.len(),
        generated.len(),
        failures.join("\n")
    );
}

#[test]
fn we_pack_samba_decodes_and_reencodes() {
    let mut ours: Vec<Box<dyn AnyPair>> = samples();
    ours.extend(random_pairs(16));
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for p in &ours {
        for (syntax, ctx) in SYNTAXES {
            let (i, o) = p.encode(ctx);
            BIG_ENDIAN.set(syntax == "ndr20be");
            let (ji, jo) = pair_json(p.as_ref());
            items.push(json!({
                "op": samba_name(p.idl_name()),
                "syntax": syntax,
                "in_hex": hex::encode(&i),
                "out_hex": hex::encode(&o),
            }));
            expected.push((p, syntax, i, o, ji, jo));
        }
    }
    let answer = run_oracle(&json!({"check": items}));
    let checked = answer["checked"].as_array().expect("checked");
    assert_eq!(checked.len(), expected.len());
    let mut failures = Vec::new();
    for ((p, syntax, i, o, ji, jo), got) in expected.iter().zip(checked) {
        let op = samba_name(p.idl_name());
        if got["ok"] != json!(true) {
            failures.push(format!(
                "{op} {syntax}: samba rejects {} / {}: {}",
                hex::encode(i),
                hex::encode(o),
                got["error"]
            ));
            continue;
        }
        if got["in_value"] != *ji {
            failures.push(format!("{op} {syntax} in: samba {} ours {ji}", got["in_value"]));
        }
        if got["out_value"] != *jo {
            failures.push(format!("{op} {syntax} out: samba {} ours {jo}", got["out_value"]));
        }
        for (ours, key) in [(i, "in_hex"), (o, "out_hex")] {
            let samba = hex_or_error(got, key);
            if samba != *ours {
                failures.push(format!("{op} {syntax} {key}: samba {} ours {}", hex::encode(&samba), hex::encode(ours)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} stubs differ:\n{}", failures.len(), expected.len(), failures.join("\n"));
}

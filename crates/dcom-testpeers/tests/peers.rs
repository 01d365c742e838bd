//! The peers work against Samba itself: the Samba DC answers our peer clients at every SSP and level they
//! support, smbtorture's report parser sees real successes and failures, Kerberos tickets come from the DC,
//! and dumpcap + tshark see and dissect the traffic.
//!
//! Needs root on a fresh machine (first run installs and provisions); `peers()` fails loudly otherwise.

use std::net::ToSocketAddrs;
use std::thread;

use dcom_testpeers::{ALICE, BOB, Capture, Outcome, Peers, peers, tshark_check, tshark_fields};
use serde_json::Value;

#[expect(clippy::panic, reason = "a missing peer must fail the test loudly, never skip it")]
fn p() -> &'static Peers {
    match peers() {
        Ok(p) => p,
        Err(e) => panic!("the interop peers are not available: {e}"),
    }
}

fn dc_binding() -> String {
    format!("ncacn_ip_tcp:{}", p().dc.host)
}

#[expect(clippy::panic, reason = "test helper: a missing field fails the test with the JSON")]
fn s(v: &Value, ptr: &str) -> String {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {ptr} in {v}")).to_owned()
}

#[test]
fn setup_exposes_paths_names_and_addresses() {
    let p = p();
    eprintln!("peers setup took {:.2} s:\n{}", p.setup_time.as_secs_f64(), p.setup_log);
    assert_eq!(p.dc.ip.to_string(), "127.0.0.10");
    assert_eq!(p.dc.realm, "SAMBA.TEST");
    assert_eq!(p.rpcsrv.ip.to_string(), "127.0.0.20");
    assert!(p.rpcsrv.spns.contains(&"host/rpcsrv.samba.test".to_owned()));
    for f in [&p.krb5_conf, &p.client_conf, &p.smb_conf, &p.rpcsrv_keytab, &p.all_keytab, &p.python] {
        assert!(f.exists(), "{} missing", f.display());
    }
    assert_eq!(p.env.get("KRB5_CONFIG").map(std::path::PathBuf::from).as_ref(), Some(&p.krb5_conf));
    assert!(p.dc_listening());
    // Rust code resolves the Kerberos host names (guarded /etc/hosts lines written by peers.sh)
    let dc: Vec<_> = ("dc1.samba.test", 135).to_socket_addrs().unwrap().collect();
    assert!(dc.iter().any(|a| a.ip() == std::net::IpAddr::from(p.dc.ip)), "{dc:?}");
    let srv: Vec<_> = ("rpcsrv.samba.test", 135).to_socket_addrs().unwrap().collect();
    assert!(srv.iter().any(|a| a.ip() == std::net::IpAddr::from(p.rpcsrv.ip)), "{srv:?}");
    // a second setup in the same process is the cached one
    assert!(std::ptr::eq(p, peers().unwrap()));
}

/// samr, dssetup and wkssvc through Samba's client library with NTLM, SPNEGO and Kerberos at sign and seal.
#[test]
fn samba_client_against_samba_dc_all_ssps_and_levels() {
    let p = p();
    let binding = dc_binding();
    let mut jobs = Vec::new();
    for auth in ["ntlm", "spnego", "krb5"] {
        for level in ["sign", "seal"] {
            for call in ["samr", "dssetup", "wkssvc"] {
                let binding = binding.clone();
                jobs.push(thread::spawn(move || {
                    let krb = if auth == "ntlm" { "no" } else { "yes" };
                    let args = [binding.as_str(), call, "--auth", auth, "--level", level, "--krb", krb];
                    let v = p.samba_client(&args).unwrap_or_else(|e| panic!("{auth} {level} {call}: {e}"));
                    eprintln!("samba_client {auth} {level} {call}: {}", v["result"]);
                    (auth, level, call, v)
                }));
            }
        }
    }
    let mut sids = Vec::new();
    for j in jobs {
        let (auth, level, call, v) = j.join().unwrap();
        assert_eq!(s(&v, "/binding"), format!("{binding}[{level},{auth}]"));
        let r = &v["result"];
        match call {
            "samr" => {
                assert_eq!(r["EnumDomains"]["names"], serde_json::json!(["SAMBA", "BUILTIN"]), "{auth} {level}");
                assert_eq!(s(r, "/LookupDomain/BUILTIN"), "S-1-5-32");
                let sid = s(r, "/LookupDomain/SAMBA");
                assert!(sid.starts_with("S-1-5-21-"), "{sid}");
                sids.push(sid);
                assert_eq!(r["Connect5"]["level_out"], 1);
            }
            "dssetup" => {
                let d = &r["DsRoleGetPrimaryDomainInformation"];
                assert_eq!(d["role"], 5, "DS_ROLE_PRIMARY_DC");
                assert_eq!(s(d, "/domain"), "SAMBA");
                assert_eq!(s(d, "/dns_domain"), "samba.test");
                assert_eq!(s(d, "/forest"), "samba.test");
                assert_eq!(d["flags"].as_u64().unwrap() & 1, 1, "DS_ROLE_PRIMARY_DS_RUNNING");
                assert_eq!(s(d, "/werror_name"), "WERR_OK");
            }
            "wkssvc" => {
                let w = &r["NetWkstaGetInfo"];
                assert_eq!(w["platform_id"], 500);
                assert_eq!(s(w, "/server_name"), "DC1");
                assert_eq!(s(w, "/domain_name"), "SAMBA");
            }
            _ => unreachable!(),
        }
    }
    sids.dedup();
    assert_eq!(sids.len(), 1, "one domain SID whatever the SSP: {sids:?}");
}

/// Failures come back as names the Rust side can compare with its own results.
#[test]
fn samba_client_reports_errors_by_name() {
    let p = p();
    // NTLM at CONNECT level: Samba restricts samr to integrity and above
    let o = p.run_samba_client(&[&dc_binding(), "samr", "--auth", "ntlm", "--level", "connect"]).unwrap();
    assert!(!o.ok());
    assert_eq!(o.exit_code, Some(1));
    assert_eq!(o.error_name(), Some("NT_STATUS_ACCESS_DENIED"));
    assert_eq!(o.error_code(), Some(0xC000_0022));
    // wrong password, Kerberos: the AS exchange fails before any bind
    let o = p
        .run_samba_client(&[
            &dc_binding(),
            "wkssvc",
            "--auth",
            "krb5",
            "--level",
            "seal",
            "--krb",
            "yes",
            "--password",
            "nope",
        ])
        .unwrap();
    assert!(!o.ok());
    assert_eq!(s(&o.json, "/error/stage"), "connect");
    // unauthenticated mgmt on the endpoint mapper port: is_server_listening and inq_if_ids work,
    // Samba does not implement inq_princ_name
    let o = p.run_samba_client(&["ncacn_ip_tcp:dc1.samba.test[135]", "mgmt", "--anon"]).unwrap();
    let r = o.result();
    assert_eq!(r["is_server_listening"]["result"], 1);
    let ids: Vec<String> = r["inq_if_ids"].as_array().unwrap().iter().map(|i| s(i, "/uuid")).collect();
    assert!(ids.contains(&"e1af8308-5d1f-11c9-91a4-08002b14a0fa".to_owned()), "{ids:?}");
    assert!(ids.contains(&"afa8bd80-7d8a-11c9-bef4-08002b102989".to_owned()), "{ids:?}");
    assert_eq!(o.error_name(), Some("NT_STATUS_RPC_PROCNUM_OUT_OF_RANGE"));
    assert_eq!(s(&o.json, "/error/stage"), "call:inq_princ_name");
    // bad usage is exit 2
    let o = p.run_samba_client(&[&dc_binding(), "raw", "not-a-uuid", "1", "0", "00"]).unwrap();
    assert_eq!(o.exit_code, Some(2));
}

/// A raw request through Samba's client on an authenticated samr binding: SamrConnect (opnum 0), stub =
/// null unique pointer (server name) + DesiredAccess MAXIMUM_ALLOWED.
#[test]
fn samba_client_raw_request() {
    let p = p();
    // SamrConnect(ServerName = NULL, DesiredAccess = MAXIMUM_ALLOWED)
    let v = p
        .samba_client(&[
            &dc_binding(),
            "raw",
            "12345778-1234-abcd-ef00-0123456789ac",
            "1.0",
            "0",
            "0000000000000002",
            "--auth",
            "ntlm",
            "--level",
            "sign",
        ])
        .unwrap();
    let stub = s(&v, "/result/response_stub");
    // context handle (20 bytes) + NTSTATUS 0
    assert_eq!(stub.len(), 48, "{stub}");
    assert!(stub.ends_with("00000000"), "{stub}");
    assert_ne!(&stub[8..40], "00000000000000000000000000000000", "a real handle uuid");
}

#[test]
fn samba_client_bench_and_inflight() {
    let p = p();
    let v = p.samba_client(&[&dc_binding(), "wkssvc", "--auth", "ntlm", "--level", "seal", "--bench", "200"]).unwrap();
    let rate = v["bench"]["calls_per_s"].as_f64().unwrap();
    eprintln!("samba_client wkssvc sealed NTLM: {rate:.0} calls/s");
    assert!(rate > 10.0);
    assert_eq!(v["bench"]["calls"], 200);
    let v = p
        .samba_client(&[
            &dc_binding(),
            "wkssvc",
            "--auth",
            "ntlm",
            "--level",
            "seal",
            "--bench",
            "100",
            "--inflight",
            "2",
        ])
        .unwrap();
    assert_eq!(v["bench"]["connections"], 2);
    assert_eq!(v["bench"]["calls"], 200);
    eprintln!("samba_client wkssvc x2 connections: {:.0} calls/s", v["bench"]["calls_per_s"].as_f64().unwrap());
}

/// impacket (its own NTLM) against samr at every level: anonymous works, CONNECT is refused, integrity and
/// privacy work; Kerberos-SPNEGO at CONNECT works once impacket's bind bug is patched.
#[test]
fn impacket_against_samba_samr() {
    let p = p();
    let ip = p.dc.ip.to_string();
    for level in ["integrity", "privacy", "none"] {
        let v = p.impacket_client(&[&ip, "samr", "--level", level]).unwrap_or_else(|e| panic!("{level}: {e}"));
        assert_eq!(v["result"]["SamrEnumerateDomainsInSamServer"]["names"], serde_json::json!(["SAMBA", "BUILTIN"]));
        assert_eq!(s(&v, "/result/SamrLookupDomainInSamServer/BUILTIN"), "S-1-5-32");
        assert!(s(&v, "/binding").starts_with("ncacn_ip_tcp:127.0.0.10["), "endpoint from the epmapper");
    }
    let o = p.run_impacket_client(&[&ip, "samr", "--level", "connect"]).unwrap();
    assert_eq!(o.error_name(), Some("rpc_s_access_denied"));
    // Kerberos: kinit + kvno host/dc1.samba.test inside the script, SPNEGO (9), CONNECT
    let v = p.impacket_client(&[&ip, "samr", "--auth", "kerberos", "--level", "connect", "--fix-bind"]).unwrap();
    assert_eq!(v["result"]["SamrEnumerateDomainsInSamServer"]["names"], serde_json::json!(["SAMBA", "BUILTIN"]));
    // unpatched impacket repeats the context list in its third-leg alter_context: Samba refuses it
    let o = p.run_impacket_client(&[&ip, "samr", "--auth", "kerberos", "--level", "connect"]).unwrap();
    assert_eq!(o.error_name(), Some("nca_s_proto_error"));
}

#[test]
fn impacket_raw_mgmt_and_bench() {
    let p = p();
    let ip = p.dc.ip.to_string();
    let o = p.run_impacket_client(&[&ip, "mgmt", "--port", "135", "--level", "none"]).unwrap();
    let r = o.result();
    assert_eq!(r["is_server_listening"]["response_stub"], "0000000001000000");
    let ids = r["inq_if_ids"]["if_ids"].as_array().unwrap();
    assert!(ids.iter().any(|i| i["uuid"] == "e1af8308-5d1f-11c9-91a4-08002b14a0fa" && i["version"] == "3.0"));
    assert_eq!(r["inq_princ_name"], Value::Null);
    let v = p.impacket_client(&[&ip, "samr", "--level", "privacy", "--bench", "50"]).unwrap();
    eprintln!("impacket samr connect+close sealed NTLM: {:.0}/s", v["bench"]["calls_per_s"].as_f64().unwrap());
    assert_eq!(v["bench"]["calls"], 50);
}

/// Samba has no rpcecho server: every rpc.echo subtest fails at connect, and the parser says so.
#[test]
fn smbtorture_echo_fails_against_samba() {
    let p = p();
    let r = p.smbtorture(&dc_binding(), "rpc.echo", &[]).unwrap();
    eprintln!("{r}");
    assert_eq!(r.subtests.len(), 10, "{r}");
    assert_eq!(r.failed().count(), 10);
    assert!(r.get("addone").unwrap().message.contains("NT_STATUS_PORT_UNREACHABLE"));
    assert_ne!(r.exit_code, Some(0));
    assert!(!r.all_passed());
}

/// rpc.epmapper encodes Windows semantics: one subtest passes against Samba, four fail; rpc.mgmt passes.
#[test]
fn smbtorture_epmapper_and_mgmt_against_samba() {
    let p = p();
    let r = p.smbtorture(&dc_binding(), "rpc.epmapper", &[]).unwrap();
    eprintln!("{r}");
    assert_eq!(r.get("Lookup_terminate_search").map(|t| t.outcome), Some(Outcome::Success), "{r}");
    for name in ["Map_simple", "Map_full", "Lookup_simple", "Insert_noreplace"] {
        assert_eq!(r.get(name).map(|t| t.outcome), Some(Outcome::Failure), "{name}: {r}");
    }
    let r = p.smbtorture(&dc_binding(), "rpc.mgmt", &[]).unwrap();
    assert!(r.all_passed(), "{r}");
    assert_eq!(r.exit_code, Some(0));
    // anonymous and Kerberos credential forms are passed through
    let r = p.smbtorture(&dc_binding(), "rpc.mgmt", &["-N"]).unwrap();
    assert_eq!(r.subtests.len(), 1);
    let e = p.smbtorture(&dc_binding(), "rpc.no-such-suite", &[]).unwrap_err();
    assert_eq!(e.kind, dcom_testpeers::PeersErrorKind::BadOutput);
}

#[test]
fn kinit_kvno_klist() {
    let p = p();
    let dir = p.dir.join("test-kinit");
    std::fs::create_dir_all(&dir).unwrap();
    let cc = dir.join(format!("alice-{}.cc", std::process::id()));
    p.kinit(&ALICE, &cc).unwrap();
    assert_eq!(p.kvno(&cc, "host/rpcsrv.samba.test").unwrap(), 2);
    assert_eq!(p.kvno(&cc, "host/dc1.samba.test").unwrap(), 1);
    let (client, services) = p.klist(&cc).unwrap();
    assert_eq!(client, "alice@SAMBA.TEST");
    assert!(services.contains(&"krbtgt/SAMBA.TEST@SAMBA.TEST".to_owned()), "{services:?}");
    assert!(services.contains(&"host/rpcsrv.samba.test@SAMBA.TEST".to_owned()), "{services:?}");
    let bad = dir.join(format!("bob-{}.cc", std::process::id()));
    let e = p.kinit_password(&BOB.principal(), "wrong password", &bad).unwrap_err();
    assert_eq!(e.kind, dcom_testpeers::PeersErrorKind::ToolFailed);
    p.kinit(&BOB, &bad).unwrap();
    let _ = std::fs::remove_file(cc);
    let _ = std::fs::remove_file(bad);
}

/// dumpcap sees a Samba-client bind and calls on the endpoint mapper port; tshark dissects them cleanly.
#[test]
fn capture_and_tshark_check() {
    let p = p();
    let dir = p.dir.join("test-captures");
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join(format!("mgmt-{}.pcapng", std::process::id()));
    let cap = Capture::start("host 127.0.0.10 and tcp port 135", &pcap).unwrap();
    let o = p.run_samba_client(&["ncacn_ip_tcp:127.0.0.10[135]", "mgmt", "--anon"]).unwrap();
    assert_eq!(o.result()["is_server_listening"]["result"], 1);
    let path = cap.stop().unwrap();
    let check = tshark_check(&path, &[]).unwrap();
    assert_eq!(check.malformed(), 0, "{check:?}");
    assert_eq!(check.errors().count(), 0, "{check:?}");
    let rows = tshark_fields(&path, "dcerpc", &["dcerpc.pkt_type", "dcerpc.cn_call_id"], &[]).unwrap();
    let types: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(types.first(), Some(&"11"), "bind first: {rows:?}");
    assert!(types.contains(&"12"), "bind_ack: {rows:?}");
    assert!(types.iter().filter(|t| **t == "0").count() >= 3, "requests: {rows:?}");
    let _ = std::fs::remove_file(path);
}

/// The client scripts' rpcecho code paths, against a throw-away unauthenticated echo server (impacket's
/// DCERPCServer, scripts/peers/echo_server.py): Samba has none.
#[test]
fn echo_client_paths_against_a_scratch_echo_server() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let p = p();
    let mut child = p
        .command(&p.python)
        .arg(p.scripts_dir.join("echo_server.py"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.split_whitespace().nth(2).unwrap_or_else(|| panic!("bad banner {line:?}")).to_owned();
    let binding = format!("ncacn_ip_tcp:127.0.0.1[{port}]");
    let samba = p.run_samba_client(&[&binding, "echo", "AddOne,EchoData,SinkData,SourceData,TestCall", "--anon"]);
    let imp = p.run_impacket_client(&["127.0.0.1", "echo", "--port", &port, "--level", "none", "--value", "7"]);
    let _ = child.kill();
    let _ = child.wait();
    let samba = samba.unwrap();
    assert!(samba.ok(), "{}", samba.json);
    let r = samba.result();
    assert_eq!(r["AddOne"]["out"], 42);
    assert_eq!(r["EchoData"]["out"], r["EchoData"]["in"]);
    assert_eq!(r["SourceData"]["out"], "000102030405060708090a0b0c0d0e0f");
    assert_eq!(r["TestCall"]["out"], "hello");
    let imp = imp.unwrap();
    assert!(imp.ok(), "{}", imp.json);
    assert_eq!(imp.result()["AddOne"]["out"], 8);
    assert_eq!(imp.result()["AddOne"]["response_stub"], "08000000");
    assert_eq!(imp.result()["EchoData"]["out"], imp.result()["EchoData"]["in"]);
}

//! pyspnego 0.12.4 (python3-gssapi over MIT krb5 for Kerberos, its own NTLM and SPNEGO) as an independent
//! peer: initiator against our acceptors and acceptor against our initiators, for NTLM (10), Kerberos (16)
//! and Negotiate (9), DCE style, with the DCE/RPC wrap (`wrap_iov` with sign-only header and trailer
//! buffers) and MIC tokens in both directions. The MIT KDC of `scripts/mitkdc.sh` issues the tickets.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use dcom_auth::kerberos::{KerberosClient, KerberosCredentials};
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials, NtlmServer, NtlmServerConfig};
use dcom_auth::spnego::{SpnegoClient, SpnegoClientConfig, SpnegoMech, SpnegoServer, SpnegoServerConfig};
use dcom_auth::{
    ClientContext, FrameLayout, InMemoryStore, Protection, ProtectionConfig, SecurityContext, ServerContext, Step,
};
use dcom_pdu::{AuthLevel, AuthType};
use serde_json::{Value, json};
use support::*;

const HOST: &str = "rpcsrv.mit.test";

/// A running pyspnego peer.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(role: &str, protocol: &str, extra: &[&str], env: &[(&str, String)]) -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pyspnego_peer.py");
        let kdc = kdc();
        let mut cmd = Command::new(python());
        cmd.arg(script).arg(role).arg(protocol).args(extra);
        cmd.env("KRB5_CONFIG", &kdc.krb5_config).env_remove("KRB5CCNAME").env_remove("KRB5_KTNAME");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdin, stdout }
    }

    fn call(&mut self, req: &Value) -> Value {
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad peer answer {line:?}: {e}"))
    }

    fn ok(&mut self, req: &Value) -> Value {
        let r = self.call(req);
        assert!(r.get("error").is_none(), "pyspnego {req}: {r}");
        r
    }

    fn step(&mut self, token: Option<&[u8]>) -> (Option<Vec<u8>>, bool) {
        let r = self.ok(&json!({"op": "step", "token": token.map(hex)}));
        (r["token"].as_str().map(unhex), r["complete"].as_bool().unwrap())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn ccache_env() -> Vec<(&'static str, String)> {
    let kdc = kdc();
    let path = kdc.kinit("pyspnego-alice", "alice", ALICE_PW, None);
    vec![("KRB5CCNAME", format!("FILE:{}", path.display()))]
}

fn keytab_env() -> Vec<(&'static str, String)> {
    vec![("KRB5_KTNAME", format!("FILE:{}", kdc().keytab_path().display()))]
}

fn ntlm_store() -> Arc<InMemoryStore> {
    let mut s = InMemoryStore::new();
    s.add_password(Some("MIT"), "alice", ALICE_PW);
    Arc::new(s)
}

fn ntlm_user_file_env() -> Vec<(&'static str, String)> {
    let path = kdc().dir.join("ntlm_users.txt");
    std::fs::write(&path, format!("MIT:alice:{ALICE_PW}\n")).unwrap();
    vec![("NTLM_USER_FILE", path.display().to_string())]
}

/// pyspnego initiator → our acceptor. Returns the number of tokens the peer sent.
fn peer_to_us(peer: &mut Peer, server: &mut dyn ServerContext) -> usize {
    let (mut token, _) = peer.step(None);
    let mut sent = 0;
    loop {
        let t = token.take().expect("the peer has a token for us");
        sent += 1;
        match server.step(&t).unwrap() {
            Step::Continue { token: reply } => {
                let (next, _) = peer.step(Some(&reply));
                token = next;
            }
            Step::Complete { token: reply } => {
                if let Some(reply) = reply {
                    let (next, complete) = peer.step(Some(&reply));
                    assert!(next.is_none(), "peer answered our final token");
                    assert!(complete, "peer not complete after our final token");
                }
                break;
            }
            Step::NeedsKdc(_) => panic!(),
        }
    }
    assert!(server.is_complete());
    assert!(peer.ok(&json!({"op": "info"}))["complete"].as_bool().unwrap(), "peer complete");
    sent
}

/// Our initiator → pyspnego acceptor.
fn us_to_peer(client: &mut dyn ClientContext, peer: &mut Peer) {
    let mut log = Vec::new();
    let mut step = client_step(client, None, &mut log).unwrap();
    loop {
        match step {
            Step::Continue { token } => {
                let (reply, _) = peer.step(Some(&token));
                let reply = reply.expect("the peer answers a continuing leg");
                step = client_step(client, Some(&reply), &mut log).unwrap();
            }
            Step::Complete { token } => {
                if let Some(token) = token {
                    let (reply, complete) = peer.step(Some(&token));
                    assert!(complete, "peer complete after our last token");
                    if let Some(reply) = reply {
                        assert!(matches!(client.step(Some(&reply)).unwrap(), Step::Complete { token: None }));
                    }
                }
                break;
            }
            Step::NeedsKdc(_) => unreachable!(),
        }
    }
    assert!(client.is_complete());
    assert!(peer.ok(&json!({"op": "info"}))["complete"].as_bool().unwrap());
}

/// The parts of a protected frame: header, body (stub + padding), sec_trailer, auth_value, body range.
struct Parts {
    header: Vec<u8>,
    body: Vec<u8>,
    trailer: Vec<u8>,
    signature: Vec<u8>,
    body_range: std::ops::Range<usize>,
}

fn parts(frame: &[u8]) -> Parts {
    let l = FrameLayout::of(frame).unwrap();
    let (t_off, _, a_off) = l.verifier.unwrap();
    Parts {
        header: frame[..l.stub_start].to_vec(),
        body: frame[l.stub_start..t_off].to_vec(),
        trailer: frame[t_off..a_off].to_vec(),
        signature: frame[a_off..].to_vec(),
        body_range: l.stub_start..t_off,
    }
}

/// Per-PDU protection between us (`ours`, sending `we_send_requests`) and the peer, three PDUs each way.
fn protect_with_peer(
    ours: &mut dyn SecurityContext,
    peer: &mut Peer,
    auth_type: AuthType,
    level: AuthLevel,
    header_sign: bool,
    we_are_client: bool,
    ntlm: bool,
) {
    let cfg = ProtectionConfig { auth_type, level, context_id: 0, header_sign };
    let mut prot = Protection::for_context(ours, cfg).unwrap();
    // NTLM covers header and trailer whatever the flag (MS-NLMP 3.4.6.1): pyspnego needs them as sign-only
    let py_sign_header = header_sign || ntlm;
    for i in 0..3u32 {
        let stub: Vec<u8> = (0..100 + 16 * i).map(|b| u8::try_from((b * 7 + i) % 256).unwrap()).collect();
        // ours → peer
        let mut f = frame(&prot, i + 1, &stub, !we_are_client);
        prot.protect_frame(&mut f).unwrap();
        let Parts { header: h, body: b, trailer: t, signature: sig, .. } = parts(&f);
        if level == AuthLevel::PKT_PRIVACY {
            let r = peer.ok(&json!({"op": "unwrap", "header": hex(&h), "body": hex(&b), "trailer": hex(&t),
                "sign_header": py_sign_header, "signature": hex(&sig)}));
            assert_eq!(&unhex(r["body"].as_str().unwrap())[..stub.len()], stub.as_slice(), "peer decrypts pdu {i}");
        } else {
            let data = if py_sign_header { [h.clone(), b.clone(), t.clone()].concat() } else { b.clone() };
            peer.ok(&json!({"op": "verify", "data": hex(&data), "signature": hex(&sig)}));
        }
        // peer → ours
        let mut f = frame(&prot, i + 1, &stub, we_are_client);
        let Parts { header: h, body: b, trailer: t, body_range, .. } = parts(&f);
        let sig = if level == AuthLevel::PKT_PRIVACY {
            let r = peer.ok(&json!({"op": "wrap", "header": hex(&h), "body": hex(&b), "trailer": hex(&t),
                "sign_header": py_sign_header}));
            let enc = unhex(r["body"].as_str().unwrap());
            assert_eq!(enc.len(), b.len());
            assert_ne!(enc, b, "the peer encrypted the body");
            f[body_range].copy_from_slice(&enc);
            unhex(r["signature"].as_str().unwrap())
        } else {
            let data = if py_sign_header { [h, b, t].concat() } else { b };
            unhex(peer.ok(&json!({"op": "sign", "data": hex(&data)}))["signature"].as_str().unwrap())
        };
        let n = f.len();
        assert_eq!(sig.len(), n - FrameLayout::of(&f).unwrap().verifier.unwrap().2, "peer signature length");
        f[n - sig.len()..].copy_from_slice(&sig);
        let opened = prot.unprotect_frame(&mut f).unwrap();
        assert_eq!(&f[opened.stub], stub.as_slice(), "we open the peer's pdu {i}");
    }
}

fn our_kerberos_client() -> KerberosClient {
    let kdc = kdc();
    let cfg = kdc.client_config(KerberosCredentials::Password {
        principal: "alice".into(),
        password: dcom_auth::Password::new(ALICE_PW),
    });
    KerberosClient::new(cfg, requirements(SPN)).unwrap()
}

#[test]
fn kerberos_peer_initiator_against_our_acceptor() {
    for (level, header_sign) in
        [(AuthLevel::PKT_PRIVACY, true), (AuthLevel::PKT_PRIVACY, false), (AuthLevel::PKT_INTEGRITY, true)]
    {
        let mut peer = Peer::spawn("client", "kerberos", &["--dce", "--hostname", HOST], &ccache_env());
        let mut server = kdc().server();
        let legs = peer_to_us(&mut peer, &mut server);
        assert_eq!(legs, 2, "AP-REQ and the DCE AP-REP");
        assert_eq!(server.identity().unwrap().principal, "alice@MIT.TEST");
        assert!(server.gss_flags() & dcom_auth::kerberos::gss_flags::DCE_STYLE != 0);
        let key = peer.ok(&json!({"op": "info"}))["session_key"].as_str().unwrap().to_owned();
        assert_eq!(unhex(&key), server.info().unwrap().session_key.expose(), "same session key");
        protect_with_peer(&mut server, &mut peer, AuthType::KERBEROS, level, header_sign, false, false);
    }
}

#[test]
fn kerberos_our_initiator_against_peer_acceptor() {
    for (level, header_sign) in
        [(AuthLevel::PKT_PRIVACY, true), (AuthLevel::PKT_PRIVACY, false), (AuthLevel::PKT_INTEGRITY, true)]
    {
        let mut peer = Peer::spawn("server", "kerberos", &["--dce", "--hostname", HOST], &keytab_env());
        let mut client = our_kerberos_client();
        us_to_peer(&mut client, &mut peer);
        let info = peer.ok(&json!({"op": "info"}));
        assert_eq!(info["client_principal"].as_str(), Some("alice@MIT.TEST"));
        assert_eq!(unhex(info["session_key"].as_str().unwrap()), client.info().unwrap().session_key.expose());
        protect_with_peer(&mut client, &mut peer, AuthType::KERBEROS, level, header_sign, true, false);
    }
}

#[test]
fn ntlm_both_directions() {
    // pyspnego initiator → our NTLM acceptor
    let mut peer = Peer::spawn("client", "ntlm", &["--user", "MIT\\alice", "--password", ALICE_PW], &[]);
    let mut server = NtlmServer::new(NtlmServerConfig::new(ntlm_store())).unwrap();
    assert_eq!(peer_to_us(&mut peer, &mut server), 2);
    assert_eq!(server.identity().unwrap().principal, "MIT\\alice");
    protect_with_peer(&mut server, &mut peer, AuthType::WINNT, AuthLevel::PKT_PRIVACY, true, false, true);
    let mut peer = Peer::spawn("client", "ntlm", &["--user", "MIT\\alice", "--password", ALICE_PW], &[]);
    let mut server = NtlmServer::new(NtlmServerConfig::new(ntlm_store())).unwrap();
    peer_to_us(&mut peer, &mut server);
    protect_with_peer(&mut server, &mut peer, AuthType::WINNT, AuthLevel::PKT_INTEGRITY, true, false, true);
    // our NTLM initiator → pyspnego acceptor
    for level in [AuthLevel::PKT_PRIVACY, AuthLevel::PKT_INTEGRITY] {
        let mut peer = Peer::spawn("server", "ntlm", &[], &ntlm_user_file_env());
        let mut client =
            NtlmClient::new(&NtlmClientCredentials::with_password("MIT", "alice", ALICE_PW), requirements("")).unwrap();
        us_to_peer(&mut client, &mut peer);
        assert_eq!(peer.ok(&json!({"op": "info"}))["client_principal"].as_str(), Some("MIT\\alice"));
        protect_with_peer(&mut client, &mut peer, AuthType::WINNT, level, true, true, true);
    }
}

fn spnego_server() -> SpnegoServer {
    SpnegoServer::new(SpnegoServerConfig {
        kerberos: Some(dcom_auth::kerberos::KerberosServerConfig::new(kdc().keytab())),
        ntlm: Some(NtlmServerConfig::new(ntlm_store())),
    })
    .unwrap()
}

#[test]
fn negotiate_peer_initiator_against_our_acceptor() {
    // Kerberos inside (pyspnego sends the mechListMIC in DCE style; we verify it and answer with ours)
    for level in [AuthLevel::PKT_PRIVACY, AuthLevel::PKT_INTEGRITY] {
        let mut peer = Peer::spawn("client", "negotiate", &["--dce", "--hostname", HOST], &ccache_env());
        let mut server = spnego_server();
        peer_to_us(&mut peer, &mut server);
        assert_eq!(server.mech(), Some(SpnegoMech::Kerberos));
        assert!(server.client_mic_verified());
        assert_eq!(server.identity().unwrap().principal, "alice@MIT.TEST");
        protect_with_peer(&mut server, &mut peer, AuthType::SPNEGO, level, true, false, false);
    }
    // NTLM inside: no Kerberos credentials on the peer side
    let mut peer = Peer::spawn(
        "client",
        "negotiate",
        &["--dce", "--hostname", HOST, "--user", "MIT\\alice", "--password", ALICE_PW],
        &[("KRB5CCNAME", "FILE:/nonexistent".to_owned())],
    );
    let mut server = spnego_server();
    peer_to_us(&mut peer, &mut server);
    assert_eq!(server.mech(), Some(SpnegoMech::Ntlm));
    assert!(server.client_mic_verified());
    assert_eq!(server.identity().unwrap().principal, "MIT\\alice");
    protect_with_peer(&mut server, &mut peer, AuthType::SPNEGO, AuthLevel::PKT_PRIVACY, true, false, true);
}

#[test]
fn negotiate_our_initiator_against_peer_acceptor() {
    let kdc = kdc();
    // Kerberos inside
    for level in [AuthLevel::PKT_PRIVACY, AuthLevel::PKT_INTEGRITY] {
        let mut peer = Peer::spawn("server", "negotiate", &["--dce", "--hostname", HOST], &keytab_env());
        let krb = kdc.client_config(KerberosCredentials::Password {
            principal: "alice".into(),
            password: dcom_auth::Password::new(ALICE_PW),
        });
        let mut client = SpnegoClient::new(SpnegoClientConfig::new(Some(krb), None), requirements(SPN)).unwrap();
        us_to_peer(&mut client, &mut peer);
        assert_eq!(client.mech(), Some(SpnegoMech::Kerberos));
        let info = peer.ok(&json!({"op": "info"}));
        assert_eq!(info["protocol"].as_str(), Some("kerberos"));
        protect_with_peer(&mut client, &mut peer, AuthType::SPNEGO, level, true, true, false);
    }
    // NTLM inside
    let mut peer = Peer::spawn("server", "negotiate", &["--dce", "--hostname", HOST], &ntlm_user_file_env());
    let ntlm = NtlmClientCredentials::with_password("MIT", "alice", ALICE_PW);
    let mut cfg = SpnegoClientConfig::new(None, Some(ntlm));
    cfg.mechs = vec![SpnegoMech::Ntlm];
    let mut client = SpnegoClient::new(cfg, requirements(SPN)).unwrap();
    us_to_peer(&mut client, &mut peer);
    assert_eq!(peer.ok(&json!({"op": "info"}))["protocol"].as_str(), Some("ntlm"));
    protect_with_peer(&mut client, &mut peer, AuthType::SPNEGO, AuthLevel::PKT_PRIVACY, true, true, true);
}

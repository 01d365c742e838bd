//! Kerberos (auth type 16) against a real MIT KDC started by `scripts/mitkdc.sh`: our client (password,
//! keytab and `kinit` ccache credentials; TCP and UDP; AES256 and AES128) with our server (service keys
//! exported by kadmin.local ktadd), per-PDU protection at integrity and privacy, impersonation levels, and
//! the security regressions, each with its own error kind.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod support;

use std::sync::Arc;

use dcom_auth::kerberos::keytab::{self, Keytab, KeytabEntry};
use dcom_auth::kerberos::{
    EncType, KerberosClient, KerberosCredentials, KerberosKey, KerberosServer, KerberosServerConfig, OffsetClock,
    PrincipalNameParts, gss_flags,
};
use dcom_auth::{
    AuthErrorKind, AuthnProof, ClientContext, ImpersonationLevel, KdcTransport, SecurityContext, ServerContext, Step,
};
use dcom_pdu::{AuthLevel, AuthType};
use support::*;

fn server_with(tweak: impl FnOnce(&mut KerberosServerConfig)) -> KerberosServer {
    let mut cfg = KerberosServerConfig::new(kdc().keytab());
    tweak(&mut cfg);
    KerberosServer::new(cfg)
}

/// Runs the handshake and returns the server's error kind.
fn server_error(c: &mut dyn ClientContext, s: &mut dyn ServerContext) -> AuthErrorKind {
    match handshake(c, s) {
        Err((false, e)) => e.kind().clone(),
        Err((true, e)) => panic!("client failed instead: {e}"),
        Ok(_) => panic!("handshake succeeded"),
    }
}

fn client_error(c: &mut dyn ClientContext, s: &mut dyn ServerContext) -> AuthErrorKind {
    match handshake(c, s) {
        Err((true, e)) => e.kind().clone(),
        Err((false, e)) => panic!("server failed instead: {e}"),
        Ok(_) => panic!("handshake succeeded"),
    }
}

#[test]
fn password_client_with_our_server() {
    let kdc = kdc();
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = kdc.server();
    let t = handshake(&mut c, &mut s).unwrap();
    assert!(c.is_complete() && s.is_complete());
    let id = s.identity().unwrap();
    assert_eq!((id.account.as_str(), id.domain.as_str(), id.principal.as_str()), ("alice", REALM, "alice@MIT.TEST"));
    assert_eq!((id.provider, &id.proof, id.anonymous), (AuthType::KERBEROS, &AuthnProof::KerberosTicket, false));
    assert_eq!(s.service_principal(), Some("host/rpcsrv.mit.test@MIT.TEST"));
    // DCE style: AP-REQ, AP-REP, AP-REP, all raw (no RFC 4121 framing)
    assert_eq!(t.client_tokens.len(), 2);
    assert_eq!(t.server_tokens.len(), 1);
    assert_eq!(t.client_tokens[0][0], 0x6e);
    assert_eq!((t.server_tokens[0][0], t.client_tokens[1][0]), (0x6f, 0x6f));
    // AS-REQ, AS-REQ with PA-ENC-TIMESTAMP after PREAUTH_REQUIRED, TGS-REQ; udp_preference_limit = 0 → TCP
    assert_eq!(t.kdc.len(), 3);
    assert!(t.kdc.iter().all(|r| r.transport == KdcTransport::Tcp && r.url == "tcp://127.0.0.30:88"));
    let (ci, si) = (c.info().unwrap(), s.info().unwrap());
    assert!(ci.mutual_auth && si.mutual_auth);
    assert_eq!(ci.session_key, si.session_key, "both sides protect with the acceptor subkey");
    assert_eq!(ci.session_key.len(), 32, "aes256 by default");
    assert_eq!(ci.flags, 0x103e, "mutual|replay|sequence|conf|integ|dce-style");
    assert_eq!(si.flags, 0x103e);
    assert_eq!(s.requested().unwrap().impersonation, ImpersonationLevel::Impersonate);
    assert!(s.requested().unwrap().mutual_auth);
}

#[test]
fn explicit_kdc_over_udp_and_tcp() {
    let kdc = kdc();
    for (spec, transport) in [("udp/127.0.0.30:88", KdcTransport::Udp), ("tcp/127.0.0.30", KdcTransport::Tcp)] {
        let mut c = kdc.password_client_with("alice", ALICE_PW, requirements(SPN), &|cfg| {
            cfg.profile = None;
            cfg.realm = Some(REALM.to_owned());
            cfg.kdc = Some(explicit_kdc(spec));
        });
        let mut s = kdc.server();
        let t = handshake(&mut c, &mut s).unwrap();
        assert!(t.kdc.iter().all(|r| r.transport == transport), "{spec}: {:?}", t.kdc);
        assert!(!t.kdc.is_empty());
    }
    // the profile's default udp_preference_limit (1465): small requests go over UDP
    let mut c = kdc.password_client_with("alice", ALICE_PW, requirements(SPN), &|cfg| {
        let mut p = kdc.profile.clone();
        p.udp_preference_limit = dcom_auth::kerberos::DEFAULT_UDP_PREFERENCE_LIMIT;
        cfg.profile = Some(p);
    });
    let t = handshake(&mut c, &mut kdc.server()).unwrap();
    assert_eq!(t.kdc[0].transport, KdcTransport::Udp);
    // no kdc anywhere
    let mut c = kdc.password_client_with("alice", ALICE_PW, requirements(SPN), &|cfg| {
        cfg.profile = None;
        cfg.realm = Some(REALM.to_owned());
    });
    assert_eq!(c.step(None).unwrap_err().kind(), &AuthErrorKind::NoKdc);
}

#[test]
fn aes128_and_aes256_session_keys_at_every_level() {
    let kdc = kdc();
    for (spn, enctypes, key_len) in [
        (SPN, vec![EncType::AES256_CTS_HMAC_SHA1_96], 32),
        (SPN, vec![EncType::AES128_CTS_HMAC_SHA1_96], 16),
        (AES128_SPN, vec![EncType::AES128_CTS_HMAC_SHA1_96, EncType::AES256_CTS_HMAC_SHA1_96], 16),
        (RPCSS_SPN, vec![EncType::AES256_CTS_HMAC_SHA1_96, EncType::AES128_CTS_HMAC_SHA1_96], 32),
    ] {
        for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
            for header_sign in [true, false] {
                let mut c = kdc.password_client_with("alice", ALICE_PW, requirements(spn), &|cfg| {
                    cfg.enctypes.clone_from(&enctypes);
                });
                let mut s = kdc.server();
                handshake(&mut c, &mut s).unwrap();
                assert_eq!(c.info().unwrap().session_key.len(), key_len, "{spn} {enctypes:?}");
                exchange_pdus(&mut c, &mut s, AuthType::KERBEROS, level, header_sign);
            }
        }
    }
}

#[test]
fn keytab_client_credentials() {
    let kdc = kdc();
    let kt = Keytab::load(kdc.dir.join("alice.keytab")).unwrap();
    let cfg = kdc.client_config(KerberosCredentials::Keytab { principal: "alice".into(), keytab: kt });
    let mut c = KerberosClient::new(cfg, requirements(SPN)).unwrap();
    let mut s = kdc.server();
    let t = handshake(&mut c, &mut s).unwrap();
    assert_eq!(t.kdc.len(), 3);
    assert_eq!(s.identity().unwrap().principal, "alice@MIT.TEST");
    exchange_pdus(&mut c, &mut s, AuthType::KERBEROS, AuthLevel::PKT_PRIVACY, true);
    // a keytab without the principal
    let kt = Keytab::load(kdc.keytab_path()).unwrap();
    let cfg = kdc.client_config(KerberosCredentials::Keytab { principal: "alice".into(), keytab: kt });
    assert_eq!(KerberosClient::new(cfg, requirements(SPN)).unwrap_err().kind(), &AuthErrorKind::UnknownUser);
}

#[test]
fn ccache_client_credentials_from_kinit() {
    let kdc = kdc();
    // the TGT of `kinit` (AES128 session key: the TGS-REQ checksum is hmac-sha1-96-aes128)
    for (name, etypes) in [("alice-aes256", None), ("alice-aes128", Some("aes128-cts-hmac-sha1-96"))] {
        let path = kdc.kinit(name, "alice", ALICE_PW, etypes);
        let cc = ccache(&path);
        assert_eq!(cc.version, 4);
        assert_eq!(cc.default_principal.display_name(), "alice@MIT.TEST");
        let tgt = cc.tgt(REALM).unwrap();
        let want = if etypes.is_none() { 32 } else { 16 };
        assert_eq!(tgt.key.expose().len(), want);
        let cfg = kdc.client_config(KerberosCredentials::Ccache(cc));
        let mut c = KerberosClient::new(cfg, requirements(SPN)).unwrap();
        let mut s = kdc.server();
        let t = handshake(&mut c, &mut s).unwrap();
        assert_eq!(t.kdc.len(), 1, "only the TGS-REQ");
        assert_eq!(s.identity().unwrap().principal, "alice@MIT.TEST");
        exchange_pdus(&mut c, &mut s, AuthType::KERBEROS, AuthLevel::PKT_INTEGRITY, true);
    }
    // a cached service ticket (kvno) is used directly, no KDC at all
    let path = kdc.kinit("alice-svc", "alice", ALICE_PW, None);
    kdc.kvno(&path, SPN);
    let cc = ccache(&path);
    assert!(cc.credentials.iter().any(|c| c.is_config()), "MIT writes configuration entries too");
    let cfg = kdc.client_config(KerberosCredentials::Ccache(cc));
    let mut c = KerberosClient::new(cfg, requirements(SPN)).unwrap();
    let t = handshake(&mut c, &mut kdc.server()).unwrap();
    assert!(t.kdc.is_empty());
}

#[test]
fn impersonation_levels_reach_the_server() {
    let kdc = kdc();
    for (level, flag, want) in [
        (ImpersonationLevel::Identify, gss_flags::IDENTIFY, ImpersonationLevel::Identify),
        (ImpersonationLevel::Impersonate, 0, ImpersonationLevel::Impersonate),
        (ImpersonationLevel::Delegate, gss_flags::DELEG, ImpersonationLevel::Delegate),
    ] {
        let mut req = requirements(SPN);
        req.impersonation = level;
        let mut c = kdc.password_client_with("alice", ALICE_PW, req, &|_| {});
        let mut s = kdc.server();
        let t = handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.requested().unwrap().impersonation, want);
        assert_eq!(s.gss_flags() & (gss_flags::IDENTIFY | gss_flags::DELEG), flag);
        if level == ImpersonationLevel::Delegate {
            // a forwarded TGT was fetched (4th KDC exchange) and travels as KRB-CRED [APPLICATION 22]
            assert_eq!(t.kdc.len(), 4);
            assert_eq!(s.delegated_credential().unwrap()[0], 0x76);
        } else {
            assert!(s.delegated_credential().is_none());
        }
    }
    let mut req = requirements(SPN);
    req.impersonation = ImpersonationLevel::Anonymous;
    let cfg = kdc.client_config(KerberosCredentials::Password {
        principal: "alice".into(),
        password: dcom_auth::Password::new(ALICE_PW),
    });
    assert_eq!(KerberosClient::new(cfg, req).unwrap_err().kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn kdc_refusals_have_their_own_kinds() {
    let kdc = kdc();
    let mut c = kdc.password_client("alice", "not the password", SPN);
    assert_eq!(client_error(&mut c, &mut kdc.server()), AuthErrorKind::LogonDenied, "wrong password");
    let mut c = kdc.password_client("mallory", "whatever", SPN);
    assert_eq!(client_error(&mut c, &mut kdc.server()), AuthErrorKind::UnknownUser, "unknown user");
    let mut c = kdc.password_client("alice", ALICE_PW, "host/nowhere.mit.test");
    assert_eq!(client_error(&mut c, &mut kdc.server()), AuthErrorKind::UnknownPrincipal, "unknown service");
    // a ccache whose TGT expired (the client's clock is 11 hours ahead)
    let path = kdc.kinit("alice-expired", "alice", ALICE_PW, None);
    let mut cfg = kdc.client_config(KerberosCredentials::Ccache(ccache(&path)));
    cfg.clock = Arc::new(OffsetClock(11 * 3600));
    let mut c = KerberosClient::new(cfg, requirements(SPN)).unwrap();
    assert_eq!(c.step(None).unwrap_err().kind(), &AuthErrorKind::TicketExpired);
}

#[test]
fn acceptor_refusals_have_their_own_kinds() {
    let kdc = kdc();
    // expired ticket: host/short lives 10 s; the server's clock is 400 s ahead (skew 300)
    let mut c = kdc.password_client("alice", ALICE_PW, SHORT_SPN);
    let mut s = server_with(|cfg| cfg.clock = Arc::new(OffsetClock(400)));
    assert_eq!(server_error(&mut c, &mut s), AuthErrorKind::TicketExpired);
    // not yet valid: the server's clock is an hour behind
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = server_with(|cfg| cfg.clock = Arc::new(OffsetClock(-3600)));
    assert_eq!(server_error(&mut c, &mut s), AuthErrorKind::TicketNotYetValid);
    // clock skew: 10 minutes ahead with the default 5 minutes allowed; accepted with a 15 minute allowance
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = server_with(|cfg| cfg.clock = Arc::new(OffsetClock(600)));
    assert_eq!(server_error(&mut c, &mut s), AuthErrorKind::ClockSkew);
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = server_with(|cfg| {
        cfg.clock = Arc::new(OffsetClock(600));
        cfg.max_skew_secs = 900;
    });
    handshake(&mut c, &mut s).unwrap();
    // wrong service key: a keytab with the right principal, kvno and enctypes but other keys
    let good = Keytab::load(kdc.keytab_path()).unwrap();
    let bad: Vec<KeytabEntry> = good
        .entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let len = e.key.expose().len();
            e.key = KerberosKey::new(e.key.enctype(), &vec![0x5a; len]).unwrap();
            e
        })
        .collect();
    let bad = Keytab::parse(&keytab::encode_v2(&bad)).unwrap();
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = KerberosServer::new(KerberosServerConfig::new(Arc::new(bad)));
    assert_eq!(server_error(&mut c, &mut s), AuthErrorKind::WrongServiceKey);
    // unknown principal: we only serve RPCSS/
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s =
        server_with(|cfg| cfg.accepted_principals = vec![PrincipalNameParts::parse("RPCSS/rpcsrv.mit.test").unwrap()]);
    assert_eq!(server_error(&mut c, &mut s), AuthErrorKind::UnknownPrincipal);
    let mut c = kdc.password_client("alice", ALICE_PW, RPCSS_SPN);
    let mut s =
        server_with(|cfg| cfg.accepted_principals = vec![PrincipalNameParts::parse("RPCSS/rpcsrv.mit.test").unwrap()]);
    handshake(&mut c, &mut s).unwrap();
}

#[test]
fn replayed_ap_req_is_refused() {
    let kdc = kdc();
    let cfg = KerberosServerConfig::new(kdc.keytab());
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut log = Vec::new();
    let Step::Continue { token: ap_req } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    let mut s1 = KerberosServer::new(cfg.clone());
    assert!(matches!(s1.step(&ap_req).unwrap(), Step::Continue { .. }));
    let mut s2 = KerberosServer::new(cfg.clone());
    assert_eq!(s2.step(&ap_req).unwrap_err().kind(), &AuthErrorKind::AuthenticatorReplay);
    assert_eq!(cfg.replay_cache.len(), 1);
    // a server with its own cache takes it (the cache is what detects replays)
    let mut s3 = kdc.server();
    assert!(s3.step(&ap_req).is_ok());
}

#[test]
fn tampered_handshake_tokens_fail_mutual_authentication() {
    let kdc = kdc();
    // the acceptor's AP-REP altered: the client's mutual authentication fails
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = kdc.server();
    let mut log = Vec::new();
    let Step::Continue { token: ap_req } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    let Step::Continue { token: mut ap_rep } = s.step(&ap_req).unwrap() else { panic!() };
    let n = ap_rep.len();
    ap_rep[n - 3] ^= 1;
    assert_eq!(c.step(Some(&ap_rep)).unwrap_err().kind(), &AuthErrorKind::MutualAuthFailed);
    // the client's DCE AP-REP altered: the acceptor refuses it
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut s = kdc.server();
    let Step::Continue { token: ap_req } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    let Step::Continue { token: ap_rep } = s.step(&ap_req).unwrap() else { panic!() };
    let Step::Complete { token: Some(mut dce) } = c.step(Some(&ap_rep)).unwrap() else { panic!() };
    let n = dce.len();
    dce[n - 2] ^= 1;
    assert_eq!(s.step(&dce).unwrap_err().kind(), &AuthErrorKind::MutualAuthFailed);
    assert!(!s.is_complete() && s.identity().is_none());
    // out of sequence
    assert_eq!(s.step(&dce).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
}

#[test]
fn hostile_tokens_never_panic() {
    let kdc = kdc();
    let mut c = kdc.password_client("alice", ALICE_PW, SPN);
    let mut log = Vec::new();
    let Step::Continue { token: ap_req } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    for i in 0..ap_req.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut t = ap_req.clone();
            t[i] ^= mask;
            let mut s = kdc.server();
            let _ = s.step(&t);
            let _ = s.step(&t[..i]);
        }
    }
}

#[derive(Clone, Default)]
struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// No password, long-term key, service key or session key in TRACE output, errors or `Debug` (Kerberos and
/// SPNEGO; the NTLM counterpart is `tests/auth/trace.rs`).
#[test]
fn secrets_never_reach_trace_output() {
    use dcom_auth::spnego::{SpnegoClient, SpnegoClientConfig, SpnegoMech, SpnegoServer, SpnegoServerConfig};
    let kdc = kdc();
    let ccache_path = kdc.kinit("trace-alice", "alice", ALICE_PW, None);
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let (keys, text) = tracing::subscriber::with_default(subscriber, || {
        tracing::trace!("capture started");
        let mut keys = Vec::new();
        let mut text = String::new();
        // password, keytab and ccache clients with our server, PDUs at privacy
        let kt = Keytab::load(kdc.dir.join("alice.keytab")).unwrap();
        keys.extend(kt.keys().map(|k| k.expose().to_vec()));
        let cc = ccache(&ccache_path);
        keys.extend(cc.credentials.iter().map(|c| c.key.expose().to_vec()).filter(|k| !k.is_empty()));
        for creds in [
            KerberosCredentials::Password { principal: "alice".into(), password: dcom_auth::Password::new(ALICE_PW) },
            KerberosCredentials::Keytab { principal: "alice".into(), keytab: kt },
            KerberosCredentials::Ccache(cc),
        ] {
            let mut c = KerberosClient::new(kdc.client_config(creds), requirements(SPN)).unwrap();
            let mut s = kdc.server();
            handshake(&mut c, &mut s).unwrap();
            keys.push(c.info().unwrap().session_key.expose().to_vec());
            text.push_str(&format!("{c:?} {s:?} {:?}", c.info()));
            exchange_pdus(&mut c, &mut s, AuthType::KERBEROS, AuthLevel::PKT_PRIVACY, true);
        }
        // SPNEGO with Kerberos
        let krb = kdc.client_config(KerberosCredentials::Password {
            principal: "alice".into(),
            password: dcom_auth::Password::new(ALICE_PW),
        });
        let mut cfg = SpnegoClientConfig::new(Some(krb), None);
        cfg.mechs = vec![SpnegoMech::Kerberos];
        let mut c = SpnegoClient::new(cfg, requirements(SPN)).unwrap();
        let mut s = SpnegoServer::new(SpnegoServerConfig {
            kerberos: Some(KerberosServerConfig::new(kdc.keytab())),
            ntlm: None,
        })
        .unwrap();
        handshake(&mut c, &mut s).unwrap();
        keys.push(c.info().unwrap().session_key.expose().to_vec());
        text.push_str(&format!("{c:?} {s:?}"));
        // failures: wrong password, wrong service key
        let mut bad = kdc.password_client("alice", "Wr0ng!Secret", SPN);
        let (_, e) = handshake(&mut bad, &mut kdc.server()).unwrap_err();
        text.push_str(&format!("{e} {e:?} {bad:?}"));
        keys.extend(kdc.keytab().keys().map(|k| k.expose().to_vec()));
        (keys, text)
    });
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("capture started") && out.contains("kerberos client context complete"), "captured");
    assert!(keys.len() >= 10);
    for haystack in [&out, &text] {
        for needle in [ALICE_PW.to_owned(), "Wr0ng!Secret".to_owned()] {
            assert!(!haystack.contains(&needle), "password leaked");
        }
        for k in &keys {
            for needle in [hex(k), hex(k).to_uppercase(), format!("{k:?}"), format!("{:?}", &k[..8])] {
                assert!(!haystack.contains(&needle), "key material {needle} leaked");
            }
        }
    }
}

use std::sync::Arc;
use std::time::Duration;

use dcom_auth::{
    AuthErrorKind, AuthnProof, ClientContext, ClientRequirements, ImpersonationLevel, SecurityContext, ServerContext,
    Step,
};
use dcom_pdu::{AuthLevel, AuthType};
use dcom_schannel::rustls::pki_types::UnixTime;
use dcom_schannel::{
    ClientCertPolicy, ClientOptions, FixedTime, SchannelClient, SchannelClientConfig, SchannelServer,
    SchannelServerConfig, ServerOptions, SubjectCnMapper, TlsVersions, UpnMapper,
};

use super::*;

fn alice_client(versions: TlsVersions) -> SchannelClient {
    client(&client_config(Some(&pki().alice), versions))
}

#[test]
fn tls13_handshake_is_four_legs_with_an_empty_last_one() {
    let mut c = alice_client(TlsVersions::Tls13Only);
    let mut s = server(&server_config(TlsVersions::Tls13Only));
    let legs = run_handshake(&mut c, &mut s).unwrap();
    // bind (ClientHello), bind_ack (server flight), alter_context (client flight), alter_context_resp (empty)
    assert_eq!(legs.len(), 4, "{:?}", legs.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(legs[..3].iter().all(|l| !l.is_empty()));
    assert!(legs[3].is_empty());
    let ci = c.info().unwrap();
    let si = s.info().unwrap();
    assert_eq!(ci.auth_type, AuthType::GSS_SCHANNEL);
    assert_eq!(ci.flags, 0x0304_1302, "tls 1.3, TLS13_AES_256_GCM_SHA384");
    assert_eq!(ci.flags, si.flags);
    assert!(ci.mutual_auth, "the client verified the server");
    assert!(si.mutual_auth, "the server verified the client certificate");
    // 4 (seq) + 5 (record header) + 32 (binding) + 1 (inner type) + 16 (tag)
    assert_eq!(ci.sizes.signature_len, 58);
    assert_eq!(si.sizes, ci.sizes);
    assert_eq!(ci.sizes.pad_align, 16);
    assert!(ci.session_key.is_empty());
    let id = s.identity().unwrap();
    assert_eq!(id.principal, "EXAMPLE\\alice");
    assert_eq!((id.account.as_str(), id.domain.as_str()), ("alice", "EXAMPLE"));
    assert_eq!(id.provider, AuthType::GSS_SCHANNEL);
    assert!(!id.anonymous);
    assert_eq!(id.proof, AuthnProof::Anonymous, "dcom-auth has no certificate proof yet: fail closed");
    let req = s.requested().unwrap();
    assert_eq!(req.impersonation, ImpersonationLevel::Identify);
    assert!(req.mutual_auth);
    assert_eq!(s.peer_certificate().unwrap().sha256, pki().alice.sha256());
    assert!(c.offers_certificate());
}

#[test]
fn tls12_handshake_is_four_legs_ending_with_the_server_finished() {
    let mut c = alice_client(TlsVersions::Tls12Only);
    let mut s = server(&server_config(TlsVersions::Tls12Only));
    let legs = run_handshake(&mut c, &mut s).unwrap();
    assert_eq!(legs.len(), 4);
    assert!(legs.iter().all(|l| !l.is_empty()), "tls 1.2: the server's ChangeCipherSpec/Finished is leg 4");
    let ci = c.info().unwrap();
    assert_eq!(ci.flags >> 16, 0x0303);
    // ECDSA certificates: TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xc02c) is rustls's first choice
    assert_eq!(ci.flags & 0xffff, 0xc02c);
    // 4 + 5 + 8 (explicit nonce) + 32 + 16
    assert_eq!(ci.sizes.signature_len, 65);
    assert_eq!(s.identity().unwrap().principal, "EXAMPLE\\alice");
}

#[test]
fn default_versions_negotiate_tls13_and_fall_back_to_tls12() {
    let (c, _) = pair(TlsVersions::default());
    assert_eq!(c.info().unwrap().flags >> 16, 0x0304);
    let mut c = alice_client(TlsVersions::Tls12Only);
    let mut s = server(&server_config(TlsVersions::default()));
    run_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.info().unwrap().flags >> 16, 0x0303);
}

#[test]
fn disjoint_versions_fail() {
    let mut c = alice_client(TlsVersions::Tls12Only);
    let mut s = server(&server_config(TlsVersions::Tls13Only));
    let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(e.kind(), &AuthErrorKind::InvalidToken);
}

#[test]
fn missing_client_certificate_is_rejected_when_required() {
    for v in VERSIONS {
        let mut c = client(&client_config(None, v));
        let mut s = server(&server_config(v));
        let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
        assert_eq!(side, Side::Server, "{v:?}");
        assert_eq!(e.kind(), &AuthErrorKind::LogonDenied, "{v:?}: {e}");
        assert!(e.detail().unwrap().contains("no certificate"), "{e}");
        assert!(!s.is_complete());
        assert!(s.identity().is_none());
        // a failed context stays failed
        assert_eq!(s.step(b"\x16\x03\x03\x00\x01\x00").unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    }
}

#[test]
fn untrusted_client_certificate_is_rejected() {
    for v in VERSIONS {
        let mut c = client(&client_config(Some(&pki().rogue), v));
        let mut s = server(&server_config(v));
        let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
        assert_eq!(side, Side::Server);
        assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
        assert!(e.detail().unwrap().contains("UnknownIssuer"), "{e}");
    }
}

#[test]
fn expired_client_certificate_is_rejected_at_the_servers_clock() {
    // the server's clock is an input: in the year 5000 the test certificates (valid to 4096) have expired
    let mut o = ServerOptions::new(
        pki().server.certified_key(),
        ClientCertPolicy::Required(vec![pki().ca.cert().clone()]),
        Arc::new(SubjectCnMapper::new(None)),
    );
    o.sans_io.time = Some(Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(95_617_584_000)))));
    let cfg = SchannelServerConfig::new(o).unwrap();
    let mut c = alice_client(TlsVersions::default());
    let mut s = server(&cfg);
    let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
    assert!(e.detail().unwrap().contains("Expired"), "{e}");
}

#[test]
fn optional_policy_maps_a_certificate_and_accepts_none_as_anonymous() {
    let cfg = server_config_with(
        ClientCertPolicy::Optional(vec![pki().ca.cert().clone()]),
        Arc::new(UpnMapper::new()),
        TlsVersions::default(),
    );
    let mut c = alice_client(TlsVersions::default());
    let mut s = server(&cfg);
    run_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.identity().unwrap().principal, "alice@example.com");

    let mut c = client(&client_config(None, TlsVersions::default()));
    let mut s = server(&cfg);
    run_handshake(&mut c, &mut s).unwrap();
    let id = s.identity().unwrap();
    assert!(id.anonymous);
    assert_eq!(id.provider, AuthType::GSS_SCHANNEL);
    assert_eq!(s.requested().unwrap().impersonation, ImpersonationLevel::Anonymous);
    assert!(!s.info().unwrap().mutual_auth, "no client certificate: the client is not authenticated");
    assert!(c.info().unwrap().mutual_auth);

    // a certificate from an unknown CA is still refused under the optional policy
    let mut c = client(&client_config(Some(&pki().rogue), TlsVersions::default()));
    let mut s = server(&cfg);
    let (_, e) = run_handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
}

#[test]
fn no_client_auth_policy_gives_anonymous_even_with_a_client_certificate() {
    let cfg = server_config_with(ClientCertPolicy::None, Arc::new(UpnMapper::new()), TlsVersions::default());
    for v in VERSIONS {
        let mut c = alice_client(v);
        let mut s = server(&cfg);
        run_handshake(&mut c, &mut s).unwrap();
        assert!(s.identity().unwrap().anonymous);
        assert!(s.peer_certificate().is_none());
    }
}

#[test]
fn anonymous_impersonation_sends_no_certificate_and_delegation_is_refused() {
    let cc = client_config(Some(&pki().alice), TlsVersions::default());
    let req = ClientRequirements { impersonation: ImpersonationLevel::Anonymous, ..requirements() };
    let mut c = SchannelClient::new(&cc, &req, AuthLevel::PKT_PRIVACY).unwrap();
    assert!(!c.offers_certificate());
    let mut s = server(&server_config(TlsVersions::default()));
    let (_, e) = run_handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied, "required policy, no certificate: {e}");

    let req = ClientRequirements { impersonation: ImpersonationLevel::Delegate, ..requirements() };
    let e = SchannelClient::new(&cc, &req, AuthLevel::PKT_PRIVACY).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn wrong_server_name_is_rejected_by_the_client() {
    for v in VERSIONS {
        let mut o = ClientOptions::new(vec![pki().ca.cert().clone()], Some(pki().alice.certified_key()));
        o.versions = v;
        o.server_name = Some("other.example.com".into());
        let cc = SchannelClientConfig::new(o).unwrap();
        let mut c = client(&cc);
        let mut s = server(&server_config(v));
        let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
        assert_eq!(side, Side::Client);
        assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
        assert!(e.detail().unwrap().contains("NotValidForName"), "{e}");
        assert!(!c.is_complete());
    }
    // the target name also names the server: localhost and the loopback address are in the test certificate
    let cc = client_config(Some(&pki().alice), TlsVersions::default());
    for target in ["host/localhost", "RPCSS/127.0.0.1", "127.0.0.1"] {
        let req = ClientRequirements { target_name: target.into(), ..ClientRequirements::default() };
        let mut c = SchannelClient::new(&cc, &req, AuthLevel::PKT_PRIVACY).unwrap();
        let mut s = server(&server_config(TlsVersions::default()));
        run_handshake(&mut c, &mut s).unwrap();
    }
    let req = ClientRequirements { target_name: "host/elsewhere.example.org".into(), ..ClientRequirements::default() };
    let mut c = SchannelClient::new(&cc, &req, AuthLevel::PKT_PRIVACY).unwrap();
    let mut s = server(&server_config(TlsVersions::default()));
    assert_eq!(run_handshake(&mut c, &mut s).unwrap_err().0, Side::Client);
    // no name at all
    let e = SchannelClient::new(&cc, &ClientRequirements::default(), AuthLevel::PKT_PRIVACY).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn untrusted_server_is_rejected_by_the_client() {
    let other = dcom_schannel::generate::TestCa::new("another CA").unwrap();
    let cc =
        SchannelClientConfig::new(ClientOptions::new(vec![other.cert().clone()], Some(pki().alice.certified_key())))
            .unwrap();
    let mut c = client(&cc);
    let mut s = server(&server_config(TlsVersions::default()));
    let (side, e) = run_handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(side, Side::Client);
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
    assert!(e.detail().unwrap().contains("UnknownIssuer"), "{e}");
}

#[test]
fn every_level_but_privacy_is_refused_at_context_creation() {
    let cc = client_config(Some(&pki().alice), TlsVersions::default());
    let sc = server_config(TlsVersions::default());
    for level in [
        AuthLevel::DEFAULT,
        AuthLevel::NONE,
        AuthLevel::CONNECT,
        AuthLevel::CALL,
        AuthLevel::PKT,
        AuthLevel::PKT_INTEGRITY,
        AuthLevel(7),
    ] {
        let e = SchannelClient::new(&cc, &requirements(), level).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::Unsupported, "{level:?}");
        assert!(e.detail().unwrap().contains("supports only pkt_privacy"), "{e}");
        let e = SchannelServer::new(&sc, level).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
        assert!(dcom_schannel::check_level(level).is_err());
    }
    assert!(dcom_schannel::check_level(AuthLevel::PKT_PRIVACY).is_ok());
}

#[test]
fn sign_and_verify_are_refused_by_the_protector() {
    let (mut c, _) = pair(TlsVersions::default());
    let mut p = c.take_protector().unwrap();
    let mut body = [0u8; 16];
    let mut av = vec![0u8; p.sizes().signature_len];
    let parts = dcom_auth::PduParts { header: &[0; 24], body: &mut body, trailer: &[0; 8], header_signed: true };
    assert_eq!(p.sign(0, parts, &mut av).unwrap_err().kind(), &AuthErrorKind::Unsupported);
    let parts = dcom_auth::PduParts { header: &[0; 24], body: &mut body, trailer: &[0; 8], header_signed: true };
    assert_eq!(p.verify(0, parts, &av).unwrap_err().kind(), &AuthErrorKind::Unsupported);
    // and PKT_INTEGRITY protection on a schannel context never signs
    let (mut c, _) = pair(TlsVersions::default());
    let cfg = dcom_auth::ProtectionConfig { level: AuthLevel::PKT_INTEGRITY, ..prot_config(true) };
    let mut prot = dcom_auth::Protection::for_context(&mut c, cfg).unwrap();
    let parts = dcom_auth::PduParts { header: &[0; 24], body: &mut body, trailer: &[0; 8], header_signed: true };
    assert_eq!(prot.protect(parts, &mut av).unwrap_err().kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn out_of_sequence_and_malformed_tokens() {
    let cc = client_config(Some(&pki().alice), TlsVersions::default());
    let sc = server_config(TlsVersions::default());
    // client: a token before the first leg, no token later
    let mut c = client(&cc);
    assert_eq!(c.step(Some(b"x")).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    let Step::Continue { token: hello } = c.step(None).unwrap() else { panic!("client hello") };
    assert_eq!(c.step(None).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    assert_eq!(c.resume_kdc(b"").unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    // server: empty, garbage, truncated
    let mut s = server(&sc);
    assert_eq!(s.step(&[]).unwrap_err().kind(), &AuthErrorKind::InvalidToken);
    assert_eq!(server(&sc).step(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().kind(), &AuthErrorKind::InvalidToken);
    let e = server(&sc).step(&hello[..hello.len() - 1]).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::InvalidToken);
    assert!(e.detail().unwrap().contains("incomplete"), "{e}");
    let e = server(&sc).step(&[hello.as_slice(), b"\x17\x03\x03\x00\x01\x00"].concat()).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::InvalidToken, "application data after the hello: {e}");
    assert_eq!(server(&sc).step(&vec![0x16; 40_000]).unwrap_err().kind(), &AuthErrorKind::InvalidToken);
    // not complete: no protector, no identity
    assert_eq!(s.take_protector().unwrap_err().kind(), &AuthErrorKind::NotComplete);
    // complete: steps are refused, the protector is handed out once
    let (mut c, mut s) = pair(TlsVersions::default());
    assert_eq!(s.step(b"\x16").unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    assert_eq!(c.step(Some(b"\x16")).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    assert_eq!(c.step(None).unwrap(), Step::Complete { token: None });
    s.take_protector().unwrap();
    assert_eq!(s.take_protector().unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
}

#[test]
fn contexts_are_send_and_object_safe() {
    fn assert_send<T: Send>(_: &T) {}
    let (c, s) = pair(TlsVersions::default());
    assert_send(&c);
    assert_send(&s);
    let _: Box<dyn ClientContext> = Box::new(c);
    let _: Box<dyn ServerContext> = Box::new(s);
    assert!(format!("{:?}", pki().alice).contains("redacted"));
}

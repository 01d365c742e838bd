//! SPNEGO / Negotiate (auth type 9) between our client and our server, Kerberos (real MIT KDC) and NTLM
//! inside: password, keytab and ccache credentials, AES256 and AES128, integrity and privacy, mechanism selection, and the
//! mechListMIC rules of MS-SPNG (required for NTLM and after a downgrade, optional for Kerberos, always
//! verified when present).

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod support;

use std::sync::Arc;

use dcom_auth::kerberos::keytab::Keytab;
use dcom_auth::kerberos::spnego::{NegState, NegTokenResp, SpnegoToken};
use dcom_auth::kerberos::{KerberosClientConfig, KerberosCredentials, KerberosServerConfig};
use dcom_auth::ntlm::{NtlmClientCredentials, NtlmServerConfig};
use dcom_auth::spnego::{SpnegoClient, SpnegoClientConfig, SpnegoMech, SpnegoServer, SpnegoServerConfig};
use dcom_auth::{AuthErrorKind, AuthnProof, InMemoryStore, Password, SecurityContext, ServerContext, Step};
use dcom_pdu::{AuthLevel, AuthType};
use support::*;

fn store() -> Arc<InMemoryStore> {
    let mut s = InMemoryStore::new();
    s.add_password(Some("MIT"), "alice", ALICE_PW);
    Arc::new(s)
}

fn krb_password() -> KerberosClientConfig {
    kdc().client_config(KerberosCredentials::Password { principal: "alice".into(), password: Password::new(ALICE_PW) })
}

fn ntlm_creds() -> NtlmClientCredentials {
    NtlmClientCredentials::with_password("MIT", "alice", ALICE_PW)
}

fn server(kerberos: bool, ntlm: bool) -> SpnegoServer {
    SpnegoServer::new(SpnegoServerConfig {
        kerberos: kerberos.then(|| KerberosServerConfig::new(kdc().keytab())),
        ntlm: ntlm.then(|| NtlmServerConfig::new(store())),
    })
    .unwrap()
}

fn client(kerberos: Option<KerberosClientConfig>, ntlm: bool, mechs: &[SpnegoMech]) -> SpnegoClient {
    let mut cfg = SpnegoClientConfig::new(kerberos, ntlm.then(ntlm_creds));
    cfg.mechs = mechs.to_vec();
    SpnegoClient::new(cfg, requirements(SPN)).unwrap()
}

#[test]
fn kerberos_inside_with_every_credential_and_level() {
    let kdc = kdc();
    let ccache_path = kdc.kinit("spnego-alice", "alice", ALICE_PW, None);
    let creds = [
        krb_password(),
        kdc.client_config(KerberosCredentials::Keytab {
            principal: "alice".into(),
            keytab: Keytab::load(kdc.dir.join("alice.keytab")).unwrap(),
        }),
        kdc.client_config(KerberosCredentials::Ccache(ccache(&ccache_path))),
        KerberosClientConfig {
            enctypes: vec![dcom_auth::kerberos::EncType::AES128_CTS_HMAC_SHA1_96],
            ..krb_password()
        },
    ];
    for cfg in creds {
        let key_len = if cfg.enctypes.len() == 1 { 16 } else { 32 };
        for (level, header_sign) in
            [(AuthLevel::PKT_PRIVACY, true), (AuthLevel::PKT_PRIVACY, false), (AuthLevel::PKT_INTEGRITY, true)]
        {
            let mut c = client(Some(cfg.clone()), true, &[SpnegoMech::Kerberos, SpnegoMech::Ntlm]);
            let mut s = server(true, true);
            let t = handshake(&mut c, &mut s).unwrap();
            // NegTokenInit(AP-REQ) → resp(AP-REP) → resp(AP-REP, MIC) → resp(accept-completed, MIC)
            assert_eq!((t.client_tokens.len(), t.server_tokens.len()), (2, 2));
            assert_eq!((c.mech(), s.mech()), (Some(SpnegoMech::Kerberos), Some(SpnegoMech::Kerberos)));
            assert!(s.client_mic_verified());
            let id = s.identity().unwrap();
            assert_eq!((id.principal.as_str(), &id.proof), ("alice@MIT.TEST", &AuthnProof::KerberosTicket));
            assert_eq!(c.info().unwrap().auth_type, AuthType::SPNEGO);
            assert_eq!(c.info().unwrap().session_key, s.info().unwrap().session_key);
            assert_eq!(c.info().unwrap().session_key.len(), key_len);
            exchange_pdus(&mut c, &mut s, AuthType::SPNEGO, level, header_sign);
        }
    }
}

#[test]
fn ntlm_inside_at_every_level() {
    for (level, header_sign) in [(AuthLevel::PKT_PRIVACY, true), (AuthLevel::PKT_INTEGRITY, false)] {
        let mut c = client(None, true, &[SpnegoMech::Ntlm]);
        let mut s = server(true, true);
        let t = handshake(&mut c, &mut s).unwrap();
        assert_eq!(t.client_tokens.len(), 2, "NegTokenInit(NEGOTIATE), resp(AUTHENTICATE, MIC)");
        assert_eq!(s.mech(), Some(SpnegoMech::Ntlm));
        assert!(s.client_mic_verified());
        assert_eq!(s.identity().unwrap().principal, "MIT\\alice");
        exchange_pdus(&mut c, &mut s, AuthType::SPNEGO, level, header_sign);
    }
}

#[test]
fn server_picks_the_clients_first_supported_mechanism() {
    // the server has no Kerberos: it selects NTLM (the client's second), asks for the MIC, the client switches
    let mut c = client(Some(krb_password()), true, &[SpnegoMech::Kerberos, SpnegoMech::Ntlm]);
    let mut s = server(false, true);
    let t = handshake(&mut c, &mut s).unwrap();
    let SpnegoToken::Resp(first) = SpnegoToken::parse(&t.server_tokens[0]).unwrap() else { panic!() };
    assert_eq!(first.neg_state, Some(NegState::REQUEST_MIC));
    assert_eq!(first.supported_mech.as_ref().map(|m| m.0.as_slice()), Some(&SpnegoMech::Ntlm.oid().0[..]));
    assert!(first.response_token.is_none(), "the optimistic AP-REQ is not used");
    assert_eq!((c.mech(), s.mech()), (Some(SpnegoMech::Ntlm), Some(SpnegoMech::Ntlm)));
    exchange_pdus(&mut c, &mut s, AuthType::SPNEGO, AuthLevel::PKT_PRIVACY, true);
    // a server with neither mechanism the client offers
    let mut c = client(None, true, &[SpnegoMech::Ntlm]);
    let mut s = server(true, false);
    let (is_client, e) = handshake(&mut c, &mut s).unwrap_err();
    assert!(!is_client);
    assert_eq!(e.kind(), &AuthErrorKind::NoCommonMechanism);
}

/// Runs a SPNEGO handshake up to the client's last token and hands it to `edit` before the server sees it.
fn with_last_client_token(
    mut c: SpnegoClient,
    mut s: SpnegoServer,
    edit: impl FnOnce(NegTokenResp) -> NegTokenResp,
) -> (SpnegoServer, Result<Step, dcom_auth::AuthError>) {
    let mut log = Vec::new();
    let Step::Continue { token } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    let mut input = token;
    loop {
        let Step::Continue { token: reply } = s.step(&input).unwrap() else { panic!("server finished early") };
        let Step::Continue { token } = client_step(&mut c, Some(&reply), &mut log).unwrap() else { panic!() };
        let SpnegoToken::Resp(r) = SpnegoToken::parse(&token).unwrap() else { panic!() };
        if r.mech_list_mic.is_some() {
            let r = s.step(&edit(r).encode());
            return (s, r);
        }
        input = token;
    }
}

#[test]
fn mech_list_mic_rules() {
    // Kerberos without the client's MIC (impacket): accepted, no MIC back
    let c = client(Some(krb_password()), false, &[SpnegoMech::Kerberos]);
    let (s, r) = with_last_client_token(c, server(true, true), |mut r| {
        r.mech_list_mic = None;
        r
    });
    let Step::Complete { token: Some(done) } = r.unwrap() else { panic!() };
    let SpnegoToken::Resp(done) = SpnegoToken::parse(&done).unwrap() else { panic!() };
    assert_eq!(done.neg_state, Some(NegState::ACCEPT_COMPLETED));
    assert!(done.mech_list_mic.is_none());
    assert!(s.is_complete() && !s.client_mic_verified());
    assert_eq!(s.identity().unwrap().principal, "alice@MIT.TEST");
    // Kerberos with a wrong MIC: refused
    let c = client(Some(krb_password()), false, &[SpnegoMech::Kerberos]);
    let (s, r) = with_last_client_token(c, server(true, true), |mut r| {
        if let Some(m) = r.mech_list_mic.as_mut() {
            let n = m.len();
            m[n - 1] ^= 1;
        }
        r
    });
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::MechListMicMismatch);
    assert!(!s.is_complete() && s.identity().is_none());
    // NTLM without the MIC: refused (MS-SPNG 3.1.5.1; closes the MIC-drop gap)
    let c = client(None, true, &[SpnegoMech::Ntlm]);
    let (s, r) = with_last_client_token(c, server(true, true), |mut r| {
        r.mech_list_mic = None;
        r
    });
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::MechListMicMismatch);
    assert!(s.identity().is_none());
    // NTLM with a wrong MIC: refused
    let c = client(None, true, &[SpnegoMech::Ntlm]);
    let (_, r) = with_last_client_token(c, server(true, true), |mut r| {
        if let Some(m) = r.mech_list_mic.as_mut() {
            m[5] ^= 0x40;
        }
        r
    });
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::MechListMicMismatch);
    // after a downgrade (NTLM chosen though Kerberos came first) the MIC is required too
    let c = client(Some(krb_password()), true, &[SpnegoMech::Kerberos, SpnegoMech::Ntlm]);
    let (_, r) = with_last_client_token(c, server(false, true), |mut r| {
        r.mech_list_mic = None;
        r
    });
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::MechListMicMismatch);
}

#[test]
fn wrong_credentials_inside_spnego() {
    let mut cfg = SpnegoClientConfig::new(None, None);
    cfg.mechs = vec![SpnegoMech::Ntlm];
    assert_eq!(SpnegoClient::new(cfg, requirements(SPN)).unwrap_err().kind(), &AuthErrorKind::NoCommonMechanism);
    let mut cfg = SpnegoClientConfig::new(None, Some(NtlmClientCredentials::with_password("MIT", "alice", "nope")));
    cfg.mechs = vec![SpnegoMech::Ntlm];
    let mut c = SpnegoClient::new(cfg, requirements(SPN)).unwrap();
    let (is_client, e) = handshake(&mut c, &mut server(true, true)).unwrap_err();
    assert!(!is_client);
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
    let krb = kdc()
        .client_config(KerberosCredentials::Password { principal: "alice".into(), password: Password::new("nope") });
    let mut c = client(Some(krb), false, &[SpnegoMech::Kerberos]);
    let (is_client, e) = handshake(&mut c, &mut server(true, true)).unwrap_err();
    assert!(is_client);
    assert_eq!(e.kind(), &AuthErrorKind::LogonDenied);
}

#[test]
fn hostile_spnego_tokens_never_panic() {
    let mut c = client(None, true, &[SpnegoMech::Ntlm]);
    let mut log = Vec::new();
    let Step::Continue { token } = client_step(&mut c, None, &mut log).unwrap() else { panic!() };
    for i in 0..token.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut t = token.clone();
            t[i] ^= mask;
            let _ = server(true, true).step(&t);
            let _ = server(true, true).step(&t[..i]);
        }
    }
}

/// Per-level mechanism flags (ClientRequirements::for_level): at CONNECT NTLM negotiates neither SIGN nor SEAL,
/// so no mechListMIC can be made; the client sends none and the acceptor waives it (Samba's server signs a
/// CONNECT response when SIGN was negotiated and then faults; Samba's client at CONNECT sends no MIC).
#[test]
fn ntlm_inside_at_connect_has_no_sign_and_no_mech_list_mic() {
    let mut cfg = SpnegoClientConfig::new(None, Some(ntlm_creds()));
    cfg.mechs = vec![SpnegoMech::Ntlm];
    let req = requirements(SPN).for_level(AuthLevel::CONNECT);
    assert!(!req.integrity && !req.confidentiality);
    let mut c = SpnegoClient::new(cfg, req).unwrap();
    let mut s = server(false, true);
    handshake(&mut c, &mut s).unwrap();
    let flags = s.info().unwrap().flags;
    assert_eq!(flags & 0x30, 0, "no NTLMSSP_NEGOTIATE_SIGN/SEAL at CONNECT: {flags:#x}");
    assert!(!s.client_mic_verified(), "no mechListMIC without an integrity key");
    assert_eq!(s.identity().unwrap().principal, "MIT\\alice");
}

/// The same waiver does not open a downgrade: with SIGN negotiated the MIC stays required (a client that drops
/// it is refused by `mech_list_mic_rules`), and integrity/privacy still ask for SIGN and SEAL.
#[test]
fn levels_map_to_mechanism_services() {
    let base = requirements(SPN);
    for (level, integ, conf) in [
        (AuthLevel::CONNECT, false, false),
        (AuthLevel::CALL, true, false),
        (AuthLevel::PKT, true, false),
        (AuthLevel::PKT_INTEGRITY, true, false),
        (AuthLevel::PKT_PRIVACY, true, true),
    ] {
        let r = base.clone().for_level(level);
        assert_eq!((r.integrity, r.confidentiality), (integ, conf), "{level:?}");
    }
    // Kerberos: GSS_C_CONF_FLAG only at privacy (Samba sizes a PKT_INTEGRITY verifier as a wrap token if set)
    for (level, want_conf) in [(AuthLevel::PKT_INTEGRITY, false), (AuthLevel::PKT_PRIVACY, true)] {
        let k = dcom_auth::kerberos::KerberosClient::new(krb_password(), base.clone().for_level(level)).unwrap();
        assert_eq!(k.gss_flags() & 0x10 != 0, want_conf, "{level:?}: {:#x}", k.gss_flags());
        assert_ne!(k.gss_flags() & 0x20, 0, "GSS_C_INTEG_FLAG at {level:?}");
    }
}

/// Negotiate falls back to NTLM when Kerberos cannot get a ticket for the target (unknown SPN), before any
/// token was sent, as Windows' Negotiate package does; the acceptor sees an NTLM-only mechanism list.
#[test]
fn kerberos_failure_before_the_first_token_falls_back_to_ntlm() {
    let mut cfg = SpnegoClientConfig::new(Some(krb_password()), Some(ntlm_creds()));
    cfg.mechs = vec![SpnegoMech::Kerberos, SpnegoMech::Ntlm];
    let mut c = SpnegoClient::new(cfg, requirements("host/no-such-host.mit.test")).unwrap();
    let mut s = server(true, true);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!((c.mech(), s.mech()), (Some(SpnegoMech::Ntlm), Some(SpnegoMech::Ntlm)));
    assert!(s.client_mic_verified());
}

use dcom_auth::none::{NoneClient, NoneServer};
use dcom_auth::ntlm::{NtHash, NtlmClient, NtlmClientCredentials, NtlmServer};
use dcom_auth::{
    AuthErrorKind, AuthnProof, ClientContext, ClientRequirements, ImpersonationLevel, SecurityContext, ServerContext,
    Step,
};
use dcom_pdu::AuthType;

use super::*;

#[test]
fn ntlm_handshake_reports_identity_keys_and_sizes() {
    let (c, s) = ntlm_pair();
    assert!(is_complete(&c) && is_complete(&s));
    let id = s.identity().unwrap();
    assert_eq!(id.account, USER);
    assert_eq!(id.domain, DOMAIN);
    assert_eq!(id.principal, format!("{DOMAIN}\\{USER}"));
    assert_eq!(id.provider, AuthType::WINNT);
    assert_eq!(id.proof, AuthnProof::NtlmV2 { mic_verified: true });
    assert!(!id.anonymous);
    let (ci, si) = (c.info().unwrap(), s.info().unwrap());
    assert_eq!(ci.session_key, si.session_key);
    assert_eq!(ci.session_key.len(), 16);
    assert!(!ci.mutual_auth && !si.mutual_auth, "ntlm never authenticates the server");
    assert_eq!(ci.sizes.signature_len, 16);
    assert_eq!(ci.sizes.pad_align, 16);
    // NTLMv2 + ESS + KEY_EXCH + SEAL + SIGN + 128
    for f in [0x0008_0000u32, 0x4000_0000, 0x20, 0x10, 0x2000_0000] {
        assert_ne!(ci.flags & f, 0, "flag {f:#x}");
    }
    let req = s.requested().unwrap();
    assert_eq!(req.impersonation, ImpersonationLevel::Impersonate);
    assert!(!req.mutual_auth);
}

#[test]
fn ntlm_client_with_nt_hash_and_case_insensitive_user() {
    let creds = NtlmClientCredentials::with_nt_hash(DOMAIN, "ALICE", NtHash::from_password(PASSWORD));
    let mut c = NtlmClient::new(&creds, ClientRequirements::default()).unwrap();
    let mut s = NtlmServer::new(server_config()).unwrap();
    run_handshake(&mut c, &mut s).1.unwrap();
    assert_eq!(s.identity().unwrap().account, "ALICE");
}

#[test]
fn store_with_nt_hash_accepts_password_client() {
    let mut st = dcom_auth::InMemoryStore::new();
    st.add_nt_hash(Some(DOMAIN), USER, NtHash::from_password(PASSWORD));
    let mut s = NtlmServer::new(NtlmServerConfig::new(std::sync::Arc::new(st))).unwrap();
    let mut c = client(USER, PASSWORD);
    run_handshake(&mut c, &mut s).1.unwrap();
}

#[test]
fn ntlm_client_impersonation_and_mutual_mapping() {
    for (level, ok) in [
        (ImpersonationLevel::Anonymous, false),
        (ImpersonationLevel::Identify, false),
        (ImpersonationLevel::Impersonate, true),
        (ImpersonationLevel::Delegate, true),
    ] {
        let req = ClientRequirements { impersonation: level, ..ClientRequirements::default() };
        let r = NtlmClient::new(&NtlmClientCredentials::with_password(DOMAIN, USER, PASSWORD), req);
        assert_eq!(r.is_ok(), ok, "{level:?}");
        if let Err(e) = r {
            assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
        }
    }
    let req = ClientRequirements { mutual_auth: true, ..ClientRequirements::default() };
    let e = NtlmClient::new(&NtlmClientCredentials::with_password(DOMAIN, USER, PASSWORD), req).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn server_sees_identify_request_from_negotiate_flags() {
    let mut c = client(USER, PASSWORD);
    let Step::Continue { token: mut negotiate } = c.step(None).unwrap() else { panic!() };
    let flags = u32::from_le_bytes(negotiate[12..16].try_into().unwrap()) | 0x0010_0000;
    negotiate[12..16].copy_from_slice(&flags.to_le_bytes());
    let mut s = NtlmServer::new(server_config()).unwrap();
    s.step(&negotiate).unwrap();
    assert_eq!(s.requested().unwrap().impersonation, ImpersonationLevel::Identify);
}

#[test]
fn out_of_sequence_steps_fail() {
    let (mut c, mut s) = ntlm_pair();
    assert_eq!(c.step(Some(b"x")).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    assert_eq!(s.step(b"x").unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    assert_eq!(s.resume_kdc(b"").unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
    let mut s = NtlmServer::new(server_config()).unwrap();
    assert_eq!(s.step(b"NTLMSSP\0\x03\0\0\0").unwrap_err().kind(), &AuthErrorKind::InvalidToken);
    assert!(s.take_protector().is_err());
}

#[test]
fn none_provider_completes_anonymously() {
    let mut c = NoneClient::new();
    let mut s = NoneServer::new();
    assert_eq!(c.step(None).unwrap(), Step::Complete { token: None });
    assert_eq!(s.step(&[]).unwrap(), Step::Complete { token: None });
    let id = s.identity().unwrap();
    assert!(id.anonymous);
    assert_eq!(id.principal, "ANONYMOUS");
    assert_eq!(id.provider, AuthType::NONE);
    assert!(c.info().unwrap().session_key.is_empty());
    assert_eq!(c.take_protector().unwrap_err().kind(), &AuthErrorKind::Unsupported);
    assert_eq!(c.step(None).unwrap_err().kind(), &AuthErrorKind::OutOfSequence);
}

#[test]
fn contexts_are_object_safe_and_send() {
    fn assert_send<T: Send>(_: &T) {}
    let boxed: Vec<Box<dyn ClientContext>> = vec![Box::new(NoneClient::new()), Box::new(client(USER, PASSWORD))];
    assert_send(&boxed);
    let servers: Vec<Box<dyn ServerContext>> =
        vec![Box::new(NoneServer::new()), Box::new(NtlmServer::new(server_config()).unwrap())];
    assert_send(&servers);
}

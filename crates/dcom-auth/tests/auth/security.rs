use std::sync::Arc;

use dcom_auth::ntlm::{NtlmServer, NtlmServerConfig};
use dcom_auth::sspi::{
    self, AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation, EncryptionFlags, Ntlm,
    Secret, SecurityBuffer, SecurityBufferFlags, SecurityBufferRef, Sspi, SspiImpl, Username,
};
use dcom_auth::{AuthErrorKind, ClientContext, FrameLayout, Protection, ServerContext, Step};
use dcom_pdu::AuthLevel;

use super::*;

fn field(msg: &[u8], at: usize) -> (usize, usize) {
    let len = usize::from(u16::from_le_bytes([msg[at], msg[at + 1]]));
    let off = usize::try_from(u32::from_le_bytes(msg[at + 4..at + 8].try_into().unwrap())).unwrap();
    (off, len)
}

/// Zeroes the value of MsvAvFlags (AvId 6) inside the NTLMv2 response of an AUTHENTICATE message.
fn clear_av_flags(auth: &mut [u8]) -> bool {
    let (nt_off, nt_len) = field(auth, 20);
    let mut p = nt_off + 16 + 28;
    while p + 4 <= nt_off + nt_len {
        let id = u16::from_le_bytes([auth[p], auth[p + 1]]);
        let len = usize::from(u16::from_le_bytes([auth[p + 2], auth[p + 3]]));
        if id == 0 {
            return false;
        }
        if id == 6 {
            assert_eq!(&auth[p + 4..p + 8], &[2, 0, 0, 0], "sspi sets MIC-present");
            auth[p + 4..p + 4 + len].fill(0);
            return true;
        }
        p += 4 + len;
    }
    false
}

fn server_leg3(client_password: &str, user: &str, edit: impl Fn(&mut Vec<u8>)) -> AuthErrorKind {
    let mut c = client(user, client_password);
    let mut s = NtlmServer::new(server_config()).unwrap();
    let Step::Continue { token: n } = c.step(None).unwrap() else { panic!() };
    let Step::Continue { token: ch } = s.step(&n).unwrap() else { panic!() };
    let Step::Complete { token: Some(mut a) } = c.step(Some(&ch)).unwrap() else { panic!() };
    edit(&mut a);
    let e = s.step(&a).unwrap_err();
    assert!(s.identity().is_none());
    assert!(!s.is_complete());
    e.kind().clone()
}

#[test]
fn av_flags_cleared_with_wrong_password_is_rejected() {
    // dependencies.md 1b: sspi alone accepts this (no MIC check, no NTProofStr check).
    let k = server_leg3("wrong password", USER, |a| assert!(clear_av_flags(a)));
    assert_eq!(k, AuthErrorKind::LogonDenied);
}

#[test]
fn av_flags_cleared_with_right_password_is_rejected_too() {
    // The AV pairs are inside the NTProofStr input: stripping the MIC flag breaks the proof.
    let k = server_leg3(PASSWORD, USER, |a| assert!(clear_av_flags(a)));
    assert_eq!(k, AuthErrorKind::LogonDenied);
}

#[test]
fn wrong_password_and_unknown_user_are_distinct() {
    assert_eq!(server_leg3("wrong password", USER, |_| {}), AuthErrorKind::LogonDenied);
    assert_eq!(server_leg3(PASSWORD, "mallory", |_| {}), AuthErrorKind::UnknownUser);
}

#[test]
fn tampered_mic_is_rejected() {
    assert_eq!(server_leg3(PASSWORD, USER, |a| a[72] ^= 1), AuthErrorKind::MicMismatch);
}

#[test]
fn tampered_session_key_is_rejected() {
    let k = server_leg3(PASSWORD, USER, |a| {
        let (off, len) = field(a, 52);
        assert_eq!(len, 16);
        a[off] ^= 1;
    });
    assert_eq!(k, AuthErrorKind::MicMismatch);
}

#[test]
fn ntlmv1_sized_response_is_refused() {
    let k = server_leg3(PASSWORD, USER, |a| {
        // claim a 24-byte NT response
        a[20..22].copy_from_slice(&24u16.to_le_bytes());
    });
    assert_eq!(k, AuthErrorKind::WeakProtocol);
}

fn anonymous_authenticate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let payload = 88u32;
    // LmChallengeResponse: one zero byte at the payload
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&payload.to_le_bytes());
    for _ in 0..5 {
        // NT response, domain, user, workstation, encrypted session key: empty
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&(payload + 1).to_le_bytes());
    }
    let flags: u32 = 0x0000_0800 | 0x0008_0000 | 0x0000_0001 | 0x0200_0000 | 0x0000_0010;
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    m.extend_from_slice(&[0; 16]);
    assert_eq!(m.len(), 88);
    m.push(0);
    m
}

fn anonymous_attempt(allow: bool) -> (NtlmServer, Result<Step, dcom_auth::AuthError>) {
    let mut cfg = NtlmServerConfig::new(store());
    cfg.allow_anonymous = allow;
    let mut s = NtlmServer::new(cfg).unwrap();
    let mut c = client(USER, PASSWORD);
    let Step::Continue { token: n } = c.step(None).unwrap() else { panic!() };
    s.step(&n).unwrap();
    let r = s.step(&anonymous_authenticate());
    (s, r)
}

#[test]
fn anonymous_ntlm_only_when_allowed() {
    let (s, r) = anonymous_attempt(false);
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::AnonymousNotAllowed);
    assert!(s.identity().is_none());
    let (s, r) = anonymous_attempt(true);
    assert_eq!(r.unwrap(), Step::Complete { token: None });
    let id = s.identity().unwrap();
    assert!(id.anonymous);
    assert_eq!(id.principal, "ANONYMOUS");
    assert_eq!(id.proof, dcom_auth::AuthnProof::Anonymous);
}

/// Rebuilds a genuine AUTHENTICATE without the MIC flag and with a correct NTProofStr for `password`, as a
/// client that sends no MIC would.
fn without_mic(auth: &mut [u8], challenge: &[u8], password: &str) {
    assert!(clear_av_flags(auth));
    let (nt_off, nt_len) = field(auth, 20);
    let mut sc = [0u8; 8];
    sc.copy_from_slice(&challenge[24..32]);
    let ntowf = dcom_auth::ntlm::crypto::ntowf_v2(&dcom_auth::ntlm::NtHash::from_password(password), USER, DOMAIN);
    let (proof, _) = dcom_auth::ntlm::crypto::nt_proof(&ntowf, &sc, &auth[nt_off + 16..nt_off + nt_len]);
    auth[nt_off..nt_off + 16].copy_from_slice(&proof);
    auth[72..88].fill(0);
}

fn no_mic_attempt(require_mic: bool, password: &str) -> (NtlmServer, Result<Step, dcom_auth::AuthError>) {
    let mut cfg = NtlmServerConfig::new(store());
    cfg.require_mic = require_mic;
    let mut s = NtlmServer::new(cfg).unwrap();
    let mut c = client(USER, PASSWORD);
    let Step::Continue { token: n } = c.step(None).unwrap() else { panic!() };
    let Step::Continue { token: ch } = s.step(&n).unwrap() else { panic!() };
    let Step::Complete { token: Some(mut a) } = c.step(Some(&ch)).unwrap() else { panic!() };
    without_mic(&mut a, &ch, password);
    let r = s.step(&a);
    (s, r)
}

#[test]
fn message_without_mic_is_checked_by_ntproofstr_and_refused_when_mic_required() {
    // a correct proof without MIC passes when the MIC is optional, and reports it
    let (s, r) = no_mic_attempt(false, PASSWORD);
    r.unwrap();
    assert_eq!(s.identity().unwrap().proof, dcom_auth::AuthnProof::NtlmV2 { mic_verified: false });
    // the same with a wrong password: the NTProofStr guard rejects it (sspi alone would accept it)
    let (_, r) = no_mic_attempt(false, "wrong password");
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::LogonDenied);
    // MIC required
    let (s, r) = no_mic_attempt(true, PASSWORD);
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::MicMismatch);
    assert!(s.identity().is_none());
}

#[test]
fn empty_store_means_unknown_user() {
    let mut s = NtlmServer::new(NtlmServerConfig::new(Arc::new(dcom_auth::InMemoryStore::new()))).unwrap();
    let mut c = client(USER, PASSWORD);
    let (_, r) = run_handshake(&mut c, &mut s);
    assert_eq!(r.unwrap_err().kind(), &AuthErrorKind::UnknownUser);
}

/// sspi's own `encrypt_message` (PKT_PRIVACY with header signing, MS-RPCE 3.3.1.5.2.2 layout) opens with our
/// server protection: the two NTLM implementations agree.
#[test]
fn sspi_sealed_pdu_opens_with_our_protection() {
    let mut client = Ntlm::new();
    let id = AuthIdentity {
        username: Username::new(USER, Some(DOMAIN)).unwrap(),
        password: Secret::new(PASSWORD.to_owned()),
    };
    let mut cred = client
        .acquire_credentials_handle()
        .with_credential_use(CredentialUse::Outbound)
        .with_auth_data(&id)
        .execute(&mut client)
        .unwrap()
        .credentials_handle;
    let flags = ClientRequestFlags::INTEGRITY | ClientRequestFlags::CONFIDENTIALITY | ClientRequestFlags::USE_DCE_STYLE;
    let mut leg = |client: &mut Ntlm, input: Option<Vec<u8>>| -> Vec<u8> {
        let mut out = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut inp = input.map(|i| vec![SecurityBuffer::new(i, BufferType::Token)]);
        let mut b = client
            .initialize_security_context()
            .with_credentials_handle(&mut cred)
            .with_context_requirements(flags)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name("host/server")
            .with_output(&mut out);
        if let Some(i) = inp.as_mut() {
            b = b.with_input(i);
        }
        client.initialize_security_context_impl(&mut b).unwrap().resolve_to_result().unwrap();
        out.remove(0).buffer
    };
    let mut server = NtlmServer::new(server_config()).unwrap();
    let n = leg(&mut client, None);
    let Step::Continue { token: ch } = server.step(&n).unwrap() else { panic!() };
    let a = leg(&mut client, Some(ch));
    server.step(&a).unwrap();
    let mut sp = Protection::for_context(&mut server, config(AuthLevel::PKT_PRIVACY, true)).unwrap();

    let data: Vec<u8> = (0u8..48).collect();
    let mut wire = frame(&sp, 5, &data, false);
    let l = FrameLayout::of(&wire).unwrap();
    let (tr, _, av) = l.verifier.unwrap();
    let (mut hdr, rest) = (wire[..l.stub_start].to_vec(), wire[l.stub_start..].to_vec());
    let mut body = rest[..tr - l.stub_start].to_vec();
    let mut trailer = wire[tr..av].to_vec();
    let mut token = vec![0u8; 16];
    {
        let mut msg = [
            SecurityBufferRef::data_buf(&mut hdr).with_flags(SecurityBufferFlags::SECBUFFER_READONLY_WITH_CHECKSUM),
            SecurityBufferRef::data_buf(&mut body),
            SecurityBufferRef::data_buf(&mut trailer).with_flags(SecurityBufferFlags::SECBUFFER_READONLY_WITH_CHECKSUM),
            SecurityBufferRef::token_buf(&mut token),
        ];
        client.encrypt_message(EncryptionFlags::empty(), &mut msg).unwrap();
    }
    wire[l.stub_start..tr].copy_from_slice(&body);
    wire[av..].copy_from_slice(&token);
    let o = sp.unprotect_frame(&mut wire).unwrap();
    assert_eq!(&wire[o.stub], &data[..]);
    let _ = sspi::SecurityStatus::Ok;
}

use dcom_auth::none::{NoneClient, NoneServer};
use dcom_auth::{AuthErrorKind, ClientContext, FrameLayout, Protection, ProtectionConfig, ServerContext};
use dcom_pdu::{AuthLevel, AuthType};

use super::*;

const LEVELS: [AuthLevel; 5] =
    [AuthLevel::CONNECT, AuthLevel::CALL, AuthLevel::PKT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY];

fn stub(n: usize) -> Vec<u8> {
    (0..n).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

/// Sends one PDU each way several times and checks what arrives.
fn exchange(cp: &mut Protection, sp: &mut Protection, level: AuthLevel) {
    for (i, n) in [0usize, 1, 15, 16, 17, 100, 5000].into_iter().enumerate() {
        let call = u32::try_from(i).unwrap() + 1;
        let data = stub(n);
        // client -> server request
        let mut wire = frame(cp, call, &data, false);
        let plain = wire.clone();
        cp.protect_frame(&mut wire).unwrap();
        let layout = FrameLayout::of(&wire).unwrap();
        if level == AuthLevel::PKT_PRIVACY && n > 0 {
            assert_ne!(&wire[layout.stub_start..layout.stub_end], &data[..], "sealed on the wire");
        } else {
            assert_eq!(&wire[layout.stub_start..layout.stub_end], &data[..], "clear on the wire");
        }
        assert_eq!(wire[..layout.stub_start], plain[..layout.stub_start], "header never encrypted");
        let o = sp.unprotect_frame(&mut wire).unwrap();
        assert_eq!(&wire[o.stub.clone()], &data[..]);
        assert_eq!(o.protected, level != AuthLevel::CONNECT);
        // server -> client response
        let mut wire = frame(sp, call, &data, true);
        sp.protect_frame(&mut wire).unwrap();
        let o = cp.unprotect_frame(&mut wire).unwrap();
        assert_eq!(&wire[o.stub.clone()], &data[..]);
    }
}

#[test]
fn ntlm_every_level_both_directions_with_and_without_header_signing() {
    for level in LEVELS {
        for header_sign in [true, false] {
            let (mut cp, mut sp) = protections(level, header_sign);
            assert_eq!(cp.protects_pdus(), level != AuthLevel::CONNECT);
            exchange(&mut cp, &mut sp, level);
            if level != AuthLevel::CONNECT {
                assert_eq!(cp.send_sequence(), 7);
                assert_eq!(sp.recv_sequence(), 7);
                assert_eq!(sp.send_sequence(), 7);
                assert_eq!(cp.recv_sequence(), 7);
            }
        }
    }
}

#[test]
fn none_provider_levels() {
    let mut c = NoneClient::new();
    let mut s = NoneServer::new();
    c.step(None).unwrap();
    s.step(&[]).unwrap();
    for level in [AuthLevel::NONE, AuthLevel::CONNECT] {
        let cfg = ProtectionConfig { auth_type: AuthType::NONE, level, context_id: 0, header_sign: false };
        let mut cp = Protection::for_context(&mut c, cfg).unwrap();
        let mut sp = Protection::for_context(&mut s, cfg).unwrap();
        assert!(cp.auth_template().is_none());
        exchange(&mut cp, &mut sp, AuthLevel::CONNECT);
    }
    for level in [AuthLevel::CALL, AuthLevel::PKT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let cfg = ProtectionConfig { auth_type: AuthType::NONE, level, context_id: 0, header_sign: false };
        assert_eq!(Protection::for_context(&mut c, cfg).unwrap_err().kind(), &AuthErrorKind::Unsupported);
    }
}

/// A protected request from the client, and the server protection that should accept it.
fn sealed(level: AuthLevel, header_sign: bool) -> (Protection, Protection, Vec<u8>) {
    let (mut cp, sp) = protections(level, header_sign);
    let mut wire = frame(&cp, 1, &stub(64), false);
    cp.protect_frame(&mut wire).unwrap();
    (cp, sp, wire)
}

fn reject(level: AuthLevel, header_sign: bool, tamper: impl Fn(&mut Vec<u8>, &FrameLayout)) -> AuthErrorKind {
    let (_, mut sp, mut wire) = sealed(level, header_sign);
    let layout = FrameLayout::of(&wire).unwrap();
    tamper(&mut wire, &layout);
    sp.unprotect_frame(&mut wire).unwrap_err().kind().clone()
}

#[test]
fn tampering_is_rejected_at_every_protecting_level() {
    for level in [AuthLevel::PKT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        for header_sign in [true, false] {
            // header: call_id, opnum
            assert_eq!(reject(level, header_sign, |w, _| w[12] ^= 1), AuthErrorKind::SignatureMismatch);
            assert_eq!(reject(level, header_sign, |w, _| w[22] ^= 1), AuthErrorKind::SignatureMismatch);
            // body
            assert_eq!(
                reject(level, header_sign, |w, l| w[l.stub_start + 3] ^= 0x80),
                AuthErrorKind::SignatureMismatch
            );
            // trailer: auth_reserved is covered; auth_level/context id do not match the connection
            let tr = |l: &FrameLayout| l.verifier.as_ref().unwrap().0;
            assert_eq!(reject(level, header_sign, |w, l| w[tr(l) + 3] ^= 1), AuthErrorKind::SignatureMismatch);
            assert_eq!(reject(level, header_sign, |w, l| w[tr(l) + 1] = 2), AuthErrorKind::TrailerMismatch);
            assert_eq!(reject(level, header_sign, |w, l| w[tr(l) + 4] ^= 1), AuthErrorKind::TrailerMismatch);
            // signature: checksum, version
            let av = |l: &FrameLayout| l.verifier.as_ref().unwrap().2;
            assert_eq!(reject(level, header_sign, |w, l| w[av(l) + 5] ^= 1), AuthErrorKind::SignatureMismatch);
            assert_eq!(reject(level, header_sign, |w, l| w[av(l)] = 2), AuthErrorKind::BadSignatureFormat);
            // truncated: frame cut short, and a verifier too short for a signature
            assert_eq!(reject(level, header_sign, |w, _| w.truncate(w.len() - 1)), AuthErrorKind::Truncated);
            assert_eq!(
                reject(level, header_sign, |w, _| {
                    // shrink auth_length and frag_length by 4 and drop the last 4 bytes
                    w.truncate(w.len() - 4);
                    let fl = u16::from_le_bytes([w[8], w[9]]) - 4;
                    w[8..10].copy_from_slice(&fl.to_le_bytes());
                    w[10..12].copy_from_slice(&12u16.to_le_bytes());
                }),
                AuthErrorKind::Truncated
            );
        }
    }
}

#[test]
fn replay_reorder_and_loss_are_detected() {
    for level in [AuthLevel::PKT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let (mut cp, mut sp) = protections(level, true);
        let mut a = frame(&cp, 1, &stub(40), false);
        let mut b = frame(&cp, 2, &stub(41), false);
        let mut c = frame(&cp, 3, &stub(42), false);
        cp.protect_frame(&mut a).unwrap();
        cp.protect_frame(&mut b).unwrap();
        cp.protect_frame(&mut c).unwrap();
        // reordered: b before a
        let e = sp.unprotect_frame(&mut b.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::OutOfOrder { expected: 0, got: 1 });
        // in order is still fine (sequence checks come before any crypto)
        sp.unprotect_frame(&mut a.clone()).unwrap();
        // replayed a
        let e = sp.unprotect_frame(&mut a.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::Replay { expected: 1, got: 0 });
        // lost b: c arrives next
        let e = sp.unprotect_frame(&mut c.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::OutOfOrder { expected: 1, got: 2 });
        sp.unprotect_frame(&mut b).unwrap();
        sp.unprotect_frame(&mut c).unwrap();
        assert!(!sp.is_poisoned());
    }
}

#[test]
fn a_failed_check_poisons_the_connection() {
    let (_, mut sp, mut wire) = sealed(AuthLevel::PKT_PRIVACY, true);
    let good = wire.clone();
    let l = FrameLayout::of(&wire).unwrap();
    wire[l.stub_start] ^= 1;
    assert_eq!(sp.unprotect_frame(&mut wire).unwrap_err().kind(), &AuthErrorKind::SignatureMismatch);
    assert_eq!(sp.unprotect_frame(&mut good.clone()).unwrap_err().kind(), &AuthErrorKind::Poisoned);
}

#[test]
fn verifier_presence_must_match_the_level() {
    let (cp, mut sp) = protections(AuthLevel::PKT_INTEGRITY, true);
    let (plain_prot, _) = protections(AuthLevel::CONNECT, true);
    // no verifier on a protecting connection
    let mut w = frame(&plain_prot, 1, &stub(10), false);
    assert_eq!(sp.unprotect_frame(&mut w).unwrap_err().kind(), &AuthErrorKind::VerifierMismatch);
    let mut cp2 = cp;
    let mut w = frame(&plain_prot, 1, &stub(10), false);
    assert_eq!(cp2.protect_frame(&mut w).unwrap_err().kind(), &AuthErrorKind::VerifierMismatch);
    // a bind is not a protected pdu type
    let bind = dcom_pdu::Pdu::new(
        1,
        dcom_pdu::PfcFlags::FIRST_AND_LAST,
        dcom_pdu::PduBody::Bind(dcom_pdu::Bind::new(5840, 5840, 0, vec![])),
    )
    .to_bytes()
    .unwrap();
    assert_eq!(sp.unprotect_frame(&mut bind.clone()).unwrap_err().kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn header_signing_flag_does_not_change_ntlm_coverage() {
    // MS-NLMP 3.4.6.1: NTLMv2 covers every buffer; with or without header signing the same bytes are signed,
    // so a frame protected with header signing verifies on a context without it (same keys, same sequence).
    let (mut c, mut s) = ntlm_pair();
    let mut cp = Protection::for_context(&mut c, config(AuthLevel::PKT_INTEGRITY, true)).unwrap();
    let mut sp = Protection::for_context(&mut s, config(AuthLevel::PKT_INTEGRITY, false)).unwrap();
    let mut w = frame(&cp, 1, &stub(33), false);
    cp.protect_frame(&mut w).unwrap();
    sp.unprotect_frame(&mut w).unwrap();
}

use std::collections::BTreeSet;

use bytes::Bytes;
use dcom_auth::{AuthErrorKind, FrameLayout, Protection};
use dcom_pdu::{CallKind, PfcFlags, build_fragments};
use dcom_schannel::{MAX_BODY_LEN, MAX_FRAGMENT_LEN, TlsVersions};

use super::*;

fn auth_len(versions: TlsVersions) -> usize {
    if versions == TlsVersions::Tls12Only { 65 } else { 58 }
}

/// Sends PDUs each way and checks what arrives and what the wire shows.
fn exchange(cp: &mut Protection, sp: &mut Protection, versions: TlsVersions) {
    for (i, n) in [0usize, 1, 15, 16, 17, 100, 5000, MAX_BODY_LEN - 100].into_iter().enumerate() {
        let call = u32::try_from(i).unwrap() + 1;
        let data = stub(n);
        let mut wire = frame(cp, call, &data, false);
        let plain = wire.clone();
        cp.protect_frame(&mut wire).unwrap();
        let layout = FrameLayout::of(&wire).unwrap();
        let (trailer_off, _, av_off) = layout.verifier.unwrap();
        assert_eq!(wire.len(), plain.len(), "in place: same length");
        assert_eq!(wire.len() - av_off, auth_len(versions));
        if n > 0 {
            assert_ne!(&wire[layout.stub_start..layout.stub_end], &data[..], "sealed on the wire");
        }
        assert_eq!(wire[..layout.stub_start], plain[..layout.stub_start], "header in clear");
        assert_eq!(wire[trailer_off..av_off], plain[trailer_off..av_off], "sec_trailer in clear");
        // auth_value: the clear sequence number, then a TLS application_data record header
        let seq = u32::try_from(i).unwrap();
        assert_eq!(wire[av_off..av_off + 4], seq.to_be_bytes());
        assert_eq!(wire[av_off + 4..av_off + 7], [0x17, 0x03, 0x03]);
        let o = sp.unprotect_frame(&mut wire).unwrap();
        assert!(o.protected);
        assert_eq!(o.sequence, Some(seq));
        assert_eq!(&wire[o.stub.clone()], &data[..]);
        // server -> client
        let mut wire = frame(sp, call, &data, true);
        sp.protect_frame(&mut wire).unwrap();
        let o = cp.unprotect_frame(&mut wire).unwrap();
        assert_eq!(&wire[o.stub.clone()], &data[..]);
    }
}

#[test]
fn both_directions_both_versions_with_and_without_header_signing() {
    for v in VERSIONS {
        for header_sign in [true, false] {
            let (mut cp, mut sp) = protections(v, header_sign);
            assert_eq!(cp.sizes().unwrap().signature_len, auth_len(v));
            exchange(&mut cp, &mut sp, v);
            assert_eq!((cp.send_sequence(), sp.recv_sequence()), (8, 8));
            assert_eq!((sp.send_sequence(), cp.recv_sequence()), (8, 8));
        }
    }
}

#[test]
fn identical_bodies_encrypt_differently() {
    let (mut cp, _) = protections(TlsVersions::Tls13Only, true);
    let mut a = frame(&cp, 1, &stub(64), false);
    let mut b = a.clone();
    cp.protect_frame(&mut a).unwrap();
    cp.protect_frame(&mut b).unwrap();
    let l = FrameLayout::of(&a).unwrap();
    assert_ne!(a[l.stub_start..l.stub_end], b[l.stub_start..l.stub_end], "nonce from the tls sequence number");
}

/// A sealed request and the server protection that should accept it.
fn sealed(v: TlsVersions, header_sign: bool) -> (Protection, Vec<u8>) {
    let (mut cp, sp) = protections(v, header_sign);
    let mut wire = frame(&cp, 1, &stub(64), false);
    cp.protect_frame(&mut wire).unwrap();
    (sp, wire)
}

fn reject(v: TlsVersions, header_sign: bool, tamper: impl Fn(&mut Vec<u8>, &FrameLayout)) -> (AuthErrorKind, String) {
    let (mut sp, mut wire) = sealed(v, header_sign);
    let layout = FrameLayout::of(&wire).unwrap();
    tamper(&mut wire, &layout);
    let e = sp.unprotect_frame(&mut wire).unwrap_err();
    (e.kind().clone(), e.to_string())
}

fn tr(l: &FrameLayout) -> usize {
    l.verifier.as_ref().unwrap().0
}

fn av(l: &FrameLayout) -> usize {
    l.verifier.as_ref().unwrap().2
}

#[test]
fn tampering_is_rejected() {
    for v in VERSIONS {
        let kind = |hs, f: &dyn Fn(&mut Vec<u8>, &FrameLayout)| reject(v, hs, f).0;
        // body: the AEAD tag fails
        let (k, msg) = reject(v, true, |w, l| w[l.stub_start + 3] ^= 0x80);
        assert_eq!(k, AuthErrorKind::SignatureMismatch);
        assert!(msg.contains("aead"), "{msg}");
        // auth_value: tag, encrypted binding, explicit nonce / record header
        assert_eq!(kind(true, &|w, _| *w.last_mut().unwrap() ^= 1), AuthErrorKind::SignatureMismatch);
        assert_eq!(kind(true, &|w, l| w[av(l) + 4 + 5 + 8 + 2] ^= 1), AuthErrorKind::SignatureMismatch);
        assert_eq!(kind(true, &|w, l| w[av(l) + 4] = 0x16), AuthErrorKind::BadSignatureFormat, "content type");
        assert_eq!(kind(true, &|w, l| w[av(l) + 6] = 0x01), AuthErrorKind::BadSignatureFormat, "record version");
        assert_eq!(kind(true, &|w, l| w[av(l) + 8] -= 1), AuthErrorKind::BadSignatureFormat, "record length");
        assert_eq!(kind(true, &|w, l| w[av(l) + 8] += 1), AuthErrorKind::Truncated, "record longer than the pdu");
        // header and sec_trailer with header signing: the binding inside the record catches them
        for hs_tamper in [
            &(|w: &mut Vec<u8>, _: &FrameLayout| w[12] ^= 1) as &dyn Fn(&mut Vec<u8>, &FrameLayout),
            &|w, _| w[22] ^= 1,
            &|w, _| w[3] ^= 0x10,
            &|w, l| w[tr(l) + 3] ^= 1,
        ] {
            let (k, msg) = reject(v, true, hs_tamper);
            assert_eq!(k, AuthErrorKind::SignatureMismatch);
            assert!(msg.contains("header binding"), "{msg}");
        }
        // the sec_trailer fields the connection knows are checked before any crypto
        assert_eq!(kind(true, &|w, l| w[tr(l) + 1] = 5), AuthErrorKind::TrailerMismatch);
        assert_eq!(kind(true, &|w, l| w[tr(l) + 4] ^= 1), AuthErrorKind::TrailerMismatch);
    }
}

#[test]
fn without_header_signing_the_header_is_not_covered_but_the_body_is() {
    let (mut sp, mut wire) = sealed(TlsVersions::Tls13Only, false);
    wire[12] ^= 1; // call_id
    let o = sp.unprotect_frame(&mut wire).unwrap();
    assert_eq!(&wire[o.stub], &stub(64)[..]);
    // a peer that signs headers and one that does not cannot talk: the binding field differs
    let (mut c, mut s) = pair(TlsVersions::Tls13Only);
    let mut cp = Protection::for_context(&mut c, prot_config(true)).unwrap();
    let mut sp = Protection::for_context(&mut s, prot_config(false)).unwrap();
    let mut wire = frame(&cp, 1, &stub(8), false);
    cp.protect_frame(&mut wire).unwrap();
    let e = sp.unprotect_frame(&mut wire).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::SignatureMismatch);
    assert!(e.to_string().contains("header signing is off"), "{e}");
}

#[test]
fn replay_reorder_and_loss_are_detected_before_any_crypto() {
    for v in VERSIONS {
        let (mut cp, mut sp) = protections(v, true);
        let mut a = frame(&cp, 1, &stub(40), false);
        let mut b = frame(&cp, 2, &stub(41), false);
        let mut c = frame(&cp, 3, &stub(42), false);
        cp.protect_frame(&mut a).unwrap();
        cp.protect_frame(&mut b).unwrap();
        cp.protect_frame(&mut c).unwrap();
        let e = sp.unprotect_frame(&mut b.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::OutOfOrder { expected: 0, got: 1 });
        sp.unprotect_frame(&mut a.clone()).unwrap();
        let e = sp.unprotect_frame(&mut a.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::Replay { expected: 1, got: 0 });
        let e = sp.unprotect_frame(&mut c.clone()).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::OutOfOrder { expected: 1, got: 2 });
        assert!(!sp.is_poisoned(), "sequence rejections leave the tls state untouched");
        // a replay whose clear sequence number is rewritten to the expected one: tls's own sequence number
        // (the AEAD nonce) rejects it
        let mut forged = a.clone();
        let l = FrameLayout::of(&forged).unwrap();
        forged[av(&l)..av(&l) + 4].copy_from_slice(&1u32.to_be_bytes());
        let e = sp.unprotect_frame(&mut forged).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::SignatureMismatch);
        assert!(sp.is_poisoned());
        assert_eq!(sp.unprotect_frame(&mut b).unwrap_err().kind(), &AuthErrorKind::Poisoned);
    }
}

#[test]
fn in_order_after_a_rejected_replay_still_works() {
    let (mut cp, mut sp) = protections(TlsVersions::Tls13Only, true);
    let mut a = frame(&cp, 1, &stub(40), false);
    let mut b = frame(&cp, 2, &stub(41), false);
    cp.protect_frame(&mut a).unwrap();
    cp.protect_frame(&mut b).unwrap();
    sp.unprotect_frame(&mut a.clone()).unwrap();
    assert!(matches!(sp.unprotect_frame(&mut a).unwrap_err().kind(), AuthErrorKind::Replay { .. }));
    let o = sp.unprotect_frame(&mut b).unwrap();
    assert_eq!(&b[o.stub], &stub(41)[..]);
}

#[test]
fn truncation_is_rejected() {
    for v in VERSIONS {
        // frame shorter than frag_length
        assert_eq!(reject(v, true, |w, _| w.truncate(w.len() - 1)).0, AuthErrorKind::Truncated);
        // auth_value shorter than the signature: shrink auth_length and frag_length by 4
        let (k, _) = reject(v, true, |w, _| {
            w.truncate(w.len() - 4);
            let fl = u16::from_le_bytes([w[8], w[9]]) - 4;
            let al = u16::from_le_bytes([w[10], w[11]]) - 4;
            w[8..10].copy_from_slice(&fl.to_le_bytes());
            w[10..12].copy_from_slice(&al.to_le_bytes());
        });
        assert_eq!(k, AuthErrorKind::Truncated);
        // body shorter than the record says: drop 16 body bytes, fix frag_length
        let (k, msg) = reject(v, true, |w, l| {
            w.drain(l.stub_start..l.stub_start + 16);
            let fl = u16::from_le_bytes([w[8], w[9]]) - 16;
            w[8..10].copy_from_slice(&fl.to_le_bytes());
        });
        assert_eq!(k, AuthErrorKind::Truncated);
        assert!(msg.contains("truncated"), "{msg}");
    }
}

#[test]
fn the_rejections_are_distinct() {
    let v = TlsVersions::Tls13Only;
    let mut kinds = BTreeSet::new();
    kinds.insert(format!("{:?}", reject(v, true, |w, l| w[l.stub_start] ^= 1).0));
    kinds.insert(format!("{:?}", reject(v, true, |w, l| w[av(l) + 4] = 0).0));
    kinds.insert(format!("{:?}", reject(v, true, |w, _| w.truncate(w.len() - 1)).0));
    kinds.insert(format!("{:?}", reject(v, true, |w, l| w[tr(l) + 4] ^= 1).0));
    let (mut cp, mut sp) = protections(v, true);
    let mut a = frame(&cp, 1, &stub(4), false);
    let mut b = frame(&cp, 2, &stub(4), false);
    cp.protect_frame(&mut a).unwrap();
    cp.protect_frame(&mut b).unwrap();
    kinds.insert(format!("{:?}", sp.unprotect_frame(&mut b.clone()).unwrap_err().kind()));
    sp.unprotect_frame(&mut a.clone()).unwrap();
    kinds.insert(format!("{:?}", sp.unprotect_frame(&mut a).unwrap_err().kind()));
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

#[test]
fn stub_of_64_kib_split_over_capped_fragments() {
    for v in VERSIONS {
        let (mut cp, mut sp) = protections(v, true);
        let data = stub(64 * 1024);
        let kind = CallKind::Request { p_cont_id: 1, opnum: 7, object: None };
        let pdus =
            build_fragments(9, kind, &Bytes::from(data.clone()), MAX_FRAGMENT_LEN, PfcFlags(0), cp.auth_template())
                .unwrap();
        assert_eq!(pdus.len(), 5, "64 KiB in fragments of at most 16384 bytes");
        let mut got = Vec::new();
        for pdu in pdus {
            let mut wire = pdu.to_bytes().unwrap();
            assert!(wire.len() <= usize::from(MAX_FRAGMENT_LEN));
            cp.protect_frame(&mut wire).unwrap();
            let o = sp.unprotect_frame(&mut wire).unwrap();
            got.extend_from_slice(&wire[o.stub]);
        }
        assert_eq!(got, data);
        // the response too, with an object-less response header
        let kind = CallKind::Response { p_cont_id: 1 };
        for pdu in
            build_fragments(9, kind, &Bytes::from(data.clone()), MAX_FRAGMENT_LEN, PfcFlags(0), sp.auth_template())
                .unwrap()
        {
            let mut wire = pdu.to_bytes().unwrap();
            sp.protect_frame(&mut wire).unwrap();
            cp.unprotect_frame(&mut wire).unwrap();
        }
    }
}

#[test]
fn bodies_beyond_one_record_are_refused_with_the_fragment_cap_in_the_message() {
    let (mut cp, _) = protections(TlsVersions::Tls13Only, true);
    let data = stub(MAX_BODY_LEN + 16);
    let mut wire = frame(&cp, 1, &data, false);
    let e = cp.protect_frame(&mut wire).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::Unsupported);
    assert!(e.to_string().contains("max_xmit_frag at or below 16384"), "{e}");
    // the largest body that fits is accepted
    let (mut cp, mut sp) = protections(TlsVersions::Tls13Only, true);
    let mut wire = frame(&cp, 1, &stub(MAX_BODY_LEN), false);
    cp.protect_frame(&mut wire).unwrap();
    sp.unprotect_frame(&mut wire).unwrap();
}

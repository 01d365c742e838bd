//! Real Windows ciphertext: every protected PDU of `dcerpc_privacy_ntlm.pcapng.gz` verifies and decrypts with
//! the published credentials (DOMAIN\Administrator, Password123!).

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly")]

mod common;

use common::{VT_SIGNATURE, auth_value, frames, load};
use std::collections::BTreeMap;

use dcom_auth::ntlm::{NtHash, NtlmCaptureKeys};
use dcom_auth::{AuthErrorKind, ProtectionConfig};
use dcom_capture::{Capture, Limits};
use dcom_pdu::{AuthLevel, AuthType, Header, PacketType, Pdu, PfcFlags};
use sha2::{Digest, Sha256};

const CAPTURE: &str = "../../../shared/captures/dcerpc_privacy_ntlm.pcapng.gz";
const BIG_SHA256: &str = "c0b5de1c305c02041c7f05ccded701a57b9137b4ffc7a4d189cd1c51a1273321";

struct Conn {
    c2s: Vec<Vec<u8>>,
    s2c: Vec<Vec<u8>>,
    keys: NtlmCaptureKeys,
    config: ProtectionConfig,
}

fn ntlm_connection(nt: &NtHash) -> Result<Conn, dcom_auth::AuthError> {
    let cap = Capture::parse(&load(CAPTURE), &Limits::default()).unwrap();
    let streams = cap.reassemble().streams;
    let s = streams.iter().find(|s| s.server.port() == 49679).expect("svcctl stream");
    let c2s = frames(&s.c2s);
    let s2c = frames(&s.s2c);
    let bind = c2s.iter().find(|f| Header::decode(f).unwrap().ptype == PacketType::BIND).unwrap();
    let ack = s2c.iter().find(|f| Header::decode(f).unwrap().ptype == PacketType::BIND_ACK).unwrap();
    let auth3 = c2s.iter().find(|f| Header::decode(f).unwrap().ptype == PacketType::AUTH3).unwrap();
    let bind_h = Header::decode(bind).unwrap();
    let ack_h = Header::decode(ack).unwrap();
    let trailer = Pdu::decode(bytes::Bytes::copy_from_slice(bind)).unwrap().auth.unwrap().trailer;
    // MS-RPCE 3.3.1.5.2.2: header signing when both bind and bind_ack carry PFC_SUPPORT_HEADER_SIGN.
    let header_sign = bind_h.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN)
        && ack_h.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
    let config = ProtectionConfig {
        auth_type: trailer.auth_type,
        level: trailer.auth_level,
        context_id: trailer.auth_context_id,
        header_sign,
    };
    let keys = NtlmCaptureKeys::derive(&auth_value(bind), &auth_value(ack), &auth_value(auth3), nt)?;
    Ok(Conn { c2s, s2c, keys, config })
}

fn is_call(f: &[u8]) -> bool {
    matches!(Header::decode(f).unwrap().ptype, PacketType::REQUEST | PacketType::RESPONSE | PacketType::FAULT)
}

#[test]
fn every_protected_pdu_verifies_and_decrypts() {
    let conn = ntlm_connection(&NtHash::from_password("Password123!")).unwrap();
    assert_eq!(conn.config.auth_type, AuthType::WINNT);
    assert_eq!(conn.config.level, AuthLevel::PKT_PRIVACY);
    assert!(conn.config.header_sign, "windows negotiates header signing here");
    let v = conn.keys.verified();
    assert_eq!(v.user, "Administrator");
    assert_eq!(v.domain, "DOMAIN");
    assert!(v.mic_verified, "windows sends a MIC");

    // client -> server
    let mut p = conn.keys.client_to_server(conn.config).unwrap();
    let mut opened_c2s = 0;
    let mut first_request_stub = None;
    for f in conn.c2s.iter().filter(|f| is_call(f)) {
        let mut frame = f.clone();
        let o = p.unprotect_frame(&mut frame).unwrap();
        assert!(o.protected);
        assert_eq!(o.sequence, Some(opened_c2s));
        if first_request_stub.is_none() {
            first_request_stub = Some(frame[o.stub.clone()].to_vec());
        }
        opened_c2s += 1;
    }
    assert_eq!(opened_c2s, 4, "four sealed requests");
    // The first sealed request carries a verification trailer with SEC_VT_COMMAND_PCONTEXT and NDR 2.0.
    let stub = first_request_stub.unwrap();
    let at = stub.windows(8).position(|w| w == VT_SIGNATURE).expect("verification trailer in clear");
    let vt =
        dcom_pdu::VerificationTrailer::decode_at(&bytes::Bytes::from(stub.clone()), at, dcom_pdu::ByteOrder::Little)
            .unwrap();
    let vt = format!("{vt:?}");
    assert!(vt.contains("8a885d04-1ceb-11c9-9fe8-08002b104860"), "{vt}");

    // server -> client, with reassembly of the large EnumServicesStatusW response
    let mut p = conn.keys.server_to_client(conn.config).unwrap();
    let mut calls: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut protected = 0;
    let mut unprotected_faults = 0;
    for f in conn.s2c.iter().filter(|f| is_call(f)) {
        let mut frame = f.clone();
        let h = Header::decode(&frame).unwrap();
        let o = p.unprotect_frame(&mut frame).unwrap();
        if o.protected {
            assert_eq!(o.sequence, Some(protected));
            protected += 1;
        } else {
            assert_eq!(h.ptype, PacketType::FAULT);
            unprotected_faults += 1;
        }
        if h.ptype == PacketType::RESPONSE {
            calls.entry(h.call_id).or_default().extend_from_slice(&frame[o.stub.clone()]);
            if h.is_last_frag() && o.auth_pad_len > 0 {
                let pad = &frame[o.stub.end..o.stub.end + usize::from(o.auth_pad_len)];
                assert!(pad.iter().all(|&b| b == 0), "auth padding decrypts to zeros");
            }
        }
    }
    assert_eq!(protected, 8, "eight sealed response fragments");
    assert_eq!(unprotected_faults, 1, "one fault without verifier");
    let big = calls.values().find(|s| s.len() == 33_592).expect("33,592-byte response");
    assert_eq!(hex::encode(Sha256::digest(big)), BIG_SHA256);
}

#[test]
fn windows_signature_covers_header_and_trailer() {
    // Flip one bit of the header (call_id), of the sec_trailer (auth_reserved) and of the body: each breaks the
    // signature of a real Windows PDU, so header and trailer are covered (MS-NLMP 3.4.6.1).
    let conn = ntlm_connection(&NtHash::from_password("Password123!")).unwrap();
    let first = conn.c2s.iter().find(|f| is_call(f)).unwrap().clone();
    let layout = dcom_auth::FrameLayout::of(&first).unwrap();
    let (trailer_off, _, _) = layout.verifier.unwrap();
    for (what, at) in [("header", 12usize), ("trailer", trailer_off + 3), ("body", layout.stub_start + 1)] {
        let mut p = conn.keys.client_to_server(conn.config).unwrap();
        let mut frame = first.clone();
        frame[at] ^= 0x01;
        let err = p.unprotect_frame(&mut frame).unwrap_err();
        assert_eq!(err.kind(), &AuthErrorKind::SignatureMismatch, "{what}: {err}");
        assert!(p.is_poisoned());
        // the pristine frame verifies on a fresh context
        let mut p = conn.keys.client_to_server(conn.config).unwrap();
        p.unprotect_frame(&mut first.clone()).unwrap();
    }
}

#[test]
fn wrong_password_is_rejected_on_the_capture() {
    let err = ntlm_connection(&NtHash::from_password("Password124!")).err().expect("must fail");
    assert_eq!(err.kind(), &AuthErrorKind::LogonDenied);
}

#[test]
fn nt_hash_credential_works_like_the_password() {
    let conn = ntlm_connection(&NtHash::from_hex("2B576ACBE6BCFDA7294D6BD18041B8FE").unwrap()).unwrap();
    let mut p = conn.keys.client_to_server(conn.config).unwrap();
    let first = conn.c2s.iter().find(|f| is_call(f)).unwrap();
    assert!(p.unprotect_frame(&mut first.clone()).unwrap().protected);
    let err = ntlm_connection(&NtHash::from_hex("2e7ac0a94b4d4e3ae1c2d3d4b7d0b2a8").unwrap()).err().unwrap();
    assert_eq!(err.kind(), &AuthErrorKind::LogonDenied);
}

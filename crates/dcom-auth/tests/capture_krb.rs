//! Real Windows ciphertext: every sealed PDU of `dcerpc_privacy_krb.pcapng.gz` (SPNEGO + Kerberos, DCE style,
//! PKT_PRIVACY, AES256) unwraps and verifies with the published service key.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly")]

mod common;

use common::{VT_SIGNATURE, auth_value, frames, load};

use dcom_auth::kerberos::keytab::Keytab;
use dcom_auth::kerberos::{EncType, KerberosCaptureKeys, KerberosKey};
use dcom_auth::{AuthErrorKind, ProtectionConfig};
use dcom_capture::{Capture, Limits};
use dcom_pdu::{AuthLevel, AuthType, Header, PacketType, Pdu, PfcFlags};
use sha2::{Digest, Sha256};

const CAPTURE: &str = "../../../shared/captures/dcerpc_privacy_krb.pcapng.gz";
const SERVICE_KEY: &str = "85abb9b61dc2fa49d4cc04317bbd108f8f79df28239155ed7b144c5d2ebcf016";

fn ptype(f: &[u8]) -> PacketType {
    Header::decode(f).unwrap().ptype
}

fn service_key() -> KerberosKey {
    KerberosKey::from_hex(EncType::AES256_CTS_HMAC_SHA1_96, SERVICE_KEY).unwrap()
}

struct Conn {
    c2s: Vec<Vec<u8>>,
    s2c: Vec<Vec<u8>>,
    bind: Vec<u8>,
    ack: Vec<u8>,
    alter: Vec<u8>,
    alter_resp: Vec<u8>,
    config: ProtectionConfig,
}

fn connection() -> Conn {
    let cap = Capture::parse(&load(CAPTURE), &Limits::default()).unwrap();
    let streams = cap.reassemble().streams;
    let s = streams.iter().find(|s| s.server.port() == 49667).expect("drsuapi stream");
    let c2s = frames(&s.c2s);
    let s2c = frames(&s.s2c);
    let bind = c2s.iter().find(|f| ptype(f) == PacketType::BIND).unwrap().clone();
    let ack = s2c.iter().find(|f| ptype(f) == PacketType::BIND_ACK).unwrap().clone();
    let alter = c2s.iter().find(|f| ptype(f) == PacketType::ALTER_CONTEXT).unwrap().clone();
    let alter_resp = s2c.iter().find(|f| ptype(f) == PacketType::ALTER_CONTEXT_RESP).unwrap().clone();
    let trailer = Pdu::decode(bytes::Bytes::copy_from_slice(&bind)).unwrap().auth.unwrap().trailer;
    let header_sign = Header::decode(&bind).unwrap().pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN)
        && Header::decode(&ack).unwrap().pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
    let config = ProtectionConfig {
        auth_type: trailer.auth_type,
        level: trailer.auth_level,
        context_id: trailer.auth_context_id,
        header_sign,
    };
    Conn { c2s, s2c, bind, ack, alter, alter_resp, config }
}

fn keys(conn: &Conn) -> KerberosCaptureKeys {
    let mut keys =
        KerberosCaptureKeys::derive(&auth_value(&conn.bind), &auth_value(&conn.ack), &service_key()).unwrap();
    keys.finish_spnego(Some(&auth_value(&conn.alter)), Some(&auth_value(&conn.alter_resp))).unwrap();
    keys
}

fn is_call(f: &[u8]) -> bool {
    matches!(ptype(f), PacketType::REQUEST | PacketType::RESPONSE | PacketType::FAULT)
}

/// SHA-256 of the decrypted body (stub + auth padding) of each sealed PDU, from tshark 4.0
/// (`-o kerberos.decrypt:TRUE -o kerberos.file:capture_service.keytab`), an independent implementation.
const TSHARK_C2S: [&str; 6] = [
    "883e3d1c1d097b5b8aae1648be5d327595b44e56bf8bbe79ef6bc04cd4ad056b",
    "4ac3383d7f12d1ee34def427c4e8a4896289940cfdbc7503f8b7a76a2aa25c3e",
    "8a753c58ce998131396fc91453f3ddd07a41cfbe34ccf44e2e066381954f7896",
    "d9fe917c291455ad7ce188258fb09a8832fd0acfb04495f4c0b04214b6848091",
    "49bd82b8f3ed4de699e10f808bfdc17151294acaeaed8e695704881fe63fa7b7",
    "70e2a2a0cd41da6dcba50b53b1f58c8681e07d025162ed35b17148bd114462dd",
];
const TSHARK_S2C: [&str; 6] = [
    "d179625d3e88ab3f796e94ff3041172621415ad69dcbe1326fdc7782ac0f03d9",
    "7fe205e444ef4ac125f266df5a357bcd2b9d60c4b8dc5d5dd3fdd17e14981f0e",
    "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
    "4dd08d537d230e240ca00c9764ef4e976e6fbacf01adce485c56b15ee310e32b",
    "7fe205e444ef4ac125f266df5a357bcd2b9d60c4b8dc5d5dd3fdd17e14981f0e",
    "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
];

fn open_all(p: &mut dcom_auth::Protection, frames: &[Vec<u8>], expected: &[&str]) -> Vec<Vec<u8>> {
    let mut stubs = Vec::new();
    let calls: Vec<_> = frames.iter().filter(|f| is_call(f)).collect();
    assert_eq!(calls.len(), expected.len());
    for (n, (f, want)) in calls.into_iter().zip(expected).enumerate() {
        let mut frame = f.clone();
        let o = p.unprotect_frame(&mut frame).unwrap();
        assert!(o.protected);
        assert_eq!(o.sequence, Some(u32::try_from(n).unwrap()));
        let body = &frame[o.stub.start..o.stub.end + usize::from(o.auth_pad_len)];
        assert_eq!(hex::encode(Sha256::digest(body)), *want, "pdu {n} differs from tshark");
        stubs.push(frame[o.stub.clone()].to_vec());
    }
    stubs
}

#[test]
fn every_sealed_pdu_unwraps_verifies_and_matches_tshark() {
    let conn = connection();
    assert_eq!(conn.config.auth_type, AuthType::SPNEGO);
    assert_eq!(conn.config.level, AuthLevel::PKT_PRIVACY);
    assert!(conn.config.header_sign, "windows negotiates header signing here");
    let keys = keys(&conn);
    let t = keys.ticket();
    assert_eq!(t.realm, "DOMAIN.LOCAL");
    assert_eq!(t.sname, ["ldap", "dc1.domain.local", "domain.local"]);
    assert_eq!(t.cname, ["WIN10$"]);
    assert_eq!(t.kvno, Some(14));
    assert_eq!(t.ticket_enctype, EncType::AES256_CTS_HMAC_SHA1_96);
    assert_eq!(t.session_enctype, EncType::AES256_CTS_HMAC_SHA1_96);
    assert!(t.has_authorization_data, "the ticket carries a PAC");
    // RFC 4121 4.1.1.1: mutual, replay, sequence, confidentiality, integrity, and DCE style (0x1000)
    assert_eq!(t.gss_flags, Some(0x103e));
    assert!(keys.acceptor_subkey().is_some() && keys.initiator_subkey().is_some());
    assert_eq!(keys.protection_key(), keys.acceptor_subkey().unwrap(), "the acceptor subkey protects both ways");
    // both SPNEGO mechListMICs verified, each consuming the first sequence number of its direction
    assert_eq!(keys.verified_mech_list_mics(), 2);
    assert_eq!(keys.first_sequence_numbers(), (1_740_167_495, 1_736_824_995));

    let mut p = keys.client_to_server(conn.config).unwrap();
    let stubs = open_all(&mut p, &conn.c2s, &TSHARK_C2S);
    // The first sealed request (DsBind) carries a verification trailer with SEC_VT_COMMAND_PCONTEXT: DRSUAPI
    // over NDR64, which the alter_context negotiated.
    let stub = &stubs[0];
    let at = stub.windows(8).position(|w| w == VT_SIGNATURE).expect("verification trailer in clear");
    let vt =
        dcom_pdu::VerificationTrailer::decode_at(&bytes::Bytes::from(stub.clone()), at, dcom_pdu::ByteOrder::Little)
            .unwrap();
    let vt = format!("{vt:?}");
    assert!(vt.contains("Pcontext"), "{vt}");
    assert!(vt.contains("e3514235-4b06-11d1-ab04-00c04fc2dcd2"), "drsuapi: {vt}");
    assert!(vt.contains("71710533-beba-4937-8319-b5dbef9ccc36"), "ndr64: {vt}");

    let mut p = keys.server_to_client(conn.config).unwrap();
    open_all(&mut p, &conn.s2c, &TSHARK_S2C);
}

#[test]
fn keytab_fixture_opens_the_capture() {
    // capture_service.keytab was written by MIT ktutil for ldap/dc1.domain.local/domain.local@DOMAIN.LOCAL
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capture_service.keytab");
    let kt = Keytab::load(path).unwrap();
    let conn = connection();
    let mut keys =
        KerberosCaptureKeys::derive_with_keys(&auth_value(&conn.bind), &auth_value(&conn.ack), kt.keys()).unwrap();
    let t = keys.ticket().clone();
    let sname: Vec<&str> = t.sname.iter().map(String::as_str).collect();
    assert_eq!(kt.find(&sname, &t.realm, Some(t.ticket_enctype), t.kvno).count(), 1);
    keys.finish_spnego(Some(&auth_value(&conn.alter)), Some(&auth_value(&conn.alter_resp))).unwrap();
    let mut p = keys.client_to_server(conn.config).unwrap();
    open_all(&mut p, &conn.c2s, &TSHARK_C2S);
}

#[test]
fn wrong_or_missing_key_is_rejected() {
    let conn = connection();
    let mut wrong = hex::decode(SERVICE_KEY).unwrap();
    wrong[0] ^= 1;
    let wrong = KerberosKey::new(EncType::AES256_CTS_HMAC_SHA1_96, &wrong).unwrap();
    let err = KerberosCaptureKeys::derive(&auth_value(&conn.bind), &auth_value(&conn.ack), &wrong).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::SignatureMismatch, "{err}");
    // keys of another enctype are not even tried
    let aes128 = KerberosKey::new(EncType::AES128_CTS_HMAC_SHA1_96, &[7; 16]).unwrap();
    let err = KerberosCaptureKeys::derive(&auth_value(&conn.bind), &auth_value(&conn.ack), &aes128).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::NoMatchingKey, "{err}");
    // several candidates: the right one is found after a wrong one
    let right = service_key();
    KerberosCaptureKeys::derive_with_keys(&auth_value(&conn.bind), &auth_value(&conn.ack), [&wrong, &aes128, &right])
        .unwrap();
    let err = KerberosCaptureKeys::derive_with_keys(&auth_value(&conn.bind), &auth_value(&conn.ack), [&wrong, &wrong])
        .unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::NoMatchingKey, "{err}");
}

#[test]
fn windows_wrap_covers_header_and_trailer_with_header_signing() {
    // Header signing is negotiated: flipping a bit of the header (call_id), of the sec_trailer (auth_reserved),
    // of the encrypted body or of the token breaks the checksum of a real Windows PDU.
    let conn = connection();
    let keys = keys(&conn);
    let first = conn.c2s.iter().find(|f| is_call(f)).unwrap().clone();
    let layout = dcom_auth::FrameLayout::of(&first).unwrap();
    let (trailer_off, _, auth_off) = layout.verifier.unwrap();
    for (what, at) in [
        ("header", 12usize),
        ("trailer", trailer_off + 3),
        ("body", layout.stub_start + 1),
        ("token checksum area", auth_off + 20),
        ("confounder", auth_off + 70),
    ] {
        let mut p = keys.client_to_server(conn.config).unwrap();
        let mut frame = first.clone();
        frame[at] ^= 0x01;
        let err = p.unprotect_frame(&mut frame).unwrap_err();
        assert_eq!(err.kind(), &AuthErrorKind::SignatureMismatch, "{what}: {err}");
        assert!(p.is_poisoned());
    }
    // the token header fields are checked before any crypto
    for (what, at, kind) in [
        ("tok_id", auth_off, AuthErrorKind::BadSignatureFormat),
        ("flags (sent by acceptor)", auth_off + 2, AuthErrorKind::BadSignatureFormat),
        ("filler", auth_off + 3, AuthErrorKind::BadSignatureFormat),
    ] {
        let mut p = keys.client_to_server(conn.config).unwrap();
        let mut frame = first.clone();
        frame[at] ^= 0x01;
        let err = p.unprotect_frame(&mut frame).unwrap_err();
        assert_eq!(err.kind(), &kind, "{what}: {err}");
    }
    for (delta, kind) in [
        (1u8, AuthErrorKind::OutOfOrder { expected: 0, got: 1 }),
        (0xff, AuthErrorKind::Replay { expected: 0, got: 0 }), // below the initial sequence number
    ] {
        let mut p = keys.client_to_server(conn.config).unwrap();
        let mut frame = first.clone();
        frame[auth_off + 15] = frame[auth_off + 15].wrapping_add(delta);
        let err = p.unprotect_frame(&mut frame).unwrap_err();
        assert_eq!(err.kind(), &kind, "{err}");
        if delta == 1 {
            assert!(!p.is_poisoned(), "a later sequence number is reported before any crypto");
        }
    }
    // without header signing the checksum would not cover the header: the same PDU then fails
    let mut cfg = conn.config;
    cfg.header_sign = false;
    let mut p = keys.client_to_server(cfg).unwrap();
    let err = p.unprotect_frame(&mut first.clone()).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::SignatureMismatch);
    // a request reflected back as if it came from the server fails on the SentByAcceptor flag
    let mut p = keys.server_to_client(conn.config).unwrap();
    let err = p.unprotect_frame(&mut first.clone()).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            AuthErrorKind::BadSignatureFormat | AuthErrorKind::OutOfOrder { .. } | AuthErrorKind::Replay { .. }
        ),
        "{err}"
    );
}

#[test]
fn sequence_numbers_follow_the_spnego_mech_list_mics() {
    // Without finish_spnego the first PDU carries sequence number base + 1: reported as out of order.
    let conn = connection();
    let keys = KerberosCaptureKeys::derive(&auth_value(&conn.bind), &auth_value(&conn.ack), &service_key()).unwrap();
    assert_eq!(keys.first_sequence_numbers(), (1_740_167_494, 1_736_824_994));
    let mut p = keys.client_to_server(conn.config).unwrap();
    let first = conn.c2s.iter().find(|f| is_call(f)).unwrap();
    let err = p.unprotect_frame(&mut first.clone()).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::OutOfOrder { expected: 0, got: 1 });
    // replaying the second PDU first, then the first: out of order, then (after the first) fine
    let mut keys = keys;
    keys.finish_spnego(Some(&auth_value(&conn.alter)), Some(&auth_value(&conn.alter_resp))).unwrap();
    let mut p = keys.client_to_server(conn.config).unwrap();
    let calls: Vec<_> = conn.c2s.iter().filter(|f| is_call(f)).collect();
    let err = p.unprotect_frame(&mut calls[1].clone()).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::OutOfOrder { expected: 0, got: 1 });
    p.unprotect_frame(&mut calls[0].clone()).unwrap();
    let err = p.unprotect_frame(&mut calls[0].clone()).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::Replay { expected: 1, got: 0 });
    p.unprotect_frame(&mut calls[1].clone()).unwrap();
}

#[test]
fn raw_kerberos_tokens_work_like_spnego() {
    // The AP-REQ / AP-REP taken out of SPNEGO (as auth type 16 would carry them) give the same keys.
    use dcom_auth::kerberos::spnego::kerberos_message;
    let conn = connection();
    let req = kerberos_message(&auth_value(&conn.bind)).unwrap();
    let rep = kerberos_message(&auth_value(&conn.ack)).unwrap();
    assert!(req.spnego.is_some() && req.tok_id.is_none(), "windows sends the AP-REQ raw inside spnego");
    assert_eq!(req.message[0], 0x6e);
    assert_eq!(rep.message[0], 0x6f);
    let raw = KerberosCaptureKeys::derive(&req.message, &rep.message, &service_key()).unwrap();
    let spnego = keys(&conn);
    assert_eq!(raw.protection_key(), spnego.protection_key());
    let mut raw = raw;
    let err = raw.finish_spnego(None, None).unwrap_err();
    assert_eq!(err.kind(), &AuthErrorKind::OutOfSequence);
}

#[test]
fn mutated_handshake_tokens_never_panic() {
    let conn = connection();
    let key = service_key();
    let req = auth_value(&conn.bind);
    let rep = auth_value(&conn.ack);
    let mut state = 0x1234_5678_u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for i in 0..400 {
        let (mut a, mut b) = (req.clone(), rep.clone());
        let target = if i % 2 == 0 { &mut a } else { &mut b };
        match next() % 3 {
            0 => {
                let at = usize::try_from(next()).unwrap() % target.len();
                target[at] ^= u8::try_from(next() % 255 + 1).unwrap();
            }
            1 => {
                let at = usize::try_from(next()).unwrap() % target.len();
                target.truncate(at);
            }
            _ => {
                let at = usize::try_from(next()).unwrap() % target.len();
                target[at] = 0xff;
            }
        }
        let _ = KerberosCaptureKeys::derive(&a, &b, &key);
    }
}

#[test]
fn reseal_windows_responses_round_trip() {
    // Decrypt each server response, seal it again with our wrap (the client-to-server protection plays the
    // acceptor, so it sends server-to-client tokens), and open the result with a fresh receiver.
    let conn = connection();
    let keys = keys(&conn);
    let mut rx = keys.server_to_client(conn.config).unwrap();
    let mut tx = keys.client_to_server(conn.config).unwrap();
    let mut rx2 = keys.server_to_client(conn.config).unwrap();
    for f in conn.s2c.iter().filter(|f| is_call(f)) {
        let mut frame = f.clone();
        let o = rx.unprotect_frame(&mut frame).unwrap();
        let clear = frame.clone();
        tx.protect_frame(&mut frame).unwrap();
        assert_ne!(frame, clear, "sealed again");
        assert_eq!(frame[..o.stub.start], clear[..o.stub.start], "header untouched");
        let o2 = rx2.unprotect_frame(&mut frame).unwrap();
        assert_eq!(o2.sequence, o.sequence);
        assert_eq!(frame[o2.stub.clone()], clear[o.stub.clone()]);
    }
    assert_eq!(tx.send_sequence(), 6);
}

#[test]
fn debug_output_has_no_key_material() {
    let conn = connection();
    let keys = keys(&conn);
    let dbg = format!("{keys:?} {:?}", keys.client_to_server(conn.config).unwrap());
    for k in [Some(keys.session_key()), keys.acceptor_subkey(), keys.initiator_subkey()] {
        let k = hex::encode(k.unwrap().expose());
        assert!(!dbg.contains(&k[..16]), "{dbg}");
    }
    assert!(dbg.contains("redacted"), "{dbg}");
}

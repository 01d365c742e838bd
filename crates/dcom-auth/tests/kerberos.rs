//! Kerberos building blocks: keytab parser, RFC 4121 MIC tokens, DCE-style wrap tokens, SPNEGO parsing.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly")]

use dcom_auth::kerberos::keytab::{ByteOrder, Keytab, KeytabEntry, KeytabPrincipal, KeytabVersion, encode_v2};
use dcom_auth::kerberos::mic::{self, MIC_TOKEN_LEN};
use dcom_auth::kerberos::spnego::{NegState, Oid, SpnegoToken, kerberos_message};
use dcom_auth::kerberos::{EncType, KerberosKey, KerberosProtector, Sender, WRAP_TOKEN_LEN};
use dcom_auth::{AuthErrorKind, MessageProtector, PduParts};
use proptest::prelude::*;

const AES256: EncType = EncType::AES256_CTS_HMAC_SHA1_96;
const AES128: EncType = EncType::AES128_CTS_HMAC_SHA1_96;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

// ---------------------------------------------------------------------------------------------- keytab

#[test]
fn ktutil_keytab_parses() {
    // written by MIT ktutil 1.20 (see the crate README): four entries, one with kvno 300 (8-bit field 44)
    let kt = Keytab::parse(&fixture("ktutil.keytab")).unwrap();
    assert_eq!(kt.version, KeytabVersion::V2);
    assert_eq!(kt.entries.len(), 4);
    let e = &kt.entries[0];
    assert_eq!(e.principal.display_name(), "ldap/dc1.domain.local@DOMAIN.LOCAL");
    assert_eq!(e.principal.name_type, Some(1));
    assert_eq!(e.kvno, 14);
    assert_eq!(e.timestamp, 0x6b01_303f);
    assert_eq!(e.key.enctype(), AES256);
    assert_eq!(hex::encode(e.key.expose()), "85abb9b61dc2fa49d4cc04317bbd108f8f79df28239155ed7b144c5d2ebcf016");
    assert_eq!(kt.entries[1].principal.display_name(), "alice@EXAMPLE.COM");
    assert_eq!(kt.entries[1].key.enctype(), AES128);
    assert_eq!(kt.entries[3].kvno, 300, "the 32-bit kvno supersedes the 8-bit one");
    assert_eq!(kt.find(&["alice"], "example.com", None, Some(3)).count(), 2);
    assert_eq!(kt.find(&["alice"], "EXAMPLE.COM", Some(AES256), None).count(), 1);
    assert_eq!(kt.find(&["host", "dc1.domain.local"], "DOMAIN.LOCAL", None, Some(44)).count(), 0);
    assert_eq!(kt.keys().count(), 4);
    // our encoder writes what ktutil wrote
    assert_eq!(encode_v2(&kt.entries), fixture("ktutil.keytab"));
    // keys are redacted in Debug
    assert!(!format!("{kt:?}").contains("85ab"), "{kt:?}");
}

#[test]
fn string_to_key_matches_ktutil() {
    // ktutil addent -password for alice@EXAMPLE.COM, password Passw0rd!, default salt EXAMPLE.COMalice
    let kt = Keytab::parse(&fixture("ktutil.keytab")).unwrap();
    for e in &kt.entries[1..3] {
        let k = KerberosKey::from_password(e.key.enctype(), "Passw0rd!", "EXAMPLE.COMalice").unwrap();
        assert_eq!(&k, &e.key);
    }
    let k = KerberosKey::from_password(AES128, "Passw0rd?", "EXAMPLE.COMalice").unwrap();
    assert_ne!(&k, &kt.entries[1].key);
}

fn record(body: &[u8]) -> Vec<u8> {
    let mut v = i32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn v2_entry(components: &[&str], kvno8: u8, enctype: u16, key: &[u8], kvno32: Option<u32>) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&u16::try_from(components.len()).unwrap().to_be_bytes());
    for s in std::iter::once(&"EXAMPLE.COM").chain(components) {
        e.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
        e.extend_from_slice(s.as_bytes());
    }
    e.extend_from_slice(&2u32.to_be_bytes()); // NT-SRV-INST
    e.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    e.push(kvno8);
    e.extend_from_slice(&enctype.to_be_bytes());
    e.extend_from_slice(&u16::try_from(key.len()).unwrap().to_be_bytes());
    e.extend_from_slice(key);
    if let Some(k) = kvno32 {
        e.extend_from_slice(&k.to_be_bytes());
    }
    e
}

#[test]
fn keytab_holes_padding_and_kvno32() {
    let mut file = vec![0x05, 0x02];
    // a 10-byte hole (deleted entry)
    file.extend_from_slice(&(-10i32).to_be_bytes());
    file.extend_from_slice(&[0; 10]);
    // an entry without the 32-bit kvno
    file.extend_from_slice(&record(&v2_entry(&["host", "a"], 7, 18, &[1; 32], None)));
    // an entry whose 32-bit kvno is zero: the 8-bit one counts
    file.extend_from_slice(&record(&v2_entry(&["host", "b"], 9, 17, &[2; 16], Some(0))));
    // an entry shorter than its record (it replaced a larger hole): 3 trailing zero bytes, too few for kvno32
    let mut e = v2_entry(&["host", "c"], 5, 23, &[3; 16], None);
    e.extend_from_slice(&[0; 3]);
    file.extend_from_slice(&record(&e));
    // an unknown enctype keeps its bytes
    file.extend_from_slice(&record(&v2_entry(&["x"], 1, 99, &[4; 5], Some(1000))));
    // a zero length ends the file; what follows is ignored
    file.extend_from_slice(&0i32.to_be_bytes());
    file.extend_from_slice(&[0xde, 0xad]);
    let kt = Keytab::parse(&file).unwrap();
    let got: Vec<(String, u32, i32)> =
        kt.entries.iter().map(|e| (e.principal.display_name(), e.kvno, e.key.enctype().0)).collect();
    assert_eq!(
        got,
        [
            ("host/a@EXAMPLE.COM".to_owned(), 7, 18),
            ("host/b@EXAMPLE.COM".to_owned(), 9, 17),
            ("host/c@EXAMPLE.COM".to_owned(), 5, 23),
            ("x@EXAMPLE.COM".to_owned(), 1000, 99),
        ]
    );
    assert_eq!(kt.entries[0].principal.name_type, Some(2));
    assert_eq!(kt.entries[3].key.expose(), [4; 5]);
}

#[test]
fn keytab_version_1_in_either_byte_order() {
    // version 1: count includes the realm, no name type, the writer's byte order
    let entry = |le: bool| {
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut e = Vec::new();
        e.extend_from_slice(&u16b(2)); // realm + 1 component
        for s in ["EXAMPLE.COM", "bob"] {
            e.extend_from_slice(&u16b(u16::try_from(s.len()).unwrap()));
            e.extend_from_slice(s.as_bytes());
        }
        e.extend_from_slice(&u32b(42));
        e.push(3);
        e.extend_from_slice(&u16b(17));
        e.extend_from_slice(&u16b(16));
        e.extend_from_slice(&[9; 16]);
        let mut file = vec![0x05, 0x01];
        file.extend_from_slice(&u32b(u32::try_from(e.len()).unwrap()));
        file.extend_from_slice(&e);
        file
    };
    for (le, order) in [(true, ByteOrder::Little), (false, ByteOrder::Big)] {
        let kt = Keytab::parse_with_v1_order(&entry(le), order).unwrap();
        assert_eq!(kt.version, KeytabVersion::V1);
        let e = &kt.entries[0];
        assert_eq!(
            e.principal,
            KeytabPrincipal { realm: "EXAMPLE.COM".into(), components: vec!["bob".into()], name_type: None }
        );
        assert_eq!((e.timestamp, e.kvno, e.key.enctype()), (42, 3, AES128));
    }
    // the wrong byte order fails cleanly
    assert!(Keytab::parse_with_v1_order(&entry(true), ByteOrder::Big).is_err());
}

#[test]
fn hostile_keytabs_are_errors() {
    let good = record(&v2_entry(&["host"], 1, 18, &[1; 32], None));
    let with = |rec: &[u8]| [&[0x05, 0x02][..], rec].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("bad version", vec![0x05, 0x03]),
        ("not a keytab", b"hello".to_vec()),
        ("record longer than the file", with(&[0x7f, 0xff, 0xff, 0xff, 0])),
        ("hole longer than the file", with(&i32::MIN.to_be_bytes())),
        ("truncated entry", with(&good[..good.len() - 5])),
        ("component count past the record", with(&record(&[0xff, 0xff, 0, 0]))),
        ("key length past the record", {
            let mut e = v2_entry(&["host"], 1, 18, &[1; 32], None);
            let n = e.len();
            e[n - 34] = 0xff;
            with(&record(&e))
        }),
        ("aes256 key of the wrong length", with(&record(&v2_entry(&["host"], 1, 18, &[1; 31], None)))),
    ];
    for (what, bytes) in cases {
        let err = Keytab::parse(&bytes).unwrap_err();
        assert_eq!(err.kind(), &AuthErrorKind::Keytab, "{what}: {err}");
    }
    // only a version: no entries
    assert!(Keytab::parse(&[0x05, 0x02]).unwrap().entries.is_empty());
}

fn arb_entry() -> impl Strategy<Value = KeytabEntry> {
    (
        "[A-Z.]{1,12}",
        proptest::collection::vec("[a-z0-9.]{0,10}", 0..4),
        any::<u32>(),
        1u32..100_000,
        prop_oneof![Just(AES128), Just(AES256), Just(EncType(99))],
        any::<[u8; 32]>(),
        any::<u32>(),
    )
        .prop_map(|(realm, components, name_type, kvno, et, key, ts)| {
            let key = KerberosKey::new(et, &key[..et.key_len().unwrap_or(7)]).unwrap();
            KeytabEntry {
                principal: KeytabPrincipal { realm, components, name_type: Some(name_type) },
                timestamp: ts,
                kvno,
                key,
            }
        })
}

proptest! {
    #[test]
    fn keytab_round_trip(entries in proptest::collection::vec(arb_entry(), 0..5)) {
        let bytes = encode_v2(&entries);
        let kt = Keytab::parse(&bytes).unwrap();
        prop_assert_eq!(&kt.entries, &entries);
        prop_assert_eq!(encode_v2(&kt.entries), bytes);
    }

    #[test]
    fn keytab_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), v in 1u8..3) {
        let mut b = vec![0x05, v];
        b.extend_from_slice(&bytes);
        let _ = Keytab::parse(&b);
        let _ = Keytab::parse(&bytes);
    }

    #[test]
    fn keytab_mutations_never_panic(at in 0usize..400, val in any::<u8>(), cut in 0usize..400) {
        let mut b = fixture("ktutil.keytab");
        let n = b.len();
        b[at % n] = val;
        b.truncate(cut % (n + 1));
        let _ = Keytab::parse(&b);
    }
}

// ---------------------------------------------------------------------------------------------- MIC

const MECH_TYPES_DER: &str =
    "302e06092a864882f71201020206092a864886f712010202060a2b06010401823702021e060a2b06010401823702020a";
/// The acceptor subkey of `dcerpc_privacy_krb.pcapng.gz` (decrypted from its public capture and key).
const CAPTURE_ACCEPTOR_SUBKEY: &str = "7c80a47497b63e85593c10f6c318194cd1bc2300afe56d6721128e768d2be346";

#[test]
fn windows_mech_list_mics() {
    // The SPNEGO mechListMICs Windows sent in the capture (alter_context and alter_context_resp)
    let key = KerberosKey::from_hex(AES256, CAPTURE_ACCEPTOR_SUBKEY).unwrap();
    let mt = hex::decode(MECH_TYPES_DER).unwrap();
    let client = mic::get_mic(&key, Sender::Initiator, true, 1_740_167_494, &[&mt]).unwrap();
    assert_eq!(hex::encode(client), "040404ffffffffff0000000067b8d94663fa92a3c02798d87cd7083e");
    let server = mic::get_mic(&key, Sender::Acceptor, true, 1_736_824_994, &[&mt[..10], &mt[10..]]).unwrap();
    assert_eq!(hex::encode(server), "040405ffffffffff000000006785d8a2f33a8a1f13cd946d878a1448");
    mic::verify_mic(&key, Sender::Acceptor, true, 1_736_824_994, &[&mt], &server).unwrap();
}

#[test]
fn aes128_mic_vectors() {
    // from an independent Python implementation of RFC 3961 DK + HMAC-SHA1-96 over `cryptography`'s AES,
    // which reproduces the two Windows MICs above
    let key = KerberosKey::new(AES128, &(0u8..16).collect::<Vec<_>>()).unwrap();
    let t = mic::get_mic(&key, Sender::Initiator, false, 5, &[b"hello dce/rpc"]).unwrap();
    assert_eq!(hex::encode(t), "040400ffffffffff000000000000000546bcbb40a2e9b5dbfa714ef6");
    let t = mic::get_mic(&key, Sender::Acceptor, true, 0x0102_0304_0506_0708, &[]).unwrap();
    assert_eq!(hex::encode(t), "040405ffffffffff0102030405060708489c3a961165c80bdd770806");
}

#[test]
fn mic_rejections() {
    let key = KerberosKey::new(AES256, &[0x42; 32]).unwrap();
    let msg: &[&[u8]] = &[b"header", b"body", b"trailer"];
    let tok = mic::get_mic(&key, Sender::Initiator, false, 7, msg).unwrap();
    mic::verify_mic(&key, Sender::Initiator, false, 7, msg, &tok).unwrap();
    // buffer boundaries do not matter, content does
    mic::verify_mic(&key, Sender::Initiator, false, 7, &[b"headerbodytrailer"], &tok).unwrap();
    let kind = |r: Result<(), dcom_auth::AuthError>| r.unwrap_err().kind().clone();
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Initiator, false, 7, &[b"headerbodytrailex"], &tok)),
        AuthErrorKind::SignatureMismatch
    );
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Acceptor, false, 7, msg, &tok)),
        AuthErrorKind::BadSignatureFormat,
        "reflected"
    );
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Initiator, true, 7, msg, &tok)),
        AuthErrorKind::BadSignatureFormat,
        "subkey flag"
    );
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Initiator, false, 8, msg, &tok)),
        AuthErrorKind::Replay { expected: 8, got: 7 }
    );
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Initiator, false, 6, msg, &tok)),
        AuthErrorKind::OutOfOrder { expected: 6, got: 7 }
    );
    assert_eq!(kind(mic::verify_mic(&key, Sender::Initiator, false, 7, msg, &tok[..27])), AuthErrorKind::Truncated);
    assert_eq!(
        kind(mic::verify_mic(&key, Sender::Initiator, false, 7, msg, &[&tok[..], &[0]].concat())),
        AuthErrorKind::BadSignatureFormat
    );
    for at in [0usize, 1, 3, 7] {
        let mut t = tok;
        t[at] ^= 1;
        assert_eq!(
            kind(mic::verify_mic(&key, Sender::Initiator, false, 7, msg, &t)),
            AuthErrorKind::BadSignatureFormat,
            "byte {at}"
        );
    }
    for at in 16..MIC_TOKEN_LEN {
        let mut t = tok;
        t[at] ^= 0x80;
        assert_eq!(kind(mic::verify_mic(&key, Sender::Initiator, false, 7, msg, &t)), AuthErrorKind::SignatureMismatch);
    }
    let other = KerberosKey::new(AES256, &[0x43; 32]).unwrap();
    assert_eq!(kind(mic::verify_mic(&other, Sender::Initiator, false, 7, msg, &tok)), AuthErrorKind::SignatureMismatch);
    // RC4 and DES3 have no RFC 4121 tokens here
    let rc4 = KerberosKey::new(EncType::RC4_HMAC, &[1; 16]).unwrap();
    assert_eq!(mic::get_mic(&rc4, Sender::Initiator, false, 0, msg).unwrap_err().kind(), &AuthErrorKind::Unsupported);
}

// ---------------------------------------------------------------------------------------------- wrap

fn pair(et: EncType, sealing: bool, acceptor_subkey: bool) -> (KerberosProtector, KerberosProtector) {
    let key = KerberosKey::new(et, &vec![0x5a; et.key_len().unwrap()]).unwrap();
    let client = KerberosProtector::new(key.clone(), acceptor_subkey, Sender::Initiator, 1000, 77, sealing).unwrap();
    let server = KerberosProtector::new(key, acceptor_subkey, Sender::Acceptor, 77, 1000, sealing).unwrap();
    (client, server)
}

struct Pdu {
    header: Vec<u8>,
    body: Vec<u8>,
    trailer: Vec<u8>,
}

fn send(p: &mut KerberosProtector, seq: u32, pdu: &mut Pdu, header_signed: bool, sealing: bool) -> Vec<u8> {
    let mut av = vec![0u8; p.sizes().signature_len];
    let parts = PduParts { header: &pdu.header, body: &mut pdu.body, trailer: &pdu.trailer, header_signed };
    if sealing {
        p.seal(seq, parts, &mut av).unwrap()
    } else {
        p.sign(seq, parts, &mut av).unwrap()
    }
    av
}

fn recv(
    p: &mut KerberosProtector,
    seq: u32,
    pdu: &mut Pdu,
    header_signed: bool,
    sealing: bool,
    av: &[u8],
) -> Result<(), dcom_auth::AuthError> {
    let parts = PduParts { header: &pdu.header, body: &mut pdu.body, trailer: &pdu.trailer, header_signed };
    if sealing { p.unseal(seq, parts, av) } else { p.verify(seq, parts, av) }
}

#[test]
fn wrap_token_layout() {
    let (mut c, _) = pair(AES256, true, true);
    assert_eq!(c.sizes().signature_len, WRAP_TOKEN_LEN);
    assert_eq!(WRAP_TOKEN_LEN, 76);
    let mut pdu = Pdu { header: vec![5; 24], body: vec![0xab; 48], trailer: vec![9; 8] };
    let av = send(&mut c, 3, &mut pdu, true, true);
    // TOK_ID 05 04, flags AcceptorSubkey|Sealed (initiator), filler, EC 16, RRC 28, SND_SEQ 1000 + 3
    assert_eq!(hex::encode(&av[..16]), "050406ff0010001c00000000000003eb");
    assert_ne!(pdu.body, vec![0xab; 48], "body encrypted in place");
    let (_, s) = pair(AES256, true, true);
    assert_eq!(s.peek_sequence(&av), Some(3));
    let key = KerberosKey::new(AES256, &[0x5a; 32]).unwrap();
    let late = KerberosProtector::new(key, true, Sender::Acceptor, 0, 2000, true).unwrap();
    assert_eq!(late.peek_sequence(&av), None, "below the initial sequence number");
}

#[test]
fn wrap_and_mic_round_trips_and_tampering() {
    for et in [AES128, AES256] {
        for sealing in [true, false] {
            for header_signed in [true, false] {
                let (mut c, mut s) = pair(et, sealing, et == AES256);
                for seq in 0..3u32 {
                    let plain = Pdu {
                        header: (0..24).collect(),
                        body: (0u8..64).map(|i| i ^ seq.to_le_bytes()[0]).collect(),
                        trailer: vec![10, 6, 0, 0, 1, 0, 0, 0],
                    };
                    let mut pdu =
                        Pdu { header: plain.header.clone(), body: plain.body.clone(), trailer: plain.trailer.clone() };
                    let av = send(&mut c, seq, &mut pdu, header_signed, sealing);
                    assert_eq!(pdu.body != plain.body, sealing);
                    // tampering
                    for (what, f) in [
                        (
                            "header",
                            Box::new(|p: &mut Pdu, _: &mut Vec<u8>| p.header[3] ^= 1)
                                as Box<dyn Fn(&mut Pdu, &mut Vec<u8>)>,
                        ),
                        ("trailer", Box::new(|p: &mut Pdu, _: &mut Vec<u8>| p.trailer[7] ^= 1)),
                        ("body", Box::new(|p: &mut Pdu, _: &mut Vec<u8>| p.body[40] ^= 1)),
                        (
                            "token",
                            Box::new(|_: &mut Pdu, a: &mut Vec<u8>| {
                                let n = a.len();
                                a[n - 1] ^= 1
                            }),
                        ),
                    ] {
                        let mut p2 =
                            Pdu { header: pdu.header.clone(), body: pdu.body.clone(), trailer: pdu.trailer.clone() };
                        let mut av2 = av.clone();
                        f(&mut p2, &mut av2);
                        let r = recv(&mut s, seq, &mut p2, header_signed, sealing, &av2);
                        let covered = header_signed || !matches!(what, "header" | "trailer");
                        assert_eq!(r.is_err(), covered, "{et} sealing {sealing} header_signed {header_signed} {what}");
                        if let Err(e) = r {
                            assert_eq!(e.kind(), &AuthErrorKind::SignatureMismatch);
                        }
                    }
                    // the other side's own token is refused (reflection)
                    let mut p3 =
                        Pdu { header: pdu.header.clone(), body: pdu.body.clone(), trailer: pdu.trailer.clone() };
                    assert!(recv(&mut c, seq, &mut p3, header_signed, sealing, &av).is_err());
                    recv(&mut s, seq, &mut pdu, header_signed, sealing, &av).unwrap();
                    assert_eq!(pdu.body, plain.body);
                    // and the reverse direction
                    let av = send(&mut s, seq, &mut pdu, header_signed, sealing);
                    recv(&mut c, seq, &mut pdu, header_signed, sealing, &av).unwrap();
                    assert_eq!(pdu.body, plain.body);
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn wrap_round_trip(body in proptest::collection::vec(any::<u8>(), 0..300), header in proptest::collection::vec(any::<u8>(), 16..40), seq in 0u32..1000, hs: bool, aes256: bool) {
        let et = if aes256 { AES256 } else { AES128 };
        let (mut c, mut s) = pair(et, true, aes256);
        let mut pdu = Pdu { header, body: body.clone(), trailer: vec![9, 6, 4, 0, 0, 0, 0, 0] };
        let av = send(&mut c, seq, &mut pdu, hs, true);
        recv(&mut s, seq, &mut pdu, hs, true, &av).unwrap();
        prop_assert_eq!(&pdu.body, &body);
        // and re-sealing gives a token that opens again (encode -> decode -> encode)
        let av2 = send(&mut c, seq, &mut pdu, hs, true);
        recv(&mut s, seq, &mut pdu, hs, true, &av2).unwrap();
        prop_assert_eq!(pdu.body, body);
    }

    #[test]
    fn unwrap_never_panics(av in proptest::collection::vec(any::<u8>(), 0..120), body in proptest::collection::vec(any::<u8>(), 0..80), ec in any::<u16>(), rrc in any::<u16>(), keep_header: bool) {
        let (_, mut s) = pair(AES256, true, true);
        let mut av = av;
        if keep_header && av.len() >= 16 {
            av[..16].copy_from_slice(&[0x05, 0x04, 0x06, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]);
            av[4..6].copy_from_slice(&ec.to_be_bytes());
            av[6..8].copy_from_slice(&rrc.to_be_bytes());
        }
        let mut pdu = Pdu { header: vec![0; 24], body, trailer: vec![0; 8] };
        let _ = recv(&mut s, 0, &mut pdu, true, true, &av);
        let (_, mut s) = pair(AES128, false, false);
        let _ = recv(&mut s, 0, &mut pdu, false, false, &av);
    }
}

// ---------------------------------------------------------------------------------------------- SPNEGO

#[test]
fn spnego_init_and_resp() {
    // NegTokenInit { mechTypes [MS-KRB5, KRB5], mechToken raw AP-REQ stand-in } and NegTokenResp
    let mech_types = hex::decode("301606092a864882f71201020206092a864886f712010202").unwrap();
    let token_field = hex::decode("a20504036e0102").unwrap();
    let mut seq = vec![0xa0, u8::try_from(mech_types.len()).unwrap()];
    seq.extend_from_slice(&mech_types);
    seq.extend_from_slice(&token_field);
    let mut neg = vec![0x30, u8::try_from(seq.len()).unwrap()];
    neg.extend_from_slice(&seq);
    let mut inner = hex::decode("06062b0601050502").unwrap();
    inner.push(0xa0);
    inner.push(u8::try_from(neg.len()).unwrap());
    inner.extend_from_slice(&neg);
    let mut tok = vec![0x60, u8::try_from(inner.len()).unwrap()];
    tok.extend_from_slice(&inner);
    let SpnegoToken::Init(i) = SpnegoToken::parse(&tok).unwrap() else { panic!("init") };
    assert_eq!(
        i.mech_types.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["1.2.840.48018.1.2.2", "1.2.840.113554.1.2.2"]
    );
    assert!(i.mech_types[0].is_kerberos());
    assert_eq!(i.mech_types_der, mech_types);
    assert_eq!(i.mech_token.as_deref(), Some(&[0x6e, 0x01, 0x02][..]));
    let m = kerberos_message(&tok).unwrap();
    assert_eq!(m.message, [0x6e, 0x01, 0x02]);
    // trailing garbage is refused
    let mut bad = tok.clone();
    bad.push(0);
    assert!(SpnegoToken::parse(&bad).is_err());
    // NegTokenResp { accept-completed, mechListMIC }
    let resp = hex::decode("a10e300ca0030a0100a305040304040a").unwrap();
    let SpnegoToken::Resp(r) = SpnegoToken::parse(&resp).unwrap() else { panic!("resp") };
    assert_eq!(r.neg_state, Some(NegState::ACCEPT_COMPLETED));
    assert_eq!(r.mech_list_mic.as_deref(), Some(&[0x04, 0x04, 0x0a][..]));
    // an NTLM-only negotiation is not Kerberos
    assert_eq!(Oid(Oid::NTLMSSP.to_vec()).to_string(), "1.3.6.1.4.1.311.2.2.10");
    // fields out of order are refused
    let swapped = hex::decode("a10e300ca305040304040aa0030a0100").unwrap();
    assert!(SpnegoToken::parse(&swapped).is_err());
}

proptest! {
    #[test]
    fn spnego_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), first in prop_oneof![Just(0x60u8), Just(0xa1), any::<u8>()]) {
        let mut b = vec![first];
        b.extend_from_slice(&bytes);
        let _ = SpnegoToken::parse(&b);
        let _ = kerberos_message(&b);
        let _ = kerberos_message(&bytes);
    }
}

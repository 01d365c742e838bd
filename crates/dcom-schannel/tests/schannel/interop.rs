//! Independent checks: the handshake tokens are plain TLS records (a small record parser written here), and
//! rustls's *buffered* API, driven as an ordinary TLS peer, completes handshakes with our contexts and reads
//! and writes the records our PDUs carry.

use std::io::{Read, Write};
use std::sync::Arc;

use dcom_auth::{AuthErrorKind, ClientContext, FrameLayout, Protection, SecurityContext, ServerContext, Step};
use dcom_schannel::rustls::pki_types::ServerName;
use dcom_schannel::rustls::server::WebPkiClientVerifier;
use dcom_schannel::rustls::{self, ClientConnection, RootCertStore, ServerConnection};
use dcom_schannel::{BINDING_LEN, SEQ_LEN, TlsVersions};
use sha2::{Digest, Sha256};

use super::*;

/// One TLS record: content type, legacy version, fragment.
#[derive(Debug)]
struct Record<'a> {
    typ: u8,
    version: u16,
    fragment: &'a [u8],
}

/// Splits a token into TLS records ([RFC 8446 5.1], [RFC 5246 6.2.1]); panics unless the records cover it
/// exactly and each header is valid.
fn records(token: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    let mut rest = token;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "partial record header");
        let typ = rest[0];
        let version = u16::from_be_bytes([rest[1], rest[2]]);
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        assert!(matches!(typ, 20..=23), "content type {typ}");
        assert!(version == 0x0301 || version == 0x0303, "record version {version:#06x}");
        assert!(len <= 16384 + 256, "record length {len}");
        assert!(rest.len() >= 5 + len, "record overruns the token");
        out.push(Record { typ, version, fragment: &rest[5..5 + len] });
        rest = &rest[5 + len..];
    }
    out
}

/// Handshake message types of clear handshake records ([RFC 8446 4], [RFC 5246 7.4]).
fn handshake_types(fragment: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = fragment;
    while !rest.is_empty() {
        let len = usize::try_from(u32::from_be_bytes([0, rest[1], rest[2], rest[3]])).unwrap();
        out.push(rest[0]);
        rest = &rest[4 + len..];
    }
    out
}

fn shape(tokens: &[Vec<u8>]) -> Vec<Vec<(u8, Vec<u8>)>> {
    tokens
        .iter()
        .map(|t| {
            // After a ChangeCipherSpec (type 20) the sender's handshake records are encrypted (the Finished):
            // their bytes are not handshake headers. TLS 1.3 encrypts everything after the ServerHello, whose
            // records are application_data (23) on the wire, so only TLS 1.2 needs this.
            let mut encrypted = false;
            records(t)
                .into_iter()
                .map(|r| {
                    let hs = if r.typ == 22 && !encrypted && r.fragment.first().is_some_and(|t| matches!(t, 1..=16)) {
                        handshake_types(r.fragment)
                    } else {
                        Vec::new()
                    };
                    if r.typ == 20 {
                        encrypted = true;
                    }
                    (r.typ, hs)
                })
                .collect()
        })
        .collect()
}

#[test]
fn tls12_tokens_are_the_rfc_5246_flights() {
    let mut c = client(&client_config(Some(&pki().alice), TlsVersions::Tls12Only));
    let mut s = server(&server_config(TlsVersions::Tls12Only));
    let legs = run_handshake(&mut c, &mut s).unwrap();
    let sh = shape(&legs);
    // leg 1: ClientHello
    assert_eq!(sh[0], vec![(22, vec![1])]);
    // leg 2: ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone (one or more records)
    let types: Vec<u8> = sh[1]
        .iter()
        .flat_map(|(t, hs)| {
            assert_eq!(*t, 22);
            hs.clone()
        })
        .collect();
    assert_eq!(types, vec![2, 11, 12, 13, 14]);
    // leg 3: Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec, encrypted Finished
    let clear: Vec<u8> = sh[2].iter().filter(|(t, _)| *t == 22).flat_map(|(_, hs)| hs.clone()).collect();
    assert!(clear.starts_with(&[11, 16, 15]), "{clear:?}");
    assert_eq!(sh[2].iter().filter(|(t, _)| *t == 20).count(), 1);
    assert_eq!(sh[2].last().unwrap().0, 22);
    // leg 4: ChangeCipherSpec, encrypted Finished
    assert_eq!(sh[3].iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![20, 22]);
    assert!(records(&legs[1]).iter().all(|r| r.version == 0x0303));
}

#[test]
fn tls13_tokens_are_the_rfc_8446_flights() {
    let mut c = client(&client_config(Some(&pki().alice), TlsVersions::Tls13Only));
    let mut s = server(&server_config(TlsVersions::Tls13Only));
    let legs = run_handshake(&mut c, &mut s).unwrap();
    let sh = shape(&legs);
    assert_eq!(sh[0], vec![(22, vec![1])]);
    // leg 2: ServerHello in clear, optional middlebox ChangeCipherSpec, then encrypted records (type 23)
    assert_eq!(sh[1][0], (22, vec![2]));
    assert!(sh[1][1..].iter().all(|(t, _)| *t == 20 || *t == 23));
    assert!(sh[1].iter().any(|(t, _)| *t == 23));
    // leg 3: optional ChangeCipherSpec, then encrypted Certificate/CertificateVerify/Finished
    assert!(sh[2].iter().all(|(t, _)| *t == 20 || *t == 23));
    assert!(legs[3].is_empty());
}

fn buffered_server_config(versions: TlsVersions) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca.cert().clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13],
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki().server.chain(), pki().server.key())
        .unwrap();
    cfg.send_tls13_tickets = 0;
    Arc::new(cfg)
}

fn buffered_client_config(versions: TlsVersions) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca.cert().clone()).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13],
    };
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(pki().bob.chain(), pki().bob.key())
        .unwrap();
    Arc::new(cfg)
}

/// Everything a buffered connection wants to send.
fn drain(conn: &mut rustls::Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn feed(conn: &mut rustls::Connection, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        conn.read_tls(&mut bytes).unwrap();
    }
    conn.process_new_packets().unwrap();
}

/// The binding our protector puts behind the body, computed here from its definition (docs/SCHANNEL.md 4.3).
fn expected_binding(header: &[u8], trailer: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"dcom-schannel v1 pdu header and sec_trailer\0");
    h.update((header.len() as u64).to_be_bytes());
    h.update(header);
    h.update((trailer.len() as u64).to_be_bytes());
    h.update(trailer);
    h.finalize().to_vec()
}

/// The TLS record carried by a protected frame: auth_value's record part around the body.
fn record_of(wire: &[u8], record_header: usize) -> Vec<u8> {
    let l = FrameLayout::of(wire).unwrap();
    let (trailer_off, _, av_off) = l.verifier.unwrap();
    let av = &wire[av_off..];
    [&av[SEQ_LEN..SEQ_LEN + record_header], &wire[l.stub_start..trailer_off], &av[SEQ_LEN + record_header..]].concat()
}

/// Our PDU -> their record: the buffered peer decrypts the record reassembled from the frame.
fn ours_to_theirs(ours: &mut Protection, theirs: &mut rustls::Connection, record_header: usize, call: u32) {
    let data = stub(200 + usize::try_from(call).unwrap());
    let plain = frame(ours, call, &data, false);
    let mut wire = plain.clone();
    ours.protect_frame(&mut wire).unwrap();
    feed(theirs, &record_of(&wire, record_header));
    let mut got = Vec::new();
    let _ = theirs.reader().read_to_end(&mut got);
    let l = FrameLayout::of(&plain).unwrap();
    let (trailer_off, _, av_off) = l.verifier.unwrap();
    assert_eq!(&got[..trailer_off - l.stub_start], &plain[l.stub_start..trailer_off], "the body, in clear");
    assert_eq!(
        &got[trailer_off - l.stub_start..],
        expected_binding(&plain[..l.stub_start], &plain[trailer_off..av_off])
    );
    assert_eq!(got.len(), trailer_off - l.stub_start + BINDING_LEN);
}

/// Their record -> our PDU: the buffered peer encrypts body || binding, we cut the record into the frame.
fn theirs_to_ours(theirs: &mut rustls::Connection, ours: &mut Protection, record_header: usize, call: u32, seq: u32) {
    let data = stub(300 + usize::try_from(call).unwrap());
    let mut wire = frame(ours, call, &data, true);
    let l = FrameLayout::of(&wire).unwrap();
    let (trailer_off, _, av_off) = l.verifier.unwrap();
    let body_len = trailer_off - l.stub_start;
    let mut plain = wire[l.stub_start..trailer_off].to_vec();
    plain.extend(expected_binding(&wire[..l.stub_start], &wire[trailer_off..av_off]));
    theirs.writer().write_all(&plain).unwrap();
    let record = drain(theirs);
    assert_eq!(records(&record).len(), 1);
    wire[l.stub_start..trailer_off].copy_from_slice(&record[record_header..record_header + body_len]);
    let av = &mut wire[av_off..];
    av[..SEQ_LEN].copy_from_slice(&seq.to_be_bytes());
    av[SEQ_LEN..SEQ_LEN + record_header].copy_from_slice(&record[..record_header]);
    av[SEQ_LEN + record_header..].copy_from_slice(&record[record_header + body_len..]);
    let o = ours.unprotect_frame(&mut wire).unwrap();
    assert_eq!(&wire[o.stub], &data[..]);
}

#[test]
fn our_client_against_a_buffered_rustls_server() {
    for (v, record_header) in [(TlsVersions::Tls13Only, 5), (TlsVersions::Tls12Only, 13)] {
        let mut c = client(&client_config(Some(&pki().alice), v));
        let mut theirs: rustls::Connection = ServerConnection::new(buffered_server_config(v)).unwrap().into();
        let Step::Continue { token } = c.step(None).unwrap() else { panic!("hello") };
        feed(&mut theirs, &token);
        let mut step = c.step(Some(&drain(&mut theirs))).unwrap();
        loop {
            match step {
                Step::Continue { token } => {
                    feed(&mut theirs, &token);
                    step = c.step(Some(&drain(&mut theirs))).unwrap();
                }
                Step::Complete { token } => {
                    feed(&mut theirs, &token.unwrap_or_default());
                    break;
                }
                Step::NeedsKdc(_) => panic!("kdc"),
            }
        }
        assert!(!theirs.is_handshaking());
        assert!(!theirs.wants_write(), "no tickets, nothing else to send");
        let ee = theirs.peer_certificates().unwrap()[0].clone();
        assert_eq!(ee, pki().alice.cert().clone());
        let mut ours = Protection::for_context(&mut c, prot_config(true)).unwrap();
        ours_to_theirs(&mut ours, &mut theirs, record_header, 1);
        ours_to_theirs(&mut ours, &mut theirs, record_header, 2);
        theirs_to_ours(&mut theirs, &mut ours, record_header, 1, 0);
        theirs_to_ours(&mut theirs, &mut ours, record_header, 2, 1);
    }
}

#[test]
fn our_server_against_a_buffered_rustls_client() {
    let mapper = Arc::new(dcom_schannel::SubjectCnMapper::new(Some("EXAMPLE")));
    for (v, record_header) in [(TlsVersions::Tls13Only, 5), (TlsVersions::Tls12Only, 13)] {
        let cfg = server_config_with(ClientCertPolicy::Required(vec![pki().ca.cert().clone()]), mapper.clone(), v);
        let mut s = server(&cfg);
        let name = ServerName::try_from(SERVER_NAME).unwrap();
        let mut theirs: rustls::Connection = ClientConnection::new(buffered_client_config(v), name).unwrap().into();
        let mut token = drain(&mut theirs);
        loop {
            match s.step(&token).unwrap() {
                Step::Continue { token: t } => {
                    feed(&mut theirs, &t);
                    token = drain(&mut theirs);
                }
                Step::Complete { token: t } => {
                    if let Some(t) = t {
                        feed(&mut theirs, &t);
                    }
                    break;
                }
                Step::NeedsKdc(_) => panic!("kdc"),
            }
        }
        assert!(!theirs.is_handshaking());
        assert_eq!(s.identity().unwrap().principal, "EXAMPLE\\bob");
        let mut ours = Protection::for_context(&mut s, prot_config(true)).unwrap();
        theirs_to_ours(&mut theirs, &mut ours, record_header, 1, 0);
        ours_to_theirs(&mut ours, &mut theirs, record_header, 2);
        theirs_to_ours(&mut theirs, &mut ours, record_header, 3, 1);
        assert_eq!((ours.recv_sequence(), ours.send_sequence()), (2, 1));
    }
}

#[test]
fn a_tampered_server_flight_fails_the_client() {
    let mut c = client(&client_config(Some(&pki().alice), TlsVersions::Tls13Only));
    let mut s = server(&server_config(TlsVersions::Tls13Only));
    let Step::Continue { token } = c.step(None).unwrap() else { panic!() };
    let Step::Continue { token: mut flight } = s.step(&token).unwrap() else { panic!() };
    let last = flight.len() - 3;
    flight[last] ^= 1; // inside the encrypted Finished
    let e = c.step(Some(&flight)).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::InvalidToken);
    assert!(!c.is_complete());
}

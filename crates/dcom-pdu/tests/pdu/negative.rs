//! Malformed input gives precise error kinds, never a panic.

use bytes::Bytes;
use dcom_pdu::{
    AuthLevel, AuthType, AuthVerifier, Fragment, Header, PacketType, Pdu, PduBody, PduErrorKind, PfcFlags, Reassembler,
    ReassemblyLimits, Request, Status, VerificationTrailer, peek_header,
};

use crate::hex::{NETLOGON_EPM_REQUEST_VT, NTLM_BIND_ACK_BTFN, NTLM_BIND_BTFN};
use crate::vectors::unhex;

fn kind(bytes: Vec<u8>) -> PduErrorKind {
    Pdu::decode(Bytes::from(bytes)).unwrap_err().kind().clone()
}

fn request(stub: &[u8], auth: Option<AuthVerifier>) -> Vec<u8> {
    let body = PduBody::Request(Request {
        alloc_hint: 0,
        p_cont_id: 0,
        opnum: 0,
        object: None,
        stub: Bytes::copy_from_slice(stub),
    });
    let mut pdu = Pdu::new(1, PfcFlags::FIRST_AND_LAST, body);
    if let Some(a) = auth {
        pdu = pdu.with_auth(a);
    }
    pdu.to_bytes().unwrap()
}

fn set_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn header_errors() {
    assert_eq!(peek_header(&[5, 0, 0, 3]).unwrap(), None);
    let good = request(b"abcd", None);
    let mut b = good.clone();
    b[0] = 4;
    assert_eq!(kind(b), PduErrorKind::UnsupportedVersion { major: 4, minor: 0 });
    let mut b = good.clone();
    b[1] = 2;
    assert_eq!(kind(b), PduErrorKind::UnsupportedVersion { major: 5, minor: 2 });
    let mut b = good.clone();
    b[4] = 0x20;
    assert_eq!(kind(b), PduErrorKind::InvalidDataRep { drep0: 0x20 });
    let mut b = good.clone();
    set_u16(&mut b, 8, 15);
    assert_eq!(kind(b.clone()), PduErrorKind::FragLenTooSmall { frag_len: 15 });
    assert!(peek_header(&b).is_err());
    let mut b = good.clone();
    b.push(0);
    assert_eq!(kind(b), PduErrorKind::FragLenMismatch { frag_len: 28, actual: 29 });
    let mut b = good.clone();
    b[2] = 1; // ping is connectionless
    assert_eq!(kind(b), PduErrorKind::UnsupportedPacketType { ptype: 1 });
    let mut b = good;
    b[2] = 20;
    assert_eq!(kind(b), PduErrorKind::UnsupportedPacketType { ptype: 20 });
    assert!(matches!(kind(vec![5, 0, 0, 3, 0x10, 0, 0]), PduErrorKind::Truncated { .. }));
}

#[test]
fn big_endian_header() {
    let mut b = request(b"abcd", None);
    b[4] = 0x00;
    b[8..10].copy_from_slice(&28u16.to_be_bytes());
    b[12..16].copy_from_slice(&1u32.to_be_bytes());
    let pdu = Pdu::decode(Bytes::from(b.clone())).unwrap();
    assert_eq!(pdu.header.call_id, 1);
    assert_eq!(pdu.to_bytes().unwrap(), b);
}

#[test]
fn truncated_bodies() {
    // A request whose body is shorter than alloc_hint/p_cont_id/opnum.
    let mut b = request(b"", None);
    b.truncate(20);
    set_u16(&mut b, 8, 20);
    assert!(matches!(kind(b), PduErrorKind::Truncated { needed: 2, available: 0 }));
    // A bind whose context list claims more elements than present.
    let mut b = unhex(NTLM_BIND_BTFN);
    b[24] = 4;
    assert!(matches!(kind(b), PduErrorKind::Truncated { .. }));
    // A bind_ack whose secondary address length runs past the end.
    let mut b = unhex(NTLM_BIND_ACK_BTFN);
    set_u16(&mut b, 24, 0x4000);
    assert!(matches!(kind(b), PduErrorKind::Truncated { .. }));
    // A fault shorter than its 16-byte fixed body.
    let mut b = vec![5, 0, 3, 3, 0x10, 0, 0, 0, 28, 0, 0, 0, 1, 0, 0, 0];
    b.extend_from_slice(&[0; 12]);
    assert!(matches!(kind(b), PduErrorKind::Truncated { .. }));
}

#[test]
fn verifier_errors() {
    let auth = AuthVerifier::new(AuthType::WINNT, AuthLevel::PKT_INTEGRITY, 0, 0, Bytes::from_static(&[0xaa; 16]));
    let good = request(b"0123456789abcdef", Some(auth));
    assert_eq!(good.len(), 24 + 16 + 8 + 16);
    // auth_len larger than the PDU allows.
    let mut b = good.clone();
    set_u16(&mut b, 10, 40);
    assert_eq!(kind(b), PduErrorKind::AuthLenTooLarge { auth_len: 40, available: 40 });
    let mut b = good.clone();
    set_u16(&mut b, 10, 0xffff);
    assert!(matches!(kind(b), PduErrorKind::AuthLenTooLarge { .. }));
    // auth_pad_length reaching into the request's fixed fields.
    let mut b = good.clone();
    b[24 + 16 + 2] = 17;
    assert_eq!(kind(b), PduErrorKind::AuthPadTooLarge { auth_pad_length: 17, available: 16 });
    // The whole stub as padding is fine.
    let mut b = good.clone();
    b[24 + 16 + 2] = 16;
    let pdu = Pdu::decode(Bytes::from(b.clone())).unwrap();
    let PduBody::Request(r) = &pdu.body else { panic!() };
    assert!(r.stub.is_empty());
    assert_eq!(pdu.auth.as_ref().unwrap().padding.len(), 16);
    assert_eq!(pdu.to_bytes().unwrap(), b);
    // auth3 without a verifier.
    let auth3 = Pdu::new(1, PfcFlags::FIRST_AND_LAST, PduBody::Auth3(dcom_pdu::Auth3::default()));
    assert_eq!(kind(auth3.to_bytes().unwrap()), PduErrorKind::MissingAuthVerifier);
}

#[test]
fn encode_errors() {
    let mut auth = AuthVerifier::new(AuthType::WINNT, AuthLevel::PKT, 0, 4, Bytes::new());
    auth.trailer.auth_pad_length = 3;
    let pdu = Pdu::new(1, PfcFlags::FIRST_AND_LAST, PduBody::Shutdown(dcom_pdu::Empty::default())).with_auth(auth);
    let mut out = vec![1, 2, 3];
    let e = pdu.encode(&mut out).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::AuthPadMismatch { auth_pad_length: 3, padding_len: 4 });
    assert_eq!(out, [1, 2, 3]);
    let big = PduBody::Request(Request {
        alloc_hint: 0,
        p_cont_id: 0,
        opnum: 0,
        object: None,
        stub: Bytes::from(vec![0; 70_000]),
    });
    let e = Pdu::new(1, PfcFlags::FIRST_AND_LAST, big).to_bytes().unwrap_err();
    assert!(matches!(e.kind(), PduErrorKind::LengthOverflow { .. }));
    let elems = vec![dcom_pdu::ContextElem::new(0, dcom_pdu::SyntaxId::NDR20, vec![]); 256];
    let bind = PduBody::Bind(dcom_pdu::Bind::new(10, 10, 0, elems));
    let e = Pdu::new(1, PfcFlags::FIRST_AND_LAST, bind).to_bytes().unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::TooManyElements { count: 256, max: 255 });
    assert_eq!(e.fault_status(), Status::NCA_S_PROTO_ERROR);
    assert!(!e.to_string().is_empty());
}

#[test]
fn verification_trailer_errors() {
    let stub = {
        let bytes = unhex(NETLOGON_EPM_REQUEST_VT);
        let pdu = Pdu::decode(Bytes::from(bytes)).unwrap();
        let PduBody::Request(r) = pdu.body else { panic!() };
        r.stub
    };
    let order = dcom_pdu::ByteOrder::Little;
    // END flag removed: the trailer no longer terminates.
    let mut b = stub.to_vec();
    b[144 + 9] &= !0x40;
    let e = VerificationTrailer::find(&Bytes::from(b), order).unwrap_err();
    assert!(matches!(e.kind(), PduErrorKind::InvalidVerificationTrailer { .. }));
    assert_eq!(e.fault_status(), Status::RPC_S_ACCESS_DENIED);
    // Wrong pcontext length.
    let mut b = stub.to_vec();
    b[144 + 10] = 0x24;
    assert!(VerificationTrailer::find(&Bytes::from(b), order).is_err());
    // Extra bytes after the END command.
    let mut b = stub.to_vec();
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert!(VerificationTrailer::find(&Bytes::from(b), order).is_err());
    // No signature at all.
    assert_eq!(VerificationTrailer::find(&Bytes::from_static(&[0; 64]), order).unwrap(), None);
    assert_eq!(VerificationTrailer::find(&Bytes::new(), order).unwrap(), None);
    // Unaligned signature is not a candidate.
    let mut b = vec![0u8; 2];
    b.extend_from_slice(&stub[144..]);
    assert_eq!(VerificationTrailer::find(&Bytes::from(b), order).unwrap(), None);
    // Empty trailer cannot be encoded.
    assert!(VerificationTrailer::default().encode(&mut Vec::new(), order).is_err());
}

fn frag(call_id: u32, flags: PfcFlags, stub: &[u8]) -> Fragment {
    Fragment {
        ptype: PacketType::REQUEST,
        pfc_flags: flags,
        call_id,
        p_cont_id: 0,
        opnum: Some(1),
        object: None,
        alloc_hint: u32::MAX,
        stub: Bytes::copy_from_slice(stub),
    }
}

#[test]
fn reassembly_errors() {
    let limits = ReassemblyLimits { max_stub_size: 10, max_fragments: 3 };
    let mut r = Reassembler::new(limits);
    let e = r.push(frag(1, PfcFlags(0), b"ab")).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::MissingFirstFragment);
    assert!(r.push(frag(1, PfcFlags::FIRST_FRAG, b"ab")).unwrap().is_none());
    assert_eq!(r.in_progress(), Some(1));
    let e = r.push(frag(2, PfcFlags(0), b"ab")).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::CallIdMismatch { expected: 1, got: 2 });
    assert_eq!(r.in_progress(), None);

    assert!(r.push(frag(1, PfcFlags::FIRST_FRAG, b"ab")).unwrap().is_none());
    let e = r.push(frag(1, PfcFlags::FIRST_FRAG, b"ab")).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::UnexpectedFirstFragment);

    assert!(r.push(frag(1, PfcFlags::FIRST_FRAG, b"ab")).unwrap().is_none());
    let mut other = frag(1, PfcFlags(0), b"ab");
    other.opnum = Some(2);
    assert_eq!(r.push(other).unwrap_err().kind(), &PduErrorKind::FragmentMismatch { field: "opnum" });

    assert!(r.push(frag(1, PfcFlags::FIRST_FRAG, b"abcdef")).unwrap().is_none());
    let e = r.push(frag(1, PfcFlags(0), b"ghijk")).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::ReassemblyTooLarge { limit: 10 });
    assert_eq!(e.fault_status(), Status::NCA_S_FAULT_REMOTE_NO_MEMORY);

    assert!(r.push(frag(1, PfcFlags::FIRST_FRAG, b"a")).unwrap().is_none());
    assert!(r.push(frag(1, PfcFlags(0), b"b")).unwrap().is_none());
    assert!(r.push(frag(1, PfcFlags(0), b"c")).unwrap().is_none());
    let e = r.push(frag(1, PfcFlags::LAST_FRAG, b"d")).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::TooManyFragments { limit: 3 });

    // A single oversized fragment.
    let e = r.push(frag(1, PfcFlags::FIRST_AND_LAST, &[0; 11])).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::ReassemblyTooLarge { limit: 10 });

    // Success: alloc_hint u32::MAX never drives an allocation.
    assert!(r.push(frag(7, PfcFlags::FIRST_FRAG, b"abc")).unwrap().is_none());
    let call = r.push(frag(7, PfcFlags::LAST_FRAG, b"def")).unwrap().unwrap();
    assert_eq!(&call.stub[..], b"abcdef");
    assert_eq!((call.call_id, call.fragments, call.opnum), (7, 2, Some(1)));

    // Non-fragmentable PDUs.
    let shutdown = Pdu::new(1, PfcFlags::FIRST_AND_LAST, PduBody::Shutdown(dcom_pdu::Empty::default()));
    assert_eq!(Fragment::from_pdu(&shutdown).unwrap_err().kind(), &PduErrorKind::NotFragmentable { ptype: 17 });
}

#[test]
fn fragment_size_too_small() {
    let spec = dcom_pdu::FragmentSpec {
        max_xmit_frag: 24 + 8 + 16 + 15,
        header_size: 24,
        auth: Some(dcom_pdu::AuthTrailerSize { auth_len: 16, pad_align: 16 }),
    };
    let e = dcom_pdu::plan_fragments(100, &spec).unwrap_err();
    assert_eq!(e.kind(), &PduErrorKind::FragmentSizeTooSmall { max_xmit_frag: 63 });
    let spec = dcom_pdu::FragmentSpec { max_xmit_frag: 10, header_size: 24, auth: None };
    assert!(dcom_pdu::plan_fragments(100, &spec).is_err());
    let _ = Header::SIZE;
}

//! Decoding of hex vectors from real captures, field by field (values cross-checked with tshark 4.0).

use bytes::Bytes;
use dcom_pdu::{
    AuthLevel, AuthType, BtfnBitmask, ByteOrder, Header, PacketType, Pdu, PduBody, PfcFlags, ProviderReason,
    ResultCode, SecTrailer, Status, SyntaxId, VerificationTrailer, VtCommand,
};
use uuid::uuid;

use crate::hex::{
    BIND_ACK_SEC_ADDR_ABC, BIND_ACK_SEC_ADDR_X, NETLOGON_EPM_REQUEST_VT, NTLM_AUTH3, NTLM_BIND_ACK_BTFN,
    NTLM_BIND_BTFN, NTLM_EPM_REQUEST_NDR64, NTLM_FAULT,
};

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Decodes and checks that re-encoding gives the same bytes.
pub(crate) fn decode_roundtrip(hex: &str) -> Pdu {
    let bytes = unhex(hex);
    let pdu = Pdu::decode(Bytes::from(bytes.clone())).unwrap();
    assert_eq!(pdu.to_bytes().unwrap(), bytes);
    assert_eq!(pdu.size(), bytes.len());
    assert_eq!(pdu.encoded_header().unwrap(), pdu.header);
    pdu
}

const EPM: SyntaxId = SyntaxId::new(uuid!("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0);

#[test]
fn bind_with_ndr64_and_btfn_offer() {
    let pdu = decode_roundtrip(NTLM_BIND_BTFN);
    assert_eq!(pdu.header.ptype, PacketType::BIND);
    assert_eq!(pdu.header.pfc_flags, PfcFlags::FIRST_AND_LAST);
    assert_eq!(pdu.header.byte_order(), ByteOrder::Little);
    assert_eq!(pdu.header.call_id, 2);
    assert!(!pdu.header.support_header_sign());
    assert!(pdu.auth.is_none());
    let PduBody::Bind(bind) = &pdu.body else { panic!("not a bind") };
    assert_eq!((bind.max_xmit_frag, bind.max_recv_frag, bind.assoc_group_id), (5840, 5840, 0));
    let elems = &bind.contexts.elems;
    assert_eq!(elems.len(), 3);
    assert!(elems.iter().all(|e| e.abstract_syntax == EPM && e.transfer_syntaxes.len() == 1));
    assert_eq!(elems.iter().map(|e| e.p_cont_id).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(elems[0].transfer_syntaxes[0], SyntaxId::NDR20);
    assert_eq!(elems[1].transfer_syntaxes[0], SyntaxId::NDR64);
    let btfn = elems[2].transfer_syntaxes[0];
    assert_eq!(btfn.uuid, uuid!("6cb71c2c-9812-4540-0300-000000000000"));
    let mask = btfn.btfn_bitmask().unwrap();
    assert!(mask.contains(BtfnBitmask::SECURITY_CONTEXT_MULTIPLEXING));
    assert!(mask.contains(BtfnBitmask::KEEP_CONNECTION_ON_ORPHAN));
    assert_eq!(SyntaxId::btfn(BtfnBitmask(3)), btfn);
    assert_eq!(elems[0].transfer_syntaxes[0].btfn_bitmask(), None);
    assert!(bind.trailing.is_empty());
}

#[test]
fn bind_ack_with_negotiate_ack() {
    let pdu = decode_roundtrip(NTLM_BIND_ACK_BTFN);
    let PduBody::BindAck(ack) = &pdu.body else { panic!("not a bind_ack") };
    assert_eq!((ack.max_xmit_frag, ack.max_recv_frag, ack.assoc_group_id), (5840, 5840, 0x17a7));
    assert_eq!(&ack.sec_addr[..], b"135\0");
    assert_eq!(ack.sec_addr_str(), Some("135"));
    assert_eq!(&ack.sec_addr_padding[..], &[0, 0]);
    let r = &ack.results.results;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].result, ResultCode::PROVIDER_REJECTION);
    assert_eq!(r[0].provider_reason(), ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED);
    assert_eq!(r[0].transfer_syntax, SyntaxId::NIL);
    assert_eq!(r[1].result, ResultCode::ACCEPTANCE);
    assert_eq!(r[1].transfer_syntax, SyntaxId::NDR64);
    assert_eq!(r[2].result, ResultCode::NEGOTIATE_ACK);
    assert_eq!(r[2].btfn_bitmask(), Some(BtfnBitmask(3)));
    assert_eq!(r[1].btfn_bitmask(), None);
}

#[test]
fn ndr64_request() {
    let pdu = decode_roundtrip(NTLM_EPM_REQUEST_NDR64);
    let PduBody::Request(req) = &pdu.body else { panic!("not a request") };
    assert_eq!((req.alloc_hint, req.p_cont_id, req.opnum), (144, 1, 3));
    assert_eq!(req.object, None);
    assert_eq!(req.stub.len(), 144);
    assert_eq!(req.stub_offset(), 24);
}

#[test]
fn auth3_with_ntlm_authenticate() {
    let pdu = decode_roundtrip(NTLM_AUTH3);
    assert_eq!(pdu.header.ptype, PacketType::AUTH3);
    // 0x04 on auth3 is PFC_PENDING_CANCEL, not header signing (MS-RPCE 2.2.2.3).
    assert_eq!(pdu.header.pfc_flags, PfcFlags(0x07));
    assert!(pdu.header.pending_cancel());
    assert!(!pdu.header.support_header_sign());
    let PduBody::Auth3(a) = &pdu.body else { panic!("not auth3") };
    assert_eq!(a.pad, [0xd0, 0x16, 0xd0, 0x16]);
    let auth = pdu.auth.as_ref().unwrap();
    assert_eq!(auth.trailer.auth_type, AuthType::WINNT);
    assert_eq!(auth.trailer.auth_level, AuthLevel::PKT_PRIVACY);
    assert_eq!(auth.trailer.auth_context_id, 0);
    assert_eq!(auth.auth_value.len(), 478);
    assert!(auth.auth_value.starts_with(b"NTLMSSP\0\x03\0\0\0"));
}

#[test]
fn fault_with_extended_error() {
    let pdu = decode_roundtrip(NTLM_FAULT);
    assert!(pdu.header.pfc_flags.contains(PfcFlags::DID_NOT_EXECUTE));
    let PduBody::Fault(f) = &pdu.body else { panic!("not a fault") };
    assert_eq!(f.alloc_hint, 120);
    assert_eq!(f.status, Status::NCA_S_OP_RNG_ERROR);
    assert_eq!(f.status.name(), Some("nca_op_rng_error"));
    assert!(f.has_extended_error());
    assert_eq!(f.stub.len(), 120 - 32);
}

#[test]
fn request_with_verification_trailer() {
    let pdu = decode_roundtrip(NETLOGON_EPM_REQUEST_VT);
    let PduBody::Request(req) = &pdu.body else { panic!("not a request") };
    assert_eq!((req.alloc_hint, req.p_cont_id, req.opnum), (196, 1, 3));
    let auth = pdu.auth.as_ref().unwrap();
    assert_eq!(auth.trailer.auth_type, AuthType::WINNT);
    assert_eq!(auth.trailer.auth_level, AuthLevel::PKT_INTEGRITY);
    assert_eq!(auth.trailer.auth_pad_length, 12);
    assert_eq!(auth.padding.len(), 12);
    let (offset, vt) = VerificationTrailer::find(&req.stub, ByteOrder::Little).unwrap().unwrap();
    assert_eq!(offset, 144);
    assert_eq!(vt.pcontext(), Some((EPM, SyntaxId::NDR64)));
    assert!(matches!(vt.commands[..], [VtCommand::Pcontext { must_process: false, .. }]));
    let mut again = req.stub[..offset].to_vec();
    vt.append_to(&mut again, 0, ByteOrder::Little).unwrap();
    assert_eq!(again, req.stub[..]);

    // Header-only and sec_trailer-only codecs.
    let bytes = unhex(NETLOGON_EPM_REQUEST_VT);
    let h = Header::decode(&bytes).unwrap();
    assert_eq!(h.to_bytes()[..], bytes[..16]);
    let layout = Pdu::auth_layout(&h, &bytes).unwrap().unwrap();
    assert_eq!(layout.trailer_offset, 256 - 16 - 8);
    assert_eq!(layout.body_end, layout.trailer_offset - 12);
    let t = SecTrailer::decode(&bytes[layout.trailer_offset..], ByteOrder::Little).unwrap();
    assert_eq!(t, auth.trailer);
    let mut tb = Vec::new();
    t.encode(&mut tb, ByteOrder::Little);
    assert_eq!(tb[..], bytes[layout.trailer_offset..layout.auth_value_offset]);
}

#[test]
fn bind_ack_secondary_address_without_nul() {
    let pdu = decode_roundtrip(BIND_ACK_SEC_ADDR_ABC);
    let PduBody::BindAck(ack) = &pdu.body else { panic!("not a bind_ack") };
    assert_eq!(&ack.sec_addr[..], b"ABC");
    assert_eq!(ack.sec_addr_padding.len(), 3);
    assert_eq!(ack.results.results[0].transfer_syntax, SyntaxId::NDR20);
    let pdu = decode_roundtrip(BIND_ACK_SEC_ADDR_X);
    let PduBody::BindAck(ack) = &pdu.body else { panic!("not a bind_ack") };
    assert_eq!(&ack.sec_addr[..], b"X");
    assert_eq!(ack.sec_addr_padding.len(), 1);
}

#[test]
fn bind_ack_with_empty_secondary_address() {
    // An alter_context_resp-style empty port_any_t: 2-byte length 0, then 2 bytes of padding to reach 28.
    let body = dcom_pdu::BindAck::new(
        5840,
        5840,
        0x1234,
        Bytes::new(),
        vec![dcom_pdu::ContextResult::accept(SyntaxId::NDR20)],
    );
    let pdu = Pdu::new(7, PfcFlags::FIRST_AND_LAST, PduBody::BindAck(body));
    let bytes = pdu.to_bytes().unwrap();
    assert_eq!(bytes.len(), 16 + 8 + 2 + 2 + 4 + 24);
    assert_eq!(&bytes[24..28], &[0, 0, 0, 0]);
    assert_eq!(bytes[28], 1);
    let back = Pdu::decode(Bytes::from(bytes)).unwrap();
    let PduBody::BindAck(ack) = &back.body else { panic!("not a bind_ack") };
    assert!(ack.sec_addr.is_empty());
    assert_eq!(ack.sec_addr_padding.len(), 2);
}

#[test]
fn impacket_alter_context_with_repeated_context_list() {
    // impacket's third-leg alter_context repeats the 44-byte p_cont_list after the real one (shared/notes
    // peers.md); the bytes are kept in `trailing` and the verifier is still found from frag_length.
    let elem = dcom_pdu::ContextElem::new(0, EPM, vec![SyntaxId::NDR20]);
    let list = dcom_pdu::ContextList::new(vec![elem]);
    let mut body = dcom_pdu::Bind::new(4280, 4280, 0, list.elems.clone());
    let mut dup = vec![1, 0, 0, 0, 0, 0, 1, 0];
    dup.extend_from_slice(&unhex("0883afe11f5dc91191a408002b14a0fa03000000045d888aeb1cc9119fe808002b10486002000000"));
    assert_eq!(dup.len(), 48);
    body.trailing = Bytes::from(dup.clone());
    let pad = dcom_pdu::auth_pad_len(body_size(&body), 4);
    let auth =
        dcom_pdu::AuthVerifier::new(AuthType::SPNEGO, AuthLevel::PKT_PRIVACY, 79231, pad, Bytes::from_static(b"tok"));
    let pdu = Pdu::new(3, PfcFlags::FIRST_AND_LAST, PduBody::AlterContext(body)).with_auth(auth);
    let bytes = pdu.to_bytes().unwrap();
    let back = decode_roundtrip(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let PduBody::AlterContext(b) = &back.body else { panic!("not alter_context") };
    assert_eq!(&b.trailing[..], &dup[..]);
    assert_eq!(b.contexts, list);
    assert_eq!(back.auth.unwrap().trailer.auth_context_id, 79231);
}

fn body_size(b: &dcom_pdu::Bind) -> usize {
    Pdu::new(0, PfcFlags(0), PduBody::Bind(b.clone())).size() - Header::SIZE
}

#[test]
fn auth_pad_len_matches_windows() {
    // dcerpc_privacy_ntlm: stubs of 4632 and 60 bytes were padded by 8 and 4; mapi.pcap: 98 by 14.
    assert_eq!(dcom_pdu::auth_pad_len(4632, 16), 8);
    assert_eq!(dcom_pdu::auth_pad_len(60, 16), 4);
    assert_eq!(dcom_pdu::auth_pad_len(98, 16), 14);
    assert_eq!(dcom_pdu::auth_pad_len(5792, 16), 0);
    assert_eq!(dcom_pdu::auth_pad_len(45, 4), 3);
    assert_eq!(dcom_pdu::auth_pad_len(7, 0), 0);
}

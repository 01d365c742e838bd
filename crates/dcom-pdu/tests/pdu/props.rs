//! Property tests: encode -> decode -> encode for every PDU type in both byte orders, verification trailers,
//! fragmentation -> reassembly, and decode never panics on arbitrary or mutated input.

use bytes::Bytes;
use dcom_pdu::{
    Auth3, AuthLevel, AuthTemplate, AuthTrailerSize, AuthType, AuthVerifier, Bind, BindAck, BindNak, ByteOrder,
    CallKind, ContextElem, ContextList, ContextResult, DataRep, Empty, Fault, Fragment, Header, Pdu, PduBody, PfcFlags,
    Reassembler, ReassemblyLimits, RejectReason, Request, Response, ResultCode, ResultList, SecTrailer, Status,
    SyntaxId, VerificationTrailer, Version, VtCommand, VtHeader2, build_fragments,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;

use crate::capture::dcerpc_pdus;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn syntax() -> impl Strategy<Value = SyntaxId> {
    (uuid(), any::<u16>(), any::<u16>()).prop_map(|(u, a, b)| SyntaxId::new(u, a, b))
}

fn context_list() -> impl Strategy<Value = ContextList> {
    let elem = (any::<u16>(), any::<u8>(), syntax(), vec(syntax(), 0..4)).prop_map(|(id, reserved, a, ts)| {
        let mut e = ContextElem::new(id, a, ts);
        e.reserved = reserved;
        e
    });
    (any::<u8>(), any::<u16>(), vec(elem, 0..4)).prop_map(|(reserved, reserved2, elems)| ContextList {
        reserved,
        reserved2,
        elems,
    })
}

fn bind() -> impl Strategy<Value = Bind> {
    (any::<u16>(), any::<u16>(), any::<u32>(), context_list(), bytes(50)).prop_map(|(x, r, a, contexts, trailing)| {
        Bind { max_xmit_frag: x, max_recv_frag: r, assoc_group_id: a, contexts, trailing }
    })
}

fn bind_ack() -> impl Strategy<Value = BindAck> {
    let result = (any::<u16>(), any::<u16>(), syntax()).prop_map(|(result, reason, transfer_syntax)| ContextResult {
        result: ResultCode(result),
        reason,
        transfer_syntax,
    });
    (
        (any::<u16>(), any::<u16>(), any::<u32>()),
        bytes(20),
        any::<[u8; 3]>(),
        (any::<u8>(), any::<u16>(), vec(result, 0..4)),
        bytes(30),
    )
        .prop_map(|((x, r, a), sec_addr, pad, (reserved, reserved2, results), trailing)| {
            let pad_len = (4 - (26 + sec_addr.len()) % 4) % 4;
            BindAck {
                max_xmit_frag: x,
                max_recv_frag: r,
                assoc_group_id: a,
                sec_addr,
                sec_addr_padding: Bytes::copy_from_slice(&pad[..pad_len]),
                results: ResultList { reserved, reserved2, results },
                trailing,
            }
        })
}

fn bind_nak() -> impl Strategy<Value = BindNak> {
    let version = (any::<u8>(), any::<u8>()).prop_map(|(major, minor)| Version { major, minor });
    (any::<u16>(), option::of(vec(version, 0..4)), option::of(uuid()), bytes(40)).prop_map(
        |(reason, versions, signature, trailing)| {
            // Representable on the wire: no versions means the PDU ends after the reason; without a signature
            // fewer than 16 bytes follow the versions (MS-RPCE 2.2.2.9).
            let (signature, trailing) = match (&versions, signature) {
                (None, _) => (None, Bytes::new()),
                (Some(_), None) => (None, trailing.slice(..trailing.len().min(15))),
                (Some(_), Some(s)) => (Some(s), trailing),
            };
            BindNak { provider_reject_reason: RejectReason(reason), versions, signature, trailing }
        },
    )
}

fn body() -> impl Strategy<Value = PduBody> {
    prop_oneof![
        (any::<u32>(), any::<u16>(), any::<u16>(), option::of(uuid()), bytes(100)).prop_map(|(h, c, o, obj, s)| {
            PduBody::Request(Request { alloc_hint: h, p_cont_id: c, opnum: o, object: obj, stub: s })
        }),
        (any::<u32>(), any::<u16>(), any::<u8>(), any::<u8>(), bytes(100)).prop_map(|(h, c, cc, r, s)| {
            PduBody::Response(Response { alloc_hint: h, p_cont_id: c, cancel_count: cc, reserved: r, stub: s })
        }),
        (any::<u32>(), any::<u16>(), any::<u8>(), any::<u8>(), any::<u32>(), any::<u32>(), bytes(40)).prop_map(
            |(h, c, cc, f, st, r2, s)| PduBody::Fault(Fault {
                alloc_hint: h,
                p_cont_id: c,
                cancel_count: cc,
                flags: f,
                status: Status(st),
                reserved2: r2,
                stub: s
            })
        ),
        bind().prop_map(PduBody::Bind),
        bind().prop_map(PduBody::AlterContext),
        bind_ack().prop_map(PduBody::BindAck),
        bind_ack().prop_map(PduBody::AlterContextResp),
        bind_nak().prop_map(PduBody::BindNak),
        (any::<[u8; 4]>(), bytes(10)).prop_map(|(pad, trailing)| PduBody::Auth3(Auth3 { pad, trailing })),
        bytes(10).prop_map(|trailing| PduBody::Shutdown(Empty { trailing })),
        bytes(10).prop_map(|trailing| PduBody::CoCancel(Empty { trailing })),
        bytes(10).prop_map(|trailing| PduBody::Orphaned(Empty { trailing })),
    ]
}

fn verifier() -> impl Strategy<Value = AuthVerifier> {
    (any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>(), bytes(16), vec(any::<u8>(), 1..40)).prop_map(
        |(t, l, reserved, ctx, padding, value)| AuthVerifier {
            trailer: SecTrailer {
                auth_type: AuthType(t),
                auth_level: AuthLevel(l),
                auth_pad_length: u8::try_from(padding.len()).unwrap(),
                auth_reserved: reserved,
                auth_context_id: ctx,
            },
            padding,
            auth_value: Bytes::from(value),
        },
    )
}

fn pdu() -> impl Strategy<Value = Pdu> {
    (body(), option::of(verifier()), any::<bool>(), 0u8..16, any::<[u8; 3]>(), 0u8..=1, any::<u8>(), any::<u32>())
        .prop_map(|(body, auth, big, charrep, drep_rest, minor, flags, call_id)| {
            let auth = if matches!(body, PduBody::Auth3(_)) {
                // MS-RPCE 2.2.2.10: auth3 always carries a verifier.
                Some(auth.unwrap_or_else(|| {
                    AuthVerifier::new(AuthType::WINNT, AuthLevel::CONNECT, 0, 0, Bytes::from_static(b"x"))
                }))
            } else {
                auth
            };
            let mut pdu = Pdu::new(call_id, PfcFlags(flags), body);
            if let Some(a) = auth {
                pdu = pdu.with_auth(a);
            }
            let order_nibble = if big { 0 } else { 0x10 };
            pdu.header.drep = DataRep([order_nibble | charrep, drep_rest[0], drep_rest[1], drep_rest[2]]);
            pdu.header.rpc_vers_minor = minor;
            pdu.sync_header();
            pdu
        })
}

fn vt_command() -> impl Strategy<Value = VtCommand> {
    prop_oneof![
        (any::<bool>(), any::<u32>()).prop_map(|(must_process, bits)| VtCommand::Bitmask1 { must_process, bits }),
        (any::<bool>(), syntax(), syntax()).prop_map(|(must_process, interface_id, transfer_syntax)| {
            VtCommand::Pcontext { must_process, interface_id, transfer_syntax }
        }),
        (any::<bool>(), any::<(u8, u8, u16, [u8; 4], u32, u16, u16)>()).prop_map(|(must_process, h)| {
            VtCommand::Header2 {
                must_process,
                header: VtHeader2 {
                    ptype: dcom_pdu::PacketType(h.0),
                    reserved1: h.1,
                    reserved2: h.2,
                    drep: DataRep(h.3),
                    call_id: h.4,
                    p_cont_id: h.5,
                    opnum: h.6,
                },
            }
        }),
        (4u16..=0x3fff, any::<bool>(), bytes(24)).prop_map(|(command, must_process, data)| VtCommand::Unknown {
            command,
            must_process,
            data
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn pdu_encode_decode_encode(pdu in pdu()) {
        let bytes = pdu.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), pdu.size());
        prop_assert_eq!(Header::decode(&bytes).unwrap(), pdu.header);
        let decoded = Pdu::decode(Bytes::from(bytes.clone())).unwrap();
        prop_assert_eq!(&decoded, &pdu);
        prop_assert_eq!(decoded.to_bytes().unwrap(), bytes.clone());
        if let Some(a) = &pdu.auth {
            let layout = Pdu::auth_layout(&pdu.header, &bytes).unwrap().unwrap();
            let order = pdu.header.byte_order();
            let t = SecTrailer::decode(&bytes[layout.trailer_offset..], order).unwrap();
            prop_assert_eq!(t, a.trailer);
            prop_assert_eq!(&bytes[layout.auth_value_offset..], &a.auth_value[..]);
        }
    }

    #[test]
    fn verification_trailer_roundtrip(
        prefix in vec(any::<u8>(), 0..64),
        commands in vec(vt_command(), 1..5),
        big in any::<bool>(),
    ) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let vt = VerificationTrailer::new(commands);
        let mut stub = prefix.clone();
        vt.append_to(&mut stub, 0, order).unwrap();
        let offset = prefix.len().div_ceil(4) * 4;
        prop_assert_eq!(stub.len(), offset + vt.size());
        let (found, decoded) = VerificationTrailer::find(&Bytes::from(stub.clone()), order).unwrap().unwrap();
        prop_assert_eq!(found, offset);
        prop_assert_eq!(&decoded, &vt);
        let mut again = Vec::new();
        decoded.encode(&mut again, order).unwrap();
        prop_assert_eq!(&again[..], &stub[offset..]);
    }

    #[test]
    fn fragment_then_reassemble(
        stub in vec(any::<u8>(), 0..5000),
        max_xmit in 80u16..2000,
        auth in option::of((1u16..=32, prop_oneof![Just(1usize), Just(4), Just(8), Just(16)])),
        object in option::of(uuid()),
        request in any::<bool>(),
    ) {
        let stub = Bytes::from(stub);
        let kind = if request {
            CallKind::Request { p_cont_id: 3, opnum: 9, object }
        } else {
            CallKind::Response { p_cont_id: 3 }
        };
        let template = auth.map(|(auth_len, pad_align)| AuthTemplate {
            auth_type: AuthType::WINNT,
            auth_level: AuthLevel::PKT_PRIVACY,
            auth_context_id: 0,
            size: AuthTrailerSize { auth_len, pad_align },
        });
        let Ok(pdus) = build_fragments(1, kind, &stub, max_xmit, PfcFlags::CONC_MPX, template) else {
            // Only when the fragment size cannot hold a single aligned chunk.
            let overhead = 40 + auth.map_or(0, |(l, a)| 8 + usize::from(l) + a);
            prop_assert!(usize::from(max_xmit) < overhead);
            return Ok(());
        };
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut result = None;
        let mut remaining = stub.len();
        for (i, pdu) in pdus.iter().enumerate() {
            let bytes = pdu.to_bytes().unwrap();
            prop_assert!(bytes.len() <= usize::from(max_xmit));
            let decoded = Pdu::decode(Bytes::from(bytes)).unwrap();
            prop_assert_eq!(decoded.header.is_first_frag(), i == 0);
            prop_assert_eq!(decoded.header.is_last_frag(), i + 1 == pdus.len());
            prop_assert!(decoded.header.pfc_flags.contains(PfcFlags::CONC_MPX));
            let frag = Fragment::from_pdu(&decoded).unwrap();
            prop_assert_eq!(frag.alloc_hint as usize, remaining);
            remaining -= frag.stub.len();
            if let (Some(a), Some((_, align))) = (&decoded.auth, auth) {
                prop_assert_eq!((frag.stub.len() + a.padding.len()) % align, 0);
            }
            if let Some(done) = r.push(frag).unwrap() {
                result = Some(done);
            }
        }
        let call = result.unwrap();
        prop_assert_eq!(call.stub, stub);
        prop_assert_eq!(call.fragments, pdus.len());
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(data in vec(any::<u8>(), 0..200)) {
        dcom_pdu::fuzz::fuzz_decode(&data);
        dcom_pdu::fuzz::fuzz_stream(&data);
    }

    #[test]
    fn decode_header_like_bytes_never_panics(
        ptype in 0u8..22,
        flags in any::<u8>(),
        drep0 in prop_oneof![Just(0x10u8), Just(0x00)],
        auth_len in prop_oneof![Just(0u16), 0u16..64],
        body in vec(any::<u8>(), 0..120),
    ) {
        let frag_len = u16::try_from(16 + body.len()).unwrap();
        let mut data = vec![5, 0, ptype, flags, drep0, 0, 0, 0];
        let order = if drep0 == 0 { ByteOrder::Big } else { ByteOrder::Little };
        let (fl, al) = match order {
            ByteOrder::Big => (frag_len.to_be_bytes(), auth_len.to_be_bytes()),
            ByteOrder::Little => (frag_len.to_le_bytes(), auth_len.to_le_bytes()),
        };
        data.extend_from_slice(&fl);
        data.extend_from_slice(&al);
        data.extend_from_slice(&[1, 0, 0, 0]);
        data.extend_from_slice(&body);
        dcom_pdu::fuzz::fuzz_decode(&data);
    }
}

#[test]
fn mutated_capture_pdus_never_panic() {
    let mut pdus = dcerpc_pdus("dcerpc_privacy_ntlm.pcapng.gz");
    pdus.extend(dcerpc_pdus("wmi_win32_process_create.pcapng"));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for p in &pdus {
        let n = p.bytes.len().min(2000);
        for _ in 0..200 {
            let mut b = p.bytes[..n].to_vec();
            let pos = usize::try_from(next() % n as u64).unwrap();
            b[pos] = u8::try_from(next() & 0xff).unwrap();
            // Keep frag_length consistent with the (possibly truncated) frame so that bodies get parsed.
            if pos != 8 && pos != 9 && b[4] == 0x10 {
                b[8..10].copy_from_slice(&u16::try_from(n).unwrap().to_le_bytes());
            }
            dcom_pdu::fuzz::fuzz_decode(&b);
        }
    }
}

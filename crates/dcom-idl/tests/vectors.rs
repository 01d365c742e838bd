//! Stubs from a real Windows capture: `../shared/captures/samr_lookupnames.pcapng` (SAMR over SMB2 named pipe,
//! no authentication, NDR64 negotiated: the bind offers NDR 2.0, NDR64 and bind-time features and the server
//! accepts NDR64). Each constant is the stub of the DCE/RPC request or response PDU of the named frame (the PDU
//! after its 24-byte header), checked against tshark's SAMR dissection.

use dcom_idl::common::{PolicyHandle, RpcSid};
use dcom_idl::samr::{self, Close, Connect5, EnumDomains, LookupDomain};
use dcom_idl::{Interface, Operation, SyntaxId};
use dcom_ndr::{Ndr, NdrContext, WString};
use uuid::Uuid;

/// Frame 3: Connect5 request.
const CONNECT5_REQ: &str = "00000200000000002200000000000000000000000000000022000000000000005c005c0030003100350036003600\
73002d00770069006e00310036002d00690072002e0074006800720065006500620065006500730063006f002e0063006f006d000000\
3000000001000000010000000300000000000000";
/// Frame 4: Connect5 response.
const CONNECT5_RESP: &str = "0100000001000000030000000000000000000000ee7983fb0df4604f82c73946effeaa0100000000";
/// Frame 5: EnumDomains request.
const ENUM_DOMAINS_REQ: &str = "00000000ee7983fb0df4604f82c73946effeaa010000000000200000";
/// Frame 6: EnumDomains response.
const ENUM_DOMAINS_RESP: &str = "04000000000000000000020000000000020000000000000000000200000000000200000000000000\
00000000000000000400060000000000000002000000000000000000000000000e0010000000000000000200000000000300000000000000\
0000000000000000020000000000000033004200000000000800000000000000000000000000000007000000000000004200750069006c00\
740069006e0000000200000000000000";
/// Frame 7: LookupDomain request.
const LOOKUP_DOMAIN_REQ: &str = "00000000ee7983fb0df4604f82c73946effeaa0100000000040006000000000000000200000000000300\
0000000000000000000000000000020000000000000033004200";
/// Frame 8: LookupDomain response.
const LOOKUP_DOMAIN_RESP: &str =
    "00000200000000000400000000000000010400000000000515000000b0d76912cd7d351ecaa72fc700000000";
/// Frame 17: Close request.
const CLOSE_REQ: &str = "00000000608d844017438c4491bcc1c8e74dbf48";
/// Frame 18: Close response.
const CLOSE_RESP: &str = "000000000000000000000000000000000000000000000000";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

/// Decodes with the engine, re-encodes with the sender's referent ids (Windows NDR64 numbers every pointer
/// 0x20000) and expects the captured bytes back; the default numbering must decode to the same value.
fn check<T: Ndr + PartialEq + std::fmt::Debug>(stub: &[u8]) -> T {
    let ctx = NdrContext::NDR64;
    let (v, used, ids) = dcom_ndr::decode_prefix_with_ids::<T>(stub, ctx).expect("decode");
    assert_eq!(used, stub.len());
    assert_eq!(dcom_ndr::encode_with_ids(&v, ctx, &ids).expect("encode"), stub);
    let fresh = dcom_ndr::encode(&v, ctx).expect("encode");
    assert_eq!(dcom_ndr::decode::<T>(&fresh, ctx).expect("decode"), v);
    v
}

fn server_handle() -> PolicyHandle {
    PolicyHandle { attributes: 0, uuid: Uuid::parse_str("fb8379ee-f40d-4f60-82c7-3946effeaa01").expect("uuid") }
}

#[test]
fn windows_connect5() {
    let req: samr::Connect5In = check(&h(CONNECT5_REQ));
    assert_eq!(req.system_name, Some(WString::from("\\\\01566s-win16-ir.threebeesco.com")));
    assert_eq!(req.access_mask, samr::SAM_SERVER_ENUMERATE_DOMAINS | samr::SAM_SERVER_LOOKUP_DOMAIN);
    assert_eq!(req.level_in, 1);
    let info = samr::ConnectInfo::Info1(samr::ConnectInfo1 { client_version: 3, supported_features: 0 });
    assert_eq!(req.info_in, info);
    let resp: samr::Connect5Out = check(&h(CONNECT5_RESP));
    assert_eq!(resp, samr::Connect5Out { level_out: 1, info_out: info, connect_handle: server_handle(), result: 0 });
    // Through the operation and the dispatch enum.
    assert_eq!(Connect5::decode_in(&h(CONNECT5_REQ), NdrContext::NDR64).expect("decode"), req);
    match samr::Response::decode(samr::opnum::CONNECT5, &h(CONNECT5_RESP), NdrContext::NDR64).expect("decode") {
        samr::Response::Connect5(r) => assert_eq!(r, resp),
        other => panic!("wrong operation {other:?}"),
    }
}

#[test]
fn windows_enum_domains() {
    let req: samr::EnumDomainsIn = check(&h(ENUM_DOMAINS_REQ));
    assert_eq!(req, samr::EnumDomainsIn { connect_handle: server_handle(), resume_handle: 0, buf_size: 8192 });
    let resp: samr::EnumDomainsOut = check(&h(ENUM_DOMAINS_RESP));
    assert_eq!((resp.resume_handle, resp.num_entries, resp.result), (4, 2, 0));
    let sam = resp.sam.expect("sam");
    assert_eq!(sam.count, 2);
    let entries = sam.entries.expect("entries");
    let names: Vec<(u32, String, u16, u16)> =
        entries.iter().map(|e| (e.idx, e.name.to_string_lossy(), e.name.length, e.name.maximum_length)).collect();
    // Windows allocates one unit more than it sends: MaximumLength > Length.
    assert_eq!(names, [(0, "3B".to_owned(), 4, 6), (0, "Builtin".to_owned(), 14, 16)]);
    let b = entries[1].name.buffer.as_ref().expect("buffer");
    assert_eq!((b.max_count, b.offset, b.items.len()), (8, 0, 7));
    assert_eq!(EnumDomains::decode_out(&h(ENUM_DOMAINS_RESP), NdrContext::NDR64).expect("decode").num_entries, 2);
}

#[test]
fn windows_lookup_domain() {
    let req: samr::LookupDomainIn = check(&h(LOOKUP_DOMAIN_REQ));
    assert_eq!(req.connect_handle, server_handle());
    assert_eq!(
        (req.domain_name.to_string_lossy(), req.domain_name.length, req.domain_name.maximum_length),
        ("3B".into(), 4, 6)
    );
    let resp: samr::LookupDomainOut = check(&h(LOOKUP_DOMAIN_RESP));
    let sid = resp.sid.expect("sid");
    assert_eq!(sid.to_string(), "S-1-5-21-308926384-506822093-3341789130");
    assert_eq!(sid, RpcSid::new(5, &[21, 308_926_384, 506_822_093, 3_341_789_130]).expect("sid"));
    assert_eq!(sid.authority(), 5);
    assert_eq!(resp.result, 0);
    assert!(LookupDomain::decode_out(&h(LOOKUP_DOMAIN_RESP), NdrContext::NDR64).is_ok());
}

#[test]
fn windows_close() {
    let req: samr::CloseIn = check(&h(CLOSE_REQ));
    assert_eq!(req.handle.uuid, Uuid::parse_str("40848d60-4317-448c-91bc-c1c8e74dbf48").expect("uuid"));
    let resp: samr::CloseOut = check(&h(CLOSE_RESP));
    assert!(resp.handle.is_null());
    assert_eq!(resp.result, 0);
    assert_eq!(Close::encode_out(&resp, NdrContext::NDR64).expect("encode"), h(CLOSE_RESP));
}

#[test]
fn windows_stubs_are_not_ndr20() {
    // The same bytes read as NDR 2.0 do not give the captured values (the referent ids and counts are 8 bytes).
    let r = Connect5::decode_in(&h(CONNECT5_REQ), NdrContext::NDR20);
    assert!(r.is_err() || r.is_ok_and(|v| v.system_name != Some(WString::from("\\\\01566s-win16-ir.threebeesco.com"))));
}

#[test]
fn interface_identities() {
    // [MS-SAMR 1.9], [MS-DSSP 1.9], [MS-WKST 1.9], C706 appendix Q, Samba echo.idl.
    let expect: [(SyntaxId, &str); 5] = [
        (dcom_idl::rpcecho::SYNTAX, "60a15ec5-4de8-11d7-a637-005056a20182 v1.0"),
        (dcom_idl::mgmt::SYNTAX, "afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0"),
        (samr::SYNTAX, "12345778-1234-abcd-ef00-0123456789ac v1.0"),
        (dcom_idl::dssetup::SYNTAX, "3919286a-b10c-11d0-9ba8-00c04fd92ef5 v0.0"),
        (dcom_idl::wkssvc::SYNTAX, "6bffd098-a112-3610-9833-46c3f87e345a v1.0"),
    ];
    for (s, text) in expect {
        assert_eq!(s.to_string(), text);
        assert_eq!(SyntaxId::from_if_version(s.uuid, s.if_version()), s);
        let info = dcom_idl::lookup(&s.uuid, s.major).expect("known interface");
        assert_eq!(info.syntax, s);
    }
    assert_eq!(SyntaxId::new(Uuid::nil(), 1, 2).if_version(), 0x0002_0001);
    assert!(dcom_idl::lookup(&samr::SYNTAX.uuid, 2).is_none());
    assert_eq!(samr::Samr::NAME, "samr");
    assert_eq!(samr::Samr::op_name(64), Some("samr_Connect5"));
    assert_eq!(samr::Samr::op_name(2), None);
    assert_eq!(<samr::Connect2 as Operation>::OPNUM, 57);
    assert_eq!(dcom_idl::rpcecho::Rpcecho::op_name(9), Some("echo_TestDoublePointer"));
    assert_eq!(dcom_idl::mgmt::opnum::INQ_PRINC_NAME, 4);
    assert_eq!(dcom_idl::dssetup::Dssetup::op_name(0), Some("dssetup_DsRoleGetPrimaryDomainInformation"));
    assert_eq!(dcom_idl::wkssvc::Wkssvc::op_name(0), Some("wkssvc_NetWkstaGetInfo"));
    let info = dcom_idl::lookup(&dcom_idl::mgmt::SYNTAX.uuid, 1).expect("mgmt");
    assert_eq!((info.op_name)(1), Some("mgmt_inq_stats"));
    assert_eq!(info.name, "mgmt");
    let _: fn(u16, &[u8], NdrContext) -> Result<samr::Request, dcom_idl::IdlError> = samr::Request::decode;
}

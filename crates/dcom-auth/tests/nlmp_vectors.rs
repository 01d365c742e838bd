//! Known-answer tests from [MS-NLMP] 4.2.1 / 4.2.4 (NTLMv2 with extended session security).

use dcom_auth::ntlm::crypto::ntowf_v2;
use dcom_auth::ntlm::{NtHash, NtlmProtector, Role};
use dcom_auth::{MessageProtector, PduParts};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn ntowfv2_of_the_spec_user() {
    // MS-NLMP 4.2.4.1.1: User "User", UserDom "Domain", Password "Password".
    let got = ntowf_v2(&NtHash::from_password("Password"), "User", "Domain");
    assert_eq!(got.to_vec(), unhex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"));
}

#[test]
fn gss_wrap_example_seals_and_signs() {
    // MS-NLMP 4.2.4.4: RandomSessionKey = 0x55 * 16, SeqNum 0, plaintext "Plaintext" (UTF-16LE).
    let flags = 0xe2_88_82_33u32; // the 4.2.4 CHALLENGE flags: KEY_EXCH | 128 | ESS | SEAL | SIGN | ...
    let mut p = NtlmProtector::new(&[0x55; 16], flags, Role::Client).unwrap();
    let mut body: Vec<u8> = "Plaintext".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut sig = [0u8; 16];
    p.seal(0, PduParts { header: &[], body: &mut body, trailer: &[], header_signed: true }, &mut sig).unwrap();
    assert_eq!(body, unhex("54 e5 01 65 bf 19 36 dc 99 60 20 c1 81 1b 0f 06 fb 5f"));
    assert_eq!(sig.to_vec(), unhex("01 00 00 00 7f b3 8e c5 c5 5d 49 76 00 00 00 00"));
    // and the server opens it
    let mut s = NtlmProtector::new(&[0x55; 16], flags, Role::Server).unwrap();
    s.unseal(0, PduParts { header: &[], body: &mut body, trailer: &[], header_signed: true }, &sig).unwrap();
    assert_eq!(
        String::from_utf16(&body.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>()).unwrap(),
        "Plaintext"
    );
}

//! `dcomctl decode` with keys: real Windows ciphertext checked and opened ([MS-RPCE 3.3.1.5.2]).

#![expect(clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]
use dcom_decode::{Keys, Options, decode_capture, pdu_json};

fn ntlm_keys(password: &str) -> Keys {
    Keys {
        nt_hash: Some(dcom_auth::ntlm::NtHash::from_password(password)),
        user: Some("Administrator".into()),
        domain: Some("DOMAIN".into()),
        kerberos: Vec::new(),
    }
}

fn ntlm_capture() -> Vec<u8> {
    let path = proto_tests::captures_dir().join("dcerpc_privacy_ntlm.pcapng.gz");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn ntlm_privacy_capture_verifies_and_decrypts_with_the_published_password() {
    let opts = Options { ports: vec![49679], keys: ntlm_keys("Password123!"), ..Options::default() };
    let report = decode_capture(&ntlm_capture(), &opts).unwrap();
    let mut protected = 0;
    let mut big = None;
    for r in &report.records {
        let j = pdu_json(r);
        if let Some(v) = j.get("verified") {
            assert_eq!(v, &serde_json::json!(true), "frame {}: {:?}", r.frame, r.verify_note);
            protected += 1;
        }
        if j["stub_len"] == 33592 {
            big = j["stub_sha256"].as_str().map(str::to_owned);
        }
    }
    eprintln!("{protected} protected PDUs verified and opened");
    assert_eq!(protected, 12, "4 sealed requests and 8 sealed response fragments");
    assert_eq!(big.as_deref(), Some("c0b5de1c305c02041c7f05ccded701a57b9137b4ffc7a4d189cd1c51a1273321"));
}

#[test]
fn ntlm_capture_with_a_wrong_password_opens_nothing() {
    let opts = Options { keys: ntlm_keys("Password123?"), ..Options::default() };
    let report = decode_capture(&ntlm_capture(), &opts).unwrap();
    let protected: Vec<_> = report.records.iter().filter(|r| pdu_json(r).get("verified").is_some()).collect();
    assert_eq!(protected.len(), 12);
    for r in protected {
        assert_eq!(r.verified, None, "frame {}", r.frame);
        let note = r.verify_note.as_deref().unwrap_or_default();
        assert!(note.contains("did not verify"), "frame {}: {note}", r.frame);
        assert!(r.clear_stub.is_none());
    }
}

#[test]
fn kerberos_privacy_capture_verifies_and_decrypts_with_the_published_service_key() {
    use dcom_auth::kerberos::{EncType, KerberosKey};
    let key = KerberosKey::from_hex(
        EncType::AES256_CTS_HMAC_SHA1_96,
        "85abb9b61dc2fa49d4cc04317bbd108f8f79df28239155ed7b144c5d2ebcf016",
    )
    .expect("key");
    let opts = Options { keys: Keys { kerberos: vec![key], ..Keys::default() }, ..Options::default() };
    let path = proto_tests::captures_dir().join("dcerpc_privacy_krb.pcapng.gz");
    let report = decode_capture(&std::fs::read(&path).expect("capture"), &opts).expect("decodes");
    let mut protected = 0;
    let mut first_request_vt = None;
    for r in &report.records {
        let j = pdu_json(r);
        if let Some(v) = j.get("verified") {
            assert_eq!(v, &serde_json::json!(true), "frame {}: {:?}", r.frame, r.verify_note);
            protected += 1;
            if j["ptype"] == 0 && first_request_vt.is_none() {
                first_request_vt = Some(j["verification_trailer"]["commands"][0]["command"].clone());
            }
        }
    }
    eprintln!("{protected} Kerberos-protected PDUs verified and opened");
    assert_eq!(protected, 12, "6 sealed requests and 6 sealed responses");
    assert_eq!(first_request_vt, Some(serde_json::json!("pcontext")));
}

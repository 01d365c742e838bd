//! Formats of the active Kerberos providers without a KDC: MIT ccache files (hostile input, every
//! truncation), krb5.conf profiles, SPNEGO token encoding (proptest round trips encode → parse → encode),
//! principal names.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly")]

use dcom_auth::AuthErrorKind;
use dcom_auth::kerberos::spnego::{NegState, NegTokenInit, NegTokenResp, Oid, SpnegoToken};
use dcom_auth::kerberos::{CredentialCache, EncType, KdcAddress, Krb5Profile, PrincipalNameParts};
use proptest::prelude::*;

fn data(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap().to_be_bytes());
    out.extend_from_slice(b);
}

fn principal(out: &mut Vec<u8>, realm: &str, comps: &[&str]) {
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&u32::try_from(comps.len()).unwrap().to_be_bytes());
    data(out, realm.as_bytes());
    for c in comps {
        data(out, c.as_bytes());
    }
}

/// A version 4 ccache written the way MIT lays it out: header with a time offset, default principal, a TGT,
/// a configuration entry and a service ticket.
fn sample_ccache() -> Vec<u8> {
    let mut v = vec![0x05, 0x04, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x08];
    v.extend_from_slice(&5i32.to_be_bytes());
    v.extend_from_slice(&7i32.to_be_bytes());
    principal(&mut v, "MIT.TEST", &["alice"]);
    let cred = |v: &mut Vec<u8>, server: (&str, &[&str]), key: &[u8], end: u32| {
        principal(v, "MIT.TEST", &["alice"]);
        principal(v, server.0, server.1);
        v.extend_from_slice(&u16::try_from(if key.is_empty() { 0 } else { 18 }).unwrap().to_be_bytes());
        data(v, key);
        for t in [1_700_000_000u32, 1_700_000_000, end, 0] {
            v.extend_from_slice(&t.to_be_bytes());
        }
        v.push(0);
        v.extend_from_slice(&0x4000_0000u32.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes()); // one address
        v.extend_from_slice(&2u16.to_be_bytes());
        data(v, &[127, 0, 0, 1]);
        v.extend_from_slice(&0u32.to_be_bytes()); // no authdata
        data(v, b"\x61\x00");
        data(v, b"");
    };
    cred(&mut v, ("MIT.TEST", &["krbtgt", "MIT.TEST"]), &[0x11; 32], 1_700_036_000);
    cred(&mut v, ("X-CACHECONF:", &["krb5_ccache_conf_data", "pa_type"]), &[], 0);
    cred(&mut v, ("MIT.TEST", &["host", "rpcsrv.mit.test"]), &[0x22; 32], 1_700_030_000);
    v
}

#[test]
fn ccache_v4_parses() {
    let cc = CredentialCache::parse(&sample_ccache()).unwrap();
    assert_eq!(cc.version, 4);
    assert_eq!(cc.time_offset, Some((5, 7)));
    assert_eq!(cc.default_principal.display_name(), "alice@MIT.TEST");
    assert_eq!(cc.credentials.len(), 3);
    assert!(cc.credentials[1].is_config());
    let tgt = cc.tgt("MIT.TEST").unwrap();
    assert_eq!((tgt.key.enctype(), tgt.endtime, tgt.ticket_flags), (EncType(18), 1_700_036_000, 0x4000_0000));
    assert!(cc.tgt("OTHER.TEST").is_none());
    let svc = cc.service_ticket(&["host".into(), "rpcsrv.mit.test".into()], "mit.test").unwrap();
    assert_eq!(svc.key.expose(), &[0x22; 32]);
    assert!(!format!("{cc:?}").contains("34, 34, 34"), "keys are redacted in Debug");
    assert_eq!(CredentialCache::path_of("FILE:/tmp/x").unwrap(), std::path::PathBuf::from("/tmp/x"));
    assert_eq!(CredentialCache::path_of("/tmp/y").unwrap(), std::path::PathBuf::from("/tmp/y"));
    assert_eq!(CredentialCache::path_of("KEYRING:persistent:0").unwrap_err().kind(), &AuthErrorKind::Unsupported);
}

#[test]
fn ccache_hostile_input() {
    let good = sample_ccache();
    // every truncation is an error or (cut at a credential boundary) fewer credentials, never a panic
    let mut errors = 0;
    for n in 0..good.len() {
        match CredentialCache::parse(&good[..n]) {
            Ok(cc) => assert!(cc.credentials.len() < 3, "{n}"),
            Err(_) => errors += 1,
        }
    }
    assert!(errors > good.len() - 5, "only the credential boundaries parse");
    // huge counts are refused before allocating
    let mut v = vec![0x05, 0x04, 0x00, 0x00];
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(&u32::MAX.to_be_bytes());
    let e = CredentialCache::parse(&v).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::CredentialCache);
    assert!(e.detail().unwrap().contains("cannot fit"));
    // versions
    assert_eq!(CredentialCache::parse(&[0x05, 0x02]).unwrap_err().kind(), &AuthErrorKind::Unsupported);
    assert_eq!(CredentialCache::parse(&[0x04, 0x04]).unwrap_err().kind(), &AuthErrorKind::CredentialCache);
    // a key of the wrong length for its enctype
    let mut bad = good.clone();
    let at = bad.windows(4).position(|w| w == [0, 0, 0, 32]).unwrap();
    bad[at + 3] = 31;
    assert!(CredentialCache::parse(&bad).is_err());
}

#[test]
fn profile_and_kdc_addresses() {
    let p = Krb5Profile::parse("[libdefaults]\n default_realm = A.TEST\n[realms]\n A.TEST = {\n  kdc = a:750 *\n }\n")
        .unwrap();
    assert_eq!(p.kdcs("A.TEST")[0], KdcAddress::parse("a:750").unwrap());
    assert_eq!(p.udp_preference_limit, dcom_auth::kerberos::DEFAULT_UDP_PREFERENCE_LIMIT);
    let dir = std::env::temp_dir().join(format!("dcom-auth-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("krb5.conf");
    std::fs::write(&f, "[libdefaults]\n default_realm = B.TEST\n").unwrap();
    // KRB5_CONFIG wins over the default path; a list takes its first existing file; nothing found is None
    let list = format!("{}:{}", dir.join("missing").display(), f.display());
    let got = Krb5Profile::from_sources(Some(&list), &dir.join("nope")).unwrap().unwrap();
    assert_eq!(got.default_realm.as_deref(), Some("B.TEST"));
    assert!(Krb5Profile::from_sources(Some("/nonexistent"), &f).unwrap().is_none());
    assert_eq!(Krb5Profile::from_sources(None, &f).unwrap().unwrap().default_realm.as_deref(), Some("B.TEST"));
    assert!(Krb5Profile::from_sources(None, &dir.join("nope")).unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn mech() -> impl Strategy<Value = Oid> {
    prop_oneof![
        Just(Oid(Oid::KRB5.to_vec())),
        Just(Oid(Oid::MS_KRB5.to_vec())),
        Just(Oid(Oid::NTLMSSP.to_vec())),
        proptest::collection::vec(1u8..0x7f, 1..12).prop_map(Oid),
    ]
}

proptest! {
    #[test]
    fn neg_token_init_round_trips(
        mechs in proptest::collection::vec(mech(), 1..5),
        token in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
    ) {
        let init = NegTokenInit::new(mechs.clone(), token.clone());
        let enc = init.encode();
        let SpnegoToken::Init(back) = SpnegoToken::parse(&enc).unwrap() else { panic!("not an init") };
        prop_assert_eq!(&back, &init);
        prop_assert_eq!(back.encode(), enc);
    }

    #[test]
    fn neg_token_resp_round_trips(
        state in proptest::option::of(0u8..4),
        m in proptest::option::of(mech()),
        token in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        mic in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    ) {
        let resp = NegTokenResp { neg_state: state.map(NegState), supported_mech: m, response_token: token, mech_list_mic: mic };
        let enc = resp.encode();
        let SpnegoToken::Resp(back) = SpnegoToken::parse(&enc).unwrap() else { panic!("not a resp") };
        prop_assert_eq!(&back, &resp);
        prop_assert_eq!(back.encode(), enc);
    }

    #[test]
    fn hostile_ccache_and_profile_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut v = vec![0x05, 0x04];
        v.extend_from_slice(&bytes);
        let _ = CredentialCache::parse(&v);
        let _ = CredentialCache::parse(&bytes);
        let _ = Krb5Profile::parse(&String::from_utf8_lossy(&bytes));
        let _ = KdcAddress::parse(&String::from_utf8_lossy(&bytes));
        let _ = PrincipalNameParts::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn principal_names_round_trip(comps in proptest::collection::vec("[a-zA-Z0-9.\\-]{1,12}", 1..4), realm in proptest::option::of("[A-Z.]{1,12}")) {
        let p = PrincipalNameParts { components: comps, realm };
        prop_assert_eq!(PrincipalNameParts::parse(&p.to_string()).unwrap(), p);
    }
}

use std::sync::Arc;

use dcom_auth::{AuthErrorKind, ServerContext as _};
use dcom_pdu::AuthType;
use dcom_schannel::generate::{ClientCertSpec, TestCa};
use dcom_schannel::{
    CertificateInfo, CertificateMapper, ClientCertPolicy, MapErrorKind, SubjectCnMapper, ThumbprintMapper, UpnMapper,
};

use super::*;

fn info(cert: &IssuedCert) -> CertificateInfo {
    CertificateInfo::parse(cert.cert().as_ref()).unwrap()
}

/// The identity the server maps `cert` to through `mapper`, over a real handshake (both TLS versions).
fn mapped(mapper: Arc<dyn CertificateMapper>, cert: &IssuedCert) -> Result<dcom_auth::Identity, AuthErrorKind> {
    let mut result = None;
    for v in VERSIONS {
        let cfg = server_config_with(ClientCertPolicy::Required(vec![pki().ca.cert().clone()]), mapper.clone(), v);
        let mut c = client(&client_config(Some(cert), v));
        let mut s = server(&cfg);
        let r = match run_handshake(&mut c, &mut s) {
            Ok(_) => Ok(s.identity().unwrap().clone()),
            Err((side, e)) => {
                assert_eq!(side, Side::Server);
                Err(e.kind().clone())
            }
        };
        if let Some(prev) = &result {
            assert_eq!(prev, &r, "same mapping under both versions");
        }
        result = Some(r);
    }
    result.unwrap()
}

#[test]
fn parser_reads_what_rcgen_wrote() {
    let a = info(&pki().alice);
    assert_eq!(a.subject_common_names, vec!["alice"]);
    assert_eq!(a.upns, vec!["alice@example.com"]);
    assert_eq!(a.sha256, pki().alice.sha256());
    assert_eq!(a.thumbprint_hex().len(), 64);
    let b = info(&pki().bob);
    assert_eq!(b.subject_common_names, vec!["bob"]);
    assert!(b.upns.is_empty());
    let s = info(&pki().server);
    assert_eq!(s.subject_common_names, vec![SERVER_NAME]);
    assert!(s.upns.is_empty(), "dns and ip names are not upns");
    let ca = CertificateInfo::parse(pki().ca.cert().as_ref()).unwrap();
    assert_eq!(ca.subject_common_names, vec!["dcom-schannel test CA"]);
    // trailing garbage and truncation are refused
    let der = pki().alice.cert().as_ref();
    assert!(CertificateInfo::parse(&[der, &[0]].concat()).is_err());
    assert!(CertificateInfo::parse(&der[..der.len() - 1]).is_err());
}

#[test]
fn subject_cn_mapper() {
    let id = mapped(Arc::new(SubjectCnMapper::new(Some("EXAMPLE"))), &pki().bob).unwrap();
    assert_eq!((id.account.as_str(), id.domain.as_str(), id.principal.as_str()), ("bob", "EXAMPLE", "EXAMPLE\\bob"));
    assert_eq!(id.provider, AuthType::GSS_SCHANNEL);
    let id = SubjectCnMapper::new(None).map(&info(&pki().alice)).unwrap();
    assert_eq!((id.principal.as_str(), id.domain.as_str()), ("alice", ""));
}

#[test]
fn upn_mapper() {
    let id = mapped(Arc::new(UpnMapper::new()), &pki().alice).unwrap();
    assert_eq!((id.account.as_str(), id.domain.as_str()), ("alice", "example.com"));
    assert_eq!(id.principal, "alice@example.com");
    // no UPN: the caller is unknown
    assert_eq!(mapped(Arc::new(UpnMapper::new()), &pki().bob).unwrap_err(), AuthErrorKind::UnknownUser);
    // suffix allow list, case-insensitive
    let m = UpnMapper::new().allow_suffix("EXAMPLE.com");
    assert!(m.map(&info(&pki().alice)).is_ok());
    let m = UpnMapper::new().allow_suffix("example.org");
    assert_eq!(m.map(&info(&pki().alice)).unwrap_err().kind, MapErrorKind::NotMapped);
    assert_eq!(mapped(Arc::new(m), &pki().alice).unwrap_err(), AuthErrorKind::UnknownUser);
}

#[test]
fn thumbprint_mapper() {
    let mut m = ThumbprintMapper::new();
    m.insert(pki().alice.sha256(), "alice.admin", "CORP").unwrap();
    let hex = info(&pki().bob).thumbprint_hex();
    let colons: Vec<String> = hex.as_bytes().chunks(2).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    m.insert_hex(&colons.join(":").to_lowercase(), "bob", "").unwrap();
    assert_eq!(m.len(), 2);
    let m = Arc::new(m);
    assert_eq!(mapped(m.clone(), &pki().alice).unwrap().principal, "CORP\\alice.admin");
    assert_eq!(mapped(m.clone(), &pki().bob).unwrap().principal, "bob");
    // a certificate of the same CA that is not in the table
    let carol = pki().ca.issue_client(&ClientCertSpec::new("carol", None)).unwrap();
    assert_eq!(mapped(m, &carol).unwrap_err(), AuthErrorKind::UnknownUser);
    let mut t = ThumbprintMapper::new();
    for bad in ["", "00", &"g".repeat(64), &"0".repeat(63), &"+f".repeat(32)] {
        assert_eq!(t.insert_hex(bad, "x", "").unwrap_err().kind, MapErrorKind::BadThumbprint, "{bad:?}");
    }
    assert_eq!(t.insert([0; 32], "", "").unwrap_err().kind, MapErrorKind::BadName);
    assert!(t.is_empty());
}

fn fake(cns: &[&str], upns: &[&str]) -> CertificateInfo {
    CertificateInfo {
        der: Vec::new(),
        sha256: [7; 32],
        subject_common_names: cns.iter().map(|s| (*s).to_owned()).collect(),
        upns: upns.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn names_that_could_smuggle_another_account_are_refused() {
    let cn = SubjectCnMapper::new(Some("EXAMPLE"));
    assert_eq!(cn.map(&fake(&[], &[])).unwrap_err().kind, MapErrorKind::NoName);
    assert_eq!(cn.map(&fake(&["a", "b"], &[])).unwrap_err().kind, MapErrorKind::Ambiguous);
    for bad in ["OTHER\\admin", "admin@other", "a/b", "", "adm\0in", "adm\nin", &"x".repeat(300)] {
        assert_eq!(cn.map(&fake(&[bad], &[])).unwrap_err().kind, MapErrorKind::BadName, "{bad:?}");
    }
    let upn = UpnMapper::new();
    assert_eq!(upn.map(&fake(&[], &["a@x", "b@x"])).unwrap_err().kind, MapErrorKind::Ambiguous);
    for bad in ["noat", "@x", "a@", "DOM\\a@x", "a\u{7}@x"] {
        assert_eq!(upn.map(&fake(&[], &[bad])).unwrap_err().kind, MapErrorKind::BadName, "{bad:?}");
    }
    // the last @ splits: a@b@c is account "a@b" which holds a separator
    assert_eq!(upn.map(&fake(&[], &["a@b@c"])).unwrap_err().kind, MapErrorKind::BadName);
}

#[test]
fn a_cn_with_a_domain_in_it_fails_the_handshake_with_unknown_user() {
    let ca = &pki().ca;
    let evil = ca.issue_client(&ClientCertSpec::new("OTHERDOMAIN\\administrator", None)).unwrap();
    assert_eq!(mapped(Arc::new(SubjectCnMapper::new(Some("EXAMPLE"))), &evil).unwrap_err(), AuthErrorKind::UnknownUser);
    // and a certificate from another CA never reaches the mapper
    let other = TestCa::new("x").unwrap().issue_client(&ClientCertSpec::new("alice", None)).unwrap();
    assert_eq!(mapped(Arc::new(SubjectCnMapper::new(None)), &other).unwrap_err(), AuthErrorKind::LogonDenied);
}

/// An OpenSSL-made certificate (tests/fixtures/README.md): two CNs, a UPN among DNS and email SANs.
#[test]
fn openssl_certificate_vector() {
    let der = include_bytes!("../fixtures/openssl_upn.der");
    let info = CertificateInfo::parse(der).unwrap();
    assert_eq!(info.subject_common_names, vec!["Bob Smith", "bsmith"]);
    assert_eq!(info.upns, vec!["bsmith@corp.example"]);
    assert_eq!(info.thumbprint_hex(), "093F14F071BCB191E3CA31102EDDA78EA0780682ACACD2E8BA1D060A60A7046D");
    let id = UpnMapper::new().allow_suffix("corp.example").map(&info).unwrap();
    assert_eq!((id.account.as_str(), id.domain.as_str()), ("bsmith", "corp.example"));
    assert_eq!(SubjectCnMapper::new(None).map(&info).unwrap_err().kind, MapErrorKind::Ambiguous);
    let mut t = ThumbprintMapper::new();
    t.insert_hex(
        "09:3F:14:F0:71:BC:B1:91:E3:CA:31:10:2E:DD:A7:8E:A0:78:06:82:AC:AC:D2:E8:BA:1D:06:0A:60:A7:04:6D",
        "bob",
        "CORP",
    )
    .unwrap();
    assert_eq!(t.map(&info).unwrap().principal, "CORP\\bob");
}

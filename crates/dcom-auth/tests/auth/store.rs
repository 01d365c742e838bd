use dcom_auth::ntlm::NtHash;
use dcom_auth::{AuthErrorKind, CredentialStore, InMemoryStore, StoredSecret};

const FILE: &str = "\
# accounts for tests
DOMAIN\\Administrator:Password123!
  # indented comment
bob:pass:with:colons
EXAMPLE\\carol:nthash:2B576ACBE6BCFDA7294D6BD18041B8FE

dave: leading space kept\r
";

#[test]
fn parses_the_documented_format() {
    let s = InMemoryStore::parse(FILE).unwrap();
    assert_eq!(s.entries().len(), 4);
    let admin = s.lookup("administrator", "domain").unwrap();
    assert_eq!(admin.nt_hash(), NtHash::from_password("Password123!"));
    // split at the first colon only
    let bob = s.lookup("bob", "ANY").unwrap();
    assert_eq!(bob.nt_hash(), NtHash::from_password("pass:with:colons"));
    // NT hash of "Password123!" given as hex
    let carol = s.lookup("CAROL", "example").unwrap();
    assert!(matches!(carol, StoredSecret::NtHash(_)));
    assert_eq!(carol.nt_hash(), NtHash::from_password("Password123!"));
    assert_eq!(s.lookup("dave", "x").unwrap().nt_hash(), NtHash::from_password(" leading space kept"));
}

#[test]
fn lookup_respects_domains() {
    let s = InMemoryStore::parse(FILE).unwrap();
    assert!(s.lookup("Administrator", "OTHER").is_none(), "domain-bound entry");
    assert!(s.lookup("carol", "DOMAIN").is_none());
    assert!(s.lookup("nobody", "DOMAIN").is_none());
    let mut m = InMemoryStore::new();
    m.add_password(None, "x", "any-domain").add_password(Some("D"), "x", "domain-d");
    assert_eq!(m.lookup("x", "d").unwrap().nt_hash(), NtHash::from_password("domain-d"), "exact domain first");
    assert_eq!(m.lookup("x", "e").unwrap().nt_hash(), NtHash::from_password("any-domain"));
}

#[test]
fn malformed_lines_report_their_number() {
    for (text, line) in [
        ("ok:pw\nno-colon\n", 2),
        ("# c\n\nD\\:pw\n", 3),
        ("\\user:pw\n", 1),
        (":pw\n", 1),
        ("u:nthash:1234\n", 1),
        ("u:nthash:zz576ACBE6BCFDA7294D6BD18041B8FE\n", 1),
    ] {
        let e = InMemoryStore::parse(text).unwrap_err();
        assert_eq!(e.kind(), &AuthErrorKind::CredentialSyntax { line }, "{text:?}");
        assert!(!e.to_string().contains("pw"), "no secret in the message: {e}");
    }
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("dcom-auth-store-{}", std::process::id()));
    std::fs::write(&dir, FILE).unwrap();
    let s = InMemoryStore::load(&dir).unwrap();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(s.entries().len(), 4);
    let e = InMemoryStore::load(std::path::Path::new("/nonexistent/creds.txt")).unwrap_err();
    assert_eq!(e.kind(), &AuthErrorKind::CredentialSyntax { line: 0 });
}

#[test]
fn nt_hash_known_answer_and_redaction() {
    // MD4(UTF-16LE("Password123!"))
    assert_eq!(NtHash::from_password("Password123!"), NtHash::from_hex("2b576acbe6bcfda7294d6bd18041b8fe").unwrap());
    assert_eq!(format!("{:?}", NtHash::from_password("x")), "NtHash(<redacted>)");
    let s = InMemoryStore::parse("u:topsecret\n").unwrap();
    assert!(!format!("{s:?}").contains("topsecret"));
}

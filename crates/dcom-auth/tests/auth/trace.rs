//! No password, hash, key or session key appears in trace output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dcom_auth::ntlm::NtHash;
use dcom_auth::{Protection, SecurityContext};
use dcom_pdu::AuthLevel;

use super::*;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decimal_list(b: &[u8]) -> String {
    b.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

#[test]
fn secrets_never_reach_trace_output() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let (session_key, errors) = tracing::subscriber::with_default(subscriber, || {
        tracing::trace!("capture started");
        let (mut c, mut s) = ntlm_pair();
        let key = c.info().unwrap().session_key.expose().to_vec();
        let mut cp = Protection::for_context(&mut c, config(AuthLevel::PKT_PRIVACY, true)).unwrap();
        let mut sp = Protection::for_context(&mut s, config(AuthLevel::PKT_PRIVACY, true)).unwrap();
        let mut w = frame(&cp, 1, b"payload", false);
        cp.protect_frame(&mut w).unwrap();
        sp.unprotect_frame(&mut w).unwrap();
        // failures too
        let mut bad = client(USER, "wrong password");
        let mut srv = NtlmServer::new(server_config()).unwrap();
        let e1 = run_handshake(&mut bad, &mut srv).1.unwrap_err();
        let mut unk = client("mallory", PASSWORD);
        let mut srv = NtlmServer::new(server_config()).unwrap();
        let e2 = run_handshake(&mut unk, &mut srv).1.unwrap_err();
        (key, format!("{e1} {e2} {e1:?} {e2:?} {c:?} {s:?}"))
    });
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("capture started"), "the subscriber captured output");
    let nt = NtHash::from_password(PASSWORD);
    assert_eq!(format!("{nt:?}"), "NtHash(<redacted>)");
    let nt_hex = hex(nt.as_bytes());
    for haystack in [&out, &errors] {
        for needle in [
            PASSWORD.to_owned(),
            "wrong password".to_owned(),
            hex(&session_key),
            hex(&session_key).to_uppercase(),
            decimal_list(&session_key),
            format!("{:?}", session_key),
            nt_hex.clone(),
            nt_hex.to_uppercase(),
            decimal_list(nt.as_bytes()),
        ] {
            assert!(!haystack.contains(&needle), "secret {needle:?} leaked:\n{haystack}");
        }
    }
}

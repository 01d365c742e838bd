//! Test support for the live-peer tests: the MIT KDC started by `scripts/mitkdc.sh` (once per test binary),
//! KDC I/O for the sans-IO clients, handshake drivers, and the pyspnego venv.
//!
//! A missing `krb5kdc` FAILS the tests with a loud message: CI installs it, nothing is skipped silently.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dcom_auth::kerberos::{
    CredentialCache, KdcAddress, KerberosClient, KerberosClientConfig, KerberosCredentials, KerberosServer,
    KerberosServerConfig, Krb5Profile, keytab::Keytab,
};
use dcom_auth::{
    AuthError, ClientContext, ClientRequirements, KdcRequest, KdcTransport, Password, ServerContext, Step,
};

pub(crate) const REALM: &str = "MIT.TEST";
pub(crate) const ALICE_PW: &str = "Passw0rd!Alice";
pub(crate) const BOB_PW: &str = "Passw0rd!Bob";
pub(crate) const SPN: &str = "host/rpcsrv.mit.test";
pub(crate) const RPCSS_SPN: &str = "RPCSS/rpcsrv.mit.test";
pub(crate) const AES128_SPN: &str = "host/aes128.mit.test";
pub(crate) const SHORT_SPN: &str = "host/short.mit.test";

/// The running KDC of this test binary.
#[derive(Debug)]
pub(crate) struct Kdc {
    pub(crate) dir: PathBuf,
    pub(crate) krb5_config: PathBuf,
    pub(crate) profile: Krb5Profile,
}

impl Kdc {
    pub(crate) fn keytab_path(&self) -> PathBuf {
        self.dir.join("rpcsrv.keytab")
    }

    pub(crate) fn keytab(&self) -> Arc<Keytab> {
        Arc::new(Keytab::load(self.keytab_path()).unwrap())
    }

    /// `kinit` into a fresh FILE ccache; `tkt_enctypes` (e.g. `aes128-cts-hmac-sha1-96`) restricts the TGT
    /// session key through a copy of the profile (`default_tkt_enctypes`; MIT kinit has no enctype option).
    pub(crate) fn kinit(&self, name: &str, user: &str, password: &str, tkt_enctypes: Option<&str>) -> PathBuf {
        let path = self.dir.join(format!("{name}.ccache"));
        let _ = std::fs::remove_file(&path);
        let mut conf = self.krb5_config.clone();
        if let Some(e) = tkt_enctypes {
            let text = std::fs::read_to_string(&self.krb5_config).unwrap();
            conf = self.dir.join(format!("krb5-{name}.conf"));
            let text = text.replacen("[libdefaults]\n", &format!("[libdefaults]\n\tdefault_tkt_enctypes = {e}\n"), 1);
            std::fs::write(&conf, text).unwrap();
        }
        let mut child = Command::new("kinit")
            .env("KRB5_CONFIG", &conf)
            .arg("-c")
            .arg(format!("FILE:{}", path.display()))
            .arg(user)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit (krb5-user) must be installed");
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kinit failed: {}", String::from_utf8_lossy(&out.stderr));
        path
    }

    /// `kvno` a service ticket into an existing ccache.
    pub(crate) fn kvno(&self, ccache: &Path, spn: &str) {
        let out = Command::new("kvno")
            .env("KRB5_CONFIG", &self.krb5_config)
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .arg(spn)
            .output()
            .unwrap();
        assert!(out.status.success(), "kvno failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub(crate) fn client_config(&self, credentials: KerberosCredentials) -> KerberosClientConfig {
        let mut c = KerberosClientConfig::new(credentials);
        c.profile = Some(self.profile.clone());
        c
    }

    pub(crate) fn password_client(&self, user: &str, password: &str, target: &str) -> KerberosClient {
        self.password_client_with(user, password, requirements(target), &|_| {})
    }

    pub(crate) fn password_client_with(
        &self,
        user: &str,
        password: &str,
        req: ClientRequirements,
        tweak: &dyn Fn(&mut KerberosClientConfig),
    ) -> KerberosClient {
        let mut c = self.client_config(KerberosCredentials::Password {
            principal: user.to_owned(),
            password: Password::new(password),
        });
        tweak(&mut c);
        KerberosClient::new(c, req).unwrap()
    }

    pub(crate) fn server(&self) -> KerberosServer {
        KerberosServer::new(KerberosServerConfig::new(self.keytab()))
    }
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn kdc_dir() -> PathBuf {
    let base = std::env::var("DCOM_PEERS_DIR").unwrap_or_else(|_| "/tmp/dcom-peers".to_owned());
    PathBuf::from(base).join("mitkdc")
}

/// Starts the KDC once per test binary (idempotent: another binary's KDC of the same directory is reused).
pub(crate) fn kdc() -> &'static Kdc {
    static KDC: OnceLock<Kdc> = OnceLock::new();
    KDC.get_or_init(|| {
        let have = |t: &str| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {t} || test -x /usr/sbin/{t}"))
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !have("krb5kdc") || !have("kadmin.local") || !have("kinit") {
            panic!(
                "\n\n*** MIT Kerberos is not installed: these tests need a real KDC. ***\n\
                 *** apt-get install krb5-kdc krb5-admin-server krb5-user           ***\n\n"
            );
        }
        let dir = kdc_dir();
        let script = repo_root().join("scripts/mitkdc.sh");
        // a lock file serialises concurrent test binaries starting the same KDC
        std::fs::create_dir_all(&dir).unwrap();
        // -o: the lock fd is not inherited by the krb5kdc the script leaves running
        let out = Command::new("flock")
            .arg("-o")
            .arg(dir.join(".lock"))
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/mitkdc.sh start failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let krb5_config = dir.join("krb5.conf");
        let profile = Krb5Profile::load(&krb5_config).unwrap();
        Kdc { dir, krb5_config, profile }
    })
}

pub(crate) fn requirements(target: &str) -> ClientRequirements {
    ClientRequirements { target_name: target.to_owned(), ..ClientRequirements::default() }
}

/// Performs one KDC request over the network (the test is the I/O layer of the sans-IO client).
pub(crate) fn kdc_exchange(req: &KdcRequest) -> Vec<u8> {
    let addr = req.url.split("://").nth(1).unwrap();
    match req.transport {
        KdcTransport::Tcp => {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(&req.data).unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let n = usize::try_from(u32::from_be_bytes(len)).unwrap();
            assert!(n < 1 << 20, "kdc reply too large");
            let mut body = vec![0u8; n];
            s.read_exact(&mut body).unwrap();
            let mut out = len.to_vec();
            out.extend_from_slice(&body);
            out
        }
        KdcTransport::Udp => {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.send_to(&req.data, addr).unwrap();
            let mut buf = vec![0u8; 65_536];
            let (n, _) = s.recv_from(&mut buf).unwrap();
            buf.truncate(n);
            buf
        }
        other => panic!("unsupported transport {other:?}"),
    }
}

/// Steps a client through its KDC legs; returns the first non-KDC step and the KDC requests made.
pub(crate) fn client_step(
    client: &mut dyn ClientContext,
    input: Option<&[u8]>,
    kdc_log: &mut Vec<KdcRequest>,
) -> Result<Step, AuthError> {
    let mut step = client.step(input)?;
    while let Step::NeedsKdc(req) = step {
        let reply = kdc_exchange(&req);
        kdc_log.push(req);
        step = client.resume_kdc(&reply)?;
    }
    Ok(step)
}

/// What a handshake produced.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    pub(crate) client_tokens: Vec<Vec<u8>>,
    pub(crate) server_tokens: Vec<Vec<u8>>,
    pub(crate) kdc: Vec<KdcRequest>,
}

/// Runs any client/server pair until both are complete (DCE legs: bind, bind_ack, alter_context[, resp]).
/// A client error is returned as `Err((true, e))`, a server error as `Err((false, e))`.
pub(crate) fn handshake(
    client: &mut dyn ClientContext,
    server: &mut dyn ServerContext,
) -> Result<Transcript, (bool, AuthError)> {
    let mut t = Transcript::default();
    let mut input: Option<Vec<u8>> = None;
    for _ in 0..8 {
        let step = client_step(client, input.as_deref(), &mut t.kdc).map_err(|e| (true, e))?;
        let token = match step {
            Step::Continue { token } => Some(token),
            Step::Complete { token } => token,
            Step::NeedsKdc(_) => unreachable!(),
        };
        let Some(token) = token else {
            assert!(server.is_complete(), "client finished without a token but the server is not complete");
            return Ok(t);
        };
        t.client_tokens.push(token.clone());
        let s = server.step(&token).map_err(|e| (false, e))?;
        let reply = match s {
            Step::Continue { token } => Some(token),
            Step::Complete { token } => token,
            Step::NeedsKdc(_) => panic!("server asked for the kdc"),
        };
        match reply {
            Some(r) if !client.is_complete() => {
                t.server_tokens.push(r.clone());
                input = Some(r);
            }
            Some(r) => {
                // the client completed on its last token: the server's final token (SPNEGO) goes back to it
                t.server_tokens.push(r.clone());
                let last = client.step(Some(&r)).map_err(|e| (true, e))?;
                assert!(matches!(last, Step::Complete { token: None }), "unexpected client step {last:?}");
                return Ok(t);
            }
            None => {
                assert!(client.is_complete() && server.is_complete(), "server sent nothing but a side is not done");
                return Ok(t);
            }
        }
        if client.is_complete() && server.is_complete() {
            return Ok(t);
        }
    }
    panic!("handshake did not converge");
}

/// A ccache parsed from a path.
pub(crate) fn ccache(path: &Path) -> CredentialCache {
    CredentialCache::load(path).unwrap()
}

/// An explicit KDC address of the test KDC.
pub(crate) fn explicit_kdc(spec: &str) -> KdcAddress {
    KdcAddress::parse(spec).unwrap()
}

/// The python with pyspnego (`$DCOM_PYTHON`, else the venv under the peers dir, created when missing:
/// Debian's python3 with system site packages for python3-gssapi, pyspnego and the `krb5` bindings pinned).
pub(crate) fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Ok(p) = std::env::var("DCOM_PYTHON") {
            return PathBuf::from(p);
        }
        let base = std::env::var("DCOM_PEERS_DIR").unwrap_or_else(|_| "/tmp/dcom-peers".to_owned());
        let venv = PathBuf::from(base).join("venv");
        let py = venv.join("bin/python");
        let ok = |py: &Path| {
            Command::new(py)
                .args(["-c", "import spnego, gssapi, krb5, importlib.metadata as m; assert m.version('pyspnego') == '0.12.4'"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !ok(&py) {
            let lock = venv.with_extension("lock");
            let script = format!(
                "set -e; [ -x '{py}' ] || /usr/bin/python3 -m venv --system-site-packages '{venv}'; \
                 '{py}' -m pip install -q pyspnego==0.12.4 krb5==0.10.0",
                py = py.display(),
                venv = venv.display()
            );
            let out = Command::new("flock").arg("-o").arg(&lock).args(["sh", "-c", &script]).output().unwrap();
            assert!(
                out.status.success(),
                "\n\n*** cannot create the pyspnego venv (needs python3-venv, python3-gssapi, libkrb5-dev, gcc) ***\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(ok(&py), "pyspnego venv at {} is unusable", venv.display());
        }
        py
    })
    .clone()
}

/// Each test binary uses a different subset of these helpers; taking their addresses here keeps every one
/// of them used (so no `dead_code` allowance is needed) and checks that the script is where tests look.
#[test]
fn support_helpers_are_linked() {
    let helpers: [usize; 10] = [
        frame as fn(&dcom_auth::Protection, u32, &[u8], bool) -> Vec<u8> as usize,
        exchange_pdus
            as fn(
                &mut dyn dcom_auth::SecurityContext,
                &mut dyn dcom_auth::SecurityContext,
                dcom_pdu::AuthType,
                dcom_pdu::AuthLevel,
                bool,
            ) as usize,
        kdc as fn() -> &'static Kdc as usize,
        requirements as fn(&str) -> ClientRequirements as usize,
        kdc_exchange as fn(&KdcRequest) -> Vec<u8> as usize,
        client_step as fn(&mut dyn ClientContext, Option<&[u8]>, &mut Vec<KdcRequest>) -> Result<Step, AuthError>
            as usize,
        handshake as fn(&mut dyn ClientContext, &mut dyn ServerContext) -> Result<Transcript, (bool, AuthError)>
            as usize,
        ccache as fn(&Path) -> CredentialCache as usize,
        explicit_kdc as fn(&str) -> KdcAddress as usize,
        python as fn() -> PathBuf as usize,
    ];
    assert!(helpers.iter().all(|&h| h != 0));
    let _ = (Kdc::keytab_path, Kdc::keytab, Kdc::kinit, Kdc::kvno, Kdc::client_config);
    let _ = (Kdc::password_client, Kdc::password_client_with, Kdc::server);
    let _ = (REALM, ALICE_PW, BOB_PW, SPN, RPCSS_SPN, AES128_SPN, SHORT_SPN);
    assert!(repo_root().join("scripts/mitkdc.sh").is_file());
}

/// An encoded request (`response == false`) or response PDU whose verifier matches `prot`.
pub(crate) fn frame(prot: &dcom_auth::Protection, call_id: u32, stub: &[u8], response: bool) -> Vec<u8> {
    use dcom_pdu::{AuthVerifier, Pdu, PduBody, PfcFlags, Request, Response, auth_pad_len};
    let stub = bytes::Bytes::copy_from_slice(stub);
    let alloc_hint = u32::try_from(stub.len()).unwrap();
    let body = if response {
        PduBody::Response(Response { alloc_hint, p_cont_id: 0, cancel_count: 0, reserved: 0, stub: stub.clone() })
    } else {
        PduBody::Request(Request { alloc_hint, p_cont_id: 1, opnum: 7, object: None, stub: stub.clone() })
    };
    let mut pdu = Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, body);
    if let Some(t) = prot.auth_template() {
        let pad = auth_pad_len(stub.len(), t.size.pad_align);
        let value = bytes::Bytes::from(vec![0u8; usize::from(t.size.auth_len)]);
        pdu = pdu.with_auth(AuthVerifier::new(t.auth_type, t.auth_level, t.auth_context_id, pad, value));
    }
    pdu.to_bytes().unwrap()
}

/// Protects a request with `tx`, opens it with `rx`, then a response the other way; checks the stubs and
/// that the body is encrypted at PKT_PRIVACY and in clear below.
pub(crate) fn exchange_pdus(
    ctx_c: &mut dyn dcom_auth::SecurityContext,
    ctx_s: &mut dyn dcom_auth::SecurityContext,
    auth_type: dcom_pdu::AuthType,
    level: dcom_pdu::AuthLevel,
    header_sign: bool,
) {
    use dcom_auth::{Protection, ProtectionConfig};
    let cfg = ProtectionConfig { auth_type, level, context_id: 3, header_sign };
    let mut cp = Protection::for_context(ctx_c, cfg).unwrap();
    let mut sp = Protection::for_context(ctx_s, cfg).unwrap();
    for i in 0..3u32 {
        let stub: Vec<u8> = (0..200 + i).map(|b| u8::try_from(b % 251).unwrap()).collect();
        let mut req = frame(&cp, i + 1, &stub, false);
        cp.protect_frame(&mut req).unwrap();
        let sealed = req.windows(stub.len()).any(|w| w == stub.as_slice());
        assert_eq!(sealed, level != dcom_pdu::AuthLevel::PKT_PRIVACY, "body visibility at {level:?}");
        let opened = sp.unprotect_frame(&mut req).unwrap();
        assert!(opened.protected);
        assert_eq!(&req[opened.stub.clone()], stub.as_slice());
        let mut rsp = frame(&sp, i + 1, &stub[..100], true);
        sp.protect_frame(&mut rsp).unwrap();
        let opened = cp.unprotect_frame(&mut rsp).unwrap();
        assert_eq!(&rsp[opened.stub.clone()], &stub[..100]);
    }
    // a replayed request is refused
    let mut req = frame(&cp, 9, b"once", false);
    cp.protect_frame(&mut req).unwrap();
    let copy = req.clone();
    sp.unprotect_frame(&mut req).unwrap();
    let mut again = copy;
    assert!(matches!(sp.unprotect_frame(&mut again).unwrap_err().kind(), dcom_auth::AuthErrorKind::Replay { .. }));
}

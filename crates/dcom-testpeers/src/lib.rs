#![cfg_attr(doc, doc = include_str!("../README.md"))]

mod error;
mod run;
mod smbtorture;
mod tshark;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use error::{PeersError, PeersErrorKind, Result};
pub use run::Finished;
pub use smbtorture::{Outcome, SmbtortureReport, Subtest, parse_simple, parse_subunit};
pub use tshark::{Capture, ExpertItem, ExpertSeverity, TsharkCheck, tshark_check, tshark_fields};

/// A test account of the Samba domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// sAMAccountName, e.g. `alice`.
    pub name: &'static str,
    /// Its password.
    pub password: &'static str,
}

impl User {
    /// `name@REALM`, e.g. `alice@SAMBA.TEST`.
    #[must_use]
    pub fn principal(&self) -> String {
        format!("{}@{REALM}", self.name)
    }

    /// `DOMAIN\name`, e.g. `SAMBA\alice`.
    #[must_use]
    pub fn down_level(&self) -> String {
        format!("{DOMAIN}\\{}", self.name)
    }
}

/// Kerberos realm of the Samba domain.
pub const REALM: &str = "SAMBA.TEST";
/// NetBIOS domain name.
pub const DOMAIN: &str = "SAMBA";
/// A user.
pub const ALICE: User = User { name: "alice", password: "Passw0rd!Alice" };
/// Another user.
pub const BOB: User = User { name: "bob", password: "Passw0rd!Bob" };
/// The account of OUR server under test; its keys (AES only) are in [`Peers::rpcsrv_keytab`].
pub const RPCSVC: User = User { name: "rpcsvc", password: "Passw0rd!Svc1" };
/// The domain administrator.
pub const ADMINISTRATOR: User = User { name: "administrator", password: "Passw0rd!Adm" };

/// The Samba AD DC.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DomainController {
    /// 127.0.0.10
    pub ip: Ipv4Addr,
    /// `dc1.samba.test`
    pub host: String,
    /// NetBIOS name `DC1`.
    pub netbios_name: String,
    /// `SAMBA.TEST`
    pub realm: String,
    /// `SAMBA`
    pub domain: String,
}

/// Where OUR server under test listens and who it is in the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerUnderTest {
    /// 127.0.0.20 (port 135 free for our endpoint mapper).
    pub ip: Ipv4Addr,
    /// `rpcsrv.samba.test`
    pub host: String,
    /// `host/rpcsrv.samba.test`, `RPCSS/rpcsrv.samba.test`, `HTTP/rpcsrv.samba.test`
    pub spns: Vec<String>,
    /// The `rpcsvc` account.
    pub account: User,
}

/// The running peers: paths, addresses and helpers. Get it with [`peers`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Peers {
    /// Repository root (the script lives in `scripts/peers.sh`).
    pub repo_root: PathBuf,
    /// `scripts/peers.sh`.
    pub script: PathBuf,
    /// `scripts/peers/` (samba_client.py, impacket_client.py, ...).
    pub scripts_dir: PathBuf,
    /// State directory (`$DCOM_PEERS_DIR`, default `/tmp/dcom-peers`).
    pub dir: PathBuf,
    /// The venv python (Debian python with `--system-site-packages`: impacket, pyspnego, samba).
    pub python: PathBuf,
    /// Debian's `/usr/bin/python3` (python3-samba without the venv).
    pub system_python: PathBuf,
    /// krb5.conf for MIT/Heimdal clients: KDC 127.0.0.10, no DNS.
    pub krb5_conf: PathBuf,
    /// smb.conf for Samba's client tools (python samba, rpcclient, smbtorture).
    pub client_conf: PathBuf,
    /// The DC's own smb.conf.
    pub smb_conf: PathBuf,
    /// Keytab of our server: host/, RPCSS/, HTTP/rpcsrv.samba.test and rpcsvc (AES128/256, kvno 2).
    pub rpcsrv_keytab: PathBuf,
    /// Every account's keys, for `tshark -o kerberos.file:...`.
    pub all_keytab: PathBuf,
    /// The DC's log.
    pub samba_log: PathBuf,
    /// The Samba DC.
    pub dc: DomainController,
    /// Our server under test.
    pub rpcsrv: ServerUnderTest,
    /// Every variable `scripts/peers.sh env` prints; [`Peers::command`] sets them all.
    pub env: BTreeMap<String, String>,
    /// What `install` and `samba-start` printed (timings), and how long they took together.
    pub setup_log: String,
    /// Time spent in [`peers`]'s setup (install + samba-start + env).
    pub setup_time: Duration,
}

/// Output of a peer client script (`samba_client.py`, `impacket_client.py`): its exit code and JSON.
#[derive(Debug, Clone)]
pub struct PeerOutput {
    /// The command line.
    pub argv: Vec<String>,
    /// 0 = every call succeeded, 1 = a bind/call failed (see `json.error`), 2 = usage error.
    pub exit_code: Option<i32>,
    /// The JSON object the script printed.
    pub json: Value,
    /// stderr (Samba/impacket diagnostics).
    pub stderr: String,
    /// Wall time including interpreter start-up.
    pub elapsed: Duration,
}

impl PeerOutput {
    /// Exit code 0 and `"ok": true`.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && self.json.get("ok").and_then(Value::as_bool) == Some(true)
    }

    /// `json.result` (null when absent).
    #[must_use]
    pub fn result(&self) -> &Value {
        self.json.get("result").unwrap_or(&Value::Null)
    }

    /// The first error's name: an NTSTATUS (`NT_STATUS_ACCESS_DENIED`), WERROR, fault (`nca_s_op_rng_error`,
    /// `rpc_s_access_denied`) or exception class name.
    #[must_use]
    pub fn error_name(&self) -> Option<&str> {
        self.json.pointer("/error/name").and_then(Value::as_str)
    }

    /// The first error's numeric code, when it has one.
    #[must_use]
    pub fn error_code(&self) -> Option<u64> {
        self.json.pointer("/error/code").and_then(Value::as_u64)
    }
}

const SETUP_TIMEOUT: Duration = Duration::from_secs(1800);
const TOOL_TIMEOUT: Duration = Duration::from_secs(180);

static PEERS: OnceLock<Result<Peers>> = OnceLock::new();

/// Installs (if needed) and starts the peers once per process, then returns them.
///
/// Runs `scripts/peers.sh install` and `scripts/peers.sh samba-start` under a file lock in the state
/// directory, so parallel test binaries do not race; both are idempotent and take well under a second when
/// everything is in place. Needs root on a fresh machine (apt, /etc/hosts, port 135). Any failure is an
/// error (cached for the rest of the process): tests should `expect` it, never skip.
pub fn peers() -> Result<&'static Peers> {
    PEERS.get_or_init(setup).as_ref().map_err(Clone::clone)
}

fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("..");
    root.canonicalize().unwrap_or(root)
}

fn state_dir() -> PathBuf {
    std::env::var_os("DCOM_PEERS_DIR").map_or_else(|| PathBuf::from("/tmp/dcom-peers"), PathBuf::from)
}

fn setup() -> Result<Peers> {
    let start = Instant::now();
    let repo = repo_root();
    let script = repo.join("scripts").join("peers.sh");
    if !script.is_file() {
        return Err(PeersError::new(
            PeersErrorKind::Setup,
            "looking for scripts/peers.sh",
            script.display().to_string(),
        ));
    }
    run::require_program("bash", "bash is needed to run scripts/peers.sh")?;
    let dir = state_dir();
    let io = |what: &str, e: std::io::Error| PeersError::new(PeersErrorKind::Io, what.to_owned(), e.to_string());
    fs::create_dir_all(&dir).map_err(|e| io("creating the peers state directory", e))?;
    // One process at a time runs the scripts (they lock too); the lock is released when `lock` drops.
    let lock = File::create(dir.join(".testpeers.lock")).map_err(|e| io("creating the test lock file", e))?;
    lock.lock().map_err(|e| io("locking the test lock file", e))?;

    let mut log = String::new();
    for step in ["install", "samba-start"] {
        let f = run::run(
            Command::new("bash").arg(&script).arg(step).env("DCOM_PEERS_DIR", &dir),
            SETUP_TIMEOUT,
            &format!("running scripts/peers.sh {step}"),
        )?;
        log.push_str(&f.stdout);
        log.push_str(&f.stderr);
        if !f.success() {
            return Err(PeersError::new(
                PeersErrorKind::Setup,
                format!("running scripts/peers.sh {step} (needs root on a fresh machine)"),
                f.summary(),
            ));
        }
    }
    let f = run::run(
        Command::new("bash").arg(&script).arg("env").env("DCOM_PEERS_DIR", &dir),
        TOOL_TIMEOUT,
        "running scripts/peers.sh env",
    )?;
    if !f.success() {
        return Err(PeersError::new(PeersErrorKind::Setup, "running scripts/peers.sh env", f.summary()));
    }
    let env = parse_exports(&f.stdout);
    drop(lock);

    let get = |k: &str| {
        env.get(k).cloned().ok_or_else(|| {
            PeersError::new(PeersErrorKind::BadOutput, "reading scripts/peers.sh env", format!("no {k}"))
        })
    };
    let ip = |k: &str| -> Result<Ipv4Addr> {
        get(k)?.parse().map_err(|e| PeersError::new(PeersErrorKind::BadOutput, format!("parsing {k}"), format!("{e}")))
    };
    let rpcsrv_host = get("RPCSRV_HOST")?;
    let peers = Peers {
        repo_root: repo.clone(),
        script,
        scripts_dir: PathBuf::from(get("DCOM_PEERS_SCRIPTS")?),
        dir,
        python: PathBuf::from(get("DCOM_PYTHON")?),
        system_python: PathBuf::from(get("DCOM_SYSTEM_PYTHON")?),
        krb5_conf: PathBuf::from(get("KRB5_CONFIG")?),
        client_conf: PathBuf::from(get("SAMBA_CLIENT_CONF")?),
        smb_conf: PathBuf::from(get("SAMBA_SMB_CONF")?),
        rpcsrv_keytab: PathBuf::from(get("RPCSRV_KEYTAB")?),
        all_keytab: PathBuf::from(get("DCOM_ALL_KEYTAB")?),
        samba_log: PathBuf::from(get("SAMBA_LOG")?),
        dc: DomainController {
            ip: ip("SAMBA_DC_IP")?,
            host: get("SAMBA_DC_HOST")?,
            netbios_name: "DC1".to_owned(),
            realm: get("SAMBA_REALM")?,
            domain: get("SAMBA_DOMAIN")?,
        },
        rpcsrv: ServerUnderTest {
            ip: ip("RPCSRV_IP")?,
            spns: ["host", "RPCSS", "HTTP"].iter().map(|s| format!("{s}/{rpcsrv_host}")).collect(),
            host: rpcsrv_host,
            account: RPCSVC,
        },
        env,
        setup_log: log,
        setup_time: start.elapsed(),
    };
    for p in [&peers.python, &peers.krb5_conf, &peers.client_conf, &peers.rpcsrv_keytab, &peers.all_keytab] {
        if !p.exists() {
            return Err(PeersError::new(
                PeersErrorKind::Setup,
                "checking the peers' files",
                format!("{} is missing", p.display()),
            ));
        }
    }
    Ok(peers)
}

/// Parses `export NAME='value'` lines (single quotes, `'\''` for a quote) as printed by `peers.sh env`.
fn parse_exports(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("export ") else { continue };
        let Some((name, raw)) = rest.split_once('=') else { continue };
        out.insert(name.to_owned(), unquote(raw));
    }
    out
}

fn unquote(raw: &str) -> String {
    let mut out = String::new();
    let mut in_quote = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => in_quote = !in_quote,
            '\\' if !in_quote => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

impl Peers {
    /// A command with the peers' environment: every `peers.sh env` variable (KRB5_CONFIG, SAMBA_CLIENT_CONF,
    /// ...), `KRB5CCNAME=MEMORY:` (no shared ticket cache between tests; override it for kinit'ed caches) and
    /// /usr/sbin on PATH.
    #[must_use]
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(&self.env).env("KRB5CCNAME", "MEMORY:dcom-testpeers");
        let path = std::env::var("PATH").unwrap_or_default();
        let extra: Vec<&str> = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .into_iter()
            .filter(|d| !path.split(':').any(|p| p == *d))
            .collect();
        if !extra.is_empty() {
            let joined = if path.is_empty() { extra.join(":") } else { format!("{path}:{}", extra.join(":")) };
            cmd.env("PATH", joined);
        }
        cmd
    }

    fn run_script(&self, script: &str, args: &[&str]) -> Result<PeerOutput> {
        let what = format!("running {script} {}", args.join(" "));
        let f =
            run::run(self.command(&self.python).arg(self.scripts_dir.join(script)).args(args), TOOL_TIMEOUT, &what)?;
        let last = f.stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
        let json: Value = serde_json::from_str(last).map_err(|e| {
            PeersError::new(
                PeersErrorKind::BadOutput,
                what.clone(),
                format!("no JSON on stdout ({e}); {}", f.summary()),
            )
        })?;
        Ok(PeerOutput { argv: f.argv, exit_code: f.exit_code, json, stderr: f.stderr, elapsed: f.elapsed })
    }

    fn require_ok(out: PeerOutput, script: &str) -> Result<Value> {
        if out.ok() {
            return Ok(out.json);
        }
        let err = out.json.get("error").map_or_else(|| "no error object".to_owned(), Value::to_string);
        Err(PeersError::new(
            PeersErrorKind::ToolFailed,
            format!("running {script}: {}", out.argv.join(" ")),
            format!("exit {:?}, error {err}; stderr: {}", out.exit_code, run::tail(&out.stderr, 8)),
        ))
    }

    /// Runs `scripts/peers/samba_client.py ARGS` (Samba's client library) and returns its JSON whatever the
    /// outcome; see [`PeerOutput::ok`] and [`PeerOutput::error_name`]. Example args:
    /// `["ncacn_ip_tcp:dc1.samba.test", "samr", "--auth", "krb5", "--level", "seal", "--krb", "yes"]`.
    pub fn run_samba_client(&self, args: &[&str]) -> Result<PeerOutput> {
        self.run_script("samba_client.py", args)
    }

    /// Like [`Peers::run_samba_client`], but a failed call is an error.
    pub fn samba_client(&self, args: &[&str]) -> Result<Value> {
        Self::require_ok(self.run_samba_client(args)?, "samba_client.py")
    }

    /// Runs `scripts/peers/impacket_client.py ARGS` and returns its JSON whatever the outcome. Example args:
    /// `["127.0.0.10", "samr", "--level", "integrity"]`.
    pub fn run_impacket_client(&self, args: &[&str]) -> Result<PeerOutput> {
        self.run_script("impacket_client.py", args)
    }

    /// Like [`Peers::run_impacket_client`], but a failed call is an error.
    pub fn impacket_client(&self, args: &[&str]) -> Result<Value> {
        Self::require_ok(self.run_impacket_client(args)?, "impacket_client.py")
    }

    /// Runs `smbtorture -s client.conf [-U SAMBA\alice%...] BINDING SUITE --format=subunit EXTRA...` and parses
    /// every subtest. Credentials default to alice unless `extra_args` has `-N`, `-U...`, `--user...` or `-A...`.
    /// A run that reports no subtest at all (unknown suite, cannot start) is an error; failing subtests are not
    /// (look at the report).
    pub fn smbtorture(&self, binding: &str, suite: &str, extra_args: &[&str]) -> Result<SmbtortureReport> {
        run::require_program("smbtorture", "smbtorture comes from samba-testsuite: run `scripts/peers.sh install`")?;
        let what = format!("running smbtorture {binding} {suite}");
        let mut cmd = self.command("smbtorture");
        cmd.arg("-s").arg(&self.client_conf);
        let has_creds = extra_args
            .iter()
            .any(|a| *a == "-N" || a.starts_with("-U") || a.starts_with("--user") || a.starts_with("-A"));
        if !has_creds {
            cmd.arg("-U").arg(format!("{}%{}", ALICE.down_level(), ALICE.password));
        }
        cmd.args([binding, suite, "--format=subunit"]).args(extra_args);
        let f = run::run(&mut cmd, TOOL_TIMEOUT, &what)?;
        let subtests = parse_subunit(&f.stdout);
        if subtests.is_empty() {
            return Err(PeersError::new(PeersErrorKind::BadOutput, what, format!("no subtests; {}", f.summary())));
        }
        Ok(SmbtortureReport {
            binding: binding.to_owned(),
            suite: suite.to_owned(),
            exit_code: f.exit_code,
            subtests,
            stdout: f.stdout,
            stderr: f.stderr,
        })
    }

    /// `kinit user@SAMBA.TEST` (MIT, password on stdin) into the file ccache `ccache`.
    pub fn kinit(&self, user: &User, ccache: impl AsRef<Path>) -> Result<()> {
        self.kinit_password(&user.principal(), user.password, ccache)
    }

    /// `kinit PRINCIPAL` with an explicit password (e.g. a wrong one) into `ccache`.
    pub fn kinit_password(&self, principal: &str, password: &str, ccache: impl AsRef<Path>) -> Result<()> {
        run::require_program("kinit", "kinit comes from krb5-user: run `scripts/peers.sh install`")?;
        let what = format!("running kinit {principal}");
        let f = run::run_with_input(
            self.command("kinit").arg(principal).env("KRB5CCNAME", ccache_name(ccache.as_ref())),
            Some(format!("{password}\n").as_bytes()),
            TOOL_TIMEOUT,
            &what,
        )?;
        if f.success() { Ok(()) } else { Err(PeersError::new(PeersErrorKind::ToolFailed, what, f.summary())) }
    }

    /// `kvno SPN` with the tickets in `ccache` (adds the service ticket to it); returns the key version number.
    pub fn kvno(&self, ccache: impl AsRef<Path>, spn: &str) -> Result<u32> {
        let what = format!("running kvno {spn}");
        let f = run::run(
            self.command("kvno").arg(spn).env("KRB5CCNAME", ccache_name(ccache.as_ref())),
            TOOL_TIMEOUT,
            &what,
        )?;
        if !f.success() {
            return Err(PeersError::new(PeersErrorKind::ToolFailed, what, f.summary()));
        }
        // "host/rpcsrv.samba.test@SAMBA.TEST: kvno = 2"
        f.stdout
            .rsplit_once("kvno = ")
            .and_then(|(_, n)| n.trim().parse().ok())
            .ok_or_else(|| PeersError::new(PeersErrorKind::BadOutput, what, f.stdout.clone()))
    }

    /// `klist` of `ccache`: the client principal and the service principals it holds tickets for.
    pub fn klist(&self, ccache: impl AsRef<Path>) -> Result<(String, Vec<String>)> {
        let what = "running klist".to_owned();
        let f = run::run(self.command("klist").env("KRB5CCNAME", ccache_name(ccache.as_ref())), TOOL_TIMEOUT, &what)?;
        if !f.success() {
            return Err(PeersError::new(PeersErrorKind::ToolFailed, what, f.summary()));
        }
        let client = f
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Default principal: "))
            .map(str::to_owned)
            .ok_or_else(|| PeersError::new(PeersErrorKind::BadOutput, what, f.stdout.clone()))?;
        // ticket lines: "11/21/26 06:35:38  11/21/26 16:35:38  krbtgt/SAMBA.TEST@SAMBA.TEST"
        let services = f
            .stdout
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .filter_map(|l| l.split_whitespace().last())
            .map(str::to_owned)
            .collect();
        Ok((client, services))
    }

    /// Restarts nothing: checks that the DC still answers on 135 (cheap; for long test runs).
    pub fn dc_listening(&self) -> bool {
        std::net::TcpStream::connect_timeout(&(self.dc.ip, 135).into(), Duration::from_secs(2)).is_ok()
    }
}

fn ccache_name(p: &Path) -> String {
    format!("FILE:{}", p.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_export_lines() {
        let m = parse_exports(
            "export KRB5_CONFIG='/tmp/dcom-peers/sambadc/krb5.conf'\nnoise\nexport Q='it'\\''s'\nexport E=''\n",
        );
        assert_eq!(m.get("KRB5_CONFIG").map(String::as_str), Some("/tmp/dcom-peers/sambadc/krb5.conf"));
        assert_eq!(m.get("Q").map(String::as_str), Some("it's"));
        assert_eq!(m.get("E").map(String::as_str), Some(""));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn user_names() {
        assert_eq!(ALICE.principal(), "alice@SAMBA.TEST");
        assert_eq!(BOB.down_level(), "SAMBA\\bob");
    }

    #[test]
    fn peer_output_accessors() {
        let o = PeerOutput {
            argv: vec![],
            exit_code: Some(1),
            json: serde_json::json!({"ok": false, "error": {"name": "NT_STATUS_ACCESS_DENIED", "code": 3_221_225_506_u64}}),
            stderr: String::new(),
            elapsed: Duration::ZERO,
        };
        assert!(!o.ok());
        assert_eq!(o.error_name(), Some("NT_STATUS_ACCESS_DENIED"));
        assert_eq!(o.error_code(), Some(0xC000_0022));
        assert!(o.result().is_null());
    }
}

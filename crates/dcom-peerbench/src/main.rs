#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![expect(clippy::print_stdout, reason = "a benchmark binary: the markdown report goes to stdout")]

mod client_bench;
mod measure;
mod report;
mod rpc;
mod serve;
mod server_bench;
mod tools;

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::report::Report;

/// Peer benchmarks of the dcom-rs stack against Samba and impacket (issues #4 and #5).
#[derive(Debug, Parser)]
#[command(name = "dcom-peerbench", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Issue #4: wkssvc NetrWkstaGetInfo(100) against Samba with our client, Samba's client and impacket.
    Client(Common),
    /// Issue #5: our server vs Samba's server, latency vs raw TCP, memory, many connections.
    Server(Common),
    /// Both.
    All(Common),
    /// Internal: our server in a child process (see `serve.rs`).
    #[command(hide = true)]
    Serve(serve::ServeArgs),
    /// Diagnostics: N calls one at a time from our client on a current-thread runtime (for strace/perf).
    #[command(hide = true)]
    Probe(ProbeArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct ProbeArgs {
    /// Server address (ip:port).
    addr: std::net::SocketAddr,
    /// `mgmt` (is_server_listening) or `wkssvc` (NetrWkstaGetInfo(100)).
    #[arg(long, default_value = "mgmt")]
    op: String,
    /// Calls.
    #[arg(long, default_value_t = 10_000)]
    calls: u64,
    /// Connections, each making calls/K calls one at a time, on a multi-thread runtime (default: one connection
    /// on a current-thread runtime).
    #[arg(long)]
    conns: Option<usize>,
    /// `ConnectOptions::busy_poll` in microseconds (one-connection mode).
    #[arg(long)]
    busy_poll_us: Option<u64>,
}

fn probe(a: &ProbeArgs) -> Result<ExitCode> {
    let (iface, op) = match a.op.as_str() {
        "wkssvc" => (rpc::WKSSVC, rpc::Op::wkssvc_get_info_100()),
        _ => (rpc::MGMT, rpc::Op::is_server_listening()),
    };
    if let Some(k) = a.conns.filter(|k| *k > 0) {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let m = measure::with_own_cpu(|| {
            rt.block_on(measure::connections(
                a.addr,
                iface,
                Some(&rpc::Creds::alice()),
                dcom_pdu::AuthLevel::PKT_PRIVACY,
                &op,
                k,
                a.calls / k as u64,
            ))
        })?;
        println!(
            "{} calls, {:.0} calls/s, client CPU/call {}",
            m.calls,
            m.rate(),
            report::dur(m.client_cpu_per_call())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let m = measure::with_own_cpu(|| {
        rt.block_on(async {
            let busy = a.busy_poll_us.map(std::time::Duration::from_micros);
            let b = rpc::open_with(a.addr, iface, Some(&rpc::Creds::alice()), dcom_pdu::AuthLevel::PKT_PRIVACY, busy)
                .await?;
            let m = measure::sequential(&b, &op, 10, a.calls).await;
            b.conn.close();
            m
        })
    })?;
    println!(
        "{} calls, {:.0} calls/s, p50 {}, client CPU/call {}",
        m.calls,
        m.rate(),
        report::dur(m.percentile(50)),
        report::dur(m.client_cpu_per_call())
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, clap::Args)]
struct Common {
    /// CI smoke run: small counts everywhere (under a minute).
    #[arg(long)]
    quick: bool,
    /// Calls of our client one at a time (default 20000, quick 200).
    #[arg(long)]
    calls: Option<u64>,
    /// Total calls of our client's concurrent runs (default 64000, quick 640).
    #[arg(long)]
    agg_calls: Option<u64>,
    /// Calls of Samba's client one at a time (default 25000, quick 50).
    #[arg(long)]
    py_calls: Option<u64>,
    /// Samba's client with --inflight runs twice, with B and B+E calls per process: B (default 20; quick 0 = one run, wall time including start-up).
    #[arg(long)]
    py_agg_base: Option<u64>,
    /// ... and E (default 2000, quick 5).
    #[arg(long)]
    py_agg_extra: Option<u64>,
    /// Calls of impacket one at a time (default 2000, quick 20).
    #[arg(long)]
    impacket_calls: Option<u64>,
    /// Server sections to run, comma separated: mgmt, echo, latency, memory, conns (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Runs of each measurement; the median (by rate) is reported (default 5, quick 1).
    #[arg(long)]
    repeat: Option<usize>,
    /// Calls in flight / connections of the concurrent runs.
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    /// Idle authenticated connections for the memory measurement (default 1000, quick 100).
    #[arg(long)]
    idle_conns: Option<usize>,
    /// Connections held at once (default 10000, quick 500).
    #[arg(long)]
    max_conns: Option<usize>,
    /// Runtime of our client where one is used (server benchmark): `current` (everything on one thread) or
    /// `multi` (tokio multi-thread, one worker per core; the calling loop runs on the main thread in `block_on`).
    #[arg(long, default_value = "current")]
    client_runtime: String,
    /// Also write the markdown report here (default: $CARGO_TARGET_DIR or ./target, then peerbench.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Budget of the rows with `ConnectOptions::busy_poll`, in microseconds.
    #[arg(long, default_value_t = 200)]
    busy_poll_us: u64,
}

/// The counts a run uses.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) warmup: u64,
    pub(crate) repeat: usize,
    pub(crate) calls: u64,
    pub(crate) agg_calls: u64,
    pub(crate) py_calls: u64,
    pub(crate) py_agg_base: u64,
    pub(crate) py_agg_extra: u64,
    pub(crate) impacket_calls: u64,
    pub(crate) inflight: usize,
    pub(crate) idle_conns: usize,
    pub(crate) max_conns: usize,
    pub(crate) only: Vec<String>,
    /// `ConnectOptions::busy_poll` of the busy-polling rows.
    pub(crate) busy_poll: std::time::Duration,
}

impl Params {
    /// Whether the server section `name` runs (`--only`).
    pub(crate) fn section(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == name)
    }

    /// How the Samba client's K-process rate was obtained.
    pub(crate) fn samba_agg_method(&self) -> String {
        if self.py_agg_base == 0 {
            format!("one run of {} calls per process; its wall time includes fork, connect and bind", self.py_agg_extra)
        } else {
            format!(
                "rate of the extra calls between runs of {} and {} calls per process (leaves out fork, connect and \
                 bind)",
                self.py_agg_base,
                self.py_agg_base + self.py_agg_extra
            )
        }
    }
}

impl Common {
    fn params(&self) -> Params {
        let q = self.quick;
        let pick = |v: Option<u64>, full: u64, quick: u64| v.unwrap_or(if q { quick } else { full });
        Params {
            warmup: if q { 10 } else { 100 },
            repeat: self.repeat.unwrap_or(if q { 1 } else { 5 }).max(1),
            calls: pick(self.calls, 20_000, 200),
            agg_calls: pick(self.agg_calls, 64_000, 640),
            py_calls: pick(self.py_calls, 25_000, 50),
            py_agg_base: pick(self.py_agg_base, 20, 0),
            py_agg_extra: pick(self.py_agg_extra, 2000, 5).max(1),
            impacket_calls: pick(self.impacket_calls, 2000, 20),
            inflight: self.inflight.max(1),
            idle_conns: self.idle_conns.unwrap_or(if q { 100 } else { 1000 }).max(1),
            max_conns: self.max_conns.unwrap_or(if q { 500 } else { 10_000 }).max(1),
            only: self.only.clone(),
            busy_poll: std::time::Duration::from_micros(self.busy_poll_us.max(1)),
        }
    }

    fn out_path(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("peerbench.md")
        })
    }
}

/// Our client's two tokio runtimes.
#[derive(Debug)]
pub(crate) struct Runtimes {
    pub(crate) multi: tokio::runtime::Runtime,
    pub(crate) current: tokio::runtime::Runtime,
    client_current: bool,
}

impl Runtimes {
    fn new(client: &str) -> Result<Self> {
        let client_current = match client {
            "current" => true,
            "multi" => false,
            other => anyhow::bail!("--client-runtime {other:?}: current or multi"),
        };
        Ok(Self {
            multi: tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?,
            current: tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?,
            client_current,
        })
    }

    /// `"current"` or `"multi"`.
    pub(crate) fn get(&self, name: &str) -> &tokio::runtime::Runtime {
        if name == "current" { &self.current } else { &self.multi }
    }

    /// The runtime of the server benchmark's client.
    pub(crate) fn client(&self) -> &tokio::runtime::Runtime {
        if self.client_current { &self.current } else { &self.multi }
    }

    pub(crate) fn client_name(&self) -> &'static str {
        if self.client_current { "current-thread" } else { "multi-thread (one worker per core)" }
    }

    fn shutdown(self) {
        self.multi.shutdown_timeout(std::time::Duration::from_secs(2));
        self.current.shutdown_timeout(std::time::Duration::from_secs(2));
    }
}

/// Soft RLIMIT_NOFILE from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

const REEXEC_GUARD: &str = "DCOM_PEERBENCH_NOFILE_RAISED";

/// The connection test needs about `need` descriptors in this process (and the server child, which inherits the
/// limit): without unsafe code there is no setrlimit, so re-exec through the shell's `ulimit -n` once.
fn ensure_open_files(need: u64) -> Result<()> {
    let have = open_files_limit().unwrap_or(0);
    if have >= need || std::env::var_os(REEXEC_GUARD).is_some() {
        if have < need {
            eprintln!("peerbench: RLIMIT_NOFILE is {have}, {need} wanted: the connection test may fail");
        }
        return Ok(());
    }
    eprintln!("peerbench: raising RLIMIT_NOFILE from {have} to {need} (re-exec through bash ulimit)");
    let exe = std::env::current_exe().context("locating the benchmark binary")?;
    let script = format!("ulimit -n {need} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"");
    let err = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(REEXEC_GUARD, "1")
        .exec();
    Err(err).context("re-executing through bash")
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "?".into(), |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "?".into(), |s| s.trim().to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned())))
        .unwrap_or_else(|| "?".into());
    let load = load_average();
    let samba = Command::new("samba")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into());
    format!(
        "Machine: {cores} cores (nproc), {cpu}, {mem} RAM, Linux {kernel}, load average at start {load} (shared \
         machine). Samba {samba}, impacket 0.13.1. Release build; client and servers share the same cores over \
         loopback.\n"
    )
}

fn run(common: &Common, client: bool, server: bool) -> Result<ExitCode> {
    let p = common.params();
    if server {
        ensure_open_files(u64::try_from(p.max_conns)?.saturating_add(2048).max(4096))?;
    }
    let rts = Runtimes::new(&common.client_runtime)?;
    let mut report = Report::default();
    report.push(&format!(
        "# Peer benchmarks (dcom-peerbench{})\n\n{}Our client, where one runtime is used: tokio {} runtime.\n",
        if common.quick { " --quick: smoke counts, not for comparison" } else { "" },
        machine(),
        rts.client_name()
    ));
    let started = std::time::Instant::now();
    let mut failed = false;
    if client && let Err(e) = client_bench::run(&rts, &p, &mut report) {
        eprintln!("peerbench: client benchmark failed: {e:#}");
        report.push(&format!("## Client (issue #4)\n\n{}\n", report::failed(&e)));
        failed = true;
    }
    if server && let Err(e) = server_bench::run(&rts, &p, &mut report) {
        eprintln!("peerbench: server benchmark failed: {e:#}");
        report.push(&format!("## Server (issue #5)\n\n{}\n", report::failed(&e)));
        failed = true;
    }
    report.push(&format!(
        "Total run time {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        load_average()
    ));
    let md = report.finish();
    println!("{md}");
    let out = common.out_path();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("peerbench: report written to {}", out.display());
    rts.shutdown();
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match &cli.cmd {
        Cmd::Client(c) => run(c, true, false),
        Cmd::Server(c) => run(c, false, true),
        Cmd::All(c) => run(c, true, true),
        Cmd::Serve(a) => serve::run_child(a).map(|()| ExitCode::SUCCESS),
        Cmd::Probe(a) => probe(a),
    }
}

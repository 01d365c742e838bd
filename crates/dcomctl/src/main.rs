//! `dcomctl`: the command-line tool of the dcom-rs stack.

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "dcomctl", version, about = "DCE/RPC and DCOM call security: decode, call, serve")]
struct Cli {
    /// Log filter for diagnostics on stderr (e.g. `debug`, `dcom_decode=trace`); also `RUST_LOG`.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode every DCE/RPC PDU in a pcap or pcapng capture (gzip-compressed too).
    Decode(DecodeArgs),
    /// Serve mgmt, the endpoint mapper and rpcecho over ncacn_ip_tcp.
    Serve(serve::ServeArgs),
    /// Start a server in this process on loopback and call it with every provider that needs no outside
    /// service, at every level, showing what the server saw.
    Demo(demo::DemoArgs),
    /// Print the endpoint map of a server (ept_lookup on port 135).
    Epm(rpc::EpmArgs),
    /// Ask a server's management interface: inq_if_ids, is_server_listening, inq_princ_name, inq_stats.
    Mgmt(rpc::MgmtArgs),
    /// Call any operation of any interface with a raw request stub; prints the response stub in hex.
    Call(rpc::CallArgs),
}

mod demo;
mod providers;
mod rpc;
mod serve;

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// The capture file.
    file: PathBuf,
    /// One JSON object per PDU (JSON lines) instead of one readable line per PDU.
    #[arg(long)]
    json: bool,
    /// Treat this TCP port as DCE/RPC (besides 135 and the ports EPM answers name); repeatable.
    #[arg(short = 'd', long = "port", value_name = "PORT")]
    ports: Vec<u16>,
    /// Only decode streams on known ports: do not recognise DCE/RPC by its header elsewhere.
    #[arg(long)]
    no_heuristics: bool,
    /// Exit with status 1 when any PDU failed to decode (or, with keys, failed to verify).
    #[arg(long)]
    strict: bool,
    /// NTLM: the account whose password or hash is given (others are left alone).
    #[arg(long)]
    user: Option<String>,
    /// NTLM: the account's domain.
    #[arg(long)]
    domain: Option<String>,
    /// NTLM: the account's password (prefer --password-file or DCOMCTL_PASSWORD: a command line is visible to
    /// other users of the machine).
    #[arg(long, env = "DCOMCTL_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// NTLM: read the password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    password_file: Option<PathBuf>,
    /// NTLM: the account's NT hash (32 hex digits) instead of a password.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["password", "password_file"])]
    nt_hash: Option<String>,
    /// Kerberos: an MIT keytab with the service's keys (repeatable).
    #[arg(long, value_name = "FILE")]
    keytab: Vec<PathBuf>,
    /// Kerberos: a service key as ETYPE:HEX, ETYPE its MIT name (`aes256-cts-hmac-sha1-96`) or number (repeatable).
    #[arg(long, value_name = "ETYPE:HEX")]
    key: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log.as_deref());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dcomctl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(filter: Option<&str>) {
    let filter = filter
        .map(tracing_subscriber::EnvFilter::new)
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => decode(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Epm(args) => rpc::epm(&args),
        Command::Mgmt(args) => rpc::mgmt(&args),
        Command::Call(args) => rpc::call(&args),
    }
}

/// The service keys of `--keytab` and `--key`.
fn kerberos_keys(args: &DecodeArgs) -> Result<Vec<dcom_auth::kerberos::KerberosKey>> {
    use dcom_auth::kerberos::{EncType, KerberosKey, keytab::Keytab};
    let mut keys = Vec::new();
    for path in &args.keytab {
        let kt = Keytab::load(path).with_context(|| format!("cannot read keytab {}", path.display()))?;
        keys.extend(kt.keys().cloned());
    }
    for spec in &args.key {
        let (etype, hex) = spec.split_once(':').context("--key takes ETYPE:HEX")?;
        let known = [EncType::AES256_CTS_HMAC_SHA1_96, EncType::AES128_CTS_HMAC_SHA1_96, EncType::RC4_HMAC];
        let enctype = match etype.parse::<i32>() {
            Ok(n) => EncType(n),
            Err(_) => known
                .into_iter()
                .find(|e| e.name().is_some_and(|n| n.eq_ignore_ascii_case(etype)))
                .with_context(|| format!("unknown encryption type {etype}"))?,
        };
        keys.push(KerberosKey::from_hex(enctype, hex).with_context(|| format!("bad key for {etype}"))?);
    }
    Ok(keys)
}

fn decode(args: &DecodeArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let password = match (&args.password, &args.password_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            Some(text.lines().next().unwrap_or_default().to_owned())
        }
        (None, None) => None,
    };
    let nt_hash = match (&args.nt_hash, password) {
        (Some(h), _) => Some(dcom_auth::ntlm::NtHash::from_hex(h).context("--nt-hash needs 32 hex digits")?),
        (None, Some(p)) => Some(dcom_auth::ntlm::NtHash::from_password(&p)),
        (None, None) => None,
    };
    let opts = dcom_decode::Options {
        ports: args.ports.clone(),
        heuristics: !args.no_heuristics,
        keys: dcom_decode::Keys {
            nt_hash,
            user: args.user.clone(),
            domain: args.domain.clone(),
            kerberos: kerberos_keys(args)?,
        },
        ..dcom_decode::Options::default()
    };
    let report =
        dcom_decode::decode_capture(&bytes, &opts).with_context(|| format!("cannot decode {}", args.file.display()))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for r in &report.records {
        if args.json {
            serde_json::to_writer(&mut out, &dcom_decode::pdu_json(r))?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", dcom_decode::pdu_line(r))?;
        }
    }
    out.flush()?;
    for w in &report.warnings {
        tracing::warn!(warning = %w, "Capture problem");
    }
    let errors = report.error_count();
    let checked = report.records.iter().filter(|r| r.verified.is_some()).count();
    let failed = report.records.iter().filter(|r| r.verified == Some(false)).count();
    if !args.json {
        let ports: Vec<String> = report.ports.iter().map(|(p, why)| format!("{p} ({why:?})")).collect();
        eprintln!(
            "{} PDUs, {} with errors, {} capture warnings; {} protected PDUs checked, {} failed; DCE/RPC ports: {}",
            report.records.len(),
            errors,
            report.warnings.len(),
            checked,
            failed,
            ports.join(", ")
        );
    }
    Ok(if args.strict && (errors > 0 || failed > 0) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

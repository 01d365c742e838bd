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
}

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
    /// Exit with status 1 when any PDU failed to decode.
    #[arg(long)]
    strict: bool,
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
    }
}

fn decode(args: &DecodeArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let opts = dcom_decode::Options {
        ports: args.ports.clone(),
        heuristics: !args.no_heuristics,
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
    if !args.json {
        let ports: Vec<String> = report.ports.iter().map(|(p, why)| format!("{p} ({why:?})")).collect();
        eprintln!(
            "{} PDUs, {} with errors, {} capture warnings; DCE/RPC ports: {}",
            report.records.len(),
            errors,
            report.warnings.len(),
            ports.join(", ")
        );
    }
    Ok(if args.strict && errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

//! Project automation: `cargo xtask <command>`.
//!
//! `cargo xtask ci` is the one command CI runs (through `.ci/run`) and the README's test command: it installs
//! what the tests need from outside Rust, then runs every check in order and stops at the first failure.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                      setup, fmt, lints, tests, deps, fuzz smoke, locks (what CI runs)
  setup                   install what the tests need outside Rust (Debian packages, cargo-fuzz); idempotent
  check fmt|lints|tests|deps|locks
  fuzz list               list fuzz targets
  fuzz smoke [SECONDS]    run every fuzz target (default 30 s each); also `fuzz --smoke`
  fuzz run TARGET [SECONDS]
  bench                   cargo bench for the whole workspace (codec and authentication layers)
  bench peers [--quick]   our client and server against Samba and impacket in one run (issues 4 and 5):
                          writes target/peerbench.md (installs and starts the Samba AD DC if needed)
";

/// Crates that must stay free of I/O and heavy dependencies, and the crates they must not depend on.
/// Checked by `cargo xtask check deps` with `cargo tree -i`.
const FORBIDDEN: &[(&str, &str)] = &[
    ("dcom-ndr", "tokio"),
    ("dcom-ndr", "nom"),
    ("dcom-ndr", "dcom-pdu"),
    ("dcom-pdu", "tokio"),
    ("dcom-pdu", "dcom-ndr"),
    ("dcom-capture", "tokio"),
    ("dcom-capture", "dcom-pdu"),
    ("dcom-epm", "tokio"),
    ("dcom-epm", "dcom-pdu"),
    ("dcom-decode", "tokio"),
    ("dcom-auth", "tokio"),
    ("dcom-auth", "dcom-ndr"),
    ("dcom-types", "tokio"),
    ("dcom-types", "dcom-pdu"),
    ("dcom-types", "dcom-auth"),
    ("dcom-rpc", "tokio"),
    ("dcom-rpc", "dcom-ndr"),
    ("dcom-idl", "tokio"),
    ("dcom-idl", "dcom-pdu"),
    ("dcom-schannel", "tokio"),
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[&str]) -> Result<()> {
    let root = project_root();
    env::set_current_dir(&root).context("cannot enter the project root")?;
    match args {
        ["ci"] => ci(),
        ["setup"] => setup(),
        ["check", "fmt"] => check_fmt(),
        ["check", "lints"] => check_lints(),
        ["check", "tests"] => check_tests(),
        ["check", "deps"] => check_deps(),
        ["check", "locks"] => check_locks(),
        ["fuzz", "list"] => {
            for t in fuzz_targets()? {
                eprintln!("{t}");
            }
            Ok(())
        }
        ["fuzz", "smoke" | "--smoke"] => fuzz_smoke(30),
        ["fuzz", "smoke" | "--smoke", secs] => fuzz_smoke(secs.parse().context("SECONDS must be a number")?),
        ["fuzz", "run", target] => fuzz_run(target, 60),
        ["fuzz", "run", target, secs] => fuzz_run(target, secs.parse().context("SECONDS must be a number")?),
        ["bench"] => cmd("cargo", &["bench", "--workspace"]),
        ["bench", "peers"] => {
            cmd("cargo", &["run", "--release", "-p", "dcom-peerbench", "--", "all", "--out", "target/peerbench.md"])
        }
        ["bench", "peers", "--quick"] => cmd(
            "cargo",
            &["run", "--release", "-p", "dcom-peerbench", "--", "all", "--quick", "--out", "target/peerbench.md"],
        ),
        _ => {
            eprint!("{USAGE}");
            bail!("unknown command {args:?}")
        }
    }
}

fn project_root() -> PathBuf {
    let dir = env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("xtask"), PathBuf::from);
    dir.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn ci() -> Result<()> {
    let start = Instant::now();
    step("setup", setup)?;
    step("check fmt", check_fmt)?;
    step("check lints", check_lints)?;
    step("check tests", check_tests)?;
    step("check deps", check_deps)?;
    step("fuzz smoke", || fuzz_smoke(30))?;
    step("check locks", check_locks)?;
    eprintln!("xtask: ci passed in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let start = Instant::now();
    eprintln!("\n==== xtask: {name} ====");
    f().with_context(|| format!("step `{name}` failed"))?;
    eprintln!("==== xtask: {name} ok ({:.1} s) ====", start.elapsed().as_secs_f64());
    Ok(())
}

/// Installs everything the tests need from outside Rust. Idempotent: each piece is checked first.
fn setup() -> Result<()> {
    cmd("bash", &["scripts/setup.sh"])
}

fn check_fmt() -> Result<()> {
    cmd("cargo", &["fmt", "--all", "--", "--check"])?;
    cmd("cargo", &["fmt", "--manifest-path", "fuzz/Cargo.toml", "--all", "--", "--check"])
}

fn check_lints() -> Result<()> {
    cmd("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cmd("cargo", &["clippy", "--manifest-path", "fuzz/Cargo.toml", "--all-targets", "--locked", "--", "-D", "warnings"])
}

fn check_tests() -> Result<()> {
    cmd("cargo", &["test", "--workspace", "--locked", "--exclude", "proto-tests"])?;
    // The interoperability tests print what they compared (PDUs, fields, peers): show it.
    cmd("cargo", &["test", "-p", "proto-tests", "--locked", "--", "--nocapture", "--test-threads=1"])
}

fn check_deps() -> Result<()> {
    for (krate, dep) in FORBIDDEN {
        let out = Command::new("cargo")
            .args(["tree", "--locked", "-p", krate, "-e", "normal,build", "-i", dep])
            .output()
            .context("cannot run cargo tree")?;
        // `cargo tree -i X` fails with "did not match any packages" when X is not in the graph at all.
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.lines().any(|l| l.contains(krate)) {
            bail!("forbidden dependency edge: {krate} -> {dep}\n{stdout}");
        }
        eprintln!("ok: {krate} does not depend on {dep}");
    }
    Ok(())
}

fn check_locks() -> Result<()> {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--", "Cargo.lock", "fuzz/Cargo.lock"])
        .output()
        .context("cannot run git")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.trim().is_empty() {
        bail!("lock files changed during the run (commit them):\n{text}");
    }
    Ok(())
}

fn fuzz_targets() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("fuzz/fuzz_targets").context("cannot read fuzz/fuzz_targets")? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs each fuzz target for `secs` seconds. Uses nightly with AddressSanitizer when a nightly toolchain is
/// installed, otherwise stable without a sanitizer (`-s none`), and says which loudly.
fn fuzz_smoke(secs: u64) -> Result<()> {
    let targets = fuzz_targets()?;
    if targets.is_empty() {
        bail!("no fuzz targets found");
    }
    for t in &targets {
        fuzz_run(t, secs)?;
    }
    eprintln!("fuzz smoke: {} targets, {secs} s each, no crash", targets.len());
    Ok(())
}

fn fuzz_run(target: &str, secs: u64) -> Result<()> {
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let time = format!("-max_total_time={secs}");
    let corpus = format!("fuzz/corpus/{target}");
    std::fs::create_dir_all(&corpus).with_context(|| format!("cannot create {corpus}"))?;
    let seeds = format!("fuzz/seeds/{target}");
    let mut args: Vec<&str> = Vec::new();
    if nightly {
        args.extend(["+nightly", "fuzz", "run"]);
    } else {
        eprintln!("!!! fuzz: no nightly toolchain, running `{target}` on stable WITHOUT AddressSanitizer (-s none)");
        args.extend(["fuzz", "run", "-s", "none"]);
    }
    let corpus_arg = format!("corpus/{target}");
    let seeds_arg = format!("seeds/{target}");
    args.extend([target, corpus_arg.as_str()]);
    if Path::new(&seeds).is_dir() {
        args.push(seeds_arg.as_str());
    }
    args.extend(["--", &time, "-rss_limit_mb=4096", "-max_len=65536"]);
    cmd_in("fuzz", "cargo", &args)
}

fn cmd(program: &str, args: &[&str]) -> Result<()> {
    cmd_in(".", program, args)
}

fn cmd_in(dir: &str, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ (cd {dir} && {program} {})", args.join(" "));
    let status =
        Command::new(program).args(args).current_dir(dir).status().with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

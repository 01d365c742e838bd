//! The other clients: Samba's client library (`scripts/peers/samba_client.py`) and impacket
//! (`scripts/peers/impacket_client.py`), run through `dcom_testpeers` (venv python, peers' environment).

use std::net::SocketAddr;

use anyhow::{Context as _, Result, bail};
use dcom_pdu::SyntaxId;
use dcom_testpeers::{PeerOutput, Peers};
use serde_json::Value;

use std::time::Duration;

use crate::measure::{Measured, cpu_times};
use crate::rpc::Op;

/// What a Python client's `--bench` reported: calls and seconds of its timed part.
fn bench_of(out: &PeerOutput, tool: &str) -> Result<Measured> {
    if !out.ok() {
        let err = out.json.get("error").map_or_else(|| "no error object".to_owned(), Value::to_string);
        let tail: Vec<&str> = out.stderr.lines().rev().take(6).collect();
        bail!("{tool} failed ({}): exit {:?}, {err}; stderr: {}", out.argv.join(" "), out.exit_code, tail.join(" | "));
    }
    let b = out.json.get("bench").with_context(|| format!("{tool}: no bench object in {}", out.json))?;
    let calls = b.get("calls").and_then(Value::as_u64).context("bench.calls")?;
    let seconds = b.get("seconds").and_then(Value::as_f64).context("bench.seconds")?;
    Ok(Measured::from_rate(calls, seconds))
}

fn version(s: SyntaxId) -> String {
    format!("{}.{}", s.version_major, s.version_minor)
}

/// Samba's client: `n` calls per connection; `inflight` > 1 means that many connections in as many processes.
pub(crate) fn samba(peers: &Peers, addr: SocketAddr, call: SambaCall<'_>, n: u64, inflight: usize) -> Result<Measured> {
    let binding = format!("ncacn_ip_tcp:{}[{}]", addr.ip(), addr.port());
    let mut args: Vec<String> = vec![binding];
    match call {
        SambaCall::Wkssvc => args.push("wkssvc".into()),
        SambaCall::Raw(iface, op) => {
            args.extend(["raw".into(), iface.uuid.to_string(), version(iface), op.opnum.to_string(), op.stub_hex()]);
        }
    }
    args.extend(["--auth", "ntlm", "--level", "seal", "--bench"].map(String::from));
    args.push(n.to_string());
    if inflight > 1 {
        args.push("--inflight".into());
        args.push(inflight.to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = peers.run_samba_client(&argv).context("running samba_client.py")?;
    bench_of(&out, "samba_client.py")
}

/// What Samba's client calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SambaCall<'a> {
    /// Its own typed NetWkstaGetInfo(100).
    Wkssvc,
    /// `raw UUID VER OPNUM HEX` through the interface's python3-samba class.
    Raw(SyntaxId, &'a Op),
}

/// impacket: `n` sequential raw calls at NTLM PKT_PRIVACY (it has no concurrent mode).
pub(crate) fn impacket(peers: &Peers, addr: SocketAddr, iface: SyntaxId, op: &Op, n: u64) -> Result<Measured> {
    let args: Vec<String> = vec![
        addr.ip().to_string(),
        "raw".into(),
        iface.uuid.to_string(),
        version(iface),
        op.opnum.to_string(),
        op.stub_hex(),
        "--port".into(),
        addr.port().to_string(),
        "--auth".into(),
        "ntlm".into(),
        "--level".into(),
        "privacy".into(),
        "--bench".into(),
        n.to_string(),
    ];
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = peers.run_impacket_client(&argv).context("running impacket_client.py")?;
    bench_of(&out, "impacket_client.py")
}

/// Samba's client with `k` connections in `k` processes, run twice (`base` and `base + extra` calls per process):
/// the rate of the extra calls, `k * extra / (t2 - t1)`, leaves out the fixed cost of fork, connect and bind
/// that its wall time includes. `base` 0: one run of `extra` calls, wall time.
pub(crate) fn samba_incremental(
    peers: &Peers,
    addr: SocketAddr,
    call: SambaCall<'_>,
    base: u64,
    extra: u64,
    k: usize,
    server_pid: Option<u32>,
) -> Result<Measured> {
    if base == 0 {
        // Smoke runs: one run, its wall time (fork, connect and bind included).
        return crate::measure::with_cpu(server_pid, || samba(peers, addr, call, extra, k));
    }
    let c0 = server_pid.and_then(cpu_times);
    let short = samba(peers, addr, call, base, k)?;
    let c1 = server_pid.and_then(cpu_times);
    let long = samba(peers, addr, call, base + extra, k)?;
    let c2 = server_pid.and_then(cpu_times);
    let dt = long.wall.saturating_sub(short.wall);
    if dt.is_zero() {
        bail!(
            "the longer run ({:.2} s) was not slower than the shorter ({:.2} s): too few calls to separate",
            long.wall.as_secs_f64(),
            short.wall.as_secs_f64()
        );
    }
    // The extra calls' share: (long run) - (short run), for the total and for the system part.
    let extra_of = |pick: fn((Duration, Duration)) -> Duration| match (c0, c1, c2) {
        (Some(a), Some(b), Some(c)) => (pick(c).saturating_sub(pick(b))).checked_sub(pick(b).saturating_sub(pick(a))),
        _ => None,
    };
    let server_cpu = extra_of(|(u, s)| u + s);
    let server_sys = extra_of(|(_, s)| s);
    Ok(Measured {
        calls: long.calls.saturating_sub(short.calls),
        wall: dt,
        latencies: Vec::new(),
        server_cpu,
        server_sys,
        client_cpu: None,
        spread: None,
    })
}

/// The Samba DC's root process (`sambadc/samba.pid`; with `-M single` it serves every RPC connection itself).
pub(crate) fn samba_pid(peers: &Peers) -> Option<u32> {
    let text = std::fs::read_to_string(peers.dir.join("sambadc").join("samba.pid")).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn output(exit: i32, json: Value) -> PeerOutput {
        PeerOutput {
            argv: vec!["x".into()],
            exit_code: Some(exit),
            json,
            stderr: "e1\ne2".into(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn reads_bench_json() {
        let ok = output(
            0,
            serde_json::json!({"ok": true, "bench": {"mode": "sequential", "connections": 1, "calls": 500, "seconds": 0.25}}),
        );
        let m = bench_of(&ok, "t").unwrap();
        assert_eq!(m.calls, 500);
        assert!((m.rate() - 2000.0).abs() < 1e-6);
        let failed = output(1, serde_json::json!({"ok": false, "error": {"name": "NT_STATUS_ACCESS_DENIED"}}));
        let e = bench_of(&failed, "t").unwrap_err().to_string();
        assert!(e.contains("NT_STATUS_ACCESS_DENIED") && e.contains("e2"), "{e}");
        assert!(bench_of(&output(0, serde_json::json!({"ok": true})), "t").is_err());
    }
}

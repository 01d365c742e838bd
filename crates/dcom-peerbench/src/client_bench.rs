//! Issue #4: wkssvc NetrWkstaGetInfo(100) against the Samba AD DC at NTLM PKT_PRIVACY with our client, Samba's
//! client library and impacket.

use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use dcom_pdu::AuthLevel;

use crate::measure::{self, Job, Measured, interleaved, with_cpu, with_own_cpu};
use crate::report::{Report, Table, dur, failed, rate, ratio};
use crate::rpc::{Creds, Op, WKSSVC, open, open_with};
use crate::tools::{self, SambaCall};
use crate::{Params, Runtimes};

/// One measured row (or why it failed).
struct Row {
    client: String,
    mode: String,
    result: Result<Measured>,
    note: String,
    /// Which baseline its ratios use: sequential rows against sequential rows, concurrent against concurrent.
    sequential: bool,
}

fn log(msg: &str) {
    eprintln!("peerbench: {msg}");
}

/// Runs the client benchmark and appends its section to `report`.
pub(crate) fn run(rts: &Runtimes, p: &Params, report: &mut Report) -> Result<()> {
    let peers = dcom_testpeers::peers().context("starting the Samba peers (dcom_testpeers::peers)")?;
    let epm = SocketAddr::new(peers.dc.ip.into(), 135);
    let port = rts
        .multi
        .block_on(dcom_tokio::epm::map(epm, WKSSVC))
        .context("asking the DC's endpoint mapper for wkssvc")?
        .context("the DC's endpoint mapper does not know wkssvc")?;
    let addr = SocketAddr::new(peers.dc.ip.into(), port);
    let op = Op::wkssvc_get_info_100();
    let creds = Creds::alice();
    let level = AuthLevel::PKT_PRIVACY;
    let k = p.inflight;
    let spid = tools::samba_pid(peers);
    let r = p.repeat;

    // One call at a time: our client on both runtimes, Samba's client, impacket, interleaved.
    log(&format!(
        "#4 one call at a time, {r} interleaved rounds: ours {} calls (current-thread runtime, multi-thread \
         runtime with the loop in block_on and spawned), Samba's client {}, impacket {}",
        p.calls, p.py_calls, p.impacket_calls
    ));
    // `spawned`: the calling loop runs as a task on the runtime instead of in `block_on` on the main thread.
    let ours_seq = |rt: &'static str, spawned: bool, busy: Option<std::time::Duration>| -> Job<'_> {
        let (creds, op) = (creds.clone(), op.clone());
        let (warmup, calls) = (p.warmup, p.calls);
        Box::new(move || {
            let (creds, op) = (creds.clone(), op.clone());
            let run = async move {
                let b = open_with(addr, WKSSVC, Some(&creds), level, busy).await?;
                let m = measure::sequential(&b, &op, warmup, calls).await;
                b.conn.close();
                m
            };
            with_own_cpu(|| {
                with_cpu(spid, || {
                    let rt = rts.get(rt);
                    if spawned { rt.block_on(rt.spawn(run)).context("benchmark task")? } else { rt.block_on(run) }
                })
            })
        })
    };
    let seq = interleaved(
        r,
        vec![
            ours_seq("current", false, None),
            ours_seq("multi", false, None),
            ours_seq("multi", true, None),
            Box::new(|| with_cpu(spid, || tools::samba(peers, addr, SambaCall::Wkssvc, p.py_calls, 1))),
            Box::new(|| with_cpu(spid, || tools::impacket(peers, addr, WKSSVC, &op, p.impacket_calls))),
            ours_seq("current", false, Some(p.busy_poll)),
            ours_seq("multi", true, Some(p.busy_poll)),
        ],
    );
    let mut seq = seq.into_iter();
    let mut next = || seq.next().unwrap_or_else(|| Err(anyhow::anyhow!("no run")));
    let mut rows = vec![
        Row {
            client: "ours (dcom-tokio), current-thread runtime".into(),
            mode: "1 connection, 1 call at a time".into(),
            result: next(),
            note: "the calling loop and the connection task on one thread".into(),
            sequential: true,
        },
        Row {
            client: "ours (dcom-tokio), multi-thread runtime".into(),
            mode: "1 connection, 1 call at a time".into(),
            result: next(),
            note: "calling loop in `block_on` on the main thread, connection task on a worker: two thread hand-offs \
                   per call"
                .into(),
            sequential: true,
        },
        Row {
            client: "ours (dcom-tokio), multi-thread runtime".into(),
            mode: "1 connection, 1 call at a time, loop spawned as a task".into(),
            result: next(),
            note: "the calling loop is a task on the runtime (`spawn`), like a server or service calling out".into(),
            sequential: true,
        },
        Row {
            client: "Samba client library (python3-samba)".into(),
            mode: "1 connection, 1 call at a time".into(),
            result: next(),
            note: "typed `wkssvc.NetWkstaGetInfo(None, 100)`; its timed loop only (interpreter start and bind \
                   excluded)"
                .into(),
            sequential: true,
        },
        Row {
            client: "impacket 0.13.1".into(),
            mode: "1 connection, 1 call at a time".into(),
            result: next(),
            note: "raw stub `0000000064000000`, `dce.call` + `dce.recv`; its timed loop only".into(),
            sequential: true,
        },
        Row {
            client: format!("ours (dcom-tokio), current-thread runtime, busy_poll {}", dur(Some(p.busy_poll))),
            mode: "1 connection, 1 call at a time".into(),
            result: next(),
            note: "`ConnectOptions::busy_poll`: the connection task reads the socket without sleeping while its call \
                   waits (opt-in; a core spins up to the budget per round trip)"
                .into(),
            sequential: true,
        },
        Row {
            client: format!("ours (dcom-tokio), multi-thread runtime, busy_poll {}", dur(Some(p.busy_poll))),
            mode: "1 connection, 1 call at a time, loop spawned as a task".into(),
            result: next(),
            note: "same, the calling loop a task on a multi-thread runtime".into(),
            sequential: true,
        },
    ];

    // Concurrency.
    log(&format!("#4 our client, {k} calls in flight on one connection and {k} connections: {} calls", p.agg_calls));
    let ours_infl = |rt: &'static str| -> Job<'_> {
        let (creds, op) = (&creds, &op);
        Box::new(move || {
            with_own_cpu(|| {
                with_cpu(spid, || {
                    rts.get(rt).block_on(async {
                        let b = open(addr, WKSSVC, Some(creds), level).await?;
                        let m = measure::in_flight(&b, op, k as u64, p.agg_calls).await;
                        b.conn.close();
                        m
                    })
                })
            })
        })
    };
    let per = p.agg_calls.div_ceil(k as u64);
    let conc = interleaved(
        r,
        vec![
            ours_infl("current"),
            ours_infl("multi"),
            Box::new(|| {
                with_own_cpu(|| {
                    with_cpu(spid, || {
                        rts.multi.block_on(measure::connections(addr, WKSSVC, Some(&creds), level, &op, k, per))
                    })
                })
            }),
        ],
    );
    let mut conc = conc.into_iter();
    let mut next = || conc.next().unwrap_or_else(|| Err(anyhow::anyhow!("no run")));
    for (client, mode, note) in [
        (
            "ours (dcom-tokio), current-thread runtime",
            format!("1 connection, {k} calls in flight"),
            format!("{k} concurrent `call` futures on one `Connection`, multiplexed by call_id"),
        ),
        ("ours (dcom-tokio), multi-thread runtime", format!("1 connection, {k} calls in flight"), "same".to_owned()),
        (
            "ours (dcom-tokio), multi-thread runtime",
            format!("{k} connections, 1 call each at a time"),
            format!("{k} tasks in one process; the shape of Samba's client row below"),
        ),
    ] {
        rows.push(Row { client: client.into(), mode, result: next(), note, sequential: false });
    }

    log(&format!(
        "#4 Samba's client, {k} connections in {k} processes: {} and {} calls each",
        p.py_agg_base,
        p.py_agg_base + p.py_agg_extra
    ));
    let samba_agg = tools::samba_incremental(peers, addr, SambaCall::Wkssvc, p.py_agg_base, p.py_agg_extra, k, spid);
    rows.push(Row {
        client: "Samba client library (python3-samba)".into(),
        mode: format!("{k} connections in {k} processes, 1 call each at a time"),
        result: samba_agg,
        note: format!(
            "python3-samba is synchronous (one call per connection, GIL held), so its \"in flight\" is {k} \
             processes, not calls on one connection; {}",
            p.samba_agg_method()
        ),
        sequential: false,
    });
    rows.push(Row {
        client: "impacket 0.13.1".into(),
        mode: format!("{k} in flight"),
        result: Err(anyhow::anyhow!("n/a")),
        note: "not measured: impacket_client.py has no concurrent mode (impacket's DCERPC_v5 sends one call and \
               waits for its answer)"
            .into(),
        sequential: false,
    });

    let rate_of = |i: usize| rows.get(i).and_then(|r| r.result.as_ref().ok()).map(Measured::rate);
    let cpu_of = |i: usize| rows.get(i).and_then(|r| r.result.as_ref().ok()).and_then(Measured::server_cpu_per_call);
    let (ours_cur, ours_multi, ours_spawned) = (rate_of(0), rate_of(1), rate_of(2));
    let (samba_seq, imp_seq) = (rate_of(3), rate_of(4));
    let (busy_cur, busy_spawned) = (rate_of(5), rate_of(6));
    let (infl_cur, samba_agg) = (rate_of(7), rate_of(10));

    let mut md =
        format!("## Client: wkssvc NetrWkstaGetInfo(100), NTLM PKT_PRIVACY, Samba AD DC at {addr} (issue #4)\n\n");
    let mut t = Table::new(&[
        "client",
        "mode",
        "calls",
        "seconds",
        "calls/s",
        "runs (min–max calls/s)",
        "p50",
        "p99",
        "vs Samba client",
        "vs impacket",
        "our client CPU/call",
        "Samba CPU/call",
        "notes",
    ]);
    for row in &rows {
        match &row.result {
            Ok(m) => {
                let (vs_samba, vs_imp) = if row.sequential {
                    (samba_seq.map_or(f64::NAN, |s| m.rate() / s), imp_seq.map_or(f64::NAN, |s| m.rate() / s))
                } else {
                    (samba_agg.map_or(f64::NAN, |s| m.rate() / s), f64::NAN)
                };
                t.row(vec![
                    row.client.clone(),
                    row.mode.clone(),
                    m.calls.to_string(),
                    format!("{:.2}", m.wall.as_secs_f64()),
                    format!("**{}**", rate(m.rate())),
                    crate::report::spread(m.spread),
                    dur(m.percentile(50)),
                    dur(m.percentile(99)),
                    ratio(vs_samba),
                    ratio(vs_imp),
                    dur(m.client_cpu_per_call()),
                    dur(m.server_cpu_per_call()),
                    row.note.clone(),
                ]);
            }
            Err(e) => {
                let mut cells = vec![row.client.clone(), row.mode.clone()];
                cells.extend(std::iter::repeat_n("-".to_owned(), 10));
                cells.push(if e.to_string() == "n/a" { row.note.clone() } else { failed(e) });
                t.row(cells);
            }
        }
    }
    md.push_str(&t.render());
    md.push_str(&format!(
        "\nRatios of the one-at-a-time rows are against the one-at-a-time Samba/impacket rows; ratios of the \
         concurrent rows are against Samba's client with {k} connections. p50/p99: per-call latency seen by our \
         client (the Python scripts report only totals). Our client CPU/call: user+system time of this process \
         (all its threads) during the run / calls; not available for the Python clients. Samba CPU/call: user+system time of the DC's process \
         (`samba -M single`: one process serves every connection; /proc/PID/stat) during the run, divided by the \
         calls: the same server work per call whoever the client is, so it also checks that the clients do the \
         same thing. Each row is the median of {r} runs, the rows of one group run interleaved (round robin), \
         except Samba's {k}-process row (one pair of runs).\n"
    ));
    if let (Some(s), Some(i)) = (ours_cur, infl_cur) {
        md.push_str(&format!(
            "\nSamba's server with {k} calls in flight on one connection (our client): every call answered and \
             checked. The DC runs `-M single` (one single-threaded process for every connection), so it executes \
             them one after another; pipelining saves wake-ups and round trips only: {} calls/s vs {} one at a \
             time ({}), Samba CPU per call {} vs {}.\n",
            rate(i),
            rate(s),
            ratio(i / s),
            dur(cpu_of(7)),
            dur(cpu_of(0)),
        ));
    }
    report.push(&md);

    let cmp = |o: Option<f64>, s: Option<f64>| {
        o.zip(s).map_or_else(|| "-".into(), |(o, s)| format!("{} ({} vs {})", ratio(o / s), rate(o), rate(s)))
    };
    for (label, ours) in [
        ("current-thread runtime", ours_cur),
        ("multi-thread runtime, loop in block_on", ours_multi),
        ("multi-thread runtime, loop spawned", ours_spawned),
        ("current-thread runtime, opt-in busy_poll", busy_cur),
        ("multi-thread runtime, loop spawned, opt-in busy_poll", busy_spawned),
    ] {
        report.goal(
            "#4",
            format!("our client ({label}) ≥ 1.5× Samba's client, one call at a time"),
            cmp(ours, samba_seq),
            ours.zip(samba_seq).map(|(o, s)| o / s >= 1.5),
        );
        report.goal(
            "#4",
            format!("our client ({label}) ≥ 8× impacket, one call at a time"),
            cmp(ours, imp_seq),
            ours.zip(imp_seq).map(|(o, s)| o / s >= 8.0),
        );
    }
    Ok(())
}

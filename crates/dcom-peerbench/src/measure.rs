//! Timed loops with our client: one call at a time, K calls in flight on one connection, K connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use dcom_pdu::{AuthLevel, SyntaxId};
use tokio::task::JoinSet;

use crate::rpc::{Bound, Creds, Op, open};

/// The outcome of one timed run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    /// Calls completed (all checked).
    pub(crate) calls: u64,
    /// Wall time of the timed part.
    pub(crate) wall: Duration,
    /// Per-call latencies, sorted (empty for the Python tools).
    pub(crate) latencies: Vec<Duration>,
    /// CPU time (user + system) the server process used meanwhile, when known.
    pub(crate) server_cpu: Option<Duration>,
    /// The system (kernel) part of `server_cpu`.
    pub(crate) server_sys: Option<Duration>,
    /// CPU time this process (our client) used meanwhile, for runs of our client.
    pub(crate) client_cpu: Option<Duration>,
    /// Lowest and highest rate over the repeated runs this one is the median of.
    pub(crate) spread: Option<(f64, f64)>,
}

impl Measured {
    /// From a total call count and wall time (the Python tools).
    pub(crate) fn from_rate(calls: u64, seconds: f64) -> Self {
        Self {
            calls,
            wall: Duration::from_secs_f64(seconds.max(0.0)),
            latencies: Vec::new(),
            server_cpu: None,
            server_sys: None,
            client_cpu: None,
            spread: None,
        }
    }

    /// Calls per second.
    pub(crate) fn rate(&self) -> f64 {
        let s = self.wall.as_secs_f64();
        if s > 0.0 { self.calls as f64 / s } else { 0.0 }
    }

    /// The `p`-th percentile latency (0..=100), when latencies were recorded.
    pub(crate) fn percentile(&self, p: usize) -> Option<Duration> {
        percentile(&self.latencies, p)
    }

    /// Our client's CPU time per call.
    pub(crate) fn client_cpu_per_call(&self) -> Option<Duration> {
        let calls = u32::try_from(self.calls).ok().filter(|c| *c > 0)?;
        self.client_cpu.map(|c| c / calls)
    }

    /// Server CPU time per call.
    pub(crate) fn server_cpu_per_call(&self) -> Option<Duration> {
        let calls = u32::try_from(self.calls).ok().filter(|c| *c > 0)?;
        self.server_cpu.map(|c| c / calls)
    }

    /// Server CPU time per call split as (user, system).
    pub(crate) fn server_split_per_call(&self) -> Option<(Duration, Duration)> {
        let calls = u32::try_from(self.calls).ok().filter(|c| *c > 0)?;
        let (total, sys) = (self.server_cpu?, self.server_sys?);
        Some((total.saturating_sub(sys) / calls, sys / calls))
    }

    /// Mean time per call (wall / calls).
    pub(crate) fn mean_call(&self) -> Option<Duration> {
        u32::try_from(self.calls).ok().filter(|c| *c > 0).map(|c| self.wall / c)
    }
}

/// CPU time (utime + stime) of process `pid` so far, from /proc/PID/stat (fields 14 and 15, in USER_HZ = 100
/// ticks per second, fixed by the Linux ABI).
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    cpu_times(pid).map(|(u, s)| u + s)
}

/// (user, system) CPU time of process `pid` so far, as [`cpu_time`] reads them.
pub(crate) fn cpu_times(pid: u32) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((Duration::from_millis(utime.saturating_mul(10)), Duration::from_millis(stime.saturating_mul(10))))
}

/// Runs `f`, recording the CPU time process `pid` used meanwhile.
pub(crate) fn with_cpu(pid: Option<u32>, f: impl FnOnce() -> Result<Measured>) -> Result<Measured> {
    let before = pid.and_then(cpu_times);
    let mut m = f()?;
    if let (Some((bu, bs)), Some((au, as_))) = (before, pid.and_then(cpu_times)) {
        m.server_cpu = Some((au + as_).saturating_sub(bu + bs));
        m.server_sys = Some(as_.saturating_sub(bs));
    }
    Ok(m)
}

/// Runs `f` (a run of our client), recording the CPU time this process used meanwhile.
pub(crate) fn with_own_cpu(f: impl FnOnce() -> Result<Measured>) -> Result<Measured> {
    let me = std::process::id();
    let before = cpu_time(me);
    let mut m = f()?;
    if let (Some(b), Some(a)) = (before, cpu_time(me)) {
        m.client_cpu = Some(a.saturating_sub(b));
    }
    Ok(m)
}

/// A measurement to repeat.
pub(crate) type Job<'a> = Box<dyn FnMut() -> Result<Measured> + 'a>;

/// Runs every job once per round, `repeat` rounds, the jobs interleaved so that slow drifts of the machine's load
/// hit them alike; keeps each job's run with the median rate. A job that fails once is not run again.
pub(crate) fn interleaved(repeat: usize, mut jobs: Vec<Job<'_>>) -> Vec<Result<Measured>> {
    let mut runs: Vec<Result<Vec<Measured>>> = jobs.iter().map(|_| Ok(Vec::new())).collect();
    for _ in 0..repeat.max(1) {
        for (job, acc) in jobs.iter_mut().zip(runs.iter_mut()) {
            if let Ok(done) = acc {
                match job() {
                    Ok(m) => done.push(m),
                    Err(e) => *acc = Err(e),
                }
            }
        }
    }
    runs.into_iter()
        .map(|r| {
            r.and_then(|mut v| {
                v.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
                let spread = v.first().zip(v.last()).map(|(lo, hi)| (lo.rate(), hi.rate()));
                let mid = v.len() / 2;
                let mut m = v.into_iter().nth(mid).context("no run")?;
                if m.spread.is_none() {
                    m.spread = spread;
                }
                Ok(m)
            })
        })
        .collect()
}

/// The `p`-th percentile of sorted samples (nearest rank).
pub(crate) fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len().saturating_mul(p.min(100))).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// `warmup` unmeasured calls, then `n` calls one after another on one connection, each timed.
pub(crate) async fn sequential(b: &Bound, op: &Op, warmup: u64, n: u64) -> Result<Measured> {
    for _ in 0..warmup {
        b.call(op).await?;
    }
    let mut latencies = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20));
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        b.call(op).await?;
        latencies.push(t.elapsed());
    }
    let wall = start.elapsed();
    latencies.sort_unstable();
    Ok(Measured { calls: n, wall, latencies, server_cpu: None, server_sys: None, client_cpu: None, spread: None })
}

/// `total` calls on ONE connection with `k` in flight at any time (k tasks, each calling one after another on a
/// clone of the connection; the client multiplexes them by call_id).
pub(crate) async fn in_flight(b: &Bound, op: &Op, k: u64, total: u64) -> Result<Measured> {
    let k = k.max(1);
    let per = total.div_ceil(k);
    let op = Arc::new(op.clone());
    // Warm-up: k calls at once, which also checks that the server takes concurrent calls at all.
    let mut warm = JoinSet::new();
    for _ in 0..k {
        let (b, op) = (b.clone(), op.clone());
        warm.spawn(async move { b.call(&op).await });
    }
    while let Some(r) = warm.join_next().await {
        r.context("warm-up task")??;
    }
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..k {
        let (b, op) = (b.clone(), op.clone());
        set.spawn(timed_loop(b, op, per, None));
    }
    let latencies = join_latencies(set).await?;
    Ok(Measured {
        calls: per * k,
        wall: start.elapsed(),
        latencies,
        server_cpu: None,
        server_sys: None,
        client_cpu: None,
        spread: None,
    })
}

/// Opens `k` bound connections (`concurrency` handshakes at a time).
pub(crate) async fn open_many(
    addr: SocketAddr,
    iface: SyntaxId,
    creds: Option<&Creds>,
    level: AuthLevel,
    k: usize,
    concurrency: usize,
) -> Result<Vec<Bound>> {
    let mut out = Vec::with_capacity(k);
    let mut set = JoinSet::new();
    let mut started = 0;
    let creds = creds.cloned();
    while out.len() < k {
        while started < k && set.len() < concurrency.max(1) {
            let c = creds.clone();
            set.spawn(async move { open(addr, iface, c.as_ref(), level).await });
            started += 1;
        }
        match set.join_next().await {
            Some(r) => out.push(r.context("connect task")??),
            None => break,
        }
    }
    Ok(out)
}

/// `k` connections (opened and warmed before the clock starts), each making `per_conn` calls one after another;
/// the aggregate rate over the wall time of the slowest.
pub(crate) async fn connections(
    addr: SocketAddr,
    iface: SyntaxId,
    creds: Option<&Creds>,
    level: AuthLevel,
    op: &Op,
    k: usize,
    per_conn: u64,
) -> Result<Measured> {
    let conns = open_many(addr, iface, creds, level, k, 16).await?;
    let op = Arc::new(op.clone());
    for b in &conns {
        b.call(&op).await?;
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(conns.len().saturating_add(1)));
    let mut set = JoinSet::new();
    for b in conns.iter().cloned() {
        let (op, barrier) = (op.clone(), barrier.clone());
        set.spawn(timed_loop(b, op, per_conn, Some(barrier)));
    }
    barrier.wait().await;
    let start = Instant::now();
    let latencies = join_latencies(set).await?;
    let wall = start.elapsed();
    for b in &conns {
        b.conn.close();
    }
    Ok(Measured {
        calls: per_conn * k as u64,
        wall,
        latencies,
        server_cpu: None,
        server_sys: None,
        client_cpu: None,
        spread: None,
    })
}

/// `n` calls one after another, each timed, after waiting at `barrier` if given.
async fn timed_loop(
    b: Bound,
    op: Arc<Op>,
    n: u64,
    barrier: Option<Arc<tokio::sync::Barrier>>,
) -> Result<Vec<Duration>> {
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    let mut lat = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20));
    for _ in 0..n {
        let t = Instant::now();
        b.call(&op).await?;
        lat.push(t.elapsed());
    }
    Ok(lat)
}

async fn join_latencies(mut set: JoinSet<Result<Vec<Duration>>>) -> Result<Vec<Duration>> {
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.context("call task")??);
    }
    all.sort_unstable();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&v, 50), Some(Duration::from_micros(50)));
        assert_eq!(percentile(&v, 99), Some(Duration::from_micros(99)));
        assert_eq!(percentile(&v, 100), Some(Duration::from_micros(100)));
        assert_eq!(percentile(&v, 0), Some(Duration::from_micros(1)));
        assert_eq!(percentile(&[], 50), None);
        let one = [Duration::from_millis(3)];
        assert_eq!(percentile(&one, 50), Some(Duration::from_millis(3)));
    }

    #[test]
    fn own_cpu_time_and_interleaved_median() {
        let me = std::process::id();
        assert!(cpu_time(me).is_some());
        assert!(cpu_time(u32::MAX).is_none());
        let mut rates = vec![3.0, 1.0, 2.0].into_iter();
        let mut out =
            interleaved(3, vec![Box::new(|| Ok(Measured::from_rate(100, 100.0 / rates.next().unwrap_or(0.0))))]);
        let m = out.pop().unwrap().unwrap();
        assert!((m.rate() - 2.0).abs() < 1e-9, "the median of rates 3, 1, 2");
        let (lo, hi) = m.spread.unwrap();
        assert!((lo - 1.0).abs() < 1e-9 && (hi - 3.0).abs() < 1e-9);
        let mut calls = 0;
        let out = interleaved(
            3,
            vec![
                Box::new(|| {
                    calls += 1;
                    anyhow::bail!("fails")
                }),
                Box::new(|| Ok(Measured::from_rate(10, 1.0))),
            ],
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].is_err());
        assert_eq!(out[1].as_ref().map(|m| m.calls).ok(), Some(10));
        assert_eq!(calls, 1, "a failed job is not run again");
    }

    #[test]
    fn rates() {
        let mut m = Measured::from_rate(500, 0.25);
        assert_eq!(m.server_cpu_per_call(), None);
        m.server_cpu = Some(Duration::from_millis(100));
        assert_eq!(m.server_cpu_per_call(), Some(Duration::from_micros(200)));
        assert!((m.rate() - 2000.0).abs() < 1e-6);
        assert_eq!(m.mean_call(), Some(Duration::from_micros(500)));
        assert!(Measured::default().rate().abs() < f64::EPSILON);
        assert_eq!(Measured::default().mean_call(), None);
    }
}

#[cfg(test)]
mod live_tests {
    //! Against our own server in process (no peers needed): the checks accept its real answers and the loops
    //! count what they did.
    use std::sync::Arc;

    use dcom_auth::InMemoryStore;
    use dcom_pdu::AuthLevel;
    use dcom_server::setup::{ServerOptions, standard};
    use tokio::net::TcpListener;

    use super::*;
    use crate::rpc::{Creds, MGMT, Op, RPCECHO, open};

    async fn server() -> (dcom_tokio::RunningServer, SocketAddr) {
        let mut store = InMemoryStore::new();
        store.add_password(None, "alice", "Passw0rd!Alice");
        let options = ServerOptions { users: Some(Arc::new(store)), ..ServerOptions::default() };
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (standard(&options, addr).serve(l).unwrap(), addr)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loops_against_our_server() {
        let (srv, addr) = server().await;
        let creds = Creds::alice();
        let b = open(addr, MGMT, Some(&creds), AuthLevel::PKT_PRIVACY).await.unwrap();
        let m = sequential(&b, &Op::is_server_listening(), 2, 20).await.unwrap();
        assert_eq!((m.calls, m.latencies.len()), (20, 20));
        assert!(m.latencies.windows(2).all(|w| w[0] <= w[1]), "sorted");
        let m = in_flight(&b, &Op::is_server_listening(), 8, 50).await.unwrap();
        assert_eq!(m.calls, 56, "8 tasks x ceil(50/8) calls");
        assert_eq!(m.latencies.len(), 56);
        let m =
            connections(addr, RPCECHO, Some(&creds), AuthLevel::PKT_PRIVACY, &Op::echo_data(300), 4, 5).await.unwrap();
        assert_eq!(m.calls, 20);
        // A wrong password fails the bind; a wrong response fails the check.
        let bad = Creds { password: "nope".into(), ..Creds::alice() };
        let r = open(addr, MGMT, Some(&bad), AuthLevel::PKT_PRIVACY).await;
        if let Ok(b) = r {
            assert!(b.call(&Op::is_server_listening()).await.is_err());
        }
        let wrong = Op { check: crate::rpc::Check::Exact(bytes::Bytes::from_static(b"x")), ..Op::echo_data(3) };
        let e = open(addr, RPCECHO, Some(&creds), AuthLevel::PKT_PRIVACY).await.unwrap();
        assert!(e.call(&wrong).await.is_err());
        assert!(e.call(&Op::echo_data(65_536)).await.is_ok());
        srv.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn relay_counts_one_call() {
        let (srv, addr) = server().await;
        let (via, counters) = crate::serve::relay(addr).await.unwrap();
        let b = open(via, MGMT, Some(&Creds::alice()), AuthLevel::PKT_PRIVACY).await.unwrap();
        b.call(&Op::is_server_listening()).await.unwrap();
        let before = counters.get();
        b.call(&Op::is_server_listening()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = counters.get();
        let (up, down) = (after.0 - before.0, after.1 - before.1);
        // request: 24-byte header + verification trailer + sec_trailer + 16-byte NTLM signature; response:
        // header + 8-byte stub + padding + trailer + signature. Both are multiples of 4 and well under 1 KiB.
        assert!((24 + 8 + 16..1024).contains(&up) && up % 4 == 0, "request {up}");
        assert!((24 + 8 + 8 + 16..1024).contains(&down) && down % 4 == 0, "response {down}");
        srv.shutdown().await;
    }
}

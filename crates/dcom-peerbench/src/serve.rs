//! Our server in a child process (hidden `serve` subcommand) so that its resident memory is its own, the raw TCP
//! echo baseline next to it, the parent's handle on that child, and a byte-counting TCP relay.
//!
//! Child protocol: it prints `READY <rpc port> <echo port>` on stdout, then answers lines on stdin:
//! `rss` -> `rss <VmRSS in KiB>`, `conns` -> `conns <open RPC connections>`; EOF or `quit` shuts it down.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use dcom_auth::InMemoryStore;
use dcom_server::setup::{ServerOptions, standard};
use dcom_tokio::Limits;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Arguments of the hidden `serve` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// Listen address of the RPC server (port 0: any); the raw echo server listens on the same IP.
    #[arg(long, default_value = "127.0.0.21:0")]
    listen: SocketAddr,
    /// Limits::max_connections of the server.
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// VmRSS of this process in KiB, from /proc/self/status.
pub(crate) fn own_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS line in /proc/self/status")
}

/// The child: runs our standard server (mgmt, rpcecho, epm) with alice in an in-memory store, plus the echo.
pub(crate) fn run_child(args: &ServeArgs) -> Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = args.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build().context("starting the tokio runtime")?;
    rt.block_on(async {
        let mut store = InMemoryStore::new();
        store.add_password(None, dcom_testpeers::ALICE.name, dcom_testpeers::ALICE.password);
        let options = ServerOptions {
            users: Some(Arc::new(store)),
            principal: "host/rpcsrv.samba.test".to_owned(),
            ..ServerOptions::default()
        };
        let listener = TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let limits = Limits { max_connections: args.max_connections, ..Limits::default() };
        let server = standard(&options, addr).limits(limits).serve(listener)?;
        let echo = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await.context("listening for the raw echo")?;
        let echo_port = echo.local_addr()?.port();
        tokio::spawn(raw_echo_server(echo));
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {} {echo_port}", addr.port())?;
        out.flush()?;
        drop(out);
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            let reply = match line.trim() {
                "rss" => format!("rss {}", own_rss_kib()?),
                "conns" => format!("conns {}", server.connections()),
                "quit" => break,
                other => format!("error unknown command {other:?}"),
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "{reply}")?;
            out.flush()?;
        }
        server.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })
}

/// The raw TCP echo: per connection, an 8-byte header (request length, response length, u32 LE), then for every
/// request of that length a response of that length.
async fn raw_echo_server(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = raw_echo_conn(stream).await;
        });
    }
}

async fn raw_echo_conn(mut s: TcpStream) -> std::io::Result<()> {
    let mut hdr = [0u8; 8];
    s.read_exact(&mut hdr).await?;
    let [a, b, c, d, e, f, g, h] = hdr;
    let req = u32::from_le_bytes([a, b, c, d]).min(1 << 20) as usize;
    let resp = u32::from_le_bytes([e, f, g, h]).min(1 << 20) as usize;
    let mut inb = vec![0u8; req];
    let outb = vec![0x42u8; resp];
    loop {
        s.read_exact(&mut inb).await?;
        s.write_all(&outb).await?;
    }
}

/// Client side of the raw echo: one connection, fixed request and response sizes.
#[derive(Debug)]
pub(crate) struct RawEcho {
    s: TcpStream,
    out: Vec<u8>,
    inb: Vec<u8>,
}

impl RawEcho {
    /// Connects and announces the sizes: `req` bytes out, `resp` bytes back per round trip.
    pub(crate) async fn connect(addr: SocketAddr, req: usize, resp: usize) -> Result<Self> {
        let mut s = TcpStream::connect(addr).await.context("connecting to the raw echo")?;
        s.set_nodelay(true)?;
        let mut hdr = Vec::with_capacity(8);
        hdr.extend_from_slice(&u32::try_from(req)?.to_le_bytes());
        hdr.extend_from_slice(&u32::try_from(resp)?.to_le_bytes());
        s.write_all(&hdr).await?;
        Ok(Self { s, out: vec![0x17u8; req], inb: vec![0u8; resp] })
    }

    /// `n` timed round trips after `warmup` untimed ones; sorted latencies.
    pub(crate) async fn round_trips(&mut self, warmup: u64, n: u64) -> Result<crate::measure::Measured> {
        for _ in 0..warmup {
            self.s.write_all(&self.out).await?;
            self.s.read_exact(&mut self.inb).await?;
        }
        let mut latencies = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20));
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            self.s.write_all(&self.out).await?;
            self.s.read_exact(&mut self.inb).await?;
            latencies.push(t.elapsed());
        }
        let wall = start.elapsed();
        latencies.sort_unstable();
        Ok(crate::measure::Measured {
            calls: n,
            wall,
            latencies,
            server_cpu: None,
            server_sys: None,
            client_cpu: None,
            spread: None,
        })
    }
}

/// The parent's handle on a child server.
#[derive(Debug)]
pub(crate) struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The RPC listener.
    pub(crate) rpc: SocketAddr,
    /// The raw echo listener.
    pub(crate) echo: SocketAddr,
}

impl ChildServer {
    /// Starts `<this binary> serve` on `ip` with a connection limit of `max_connections`.
    pub(crate) fn spawn(ip: IpAddr, max_connections: usize) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--listen")
            .arg(SocketAddr::new(ip, 0).to_string())
            .arg("--max-connections")
            .arg(max_connections.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server child process")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        let mut me = Self { child, stdin, stdout, rpc: SocketAddr::new(ip, 0), echo: SocketAddr::new(ip, 0) };
        let line = me.read_line()?;
        let mut it = line.split_whitespace();
        let (Some("READY"), Some(rpc), Some(echo)) = (it.next(), it.next(), it.next()) else {
            bail!("server child said {line:?} instead of READY");
        };
        me.rpc.set_port(rpc.parse().context("rpc port")?);
        me.echo.set_port(echo.parse().context("echo port")?);
        Ok(me)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).context("reading from the server child")?;
        if n == 0 {
            bail!("the server child exited");
        }
        Ok(line.trim().to_owned())
    }

    fn query(&mut self, what: &str) -> Result<u64> {
        let stdin = self.stdin.as_mut().context("server child stdin closed")?;
        writeln!(stdin, "{what}").context("writing to the server child")?;
        stdin.flush()?;
        let line = self.read_line()?;
        line.strip_prefix(what)
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("server child answered {line:?} to {what}"))
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's VmRSS in KiB.
    pub(crate) fn rss_kib(&mut self) -> Result<u64> {
        self.query("rss")
    }

    /// Open RPC connections the child's server counts.
    pub(crate) fn connections(&mut self) -> Result<u64> {
        self.query("conns")
    }

    /// Asks the child to stop and waits a little for it; kills it (by its pid) if it does not.
    pub(crate) fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop_inner();
        }
    }
}

/// Byte counters of a [`relay`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Client to server.
    pub(crate) up: AtomicU64,
    /// Server to client.
    pub(crate) down: AtomicU64,
}

impl Counters {
    /// (up, down) so far.
    pub(crate) fn get(&self) -> (u64, u64) {
        (self.up.load(Ordering::SeqCst), self.down.load(Ordering::SeqCst))
    }
}

/// A TCP relay on 127.0.0.1 to `target` that counts the bytes each way (to learn PDU sizes on the wire).
pub(crate) async fn relay(target: SocketAddr) -> Result<(SocketAddr, Arc<Counters>)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = l.accept().await {
            let Ok(outbound) = TcpStream::connect(target).await else { continue };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, c.clone(), true));
            tokio::spawn(pump(ro, wi, c.clone(), false));
        }
    });
    Ok((addr, counters))
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    c: Arc<Counters>,
    up: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let counter = if up { &c.up } else { &c.down };
        counter.fetch_add(n as u64, Ordering::SeqCst);
        if w.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

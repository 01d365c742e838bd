//! A client connection: one task owns the socket and the sans-IO [`ClientConnection`]; callers talk to it through
//! a channel, so many calls can be in flight at once and responses are matched by call_id in any order.

use core::fmt;
use core::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use dcom_pdu::SyntaxId;
use dcom_rpc::client::{Bound, ClientConfig, ClientConnection, ClientEvent, ClientSecurity, PresentationContext};
use dcom_rpc::{CallError, CloseReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info_span, warn};
use uuid::Uuid;

use crate::kdc;
use crate::{READ_BUF_START, grow_read_buf};

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Association settings.
    pub config: ClientConfig,
    /// 0 for a new association group, or the group of another connection to join it.
    pub assoc_group: u32,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each KDC exchange.
    pub kdc_timeout: Duration,
    /// Busy-poll the socket for up to this long after sending while calls wait for their responses, instead of
    /// going back to the reactor at once (off by default). A response that arrives within the budget is read
    /// without the thread ever sleeping: no wake-up of this thread, and the server's send wakes no one. On
    /// machines where a wake-up is expensive (virtual machines, where it is an inter-processor interrupt through
    /// the hypervisor) this halves the latency of small calls; the price is a core spinning for up to the budget
    /// per round trip, and on a current-thread runtime the other tasks wait meanwhile. For callers that make
    /// one latency-bound call after another; keep it off for many connections on few cores. Costs one more file
    /// descriptor per connection (a duplicate of the socket, read without the reactor).
    pub busy_poll: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            config: ClientConfig::default(),
            assoc_group: 0,
            connect_timeout: Duration::from_secs(10),
            kdc_timeout: Duration::from_secs(10),
            busy_poll: None,
        }
    }
}

enum Cmd {
    Handshake {
        interfaces: Vec<SyntaxId>,
        ndr64: bool,
        security: Option<ClientSecurity>,
        first: bool,
        reply: oneshot::Sender<Result<Bound, CallError>>,
    },
    Call {
        token: u64,
        ctx: PresentationContext,
        security: Option<u32>,
        opnum: u16,
        object: Option<Uuid>,
        stub: Bytes,
        reply: oneshot::Sender<Result<Bytes, CallError>>,
    },
    Cancel {
        token: u64,
    },
    Abandon {
        token: u64,
    },
    KdcReply {
        context_id: u32,
        reply: Result<Vec<u8>, String>,
    },
    Close,
}

/// A client connection. Cheap to clone; the connection closes when the last clone is dropped.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Cmd>,
    peer: SocketAddr,
    next_token: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Why the connection task ended, set once when it does: later calls report the real reason.
    closed: std::sync::Arc<std::sync::OnceLock<CloseReason>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").field("peer", &self.peer).finish_non_exhaustive()
    }
}

/// Drop guard: a call future dropped before its answer cancels the call (co_cancel).
struct CancelOnDrop<'a> {
    conn: &'a Connection,
    token: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.conn.tx.send(Cmd::Cancel { token: self.token });
        }
    }
}

impl Connection {
    /// Opens a TCP connection to `addr` (not bound yet: call [`Connection::bind`]).
    pub async fn connect(addr: SocketAddr, options: ConnectOptions) -> Result<Self, CallError> {
        let stream = tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| CallError::ConnectionLost(CloseReason::Limit(format!("connect to {addr} timed out"))))?
            .map_err(|e| {
                CallError::ConnectionLost(CloseReason::Protocol {
                    status: None,
                    detail: format!("connect to {addr}: {e}"),
                })
            })?;
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = ClientConnection::new(options.config.clone(), options.assoc_group);
        let span = info_span!("rpc_client", peer = %addr);
        let closed = std::sync::Arc::new(std::sync::OnceLock::new());
        // The duplicate descriptor shares the socket's open file description, so it is non-blocking like the one
        // tokio registered; it is only ever read from, and only while busy-polling.
        let spin = options.busy_poll.filter(|d| !d.is_zero()).and_then(|budget| {
            use std::os::fd::AsFd as _;
            match stream.as_fd().try_clone_to_owned() {
                Ok(fd) => Some(Spin { sock: std::net::TcpStream::from(fd), budget }),
                Err(e) => {
                    warn!(error = %e, "cannot duplicate the socket: busy polling off");
                    None
                }
            }
        });
        tokio::spawn(run(stream, conn, rx, tx.clone(), options.kdc_timeout, closed.clone(), spin).instrument(span));
        Ok(Self { tx, peer: addr, next_token: std::sync::Arc::default(), closed })
    }

    /// The server address.
    #[must_use]
    pub const fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The error for a command the connection task can no longer take: the reason it ended (the peer closed,
    /// a protocol or security failure, a local close).
    fn closed_err(&self) -> CallError {
        CallError::ConnectionLost(self.closed.get().cloned().unwrap_or(CloseReason::Local))
    }

    /// Binds `interfaces` (with NDR64 offered too when `ndr64`) and the security context, if any.
    pub async fn bind(
        &self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
    ) -> Result<Bound, CallError> {
        self.handshake(interfaces, ndr64, security, true).await
    }

    /// alter_context: more interfaces and/or another security context on this connection.
    pub async fn alter_context(
        &self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
    ) -> Result<Bound, CallError> {
        self.handshake(interfaces, ndr64, security, false).await
    }

    async fn handshake(
        &self,
        interfaces: &[SyntaxId],
        ndr64: bool,
        security: Option<ClientSecurity>,
        first: bool,
    ) -> Result<Bound, CallError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Handshake { interfaces: interfaces.to_vec(), ndr64, security, first, reply })
            .map_err(|_| self.closed_err())?;
        rx.await.map_err(|_| self.closed_err())?
    }

    /// Calls `opnum` on `ctx` with security context `security`, waiting at most `timeout` if given. Dropping the
    /// returned future before it completes cancels the call.
    pub async fn call(
        &self,
        ctx: PresentationContext,
        security: Option<u32>,
        opnum: u16,
        object: Option<Uuid>,
        stub: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Bytes, CallError> {
        let token = self.next_token.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Call { token, ctx, security, opnum, object, stub, reply }).map_err(|_| self.closed_err())?;
        let mut guard = CancelOnDrop { conn: self, token, armed: true };
        let result = match timeout {
            None => rx.await.map_err(|_| self.closed_err()),
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(r) => r.map_err(|_| self.closed_err()),
                Err(_) => {
                    guard.armed = false;
                    let _ = self.tx.send(Cmd::Abandon { token });
                    return Err(CallError::TimedOut);
                }
            },
        };
        guard.armed = false;
        result?
    }

    /// Asks the connection task to close the connection.
    pub fn close(&self) {
        let _ = self.tx.send(Cmd::Close);
    }
}

struct Task {
    conn: ClientConnection,
    handshake: Option<oneshot::Sender<Result<Bound, CallError>>>,
    calls: HashMap<u32, oneshot::Sender<Result<Bytes, CallError>>>,
    tokens: HashMap<u64, u32>,
    by_call: HashMap<u32, u64>,
}

/// Busy polling ([`ConnectOptions::busy_poll`]): a duplicate of the socket read without the reactor, and the budget.
struct Spin {
    sock: std::net::TcpStream,
    budget: Duration,
}

/// What a busy-poll round ended with.
enum Spun {
    /// Bytes arrived (fed to the connection) or a command was taken: dispatch and write, then maybe spin again.
    Progress,
    /// Nothing within the budget: back to the reactor.
    Idle,
    /// The peer closed or the socket failed.
    Closed,
}

impl Spin {
    /// Reads the socket without sleeping until bytes arrive, a command comes, or the budget is spent.
    fn poll(&self, t: &mut Task, rx: &mut mpsc::UnboundedReceiver<Cmd>, buf: &mut Vec<u8>) -> Spun {
        use std::io::Read as _;
        let start = std::time::Instant::now();
        loop {
            match (&self.sock).read(buf) {
                Ok(0) => return Spun::Closed,
                Ok(n) => {
                    let _ = t.conn.receive(buf.get(..n).unwrap_or_default());
                    grow_read_buf(buf, n);
                    return Spun::Progress;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Spun::Closed,
            }
            match rx.try_recv() {
                Ok(Cmd::Close) => {
                    t.conn.closed(CloseReason::Local);
                    return Spun::Progress;
                }
                Ok(cmd) => {
                    t.command(cmd);
                    return Spun::Progress;
                }
                // Every handle is gone: the reactor loop sees it too and ends the connection.
                Err(mpsc::error::TryRecvError::Disconnected) => return Spun::Idle,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if start.elapsed() >= self.budget {
                return Spun::Idle;
            }
            core::hint::spin_loop();
        }
    }
}

async fn run(
    mut stream: TcpStream,
    conn: ClientConnection,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    tx: mpsc::UnboundedSender<Cmd>,
    kdc_timeout: Duration,
    closed: std::sync::Arc<std::sync::OnceLock<CloseReason>>,
    spin: Option<Spin>,
) {
    // The task must not keep itself alive: hold only a weak sender for KDC replies.
    let weak = tx.downgrade();
    drop(tx);
    let mut t = Task { conn, handshake: None, calls: HashMap::new(), tokens: HashMap::new(), by_call: HashMap::new() };
    let mut buf = vec![0u8; READ_BUF_START];
    'outer: loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                if matches!(cmd, Cmd::Close) { t.conn.closed(CloseReason::Local); t.dispatch(&weak, kdc_timeout); break; }
                t.command(cmd);
            }
            read = stream.read(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => {
                        t.conn.closed(CloseReason::PeerClosed);
                        t.dispatch(&weak, kdc_timeout);
                        break;
                    }
                    Ok(n) => {
                        let _ = t.conn.receive(buf.get(..n).unwrap_or_default());
                        grow_read_buf(&mut buf, n);
                    }
                }
            }
        }
        loop {
            t.dispatch(&weak, kdc_timeout);
            let out = t.conn.take_output();
            if !out.is_empty() && stream.write_all(&out).await.is_err() {
                t.conn.closed(CloseReason::PeerClosed);
                t.dispatch(&weak, kdc_timeout);
                break 'outer;
            }
            if t.conn.close_reason().is_some() {
                break 'outer;
            }
            // Busy-poll while calls wait for their responses (and only then).
            let Some(s) = spin.as_ref().filter(|_| !t.calls.is_empty()) else { break };
            match s.poll(&mut t, &mut rx, &mut buf) {
                Spun::Progress => {}
                Spun::Idle => break,
                Spun::Closed => {
                    t.conn.closed(CloseReason::PeerClosed);
                    t.dispatch(&weak, kdc_timeout);
                    break 'outer;
                }
            }
        }
    }
    // Whatever is still waiting learns the connection is gone, with the reason: calls in flight, a handshake,
    // commands queued but never taken, and (through `closed`) every later command.
    let reason = t.conn.close_reason().cloned().unwrap_or(CloseReason::Local);
    let _ = closed.set(reason.clone());
    rx.close();
    for (_, reply) in t.calls.drain() {
        let _ = reply.send(Err(CallError::ConnectionLost(reason.clone())));
    }
    if let Some(h) = t.handshake.take() {
        let _ = h.send(Err(CallError::ConnectionLost(reason.clone())));
    }
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            Cmd::Call { reply, .. } => {
                let _ = reply.send(Err(CallError::ConnectionLost(reason.clone())));
            }
            Cmd::Handshake { reply, .. } => {
                let _ = reply.send(Err(CallError::ConnectionLost(reason.clone())));
            }
            _ => {}
        }
    }
    let _ = stream.shutdown().await;
}

impl Task {
    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Handshake { interfaces, ndr64, security, first, reply } => {
                if self.handshake.is_some() {
                    let _ = reply.send(Err(CallError::Local("another bind or alter_context is in progress".into())));
                    return;
                }
                let r = if first {
                    self.conn.bind(&interfaces, ndr64, security)
                } else {
                    self.conn.alter_context(&interfaces, ndr64, security)
                };
                match r {
                    Ok(()) => self.handshake = Some(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Cmd::Call { token, ctx, security, opnum, object, stub, reply } => {
                match self.conn.request(ctx, security, opnum, object, stub) {
                    Ok(call_id) => {
                        self.calls.insert(call_id, reply);
                        self.tokens.insert(token, call_id);
                        self.by_call.insert(call_id, token);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Cmd::Cancel { token } => {
                if let Some(call_id) = self.tokens.get(&token) {
                    self.conn.cancel(*call_id);
                }
            }
            Cmd::Abandon { token } => {
                if let Some(call_id) = self.tokens.get(&token) {
                    self.conn.abandon(*call_id, CallError::TimedOut);
                }
            }
            Cmd::KdcReply { context_id, reply } => match reply {
                Ok(bytes) => self.conn.kdc_reply(context_id, &bytes),
                Err(e) => {
                    warn!(context_id, error = %e, "kdc exchange failed");
                    // An empty reply makes the mechanism fail with its own error.
                    self.conn.kdc_reply(context_id, &[]);
                }
            },
            Cmd::Close => {}
        }
    }

    fn dispatch(&mut self, weak: &mpsc::WeakUnboundedSender<Cmd>, kdc_timeout: Duration) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                ClientEvent::Bound(r) => {
                    if let Some(h) = self.handshake.take() {
                        let _ = h.send(r);
                    }
                }
                ClientEvent::Response { call_id, result } => {
                    if let Some(token) = self.by_call.remove(&call_id) {
                        self.tokens.remove(&token);
                    }
                    if let Some(reply) = self.calls.remove(&call_id) {
                        let _ = reply.send(result);
                    }
                }
                ClientEvent::Kdc { context_id, request } => {
                    debug!(context_id, url = %request.url, "kdc exchange");
                    let weak = weak.clone();
                    tokio::spawn(async move {
                        let reply = kdc::exchange(&request, kdc_timeout).await.map_err(|e| e.to_string());
                        if let Some(tx) = weak.upgrade() {
                            let _ = tx.send(Cmd::KdcReply { context_id, reply });
                        }
                    });
                }
            }
        }
    }
}

//! The TCP listener: one task per connection drives a sans-IO [`ServerConnection`]; handlers run as tasks.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use dcom_auth::ServerContext;
use dcom_pdu::{AuthLevel, AuthType, DataRep, Status, SyntaxId};
use dcom_rpc::server::{
    CallOutcome, CallSecurity, InterfaceEntry, SecurityPolicy, ServerConfig, ServerConnection, ServerEvent, ServerHooks,
};
use dcom_rpc::{AssociationGroups, CloseReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

/// What a handler learns about its call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Who called and how (identity, provider, level, impersonation level, security context id).
    pub security: CallSecurity,
    /// The interface.
    pub interface: SyntaxId,
    /// The operation.
    pub opnum: u16,
    /// NDR64 negotiated.
    pub ndr64: bool,
    /// The request's data representation.
    pub drep: DataRep,
    /// The object UUID of the request.
    pub object: Option<Uuid>,
    /// The association group.
    pub assoc_group: u32,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// `call_id`.
    pub call_id: u32,
    /// Becomes true when the client cancels the call (co_cancel).
    pub cancelled: watch::Receiver<bool>,
}

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = CallOutcome> + Send>>;

/// An interface implementation: gets the request stub, returns the response stub or a fault.
pub trait Handler: Send + Sync + 'static {
    /// Executes one call.
    fn call(&self, ctx: CallContext, stub: Bytes) -> HandlerFuture;
}

impl<F> Handler for F
where
    F: Fn(CallContext, Bytes) -> HandlerFuture + Send + Sync + 'static,
{
    fn call(&self, ctx: CallContext, stub: Bytes) -> HandlerFuture {
        self(ctx, stub)
    }
}

/// Server-wide limits (issue #5 item 4).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// Calls executing at once over all connections; more get `rpc_s_server_too_busy`.
    pub max_calls: usize,
    /// A connection with no PDU for this long is closed.
    pub idle_timeout: Duration,
    /// A PDU that started arriving must be complete within this time (slow-sender limit).
    pub pdu_timeout: Duration,
    /// Time graceful shutdown waits for calls in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 16_384,
            max_calls: 4096,
            idle_timeout: Duration::from_secs(300),
            pdu_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Makes acceptor contexts for an auth type.
pub type ProviderFactory = Arc<dyn Fn(AuthLevel) -> Option<Box<dyn ServerContext>> + Send + Sync>;

struct Registered {
    entry: InterfaceEntry,
    handler: Arc<dyn Handler>,
}

struct Registry {
    interfaces: Vec<Registered>,
    providers: HashMap<u8, ProviderFactory>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("interfaces", &self.interfaces.iter().map(|r| r.entry.syntax).collect::<Vec<_>>())
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    fn find(&self, s: &SyntaxId) -> Option<&Registered> {
        // MS-RPCE 3.3.3.4.1.1: same UUID and major version; the client's minor version must not exceed ours.
        self.interfaces.iter().find(|r| {
            r.entry.syntax.uuid == s.uuid
                && r.entry.syntax.version_major == s.version_major
                && s.version_minor <= r.entry.syntax.version_minor
        })
    }
}

impl ServerHooks for Registry {
    fn interface(&self, s: &SyntaxId) -> Option<InterfaceEntry> {
        self.find(s).map(|r| r.entry.clone())
    }
    fn security_context(&self, auth_type: AuthType, level: AuthLevel) -> Option<Box<dyn ServerContext>> {
        self.providers.get(&auth_type.0).and_then(|f| f(level))
    }
}

/// Builds a server: interfaces with handlers and policies, providers, limits.
pub struct ServerBuilder {
    config: ServerConfig,
    limits: Limits,
    registry: Registry,
    group_seed: u32,
    stats: Arc<Stats>,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder").field("config", &self.config).field("registry", &self.registry).finish()
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBuilder {
    /// A server with the default configuration and no interfaces.
    #[must_use]
    pub fn new() -> Self {
        // The association group ids start at a value derived from the process id and the time: they need not
        // be secret, only distinct between server runs (they are not an access control).
        let seed = std::process::id().wrapping_mul(2_654_435_761)
            ^ u32::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() & 0xffff_ffff),
            )
            .unwrap_or(0);
        Self {
            config: ServerConfig::default(),
            limits: Limits::default(),
            registry: Registry { interfaces: Vec::new(), providers: HashMap::new() },
            group_seed: seed,
            stats: Arc::new(Stats::default()),
        }
    }

    /// Replaces the association configuration.
    #[must_use]
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The association configuration, to adjust in place.
    pub fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }

    /// Replaces the limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Registers an interface with `opnums` operations.
    #[must_use]
    pub fn interface(
        mut self,
        syntax: SyntaxId,
        opnums: u16,
        ndr64: bool,
        policy: Option<SecurityPolicy>,
        handler: Arc<dyn Handler>,
    ) -> Self {
        self.registry.interfaces.push(Registered { entry: InterfaceEntry { syntax, ndr64, opnums, policy }, handler });
        self
    }

    /// Adds an authentication provider.
    #[must_use]
    pub fn provider(mut self, auth_type: AuthType, factory: ProviderFactory) -> Self {
        self.registry.providers.insert(auth_type.0, factory);
        self
    }

    /// The counters the server will keep (for mgmt inq_stats).
    #[must_use]
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The interfaces registered so far.
    #[must_use]
    pub fn interfaces(&self) -> Vec<SyntaxId> {
        self.registry.interfaces.iter().map(|r| r.entry.syntax).collect()
    }

    /// Starts serving on `listener`.
    pub fn serve(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        let local_addr = listener.local_addr()?;
        let mut config = self.config;
        if config.secondary_address.is_empty() {
            config.secondary_address = local_addr.port().to_string();
        }
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            registry: Arc::new(self.registry),
            groups: Arc::new(AssociationGroups::new(self.group_seed)),
            limits: self.limits,
            calls: Arc::new(Semaphore::new(0)),
            connections: AtomicUsize::new(0),
            stats: self.stats,
        });
        shared.calls.add_permits(shared.limits.max_calls);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        info!(%local_addr, "rpc server listening");
        Ok(RunningServer { local_addr, stop: stop_tx, task, shared })
    }
}

/// Counters reported by mgmt inq_stats (C706 appendix Q: calls in, calls out, packets in, packets out).
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls received.
    pub calls_in: AtomicU64,
    /// Calls answered.
    pub calls_out: AtomicU64,
    /// PDUs received.
    pub pkts_in: AtomicU64,
    /// PDUs sent.
    pub pkts_out: AtomicU64,
}

struct Shared {
    config: Arc<ServerConfig>,
    registry: Arc<Registry>,
    groups: Arc<AssociationGroups>,
    limits: Limits,
    calls: Arc<Semaphore>,
    connections: AtomicUsize,
    stats: Arc<Stats>,
}

/// A running server.
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Where it listens.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Open connections.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Graceful shutdown: stop accepting, let calls in flight finish (up to the grace time), close connections.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        // EMFILE and friends: back off briefly rather than spin.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let n = shared.connections.fetch_add(1, Ordering::Relaxed);
                if n >= shared.limits.max_connections {
                    shared.connections.fetch_sub(1, Ordering::Relaxed);
                    debug!(%peer, "connection limit reached, closing");
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let shared2 = shared.clone();
                let stop2 = stop.clone();
                let span = info_span!("rpc_conn", %peer);
                conns.spawn(async move {
                    serve_connection(stream, peer, shared2.clone(), stop2).await;
                    shared2.connections.fetch_sub(1, Ordering::Relaxed);
                }.instrument(span));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Graceful shutdown: connections see the stop signal, finish their calls, and close.
    let grace = shared.limits.shutdown_grace;
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

struct Finished {
    call_id: u32,
    outcome: CallOutcome,
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = ServerConnection::new(shared.config.clone(), shared.registry.clone(), shared.groups.clone());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
    let mut cancels = Cancels::default();
    let mut buf = vec![0u8; crate::READ_BUF_START];
    let mut stopping = false;
    let idle = shared.limits.idle_timeout;
    // The timer is armed once and re-armed only when it fires before the (moving) deadline: a call does not touch
    // the timer wheel, it only moves `deadline`.
    let mut deadline = tokio::time::Instant::now() + idle;
    let timer = tokio::time::sleep_until(deadline);
    tokio::pin!(timer);
    // One `changed()` future for the whole connection (not one per loop turn).
    let stop_signal = stop.changed();
    tokio::pin!(stop_signal);
    loop {
        if stopping && cancels.in_flight.is_empty() {
            conn.shutdown();
            let out = conn.take_output();
            let _ = stream.write_all(&out).await;
            conn.closed(CloseReason::Local);
            break;
        }
        tokio::select! {
            read = stream.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => { conn.closed(CloseReason::PeerClosed); break; }
                    Ok(n) => n,
                };
                let data = buf.get(..n).unwrap_or_default();
                let result = conn.receive(data);
                crate::grow_read_buf(&mut buf, n);
                // A partial PDU must complete within pdu_timeout; a whole one resets the idle timer.
                let next = tokio::time::Instant::now()
                    + if conn.buffered() > 0 { shared.limits.pdu_timeout.min(idle) } else { idle };
                if next < deadline {
                    timer.as_mut().reset(next);
                }
                deadline = next;
                while let Some(ev) = conn.poll_event() {
                    handle_event(ev, &shared, peer, &done_tx, &mut cancels, &mut conn);
                }
                if !flush(&mut stream, &mut conn, &shared).await { break; }
                if let Err(reason) = result {
                    debug!(%reason, "connection closed after error");
                    break;
                }
            }
            Some(done) = done_rx.recv() => {
                cancels.in_flight.remove(&done.call_id);
                shared.stats.calls_out.fetch_add(1, Ordering::Relaxed);
                if conn.respond(done.call_id, done.outcome).is_err() {
                    let _ = flush(&mut stream, &mut conn, &shared).await;
                    break;
                }
                if !flush(&mut stream, &mut conn, &shared).await { break; }
            }
            () = &mut timer, if !stopping => {
                if tokio::time::Instant::now() < deadline {
                    // Traffic moved the deadline since the timer was armed.
                    timer.as_mut().reset(deadline);
                    continue;
                }
                let what = if conn.buffered() > 0 { "slow sender" } else { "idle" };
                if cancels.in_flight.is_empty() || conn.buffered() > 0 {
                    debug!(what, "closing connection on timeout");
                    conn.closed(CloseReason::Limit(what.into()));
                    break;
                }
                deadline = tokio::time::Instant::now() + idle;
                timer.as_mut().reset(deadline);
            }
            _ = &mut stop_signal, if !stopping => {
                stopping = true;
            }
        }
    }
    for (_, c) in cancels.in_flight {
        let _ = c.send(true);
    }
}

/// The cancel signals of the calls running as tasks, and a spare sender for the next call: a call answered inline
/// gives its sender back (nobody else holds a receiver), so most calls create no channel at all.
#[derive(Default)]
struct Cancels {
    in_flight: HashMap<u32, watch::Sender<bool>>,
    spare: Option<watch::Sender<bool>>,
}

impl Cancels {
    /// A fresh (not cancelled) signal and its receiver.
    fn take(&mut self) -> (watch::Sender<bool>, watch::Receiver<bool>) {
        match self.spare.take() {
            Some(tx) => {
                let rx = tx.subscribe();
                (tx, rx)
            }
            None => watch::channel(false),
        }
    }

    /// Gives back a sender whose call is over, if no receiver outlived the call and it was never set.
    fn give_back(&mut self, tx: watch::Sender<bool>) {
        if tx.receiver_count() == 0 && !*tx.borrow() {
            self.spare = Some(tx);
        }
    }
}

async fn flush(stream: &mut TcpStream, conn: &mut ServerConnection, shared: &Shared) -> bool {
    if !conn.has_output() {
        return conn.close_reason().is_none();
    }
    let out = conn.take_output();
    shared.stats.pkts_out.fetch_add(1, Ordering::Relaxed);
    if stream.write_all(&out).await.is_err() {
        return false;
    }
    conn.close_reason().is_none()
}

fn handle_event(
    ev: ServerEvent,
    shared: &Arc<Shared>,
    peer: SocketAddr,
    done: &mpsc::UnboundedSender<Finished>,
    cancels: &mut Cancels,
    conn: &mut ServerConnection,
) {
    shared.stats.pkts_in.fetch_add(1, Ordering::Relaxed);
    match ev {
        ServerEvent::Call(call) => {
            shared.stats.calls_in.fetch_add(1, Ordering::Relaxed);
            let Some(reg) = shared.registry.find(&call.interface) else {
                let _ = conn.respond(call.call_id, CallOutcome::NotExecuted(Status::NCA_S_UNK_IF));
                return;
            };
            let Ok(permit) = shared.calls.clone().try_acquire_owned() else {
                let _ = conn.respond(call.call_id, CallOutcome::NotExecuted(Status::RPC_S_SERVER_TOO_BUSY));
                return;
            };
            let (cancel_tx, cancel_rx) = cancels.take();
            let ctx = CallContext {
                security: call.security.clone(),
                interface: call.interface,
                opnum: call.opnum,
                ndr64: call.ndr64,
                drep: call.drep,
                object: call.object,
                assoc_group: call.assoc_group,
                client_addr: peer,
                call_id: call.call_id,
                cancelled: cancel_rx,
            };
            let call_id = call.call_id;
            let span = info_span!("rpc_call", call_id, opnum = call.opnum, principal = %call.security.identity.principal,
                level = call.security.level.0);
            let mut fut = reg.handler.call(ctx, call.stub.clone());
            // Fast path: most handlers finish without waiting on anything. Poll once here, in the connection task,
            // and answer at once; only a handler that is still pending becomes a task of its own (polled again
            // there with a real waker, so no wake-up is lost). Saves a task spawn and two cross-task hand-offs
            // per call.
            let first = span.in_scope(|| {
                let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
                fut.as_mut().poll(&mut cx)
            });
            if let core::task::Poll::Ready(outcome) = first {
                drop(fut);
                drop(permit);
                cancels.give_back(cancel_tx);
                shared.stats.calls_out.fetch_add(1, Ordering::Relaxed);
                let _ = conn.respond(call_id, outcome);
                return;
            }
            cancels.in_flight.insert(call_id, cancel_tx);
            let done = done.clone();
            tokio::spawn(
                async move {
                    let outcome = fut.await;
                    drop(permit);
                    let _ = done.send(Finished { call_id, outcome });
                }
                .instrument(span),
            );
        }
        ServerEvent::Cancel { call_id } | ServerEvent::Orphaned { call_id } => {
            if let Some(c) = cancels.in_flight.get(&call_id) {
                let _ = c.send(true);
            }
        }
        ServerEvent::Authenticated { context_id, identity, auth_type, level } => {
            info!(context_id, principal = %identity.principal, auth_type = auth_type.0, level = level.0, "client authenticated");
        }
    }
}

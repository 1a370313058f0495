//! The network edge of `serve`: accept loop, optional TLS, connection limits, graceful shutdown.
//!
//! Every connection has a budget from the moment it is accepted: the TLS handshake and the
//! first complete request must both arrive within [`Limits::first_request_timeout`] (a client
//! that connects and sends nothing, or sends headers a byte at a time, is closed then), and a
//! connection with no request in flight for [`Limits::idle_timeout`] is closed (HTTP/1
//! keep-alive and HTTP/2 alike; hyper has no idle timer of its own for either). At most
//! [`Limits::max_connections`] are open at once, and never more than the descriptor limit
//! leaves room for: at the cap, a new connection takes the place of the open connection that
//! has been idle longest, so clients holding idle connections cannot lock out one that sends a
//! request; when every open connection has a request in flight, new ones wait in the kernel's
//! backlog.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, instrument, warn};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send its request headers (slow-loris guard).
    pub header_read_timeout: Duration,
    /// The most header bytes a request may carry.
    pub max_header_bytes: usize,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// How long open connections get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long after accept the first complete request must have arrived (TLS handshake
    /// included); a connection that sends nothing, or too little, is closed then.
    pub first_request_timeout: Duration,
    /// How long a connection may stay open with no request in flight (HTTP/1 keep-alive and
    /// HTTP/2).
    pub idle_timeout: Duration,
    /// The most connections open at once (lowered to fit the process's descriptor limit).
    pub max_connections: usize,
    /// The most concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
}

/// The default of `serve --max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Descriptors kept free for everything but connections (stdio, the runtime, the key directory
/// reloader, the listener, and the one connection accepted over the cap before another is shed).
pub const RESERVED_FDS: usize = 32;

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_concurrent_streams: 100,
        }
    }
}

impl Limits {
    /// The connection cap in force: `max_connections`, lowered so that `fd_limit` (the soft
    /// RLIMIT_NOFILE, when known) keeps [`RESERVED_FDS`] free. Never below 1.
    pub fn effective_max_connections(&self, fd_limit: Option<u64>) -> usize {
        let fit = fd_limit
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_or(usize::MAX, |n| n.saturating_sub(RESERVED_FDS));
        self.max_connections.min(fit).max(1)
    }
}

/// The soft limit on open descriptors of this process, when the OS says.
pub fn fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Raises the soft descriptor limit to the hard one, as Go's runtime does at start: the soft
/// default (often 1024) is a compatibility limit for select(2), which this process never uses.
/// Failing leaves the limit as it was; the cap is then fitted to it.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(maximum),
                    maximum: Some(maximum),
                },
            );
        }
    }
}

/// What the accept loop and a connection's task share about one connection.
struct ConnState {
    /// When it last had a request in flight (or was accepted), in ms since the server started.
    idle_since_ms: AtomicU64,
    /// Requests in flight.
    active: AtomicUsize,
    /// Whether a complete request has arrived.
    served: AtomicBool,
    /// Set to shed the connection at the cap.
    evict: Notify,
    /// Whether it has been told to (so that it is not chosen twice).
    evicting: AtomicBool,
}

/// Open connections, for the cap and for shedding the one idle longest.
struct Registry {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    slots: Arc<Semaphore>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn register(&self) -> (u64, Arc<ConnState>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            idle_since_ms: AtomicU64::new(self.now_ms()),
            active: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            evict: Notify::new(),
            evicting: AtomicBool::new(false),
        });
        if let Ok(mut c) = self.conns.lock() {
            c.insert(id, state.clone());
        }
        (id, state)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&id);
        }
    }

    fn open(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Tells the connection with no request in flight that has been idle longest to close;
    /// false when every open connection is busy.
    fn shed_idlest(&self) -> bool {
        let Ok(c) = self.conns.lock() else {
            return false;
        };
        let idlest = c
            .values()
            .filter(|s| {
                s.active.load(Ordering::Acquire) == 0 && !s.evicting.load(Ordering::Acquire)
            })
            .min_by_key(|s| s.idle_since_ms.load(Ordering::Acquire));
        match idlest {
            Some(s) => {
                s.evicting.store(true, Ordering::Release);
                s.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The app, counting the requests in flight on one connection.
#[derive(Clone)]
struct Tracked {
    app: Router,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

/// Marks a request finished when dropped (response produced, or the request abandoned).
struct InFlight {
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state
            .idle_since_ms
            .store(self.registry.now_ms(), Ordering::Release);
        self.state.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<B> tower::Service<axum::http::Request<B>> for Tracked
where
    Router: tower::Service<
        axum::http::Request<B>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
    >,
    <Router as tower::Service<axum::http::Request<B>>>::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<axum::http::Request<B>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        self.state.served.store(true, Ordering::Release);
        self.state.active.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight {
            state: self.state.clone(),
            registry: self.registry.clone(),
        };
        let fut = self.app.call(req);
        Box::pin(async move {
            let resp = fut.await;
            drop(guard);
            resp
        })
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// stops accepting and lets open connections finish within the grace period.
#[instrument(skip_all)]
pub async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    raise_fd_limit();
    let cap = limits.effective_max_connections(fd_limit());
    if cap < limits.max_connections {
        warn!(
            max_connections = limits.max_connections,
            cap,
            fd_limit = fd_limit(),
            "the descriptor limit (ulimit -n) leaves room for fewer connections than --max-connections: capping at {cap}; raise the limit to allow more"
        );
    }
    info!(
        max_connections = cap,
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        first_request_timeout_s = limits.first_request_timeout.as_secs_f64(),
        "connection limits"
    );
    let registry = Arc::new(Registry {
        start: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
        slots: Arc::new(Semaphore::new(cap)),
    });
    let acceptor = tls.map(TlsAcceptor::from);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut last_cap_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = match registry.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_cap_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    warn!(
                        cap,
                        "at the connection cap: closing the connection idle longest to make room"
                    );
                    last_cap_warning = Some(Instant::now());
                }
                let shed = registry.shed_idlest();
                // A shed connection frees its slot at once; with none to shed (every connection
                // busy), wait for one to finish, without accepting more meanwhile.
                let wait = registry.slots.clone().acquire_owned();
                let permit = tokio::select! {
                    p = wait => p,
                    () = &mut shutdown => break,
                };
                match permit {
                    Ok(p) => {
                        debug!(%peer, shed, "slot freed");
                        p
                    }
                    Err(_) => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, state) = registry.register();
        let task = Connection {
            stream,
            peer,
            acceptor: acceptor.clone(),
            builder: builder.clone(),
            service: Tracked {
                app: app.clone(),
                state: state.clone(),
                registry: registry.clone(),
            },
            state,
            limits,
            stop: stop_rx.clone(),
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            task.run(permit).await;
            registry.remove(id);
        });
    }
    let open = registry.open();
    info!(open, "shutting down: no new connections");
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all closed.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, registry.slots.acquire_many(all))
        .await
        .is_err()
    {
        warn!("connections still open after the grace period; closing them");
    }
    Ok(())
}

/// One accepted connection and what it needs to be served.
struct Connection {
    stream: TcpStream,
    peer: std::net::SocketAddr,
    acceptor: Option<TlsAcceptor>,
    builder: Builder<TokioExecutor>,
    service: Tracked,
    state: Arc<ConnState>,
    limits: Limits,
    stop: watch::Receiver<bool>,
}

/// How a connection ended early.
enum Ended {
    Evicted,
    Deadline,
    Stopped,
}

impl Connection {
    async fn run(self, _slot: OwnedSemaphorePermit) {
        let accepted = Instant::now();
        let first_deadline = accepted + self.limits.first_request_timeout;
        let peer = self.peer;
        match self.acceptor.clone() {
            Some(acceptor) => {
                let handshake_deadline =
                    first_deadline.min(accepted + self.limits.tls_handshake_timeout);
                let state = self.state.clone();
                let mut stop = self.stop.clone();
                let tls = tokio::select! {
                    r = tokio::time::timeout_at(handshake_deadline, acceptor.accept(self.stream)) => r,
                    () = state.evict.notified() => {
                        debug!(%peer, "shed during the TLS handshake");
                        return;
                    }
                    _ = stop.changed() => return,
                };
                match tls {
                    Ok(Ok(tls)) => {
                        Self::serve(
                            TokioIo::new(tls),
                            self.builder,
                            self.service,
                            &self.state,
                            self.limits,
                            self.stop,
                            first_deadline,
                            peer,
                        )
                        .await
                    }
                    Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => debug!(%peer, "TLS handshake timed out"),
                }
            }
            None => {
                Self::serve(
                    TokioIo::new(self.stream),
                    self.builder,
                    self.service,
                    &self.state,
                    self.limits,
                    self.stop,
                    first_deadline,
                    peer,
                )
                .await
            }
        }
    }

    /// Drives hyper's connection until it ends, is shed, misses its first-request deadline,
    /// stays idle too long, or the server stops (then graceful: HTTP/2 GOAWAY, HTTP/1 close
    /// after the response in flight, within the grace period).
    #[allow(clippy::too_many_arguments)]
    async fn serve<I>(
        io: TokioIo<I>,
        builder: Builder<TokioExecutor>,
        service: Tracked,
        state: &ConnState,
        limits: Limits,
        mut stop: watch::Receiver<bool>,
        first_deadline: Instant,
        peer: std::net::SocketAddr,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let registry = service.registry.clone();
        let conn = builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service))
            .into_owned();
        tokio::pin!(conn);
        // Once graceful shutdown has begun: when the connection is closed regardless.
        let mut hard_stop: Option<Instant> = None;
        let ended = loop {
            let wake = match hard_stop {
                Some(t) => t,
                None => next_check(state, &registry, &limits, first_deadline),
            };
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = state.evict.notified() => break Ended::Evicted,
                _ = stop.changed(), if hard_stop.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    hard_stop = Some(Instant::now() + limits.shutdown_grace);
                }
                () = tokio::time::sleep_until(wake) => {
                    if hard_stop.is_some() {
                        break if *stop.borrow() { Ended::Stopped } else { Ended::Deadline };
                    }
                    if expired(state, &registry, &limits, first_deadline) {
                        // Nothing in flight: close now (a response being written when the
                        // idle clock ran out gets a moment to finish).
                        conn.as_mut().graceful_shutdown();
                        hard_stop = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
            }
        };
        match ended {
            Ended::Evicted => debug!(%peer, "shed at the connection cap"),
            Ended::Deadline => debug!(%peer, "closed: first-request or idle deadline"),
            Ended::Stopped => debug!(%peer, "closed at the end of the shutdown grace period"),
        }
    }
}

/// When the connection's next deadline falls: the first-request deadline until a request has
/// arrived, then the idle deadline (re-checked while requests are in flight).
fn next_check(
    state: &ConnState,
    registry: &Registry,
    limits: &Limits,
    first_deadline: Instant,
) -> Instant {
    if !state.served.load(Ordering::Acquire) {
        return first_deadline;
    }
    let idle_since =
        registry.start + Duration::from_millis(state.idle_since_ms.load(Ordering::Acquire));
    (idle_since + limits.idle_timeout).max(Instant::now() + Duration::from_millis(100))
}

/// Whether the connection has missed its first-request deadline or been idle too long.
fn expired(
    state: &ConnState,
    registry: &Registry,
    limits: &Limits,
    first_deadline: Instant,
) -> bool {
    let now = Instant::now();
    if !state.served.load(Ordering::Acquire) {
        return now >= first_deadline;
    }
    if state.active.load(Ordering::Acquire) > 0 {
        return false;
    }
    let idle_ms = registry
        .now_ms()
        .saturating_sub(state.idle_since_ms.load(Ordering::Acquire));
    Duration::from_millis(idle_ms) >= limits.idle_timeout
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("Ctrl-C received"),
        () = term => info!("SIGTERM received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        let l = Limits::default();
        assert_eq!(l.effective_max_connections(None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            l.effective_max_connections(Some(1 << 20)),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(l.effective_max_connections(Some(256)), 256 - RESERVED_FDS);
        assert_eq!(l.effective_max_connections(Some(8)), 1);
        let small = Limits {
            max_connections: 10,
            ..Limits::default()
        };
        assert_eq!(small.effective_max_connections(Some(256)), 10);
    }
}

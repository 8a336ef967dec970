//! vouch's HTTP service: the API under `/api/compliance` (seed endpoint names), the
//! compliance dashboard under `/admin/compliance`, health, OpenAPI; authentication (API tokens, JWT, local users with sessions and TOTP), the
//! roles matrix, and self-audit: every failed authentication, every read of evidence or
//! packets and every change of state becomes a ledger event.

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod limiter;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod query;
pub mod roles;
pub mod routes;
pub mod self_audit;
pub mod strict;
pub mod tiles;
pub mod tls;

use axum::Router;
use error::ApiError;
pub use middleware::{MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI, REQUEST_TIMEOUT};
use self_audit::log_aggregates;
use std::net::SocketAddr;
use std::sync::Arc;
use vouch_engine::{Config, Keys, Ledger};
use vouch_store::Store;

/// Shared state of the handlers and middleware.
#[derive(Clone)]
pub struct App {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// Packet signing and log keys.
    pub keys: Arc<Keys>,
    /// The ledger (appends go through its sequencer).
    pub ledger: Ledger,
    /// Request counters and histograms.
    pub metrics: Arc<metrics::Metrics>,
    /// Failed authentications per address.
    pub limiter: Arc<limiter::Limiter>,
    /// Holds a store and ledger handle whose last drop happens off the async runtime.
    pub _keep: Arc<Keep>,
}

/// The PostgreSQL client closes its connection with a blocking call on a runtime of its
/// own, which panics inside an async context; the last handle of the store is therefore
/// dropped on a plain thread.
pub struct Keep(Option<(Store, Ledger)>);

impl Drop for Keep {
    fn drop(&mut self) {
        if let Some(held) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("vouch-store-close".into())
                    .spawn(move || drop(held));
            }
        }
    }
}

/// The service: every route of [`routes::ROUTES`], JSON fallbacks for unknown paths and
/// methods, inside the guard and the request-id middleware.
pub fn router(app: App) -> Router {
    let routes = routes::ROUTES.iter().fold(Router::new(), |r, route| {
        r.route(route.path, route.method_router())
    });
    routes
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::guard,
        ))
        // The dashboard's answers to browsers (login redirect, HTML refusals, CSP).
        .layer(axum::middleware::from_fn(dashboard::browser))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(app)
}

/// Seconds between scheduler ticks.
pub const SCHEDULER_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// The durable scheduler: every tick, run what is due (the database decides who runs
/// each period, so any number of servers may tick). `VOUCH_SCHEDULER=off` disables it.
fn spawn_scheduler(app: App) -> Option<tokio::task::JoinHandle<()>> {
    if std::env::var("VOUCH_SCHEDULER").as_deref() == Ok("off") {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(SCHEDULER_TICK);
        loop {
            interval.tick().await;
            let a = app.clone();
            let r = tokio::task::spawn_blocking(move || {
                let runner = vouch_engine::jobs::Runner {
                    config: &a.config,
                    store: a.store.clone(),
                    keys: &a.keys,
                    ledger: &a.ledger,
                    clock: &vouch_engine::jobs::SystemClock,
                    worker: worker_name(),
                    max_attempts: 5,
                    backoff: chrono::Duration::minutes(1),
                    not_before: None,
                };
                runner.tick()
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::error!(error = %e, "scheduler tick failed");
            }
        }
    }))
}

/// This process's name in job runs: host and pid.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// PEM files for serving HTTPS directly (deployments without a TLS-terminating proxy).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// The private key (PEM).
    pub key: std::path::PathBuf,
}

/// How to serve.
pub struct ServeOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Told the bound address once the server accepts connections.
    pub ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    /// Serve HTTPS with this certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// Stop (gracefully) when this fires, besides Ctrl-C / SIGTERM.
    pub shutdown: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// Serve until Ctrl-C / SIGTERM; in-flight requests (appends included) finish first.
pub async fn serve(
    config: Config,
    listen: SocketAddr,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), vouch_engine::Error> {
    serve_with(
        config,
        ServeOptions {
            listen,
            ready,
            tls: None,
            shutdown: None,
        },
    )
    .await
}

/// Everything `serve` checks before it listens: settings that would only fail later
/// (JWT enabled without its secret or key), then the database, opened on the blocking
/// pool (the PostgreSQL client runs its own runtime and must not start inside ours).
pub async fn open_app(config: Config) -> Result<App, vouch_engine::Error> {
    auth::check_settings(&config)?;
    let auth_settings = config.settings.auth.clone();
    let (config, (store, keys, ledger)) = tokio::task::spawn_blocking(move || {
        let opened = vouch_engine::open(&config)?;
        Ok::<_, vouch_engine::Error>((config, opened))
    })
    .await
    .map_err(|e| vouch_engine::Error::config(format!("opening the store: {e}")))??;
    Ok(App {
        config: Arc::new(config),
        store: store.clone(),
        keys: Arc::new(keys),
        ledger: ledger.clone(),
        metrics: Arc::default(),
        limiter: Arc::new(limiter::Limiter::new(
            std::time::Duration::from_secs(u64::from(auth_settings.failure_window_secs)),
            u64::from(auth_settings.failures_per_window),
        )),
        _keep: Arc::new(Keep(Some((store, ledger)))),
    })
}

/// Serve with options (TLS, an extra shutdown signal).
pub async fn serve_with(config: Config, opts: ServeOptions) -> Result<(), vouch_engine::Error> {
    let tls = match &opts.tls {
        Some(t) => Some(tls::acceptor(t)?),
        None => None,
    };
    let app = open_app(config).await?;
    let listen = opts.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| vouch_engine::Error::config(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| vouch_engine::Error::config(e.to_string()))?;
    let scheduler = spawn_scheduler(app.clone());
    let drainer = {
        let app = app.clone();
        tokio::spawn(async move {
            let tick = (app.limiter.window() / 4).max(std::time::Duration::from_millis(250));
            let mut interval = tokio::time::interval(tick);
            loop {
                interval.tick().await;
                log_aggregates(&app, false).await;
            }
        })
    };
    tracing::info!(%addr, tls = tls.is_some(), "vouch serve listening");
    if let Some(tx) = opts.ready {
        let _ = tx.send(addr);
    }
    let extra = opts.shutdown;
    let shutdown = async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let extra = async move {
            match extra {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {}, _ = extra => {} }
        }
        #[cfg(not(unix))]
        tokio::select! { _ = ctrl_c => {}, _ = extra => {} }
    };
    let r = match tls {
        Some(acceptor) => tls::serve(listener, acceptor, router(app.clone()), shutdown).await,
        None => axum::serve(
            listener,
            router(app.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| vouch_engine::Error::config(format!("server: {e}"))),
    };
    if let Some(h) = scheduler {
        h.abort();
        let _ = h.await;
    }
    drainer.abort();
    let _ = drainer.await;
    log_aggregates(&app, true).await;
    r
}

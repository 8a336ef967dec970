//! vouch's HTTP service: the API under `/api/compliance` (seed endpoint names), health,
//! OpenAPI; authentication (API tokens, JWT, local users with sessions and TOTP), the
//! roles matrix, and self-audit: every failed authentication, every read of evidence or
//! packets and every change of state becomes a ledger event.

pub mod api;
pub mod auth;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod roles;
pub mod routes;
pub mod strict;
pub mod tiles;
pub mod tls;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use error::ApiError;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use vouch_engine::{Config, Keys, Ledger};
use vouch_store::Store;

/// Shared state.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<Keys>,
    pub ledger: Ledger,
    pub metrics: Arc<metrics::Metrics>,
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

pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

pub fn router(app: App) -> Router {
    let b = routes::BASE;
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/openapi.json", get(api::openapi))
        .route("/metrics", get(api::metrics))
        .route(&format!("{b}/auth/login"), post(api::login))
        .route(&format!("{b}/auth/whoami"), get(api::whoami))
        .route(&format!("{b}/auth/logout"), post(api::logout))
        .route(&format!("{b}/auth/password"), post(api::change_password))
        .route(&format!("{b}/auth/totp/enroll"), post(api::totp_enroll))
        .route(&format!("{b}/auth/totp/disable"), post(api::totp_disable))
        .route(&format!("{b}/auth/totp/verify"), post(api::totp_verify))
        .route(
            &format!("{b}/audit-logs"),
            post(api::ingest).get(api::query),
        )
        .route(&format!("{b}/audit-logs/export"), get(api::export))
        .route(&format!("{b}/audit-logs/verify"), get(api::verify))
        .route(&format!("{b}/ledger/checkpoint"), get(api::checkpoint))
        .route(&format!("{b}/ledger/proof"), get(api::proof))
        .route(&format!("{b}/ledger/consistency"), get(api::consistency))
        .route(&format!("{b}/public-key"), get(api::public_key))
        .route(&format!("{b}/ledger/tile/{{*path}}"), get(api::tile))
        .route(&format!("{b}/soc2-packet"), get(api::packet))
        .route(&format!("{b}/evidence"), get(api::evidence_list))
        .route(&format!("{b}/evidence/export"), get(api::evidence_export))
        .route(&format!("{b}/evidence/{{id}}"), get(api::evidence_get))
        .route(
            &format!("{b}/controls/{{id}}/evidence"),
            get(api::control_evidence),
        )
        .route(&format!("{b}/status"), get(api::status))
        .route(
            &format!("{b}/findings"),
            get(api::findings_list).post(api::findings_open),
        )
        .route(&format!("{b}/findings/{{id}}"), patch(api::findings_update))
        .route(&format!("{b}/collections"), get(api::collections))
        .route(&format!("{b}/checks/run"), post(api::run_checks))
        .route(&format!("{b}/jobs"), get(api::jobs_list))
        .route(&format!("{b}/jobs/{{name}}/runs"), get(api::job_runs))
        .route(&format!("{b}/jobs/{{name}}/run"), post(api::job_run))
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(app)
}

/// Every response carries an `x-request-id` (the caller's, or a new UUID); every
/// request has a deadline.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut resp = if let Some(e) = too_large(&req) {
        e.into_response()
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long",
            )
            .into_response(),
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Longest request target (path and query) answered normally.
pub const MAX_URI: usize = 8 * 1024;
/// Most header bytes and headers in a request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;

/// 414 / 431 with the JSON error shape (hyper's own, larger limits answer bare).
fn too_large(req: &Request) -> Option<ApiError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI {
        return Some(
            ApiError::new(
                axum::http::StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!("the request target is {target} bytes; at most {MAX_URI}"),
            )
            .details(json!({"limit": MAX_URI})),
        );
    }
    let h = req.headers();
    let bytes: usize = h
        .iter()
        .map(|(k, v)| k.as_str().len() + v.as_bytes().len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES || h.len() > MAX_HEADERS {
        return Some(
            ApiError::new(
                axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!(
                    "{} headers, {bytes} bytes; at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes",
                    h.len()
                ),
            )
            .details(json!({"limit_bytes": MAX_HEADER_BYTES, "limit_headers": MAX_HEADERS})),
        );
    }
    None
}

/// A JSON body must say so: `Content-Type: application/json` (parameters allowed).
#[allow(clippy::result_large_err)]
fn json_content_type(req: &Request) -> Result<(), Response> {
    let ct = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        if ct.is_empty() {
            "the body must be sent with Content-Type: application/json".to_string()
        } else {
            format!(
                "Content-Type `{}` is not accepted; send application/json",
                media.chars().take(64).collect::<String>()
            )
        },
    )
    .into_response())
}

/// Authentication and authorization from the route table, then self-audit.
/// Count every request by method, route template and status, around the guard.
async fn guard(
    State(app): State<App>,
    peer: ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = authorize(State(app.clone()), peer, req, next).await;
    app.metrics
        .request(method.as_str(), &route, resp.status().as_u16());
    resp
}

async fn authorize(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        return next.run(req).await; // 404 / 405 fallbacks
    };
    let Some(route) = routes::find(method.as_str(), &path) else {
        return next.run(req).await;
    };
    let ip = peer.ip().to_string();
    let resource = req.uri().path().to_string();
    let login = path.ends_with("/auth/login");
    // One ledger event per failure window the limiter lets through (it aggregates repeats).
    let failed_authentication = |status: u16| {
        audit(
            &app,
            "anonymous",
            &ip,
            &format!("api.{} {}", method, path),
            "api",
            &resource,
            "failure",
            "authentication",
            status,
        )
    };
    if route.perm == roles::Perm::Public && !login {
        return next.run(req).await;
    }
    // An address over its failure limit is refused before any credential is checked.
    if let Some(secs) = app.limiter.retry_after(&ip) {
        if app.limiter.record(&ip, None, true) {
            failed_authentication(429);
        }
        return too_many_failures(secs);
    }
    if login {
        if let Err(r) = json_content_type(&req) {
            return r;
        }
        let resp = next.run(req).await;
        let tried = resp
            .extensions()
            .get::<api::LoginAttempt>()
            .map(|a| a.0.clone());
        let actor = tried
            .as_deref()
            .map(|u| format!("user:{u}"))
            .unwrap_or_else(|| "anonymous".into());
        let status = resp.status();
        // A lock is recorded whatever the failure limiter says (once per lock; only real
        // accounts can be locked), so admins see it though the answer hides it.
        if resp.extensions().get::<api::AccountLocked>().is_some() {
            audit(
                &app,
                &actor,
                &ip,
                "auth.account_locked",
                "user",
                &actor,
                "failure",
                "authentication",
                status.as_u16(),
            );
        }
        if status.is_success() {
            audit(
                &app,
                &actor,
                &ip,
                "auth.login",
                "session",
                &resource,
                "success",
                "authentication",
                status.as_u16(),
            );
        } else if app.limiter.record(&ip, tried.as_deref(), false) {
            audit(
                &app,
                &actor,
                &ip,
                "auth.login",
                "session",
                &resource,
                "failure",
                "authentication",
                status.as_u16(),
            );
        }
        return resp;
    }
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    let dir = app
        .config
        .file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let headers = req.headers().clone();
    let who =
        tokio::task::spawn_blocking(move || auth::authenticate(&store, &settings, &dir, &headers))
            .await;
    let who = match who {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            if app.limiter.record(&ip, None, false) {
                failed_authentication(e.status.as_u16());
            }
            return e.into_response();
        }
        Err(e) => return ApiError::internal(e).into_response(),
    };
    if !roles::allows(who.role, route.perm) {
        audit(
            &app,
            &who.actor,
            &ip,
            &format!("api.{} {}", method, path),
            "api",
            &resource,
            "denied",
            "authorization",
            403,
        );
        return ApiError::forbidden(format!(
            "role `{}` may not {} {}",
            who.role.as_str(),
            method,
            path
        ))
        .into_response();
    }
    req.extensions_mut().insert(who.clone());
    let resp = if route.body {
        match json_content_type(&req) {
            Ok(()) => next.run(req).await,
            Err(r) => r,
        }
    } else {
        next.run(req).await
    };
    // Reads of evidence and packets, and every change of state, are evidence too. A
    // successful ingest is its own record (the events are in the ledger).
    let reads = matches!(
        route.perm,
        roles::Perm::ReadEvidence | roles::Perm::ReadPackets | roles::Perm::ExportLedger
    );
    let ingest_ok = route.perm == roles::Perm::Ingest && resp.status().is_success();
    if (method != Method::GET || reads) && !ingest_ok {
        let result = if resp.status().is_success() {
            "success"
        } else {
            "failure"
        };
        let category = if method == Method::GET {
            "data_access"
        } else {
            "data_modification"
        };
        audit(
            &app,
            &who.actor,
            &ip,
            &format!("api.{} {}", method, path),
            "api",
            &resource,
            result,
            category,
            resp.status().as_u16(),
        );
    }
    resp
}

/// 429 for an address over its limit of failed authentications.
fn too_many_failures(secs: u64) -> Response {
    let mut r = ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        format!("too many failed authentications from this address; try again in {secs} s"),
    )
    .details(json!({"retry_after": secs}))
    .into_response();
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    r
}

/// The failures of a closed window after its first, as one event.
fn aggregate_event(a: &limiter::Aggregate) -> Value {
    json!({
        "timestamp": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "action": "auth.failures", "category": "authentication", "result": "failure",
        "actor": {"id": "anonymous", "email": null, "ip": a.ip},
        "resource": {"type": "api", "id": routes::BASE, "name": null},
        "details": {"description": format!(
            "{} more failed authentication(s) from {} between {} and {}{}",
            a.count, a.ip,
            vouch_core::event::format_timestamp(&a.from),
            vouch_core::event::format_timestamp(&a.to),
            if a.limited > 0 { format!(" ({} refused by the rate limit)", a.limited) } else { String::new() }
        )},
        "metadata": {
            "source": "vouch-serve", "count": a.count, "rate_limited": a.limited,
            "window_start": vouch_core::event::format_timestamp(&a.from),
            "window_end": vouch_core::event::format_timestamp(&a.to),
            "usernames": a.names, "more_usernames": a.more_names,
        },
    })
}

/// Append aggregates and wait for the commit.
async fn log_aggregates(app: &App, all: bool) {
    let events: Vec<_> = app
        .limiter
        .drain(all)
        .iter()
        .filter_map(|a| vouch_core::event::Event::from_value(aggregate_event(a)).ok())
        .collect();
    if events.is_empty() {
        return;
    }
    match app.ledger.submit(events) {
        Ok(rx) => {
            if let Ok(Err(e)) = rx.await {
                tracing::error!(error = %e, "failed-authentication counts were not appended");
            }
        }
        Err(e) => tracing::error!(error = %e, "failed-authentication counts were not appended"),
    }
}

#[allow(clippy::too_many_arguments)]
fn audit(
    app: &App,
    actor: &str,
    ip: &str,
    action: &str,
    rtype: &str,
    resource: &str,
    result: &str,
    category: &str,
    status: u16,
) {
    let ev = json!({
        "timestamp": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "action": action, "category": category, "result": result,
        "actor": {"id": actor, "email": null, "ip": ip},
        "resource": {"type": rtype, "id": resource, "name": null},
        "details": {"description": format!("{action} → HTTP {status}")},
        "metadata": {"status": status, "source": "vouch-serve"},
    });
    match vouch_core::event::Event::from_value(ev) {
        Ok(e) => {
            if let Ok(rx) = app.ledger.submit(vec![e]) {
                tokio::spawn(async move {
                    if let Ok(Err(e)) = rx.await {
                        tracing::error!(error = %e, "self-audit event was not appended");
                    }
                });
            }
        }
        Err(e) => tracing::error!(error = %e, "self-audit event is invalid"),
    }
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

pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// PEM files for serving HTTPS directly (deployments without a TLS-terminating proxy).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// How to serve.
pub struct ServeOptions {
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

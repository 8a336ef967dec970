//! vouch's HTTP service: the API under `/api/compliance` (seed endpoint names), health,
//! OpenAPI; authentication (API tokens, JWT, local users with sessions and TOTP), the
//! roles matrix, and self-audit: every failed authentication, every read of evidence or
//! packets and every change of state becomes a ledger event.

pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod roles;
pub mod routes;
pub mod tiles;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use error::ApiError;
use serde_json::json;
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
        .route(&format!("{b}/auth/totp/enroll"), post(api::totp_enroll))
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
    let mut resp = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        )
        .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
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
    if route.perm == roles::Perm::Public {
        let resp = next.run(req).await;
        if path.ends_with("/auth/login") {
            let ok = resp.status().is_success();
            audit(
                &app,
                "anonymous",
                &ip,
                "auth.login",
                "session",
                &resource,
                if ok { "success" } else { "failure" },
                "authentication",
                resp.status().as_u16(),
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
            audit(
                &app,
                "anonymous",
                &ip,
                &format!("api.{} {}", method, path),
                "api",
                &resource,
                "failure",
                "authentication",
                e.status.as_u16(),
            );
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
    let resp = next.run(req).await;
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
fn spawn_scheduler(app: App) {
    if std::env::var("VOUCH_SCHEDULER").as_deref() == Ok("off") {
        return;
    }
    tokio::spawn(async move {
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
    });
}

pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// Serve until Ctrl-C / SIGTERM; in-flight requests (appends included) finish first.
pub async fn serve(
    config: Config,
    listen: SocketAddr,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), vouch_engine::Error> {
    // The PostgreSQL client is synchronous and runs its own runtime: open it off the
    // async context (a nested block_on panics).
    let (store, keys, ledger) = tokio::task::block_in_place(|| vouch_engine::open(&config))?;
    let app = App {
        config: Arc::new(config),
        store,
        keys: Arc::new(keys),
        ledger,
        metrics: Arc::default(),
    };
    spawn_scheduler(app.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| vouch_engine::Error::Config(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| vouch_engine::Error::Config(e.to_string()))?;
    tracing::info!(%addr, "vouch serve listening");
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| vouch_engine::Error::Config(format!("server: {e}")))
}

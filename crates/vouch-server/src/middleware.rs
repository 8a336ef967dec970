//! The middleware around every route: a request id and a deadline, limits on the
//! request target and headers, and the guard: authentication and authorization from the
//! route table, `Content-Type` of JSON bodies, self-audit of failures, reads and changes,
//! and request metrics.

use crate::error::ApiError;
use crate::handlers::session::{AccountLocked, LoginAttempt};
use crate::self_audit::audit;
use crate::{auth, roles, routes, App};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;

/// How long a request may take before it is answered 503.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Every response carries an `x-request-id` (the caller's, or a new UUID) and a
/// `Server-Timing: app;dur=MS` header (the server's time from here to the response's
/// head: limits, guard, handler, self-audit; not the network), which `vouch-bench
/// dashboard` reads; every request has a deadline.
pub async fn request_id(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
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
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long",
            )
            .into_response(),
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}

/// Longest request target (path and query) answered normally.
pub const MAX_URI: usize = 8 * 1024;
/// Most header bytes in a request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers in a request.
pub const MAX_HEADERS: usize = 64;

/// 414 / 431 with the JSON error shape (hyper's own, larger limits answer bare).
fn too_large(req: &Request) -> Option<ApiError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI {
        return Some(
            ApiError::new(
                StatusCode::URI_TOO_LONG,
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
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
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
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
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
pub async fn guard(
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

/// Authentication, authorization and self-audit for a route of the table.
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
    // axum answers HEAD with the GET handler, so HEAD needs GET's permission: a HEAD
    // that found no route here would otherwise run a handler unauthenticated.
    let lookup = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let Some(route) = routes::find(lookup, &path) else {
        return next.run(req).await; // 405: no handler for this method
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
        return login_attempt(&app, &ip, &resource, req, next).await;
    }
    let who = match authenticate(&app, req.headers().clone()).await {
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
    audit_outcome(
        &app,
        route,
        &method,
        &path,
        &who.actor,
        &ip,
        &resource,
        resp.status(),
    );
    resp
}

/// The caller named by the request's credentials (on the blocking pool: tokens and
/// sessions are looked up in the database); the outer error is the blocking task's.
async fn authenticate(
    app: &App,
    headers: HeaderMap,
) -> Result<Result<auth::Principal, ApiError>, tokio::task::JoinError> {
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    let dir = app
        .config
        .file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    tokio::task::spawn_blocking(move || auth::authenticate(&store, &settings, &dir, &headers)).await
}

/// A login: its body must be JSON; the attempt (and a lock it caused) is audited, a
/// failure counted by the limiter.
async fn login_attempt(app: &App, ip: &str, resource: &str, req: Request, next: Next) -> Response {
    if let Err(r) = json_content_type(&req) {
        return r;
    }
    let resp = next.run(req).await;
    let tried = resp.extensions().get::<LoginAttempt>().map(|a| a.0.clone());
    let actor = tried
        .as_deref()
        .map(|u| format!("user:{u}"))
        .unwrap_or_else(|| "anonymous".into());
    let status = resp.status();
    // A lock is recorded whatever the failure limiter says (once per lock; only real
    // accounts can be locked), so admins see it though the answer hides it.
    if resp.extensions().get::<AccountLocked>().is_some() {
        audit(
            app,
            &actor,
            ip,
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
            app,
            &actor,
            ip,
            "auth.login",
            "session",
            resource,
            "success",
            "authentication",
            status.as_u16(),
        );
    } else if app.limiter.record(ip, tried.as_deref(), false) {
        audit(
            app,
            &actor,
            ip,
            "auth.login",
            "session",
            resource,
            "failure",
            "authentication",
            status.as_u16(),
        );
    }
    resp
}

/// Reads of evidence and packets, and every change of state, are evidence too: one
/// self-audit event for the answer a caller got.
#[allow(clippy::too_many_arguments)]
fn audit_outcome(
    app: &App,
    route: &routes::Route,
    method: &Method,
    path: &str,
    actor: &str,
    ip: &str,
    resource: &str,
    status: StatusCode,
) {
    // Reads of evidence and packets, and every change of state, are evidence too. A
    // successful ingest is its own record (the events are in the ledger).
    let reads = matches!(
        route.perm,
        roles::Perm::ReadEvidence | roles::Perm::ReadPackets | roles::Perm::ExportLedger
    );
    let ingest_ok = route.perm == roles::Perm::Ingest && status.is_success();
    if (*method != Method::GET || reads) && !ingest_ok {
        // A dashboard form answers a success with 303 (post/redirect/get).
        let result = if status.is_success() || status.is_redirection() {
            "success"
        } else {
            "failure"
        };
        let category = if *method == Method::GET {
            "data_access"
        } else {
            "data_modification"
        };
        audit(
            app,
            actor,
            ip,
            &format!("api.{} {}", method, path),
            "api",
            resource,
            result,
            category,
            status.as_u16(),
        );
    }
}

/// 429 for an address over its limit of failed authentications.
fn too_many_failures(secs: u64) -> Response {
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        format!("too many failed authentications from this address; try again in {secs} s"),
    )
    .details(json!({"retry_after": secs}))
    .into_response();
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    r
}

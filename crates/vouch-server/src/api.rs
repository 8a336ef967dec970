//! Handlers. Engine calls are synchronous (rusqlite / postgres), so each handler runs
//! its work on the blocking pool; appends go through the sequencer's async `submit`.

use crate::auth::{self, Principal};
use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use vouch_core::period::Period;

pub const MAX_BODY: usize = 16 * 1024 * 1024;
pub const MAX_BATCH: usize = 10_000;

/// Parse a query string strictly: percent-decoding, no duplicate keys.
pub fn params(raw: Option<String>) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let raw = raw.unwrap_or_default();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| -> ApiResult<String> {
            let s = s.replace('+', " ");
            let b = s.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let h = b
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    out.push(h.ok_or_else(|| {
                        ApiError::bad("malformed percent-encoding in the query string")
                    })?);
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).map_err(|_| ApiError::bad("the query string is not UTF-8"))
        };
        let (k, v) = (dec(k)?, dec(v)?);
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError::bad(format!("parameter `{k}` is given twice")));
        }
    }
    Ok(out)
}

fn only(params: &HashMap<String, String>, known: &[&str]) -> ApiResult<()> {
    for k in params.keys() {
        if !known.contains(&k.as_str()) {
            return Err(ApiError::bad(format!("unknown parameter `{k}`"))
                .details(json!({"parameter": k, "known": known})));
        }
    }
    Ok(())
}

async fn body_json(body: Body) -> ApiResult<Value> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    })?;
    crate::strict::parse(&bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            // Well-formed JSON that we refuse: a key given twice.
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "duplicate_key",
                format!("the body repeats a key: {e}"),
            )
        } else {
            ApiError::bad(format!("the body is not valid JSON: {e}"))
        }
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn period_param(p: &HashMap<String, String>, key: &str) -> ApiResult<Period> {
    let text = p.get(key).map(String::as_str).unwrap_or("last-month");
    Period::parse(text, chrono::Utc::now())
        .map_err(|e| ApiError::bad(format!("{key}: {e}")).details(json!({"parameter": key})))
}

// ---------------------------------------------------------------- health, auth

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok", "version": vouch_engine::VERSION}))
}

/// Least free space on a SQLite database's file system for the server to be ready.
pub const MIN_FREE_BYTES: u64 = 4 * 1024 * 1024;

/// For SQLite: the database's file system is read-only or (nearly) full. A small probe
/// write can still fit in an existing WAL file when the disk is full, so look.
fn sqlite_disk_problem(url: &str) -> Option<String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let dir = std::path::Path::new(url).parent()?;
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    if st.f_flag & libc::ST_RDONLY != 0 {
        return Some("the database's file system is read-only".into());
    }
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let free = u64::from(st.f_bavail) * u64::from(st.f_frsize);
    (free < MIN_FREE_BYTES)
        .then(|| format!("the database's file system is full ({free} bytes free)"))
}

/// Ready when the database answers a read and takes a write (a full or read-only disk
/// is not ready: 503 with `Retry-After`).
pub async fn readyz(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let url = app.config.database_url();
    let size = blocking(move || {
        let size = store.head()?.size;
        if let Some(why) = sqlite_disk_problem(&url) {
            return Err(
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", why).retry_after(30),
            );
        }
        let at = vouch_core::event::format_timestamp(&chrono::Utc::now());
        store.write(&mut |sql| {
            sql.execute(
                "UPDATE readiness_probe SET checked_at = $1 WHERE id = 1",
                &[at.clone().into()],
            )?;
            Ok(())
        })?;
        Ok(size)
    })
    .await
    .map_err(|e| {
        if e.status == StatusCode::SERVICE_UNAVAILABLE {
            e
        } else {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
            )
            .retry_after(10)
        }
    })?;
    Ok(axum::Json(json!({"status": "ready", "tree_size": size})))
}

pub async fn metrics(State(app): State<App>) -> ApiResult<Response> {
    let a = app.clone();
    let db = blocking(move || crate::metrics::read_db(&a)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(&db),
    )
        .into_response())
}

pub async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document())
}

/// The username a login tried, for the self-audit event (never the password).
#[derive(Debug, Clone)]
pub struct LoginAttempt(pub String);

/// This failed login locked the account (recorded in the ledger; the answer is the same
/// 401 as any failure).
#[derive(Debug, Clone, Copy)]
pub struct AccountLocked;

/// A JSON object body whose fields are all known; an unknown one is 422, named.
pub fn object_fields<'a>(
    v: &'a Value,
    known: &[&str],
) -> ApiResult<&'a serde_json::Map<String, Value>> {
    let o = v
        .as_object()
        .ok_or_else(|| ApiError::bad("the body must be a JSON object"))?;
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_field",
                format!("unknown field `{k}`"),
            )
            .details(json!({"field": k, "known": known})));
        }
    }
    Ok(o)
}

/// A string field: absent → None; present but not a string → 422 naming it.
fn str_field(o: &serde_json::Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("`{k}` must be a string"),
        )
        .details(json!({"field": k}))),
    }
}

fn required(o: &serde_json::Map<String, Value>, k: &str) -> ApiResult<String> {
    str_field(o, k)?
        .ok_or_else(|| ApiError::bad(format!("`{k}` is required")).details(json!({"field": k})))
}

fn session_cookie(token: &str, max_age: u64) -> ApiResult<HeaderValue> {
    // `Secure` always: behind a TLS proxy or with --tls-cert, browsers send it back.
    HeaderValue::from_str(&format!(
        "vouch_session={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}"
    ))
    .map_err(ApiError::internal)
}

pub async fn login(State(app): State<App>, body: Body) -> Response {
    let mut tried = None;
    let locked_now = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = async {
        let v = body_json(body).await?;
        let o = object_fields(&v, &["username", "password", "totp_code"])?;
        tried = str_field(o, "username")
            .ok()
            .flatten()
            .map(|u| u.chars().take(128).collect::<String>());
        let (user, pw) = (required(o, "username")?, required(o, "password")?);
        let code = str_field(o, "totp_code")?;
        let settings = app.config.settings.auth.clone();
        let store = app.store.clone();
        let lock = locked_now.clone();
        let (token, info) = blocking(move || {
            let mut newly = false;
            let r =
                auth::login_noting_lock(&store, &settings, &user, &pw, code.as_deref(), &mut newly);
            lock.store(newly, std::sync::atomic::Ordering::Relaxed);
            r
        })
        .await?;
        let mut resp = axum::Json(json!({"token": token, "user": info})).into_response();
        resp.headers_mut().insert(
            header::SET_COOKIE,
            session_cookie(
                &token,
                u64::from(app.config.settings.auth.session_hours) * 3600,
            )?,
        );
        Ok::<_, ApiError>(resp)
    }
    .await;
    let mut resp = r.unwrap_or_else(IntoResponse::into_response);
    if locked_now.load(std::sync::atomic::Ordering::Relaxed) {
        resp.extensions_mut().insert(AccountLocked);
    }
    if let Some(u) = tried.filter(|u| !u.is_empty()) {
        resp.extensions_mut().insert(LoginAttempt(u));
    }
    resp
}

pub async fn logout(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    let session = p.session.clone().ok_or_else(|| {
        ApiError::bad("logout ends a session; revoke API tokens with `vouch tokens revoke`")
    })?;
    let store = app.store.clone();
    blocking(move || auth::logout(&store, &session)).await?;
    let mut resp = axum::Json(json!({"logged_out": true})).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0)?);
    Ok(resp)
}

pub async fn whoami(Extension(p): Extension<Principal>) -> impl IntoResponse {
    axum::Json(json!(p))
}

fn username(p: &Principal) -> ApiResult<String> {
    p.actor
        .strip_prefix("user:")
        .filter(|_| p.session.is_some())
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad("this is for local users logged in with a session"))
}

pub async fn totp_enroll(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let u = username(&p)?;
    let v = body_json(body).await?;
    let o = object_fields(&v, &["password", "code"])?;
    let (pw, code) = (required(o, "password")?, str_field(o, "code")?);
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    Ok(axum::Json(
        blocking(move || auth::totp_enroll(&store, &settings, &u, &pw, code.as_deref())).await?,
    ))
}

pub async fn totp_verify(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let u = username(&p)?;
    let v = body_json(body).await?;
    let o = object_fields(&v, &["code"])?;
    let code = required(o, "code")?;
    let store = app.store.clone();
    let session = p.session.clone();
    blocking(move || auth::totp_confirm(&store, &u, &code, session.as_deref())).await?;
    Ok(axum::Json(json!({"totp_enabled": true})))
}

pub async fn totp_disable(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let u = username(&p)?;
    let v = body_json(body).await?;
    let o = object_fields(&v, &["password", "code"])?;
    let (pw, code) = (required(o, "password")?, str_field(o, "code")?);
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    let session = p.session.clone();
    blocking(move || {
        auth::totp_disable(
            &store,
            &settings,
            &u,
            &pw,
            code.as_deref(),
            session.as_deref(),
        )
    })
    .await?;
    Ok(axum::Json(json!({"totp_enabled": false})))
}

pub async fn change_password(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let u = username(&p)?;
    let v = body_json(body).await?;
    let o = object_fields(&v, &["current_password", "new_password", "code"])?;
    let (current, new, code) = (
        required(o, "current_password")?,
        required(o, "new_password")?,
        str_field(o, "code")?,
    );
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    let session = p.session.clone();
    blocking(move || {
        auth::change_password(
            &store,
            &settings,
            &u,
            &current,
            &new,
            code.as_deref(),
            session.as_deref(),
        )
    })
    .await?;
    Ok(axum::Json(json!({"password_changed": true})))
}

// ---------------------------------------------------------------- audit logs

pub async fn ingest(State(app): State<App>, body: Body) -> ApiResult<Response> {
    let v = body_json(body).await?;
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(ApiError::bad(
                "the body must be an event object or an array of events",
            ))
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad("the array is empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "at most {MAX_BATCH} events per request, got {}",
                items.len()
            ),
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        // vouch's own records are told apart by their actor and self-audit source
        // (vouch_engine::audit::OWN_MARKERS); a client may not pass for vouch.
        if let Some(field) = reserved_field(&item) {
            errors.push(json!({"index": i, "field": field,
                "message": format!("`{field}` names vouch itself, which is reserved for vouch's own events")}));
            continue;
        }
        // Every field at fault in the event, each with its index.
        match vouch_core::event::Event::from_value_all(item) {
            Ok(e) => events.push(e),
            Err(es) => errors.extend(
                es.into_iter()
                    .map(|e| json!({"index": i, "field": e.field, "message": e.message})),
            ),
        }
    }
    if !errors.is_empty() {
        let mut bad: Vec<&Value> = errors.iter().map(|e| &e["index"]).collect();
        bad.dedup();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_events",
            format!("{} invalid event(s); nothing was appended", bad.len()),
        )
        .details(json!({"errors": errors})));
    }
    let started = std::time::Instant::now();
    let rx = app.ledger.submit(events)?;
    let appended = rx
        .await
        .map_err(|_| ApiError::internal("the sequencer stopped"))??;
    app.metrics
        .append_latency
        .observe(started.elapsed().as_secs_f64());
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({"seqs": appended.seqs, "new": appended.new, "tree_size": appended.tree_size}),
        ),
    )
        .into_response())
}

/// The field of an ingested event that claims to be vouch's own record, if any.
fn reserved_field(item: &Value) -> Option<&'static str> {
    if item.pointer("/actor/id").and_then(Value::as_str) == Some("vouch") {
        Some("actor.id")
    } else if item.get("actor_id").and_then(Value::as_str) == Some("vouch") {
        Some("actor_id")
    } else if item.pointer("/metadata/source").and_then(Value::as_str) == Some("vouch-serve") {
        Some("metadata.source")
    } else {
        None
    }
}

pub async fn query(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    if p.contains_key("format") {
        return Err(ApiError::bad(
            "use /api/compliance/audit-logs/export for CSV or NDJSON",
        ));
    }
    let q = crate::query::parse(&p)?;
    let store = app.store.clone();
    let (page, per_page) = (q.page, q.per_page);
    let (data, next) = blocking(move || crate::query::run(&store, &q, q.per_page)).await?;
    Ok(axum::Json(
        json!({"data": data, "page": page, "per_page": per_page, "next_cursor": next}),
    ))
}

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub async fn export(State(app): State<App>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let mut p = params(raw)?;
    let format = p.remove("format").unwrap_or_else(|| "ndjson".into());
    if format != "ndjson" && format != "csv" {
        return Err(
            ApiError::bad("format must be ndjson or csv").details(json!({"parameter": "format"}))
        );
    }
    let mut q = crate::query::parse(&p)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let store = app.store.clone();
    let csv = format == "csv";
    // Stream page by page from a blocking thread.
    tokio::task::spawn_blocking(move || {
        if csv {
            let _ = tx.blocking_send(Ok(b"seq,id,timestamp,organization_id,actor_id,action,category,resource_type,resource_id,result\n".to_vec()));
        }
        loop {
            let (rows, next) = match crate::query::run(&store, &q, 1000) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
                    return;
                }
            };
            let mut buf = Vec::new();
            for r in &rows {
                if csv {
                    let f = |ptr: &str| csv_field(r.pointer(ptr).unwrap_or(&Value::Null));
                    buf.extend_from_slice(
                        [
                            f("/seq"),
                            f("/id"),
                            f("/timestamp"),
                            f("/organization_id"),
                            f("/actor/id"),
                            f("/action"),
                            f("/category"),
                            f("/resource/type"),
                            f("/resource/id"),
                            f("/result"),
                        ]
                        .join(",")
                        .as_bytes(),
                    );
                } else {
                    buf.extend_from_slice(vouch_core::canonical::to_string(r).as_bytes());
                }
                buf.push(b'\n');
            }
            if tx.blocking_send(Ok(buf)).is_err() {
                return;
            }
            match next {
                Some(c) => q.cursor = Some(c),
                None => return,
            }
        }
    });
    let stream = futures_stream(rx);
    let ct = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    Ok(([(header::CONTENT_TYPE, ct)], Body::from_stream(stream)).into_response())
}

/// A `Stream` over an mpsc receiver (without pulling in a stream utility crate).
fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct S(tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}

pub async fn verify(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let ledger = app.ledger.clone();
    let r = blocking(move || Ok(ledger.verify(&Default::default())?)).await?;
    if !r.valid {
        app.metrics
            .verify_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(axum::Json(json!(r)))
}

pub async fn checkpoint(State(app): State<App>) -> ApiResult<Response> {
    let (ledger, store) = (app.ledger.clone(), app.store.clone());
    // The latest checkpoint, signing one for the current head if events arrived since.
    let c = blocking(move || {
        let size = store.head()?.size;
        match ledger.latest_checkpoint()? {
            Some(c) if c.size == size => Ok(Some(c)),
            _ if size == 0 => Ok(None),
            _ => Ok(Some(ledger.checkpoint()?)),
        }
    })
    .await?;
    match c {
        Some(c) => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            c.note,
        )
            .into_response()),
        None => Err(ApiError::not_found(
            "no checkpoint yet: the ledger is empty",
        )),
    }
}

fn int_param(p: &HashMap<String, String>, k: &str) -> ApiResult<Option<u64>> {
    p.get(k)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad(format!("{k} must be a non-negative integer"))
                    .details(json!({"parameter": k}))
            })
        })
        .transpose()
}

pub async fn proof(State(app): State<App>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let p = params(raw)?;
    only(&p, &["index", "size"])?;
    let index = int_param(&p, "index")?
        .ok_or_else(|| ApiError::bad("index is required").details(json!({"parameter": "index"})))?;
    let size = int_param(&p, "size")?;
    let ledger = app.ledger.clone();
    let text = blocking(move || Ok(ledger.inclusion_proof(index, size)?)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

pub async fn consistency(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["from", "to"])?;
    let from = int_param(&p, "from")?.ok_or_else(|| ApiError::bad("from is required"))?;
    let to = int_param(&p, "to")?.ok_or_else(|| ApiError::bad("to is required"))?;
    if from > to {
        return Err(
            ApiError::bad(format!("`from` ({from}) is after `to` ({to})"))
                .details(json!({"parameter": "from"})),
        );
    }
    let ledger = app.ledger.clone();
    let c = blocking(move || Ok(ledger.consistency_proof(from, to)?)).await?;
    Ok(axum::Json(
        json!({"from": c.from, "to": c.to, "from_root": c.from_root, "to_root": c.to_root, "proof": c.proof, "from_checkpoint": c.from_checkpoint, "to_checkpoint": c.to_checkpoint}),
    ))
}

pub async fn tile(State(app): State<App>, Path(path): Path<String>) -> ApiResult<Response> {
    let t = crate::tiles::parse(&path)?;
    let (ledger, store) = (app.ledger.clone(), app.store.clone());
    let bytes = blocking(move || {
        let size = ledger.latest_checkpoint()?.map(|c| c.size).unwrap_or(0);
        crate::tiles::read(&store, &t, size)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

pub async fn public_key(State(app): State<App>) -> impl IntoResponse {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        app.keys.signing_public_pem(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&app.keys.log_verifier().to_vkey()) {
        resp.headers_mut().insert("x-log-verifier-key", v);
    }
    resp
}

// ---------------------------------------------------------------- packets, evidence

/// A period from start and end parameters; a plain end date includes that day
/// (seed 000 passes `endDate=2026-10-31` for October).
fn period_between(start: &str, end: &str) -> Result<Period, String> {
    let end = crate::query::inclusive_end(end);
    Period::parse(&format!("{start}..{end}"), chrono::Utc::now()).map_err(|e| e.to_string())
}

pub async fn packet(State(app): State<App>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let p = params(raw)?;
    only(&p, &["startDate", "endDate", "format"])?;
    let get = |k: &str| {
        p.get(k).cloned().ok_or_else(|| {
            ApiError::bad(format!("{k} is required")).details(json!({"parameter": k}))
        })
    };
    let (start, end) = (get("startDate")?, get("endDate")?);
    let pdf = match p.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(_) => return Err(ApiError::bad("format must be json or pdf")),
    };
    let period = period_between(&start, &end)
        .map_err(|e| ApiError::bad(format!("startDate/endDate: {e}")))?;
    let (config, keys, ledger) = (app.config.clone(), app.keys.clone(), app.ledger.clone());
    let (bytes, sig) = blocking(move || {
        let dir = config
            .data_dir
            .join("packets")
            .join(vouch_engine::packet::build::period_slug(&period));
        let file = if pdf {
            vouch_engine::packet::PDF_FILE
        } else {
            vouch_engine::packet::JSON_FILE
        };
        if !dir.join(file).exists() {
            let req = vouch_engine::packet::Request {
                period,
                generated_at: None,
                format: vouch_engine::packet::Format::Both,
                out: dir.clone(),
                force: true,
            };
            vouch_engine::packet::generate(&config, &keys, &ledger, &req)?;
        }
        let bytes = std::fs::read(dir.join(file)).map_err(ApiError::internal)?;
        let sig =
            std::fs::read_to_string(dir.join(format!("{file}.sig"))).map_err(ApiError::internal)?;
        Ok((bytes, sig.trim().to_string()))
    })
    .await?;
    app.metrics
        .packet_size
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            if pdf { "pdf" } else { "json" }.to_string(),
            bytes.len() as u64,
        );
    let ct = if pdf {
        "application/pdf"
    } else {
        "application/json"
    };
    let mut resp = ([(header::CONTENT_TYPE, ct)], bytes).into_response();
    resp.headers_mut().insert(
        "x-evidence-signature",
        HeaderValue::from_str(&sig).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

pub async fn evidence_list(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["evidence_id", "period", "limit"])?;
    let period = p
        .get("period")
        .map(|_| period_param(&p, "period"))
        .transpose()?;
    let limit = int_param(&p, "limit")?.unwrap_or(100).min(1000);
    let store = app.store.clone();
    let id = p.get("evidence_id").cloned();
    let items = blocking(move || {
        vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: id,
                period,
                limit: Some(limit),
            },
        )
        .map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    Ok(axum::Json(json!(items
        .iter()
        .map(|i| &i.record)
        .collect::<Vec<_>>())))
}

pub async fn evidence_get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let item = blocking(move || {
        vouch_engine::evidence::get(&store, &id).map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    let mut v = item.record.clone();
    v["ledger_seq"] = json!(item.ledger_seq);
    Ok(axum::Json(v))
}

pub async fn evidence_export(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let p = params(raw)?;
    only(&p, &["criteria", "period_start", "period_end", "format"])?;
    // The format first: a bad one is named even when the period is missing too.
    let format = p.get("format").cloned().unwrap_or_else(|| "json".into());
    if !["json", "csv", "pdf"].contains(&format.as_str()) {
        return Err(ApiError::bad(format!(
            "format must be json, csv or pdf, not `{}`",
            format.chars().take(64).collect::<String>()
        ))
        .details(json!({"parameter": "format"})));
    }
    let get = |k: &str| {
        p.get(k).cloned().ok_or_else(|| {
            ApiError::bad(format!("{k} is required")).details(json!({"parameter": k}))
        })
    };
    let period = period_between(&get("period_start")?, &get("period_end")?)
        .map_err(|e| ApiError::bad(format!("period_start/period_end: {e}")))?;
    let criteria: Vec<String> = p
        .get("criteria")
        .map(|c| {
            c.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for c in &criteria {
        if vouch_core::tsc::criterion(c).is_none() {
            return Err(
                ApiError::bad(format!("`{c}` is not a Trust Services Criterion"))
                    .details(json!({"parameter": "criteria"})),
            );
        }
    }
    let (period_label, period_start, period_end) = (
        period.label.clone(),
        vouch_core::event::format_timestamp(&period.start),
        vouch_core::event::format_timestamp(&period.end),
    );
    let store = app.store.clone();
    let items = blocking(move || {
        vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: None,
                period: Some(period),
                limit: None,
            },
        )
        .map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    let items: Vec<&Value> = items
        .iter()
        .map(|i| &i.record)
        .filter(|r| {
            criteria.is_empty()
                || r["criteria"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| criteria.iter().any(|x| c == x.as_str())))
        })
        .collect();
    if format == "json" {
        return Ok(axum::Json(json!(items)).into_response());
    }
    if format == "pdf" {
        // A signed PDF, as packets are: the signature of these bytes in X-Evidence-Signature.
        let now = chrono::Utc::now();
        let doc = json!({
            "organization": app.config.settings.organization.name,
            "period": {"label": period_label, "start": period_start, "end": period_end},
            "criteria": criteria,
            "generated_at": vouch_core::event::format_timestamp(&now),
            "vouch_version": vouch_engine::VERSION,
            "items": items.iter().map(|r| json!({
                "evidence_id": r["evidence_id"], "title": r["title"], "criteria": r["criteria"],
                "source": {"kind": r["source"]["kind"], "name": r["source"]["name"]},
                "operation": r["operation"]["query"].as_str().or(r["operation"]["url"].as_str()).or(r["operation"]["glob"].as_str()).or(r["operation"]["upload"].as_str()).map(str::to_string)
                    .or_else(|| r["operation"]["argv"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")))
                    .unwrap_or_default(),
                "effective_at": r["effective_at"], "count": r["count"], "sha256": r["sha256"],
            })).collect::<Vec<_>>(),
        });
        let keys = app.keys.clone();
        let (pdf, sig) = blocking(move || {
            let bytes = vouch_core::canonical::to_vec(&doc);
            let pdf = vouch_engine::packet::pdf::render_evidence_export(&bytes, now)
                .map_err(ApiError::internal)?;
            let sig = vouch_engine::packet::sign::sign_b64(&keys.signing, &pdf);
            Ok((pdf, sig))
        })
        .await?;
        let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response();
        resp.headers_mut().insert(
            "x-evidence-signature",
            HeaderValue::from_str(&sig).map_err(ApiError::internal)?,
        );
        return Ok(resp);
    }
    let mut out = String::from(
        "id,evidence_id,title,criteria,source,status,period,effective_at,count,sha256\n",
    );
    for r in items {
        let row = [
            r["id"].clone(),
            r["evidence_id"].clone(),
            r["title"].clone(),
            json!(r["criteria"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()),
            r["source"]["name"].clone(),
            r["status"].clone(),
            r["period"]["label"].clone(),
            r["effective_at"].clone(),
            r["count"].clone(),
            r["sha256"].clone(),
        ];
        out.push_str(&row.iter().map(csv_field).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/csv")], out).into_response())
}

pub async fn control_evidence(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["period"])?;
    let period = period_param(&p, "period")?;
    let (config, store) = (app.config.clone(), app.store.clone());
    let (controls, items) = blocking(move || {
        let controls = vouch_engine::checks::controls::evaluate(
            &config,
            &store,
            &period,
            chrono::Utc::now(),
            None,
        )?;
        let items = vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: None,
                period: Some(period.clone()),
                limit: None,
            },
        )
        .map_err(vouch_engine::Error::from)?;
        Ok((controls, (period.label.clone(), items)))
    })
    .await?;
    if let Some(c) = controls.iter().find(|c| c["id"] == id.as_str()) {
        return Ok(axum::Json(c.clone()));
    }
    // Seed 003 asks by Trust Services Criterion (`CC6.1`): the controls mapped to it
    // and the evidence items collected for it.
    let Some(crit) = vouch_core::tsc::criterion(&id) else {
        return Err(ApiError::not_found(format!(
            "no control or Trust Services Criterion `{id}`"
        )));
    };
    let mapped: Vec<&Value> = controls
        .iter()
        .filter(|c| {
            c["criteria"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == crit.id))
        })
        .collect();
    let (label, items) = items;
    let evidence: Vec<&Value> = items
        .iter()
        .map(|i| &i.record)
        .filter(|r| {
            r["criteria"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == crit.id))
        })
        .collect();
    let status = vouch_engine::checks::controls::rollup(
        mapped
            .iter()
            .map(|c| c["status"].as_str().unwrap_or("error")),
    );
    Ok(axum::Json(json!({
        "id": crit.id, "criterion": crit.id, "category": crit.category, "title": crit.topic,
        "period": label, "status": status,
        "controls": mapped, "evidence": evidence,
    })))
}

/// Seed 003's five categories, in its order.
pub const CATEGORIES: &[&str] = &[
    "security",
    "availability",
    "processing_integrity",
    "confidentiality",
    "privacy",
];

/// The next run of the monthly evidence job (seed 000: the 1st at 03:00 UTC).
fn next_audit(now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let job = vouch_engine::jobs::job("generate-soc2-evidence")?;
    let cron = vouch_engine::jobs::cron::Cron::parse(job.schedule).ok()?;
    use chrono::Timelike;
    let mut t = now.with_second(0)?.with_nanosecond(0)? + chrono::Duration::minutes(1);
    for _ in 0..(62 * 24 * 60) {
        if cron.matches(t) {
            return Some(t.format("%Y-%m-%d").to_string());
        }
        t += chrono::Duration::minutes(1);
    }
    None
}

pub async fn status(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["period"])?;
    let period = period_param(&p, "period")?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let now = chrono::Utc::now();
        let controls = vouch_engine::checks::controls::evaluate(&config, &store, &period, now, None)?;
        let open = vouch_engine::checks::findings::list(&store, Some("open"))?;
        let cp = ledger.latest_checkpoint()?;
        let mut counts = serde_json::Map::new();
        for s in vouch_engine::checks::controls::STATUSES {
            counts.insert((*s).into(), json!(controls.iter().filter(|c| c["status"] == *s).count()));
        }
        let mut criteria = serde_json::Map::new();
        for cat in CATEGORIES {
            let statuses: Vec<&str> = controls
                .iter()
                .filter(|c| {
                    c["criteria"].as_array().is_some_and(|a| {
                        a.iter().any(|x| {
                            x.as_str()
                                .and_then(vouch_core::tsc::criterion)
                                .is_some_and(|k| k.category == *cat)
                        })
                    })
                })
                .map(|c| c["status"].as_str().unwrap_or("error"))
                .collect();
            criteria.insert(
                cat.to_string(),
                json!({
                    "status": vouch_engine::checks::controls::overall_status(&statuses),
                    "controls_passed": statuses.iter().filter(|s| **s == "pass").count(),
                    "controls_total": statuses.len(),
                }),
            );
        }
        // The latest evaluation of any check behind these controls.
        let last_assessment = controls
            .iter()
            .flat_map(|c| c["checks"].as_array().into_iter().flatten())
            .filter_map(|k| k["evaluated_at"].as_str())
            .max()
            .map(str::to_string);
        let all: Vec<&str> = controls.iter().map(|c| c["status"].as_str().unwrap_or("error")).collect();
        Ok(json!({
            "period": period.label, "overall_status": vouch_engine::checks::controls::overall_status(&all),
            "criteria": criteria,
            "controls": counts, "open_findings": open.len(),
            "last_assessment": last_assessment,
            "next_audit": next_audit(now),
            "ledger": {"tree_size": store.head()?.size, "latest_checkpoint": cp.map(|c| json!({"size": c.size, "created_at": c.created_at}))},
        }))
    })
    .await?;
    Ok(axum::Json(v))
}

pub async fn findings_list(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["status"])?;
    if let Some(s) = p.get("status") {
        if !vouch_engine::checks::findings::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad("status must be open, accepted or resolved")
                .details(json!({"parameter": "status"})));
        }
    }
    let store = app.store.clone();
    let status = p.get("status").cloned();
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::checks::findings::list(
            &store,
            status.as_deref()
        )?))
        .await?
    )))
}

pub async fn findings_open(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    body: Body,
) -> ApiResult<Response> {
    let v = body_json(body).await?;
    // Seed 003's body; `control` is the older name of `control_id`.
    let o = object_fields(
        &v,
        &[
            "control_id",
            "control",
            "title",
            "severity",
            "description",
            "remediation_plan",
            "due_date",
        ],
    )?;
    let title = required(o, "title")?;
    let severity = str_field(o, "severity")?.unwrap_or_else(|| "medium".into());
    let control = match (str_field(o, "control_id")?, str_field(o, "control")?) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "conflicting_fields",
                "`control_id` and `control` differ; give one",
            )
            .details(json!({"field": "control_id"})))
        }
        (a, b) => a.or(b),
    };
    let description = str_field(o, "description")?;
    let plan = str_field(o, "remediation_plan")?;
    let due = str_field(o, "due_date")?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let f = blocking(move || {
        Ok(vouch_engine::checks::findings::open_planned(
            &store,
            &ledger,
            &config,
            &vouch_engine::checks::findings::NewFinding {
                title: &title,
                severity: &severity,
                control: control.as_deref(),
                description: description.as_deref(),
                remediation_plan: plan.as_deref(),
                due_date: due.as_deref(),
            },
            &who.actor,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(f)).into_response())
}

pub async fn findings_update(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let v = body_json(body).await?;
    object_fields(&v, &["status", "severity", "owner", "note"])?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let u = vouch_engine::checks::findings::Update {
        status: s("status"),
        severity: s("severity"),
        owner: s("owner"),
        note: s("note"),
    };
    let (store, ledger) = (app.store.clone(), app.ledger.clone());
    Ok(axum::Json(
        blocking(move || {
            Ok(vouch_engine::checks::findings::update(
                &store, &ledger, &id, &u, &who.actor,
            )?)
        })
        .await?,
    ))
}

pub async fn collections(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["period"])?;
    let label = p
        .get("period")
        .map(|_| period_param(&p, "period").map(|x| x.label))
        .transpose()?;
    let store = app.store.clone();
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::seal::collections(&store, label.as_deref())?)).await?
    )))
}

pub async fn run_checks(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["period"])?;
    let period = period_param(&p, "period")?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let checker = vouch_engine::checks::Checker::new(&config, store, &ledger);
        let r = checker.run(&period, &[], chrono::Utc::now())?;
        Ok(json!({"period": r.period.label, "checks": r.results, "controls": r.controls}))
    })
    .await?;
    Ok(axum::Json(v))
}

// ---------------------------------------------------------------- jobs

pub async fn jobs_list(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let v = blocking(move || {
        let mut out = Vec::new();
        for j in vouch_engine::jobs::JOBS {
            let last = vouch_engine::jobs::runs(&store, Some(j.name), 1)?.into_iter().next();
            out.push(json!({"name": j.name, "schedule": j.schedule, "description": j.description, "last_run": last}));
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(json!(v)))
}

pub async fn job_runs(
    State(app): State<App>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if vouch_engine::jobs::job(&name).is_none() {
        return Err(ApiError::not_found(format!("no job `{name}`")));
    }
    let store = app.store.clone();
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::jobs::runs(&store, Some(&name), 100)?)).await?
    )))
}

pub async fn job_run(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let p = params(raw)?;
    only(&p, &["period"])?;
    if vouch_engine::jobs::job(&name).is_none() {
        return Err(ApiError::not_found(format!("no job `{name}`")));
    }
    let period = p
        .get("period")
        .map(|_| period_param(&p, "period"))
        .transpose()?;
    let a = app.clone();
    let run = blocking(move || {
        let runner = vouch_engine::jobs::Runner {
            config: &a.config,
            store: a.store.clone(),
            keys: &a.keys,
            ledger: &a.ledger,
            clock: &vouch_engine::jobs::SystemClock,
            worker: crate::worker_name(),
            max_attempts: 1,
            backoff: chrono::Duration::minutes(1),
            not_before: None,
        };
        Ok(runner.run_now(&name, period)?)
    })
    .await?;
    Ok(axum::Json(run))
}

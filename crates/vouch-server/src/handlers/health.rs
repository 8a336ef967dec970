//! Liveness, readiness, Prometheus metrics and the OpenAPI document (all public).

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /healthz`: the process answers.
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
    // SAFETY: `statvfs` is a plain C struct of integers, for which all-zero bytes are a valid value.
    #[allow(unsafe_code)]
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
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

/// `GET /metrics`: Prometheus text format, request counters and database gauges.
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

/// `GET /openapi.json`: the document generated from the route table.
pub async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document())
}

//! Handlers, by domain. Engine calls are synchronous (rusqlite / postgres), so each
//! handler runs its work on the blocking pool ([`blocking`]); appends go through the
//! sequencer's async `submit`. Requests are read with the extractors of
//! [`crate::extract`], whose rejections are JSON errors.

pub mod access_reviews;
pub mod archives;
pub mod attestations;
pub mod audit_logs;
pub mod auditor;
pub mod checks;
pub mod evidence;
pub mod findings;
pub mod health;
pub mod incidents;
pub mod jobs;
pub mod ledger;
pub mod packets;
pub mod reports;
pub mod session;
pub mod status;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_core::period::Period;

/// Run synchronous engine work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// The parameters of endpoints that take only a period (`period=2026-10`, `last-month`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// The period (`2026-10`, `2026-Q3`, `last-month`, …).
    pub period: Option<String>,
}

impl QueryParams for PeriodParams {}

/// A period parameter (`last-month` when absent); a bad one is 400 naming the parameter.
pub fn period_param(key: &str, given: Option<&str>) -> ApiResult<Period> {
    let text = given.unwrap_or("last-month");
    Period::parse(text, chrono::Utc::now())
        .map_err(|e| ApiError::bad(format!("{key}: {e}")).details(json!({"parameter": key})))
}

/// A period from start and end parameters; a plain end date includes that day
/// (seed 000 passes `endDate=2026-10-31` for October).
pub fn period_between(start: &str, end: &str) -> Result<Period, String> {
    let end = crate::query::inclusive_end(end);
    Period::parse(&format!("{start}..{end}"), chrono::Utc::now()).map_err(|e| e.to_string())
}

/// One CSV field: null is empty, strings as they are, other values as JSON; quoted when
/// it holds a comma, quote or line break.
pub fn csv_field(v: &Value) -> String {
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

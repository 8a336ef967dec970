//! The audit-log query's parameters: seed 003's filters plus `category` and `result`,
//! a date range, `page`/`per_page` or a `cursor` (the last seq seen), checked here
//! ([`parse`]) and answered by [`vouch_engine::ledger::query`] (the `audit_index` table and its
//! indexes; [`run_baseline`] is the former JSON-function query, kept as the reference),
//! whose errors are mapped to HTTP here.

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use vouch_engine::ledger::query::{self as store_query, QueryError};
use vouch_store::Store;

pub use vouch_engine::ledger::query::{is_archived, Query, FILTERS};
/// Most events on one page.
pub const MAX_PER_PAGE: u64 = 1000;

/// The parameters of the audit-log query and export, as given (the filters of
/// [`FILTERS`], a date range, and paging); checked by [`parse`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only events of this organisation.
    pub organization_id: Option<String>,
    /// Only events by this actor.
    pub actor_id: Option<String>,
    /// Only events with this action.
    pub action: Option<String>,
    /// Only events on resources of this type.
    pub resource_type: Option<String>,
    /// Only events of this category.
    pub category: Option<String>,
    /// Only events with this result.
    pub result: Option<String>,
    /// Start of the date range.
    pub start_date: Option<String>,
    /// End of the date range (a bare date is inclusive).
    pub end_date: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Events per page (at most [`MAX_PER_PAGE`]).
    pub per_page: Option<String>,
    /// The `next_cursor` of a previous page, instead of `page`.
    pub cursor: Option<String>,
    /// Only the export takes it; the query refuses it.
    pub format: Option<String>,
}

/// `GET /audit-logs`: a format is refused (before unknown parameters are).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct AuditQuery(pub AuditParams);

impl QueryParams for AuditQuery {
    fn precheck(given: &HashMap<String, String>) -> ApiResult<()> {
        if given.contains_key("format") {
            return Err(ApiError::bad(
                "use /api/compliance/audit-logs/export for CSV or NDJSON",
            ));
        }
        Ok(())
    }
}

/// `GET /audit-logs/export`: the format is checked first (before unknown parameters).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct AuditExport(pub AuditParams);

impl QueryParams for AuditExport {
    fn precheck(given: &HashMap<String, String>) -> ApiResult<()> {
        match given.get("format").map(String::as_str) {
            None | Some("ndjson") | Some("csv") => {}
            Some(_) => {
                return Err(ApiError::bad("format must be ndjson or csv")
                    .details(serde_json::json!({"parameter": "format"})))
            }
        }
        // An export streams every matching event; only `cursor` (resume after a seq)
        // says where to start. Pages would silently skip events in steps of 1000.
        for p in ["page", "per_page"] {
            if given.contains_key(p) {
                return Err(ApiError::bad(format!(
                    "`{p}` does not apply to an export, which streams every matching event; use `cursor` to resume after a seq"
                ))
                .details(serde_json::json!({"parameter": p})));
            }
        }
        Ok(())
    }
}

/// An end given as a plain date includes that day (`end_date=2026-10-31` is all of
/// October): the next day, for a half-open range. Other values are returned as given.
pub fn inclusive_end(v: &str) -> String {
    match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => (d + chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string(),
        Err(_) => v.to_string(),
    }
}

fn date(name: &str, given: &str, end: bool) -> ApiResult<String> {
    let v = &if end {
        inclusive_end(given)
    } else {
        given.to_string()
    };
    let t = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .map(|d| {
            chrono::DateTime::from_naive_utc_and_offset(
                d.and_hms_opt(0, 0, 0).unwrap_or_default(),
                chrono::Utc,
            )
        })
        .or_else(|| vouch_core::period::parse_instant(v))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "{name}: `{given}` is not a date (YYYY-MM-DD) or RFC 3339 time"
            ))
            .details(serde_json::json!({"parameter": name}))
        })?;
    Ok(vouch_core::event::format_timestamp(&t))
}

/// Check the parameters: integers in range, filters of 1 to 256 characters, dates, a
/// range that is not empty, a cursor from a previous page.
pub fn parse(params: &AuditParams) -> ApiResult<Query> {
    let num = |k: &str, given: &Option<String>, default: u64, max: u64| -> ApiResult<u64> {
        match given {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad(format!("{k} must be an integer from 1 to {max}"))
                        .details(serde_json::json!({"parameter": k}))
                }),
        }
    };
    let given = [
        &params.organization_id,
        &params.actor_id,
        &params.action,
        &params.resource_type,
        &params.category,
        &params.result,
    ];
    let mut filters = Vec::new();
    for ((name, _), v) in FILTERS.iter().zip(given) {
        if let Some(v) = v {
            if v.is_empty() || v.len() > 256 {
                return Err(ApiError::bad(format!("{name} must be 1 to 256 characters"))
                    .details(serde_json::json!({"parameter": name})));
            }
            filters.push((*name, v.clone()));
        }
    }
    let start = params
        .start_date
        .as_deref()
        .map(|v| date("start_date", v, false))
        .transpose()?;
    let end = params
        .end_date
        .as_deref()
        .map(|v| date("end_date", v, true))
        .transpose()?;
    if let (Some(s), Some(e)) = (&start, &end) {
        if s >= e {
            return Err(ApiError::bad("start_date must be before end_date"));
        }
    }
    let cursor = match &params.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::bad("cursor must be the next_cursor of a previous page"))?,
        ),
    };
    Ok(Query {
        filters,
        start,
        end,
        page: num("page", &params.page, 1, 1_000_000)?,
        per_page: num("per_page", &params.per_page, 100, MAX_PER_PAGE)?,
        cursor,
    })
}

fn api_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Store(e) => e.into(),
        other => ApiError::internal(other),
    }
}

/// One page of matching entries and the cursor of the next, through the index (see
/// [`vouch_engine::ledger::query::run`]).
pub fn run(store: &Store, q: &Query, limit: u64) -> ApiResult<(Vec<Value>, Option<u64>)> {
    store_query::run(store, q, limit).map_err(api_error)
}

/// The former JSON-function query (see [`vouch_engine::ledger::query::run_baseline`]): the
/// reference tests compare [`run`] with; the API does not call it.
pub fn run_baseline(store: &Store, q: &Query, limit: u64) -> ApiResult<(Vec<Value>, Option<u64>)> {
    store_query::run_baseline(store, q, limit).map_err(api_error)
}

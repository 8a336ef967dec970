//! The audit-log query: seed 003's filters plus `category` and `result`, over the
//! ledger's leaves, newest entries last, with `page`/`per_page` or a `cursor` (the last
//! seq seen). Field extraction is the engine's JSON function (SQLite `json_extract`,
//! PostgreSQL `jsonb #>>`); the timestamp range uses the `ts` index.

use crate::error::{ApiError, ApiResult};
use serde_json::Value;
use std::collections::HashMap;
use vouch_store::{Store, Value as Sql};

pub const FILTERS: &[(&str, &str)] = &[
    ("organization_id", "organization_id"),
    ("actor_id", "actor.id"),
    ("action", "action"),
    ("resource_type", "resource.type"),
    ("category", "category"),
    ("result", "result"),
];
pub const KNOWN: &[&str] = &[
    "organization_id",
    "actor_id",
    "action",
    "resource_type",
    "category",
    "result",
    "start_date",
    "end_date",
    "page",
    "per_page",
    "cursor",
    "format",
];
pub const MAX_PER_PAGE: u64 = 1000;

pub struct Query {
    pub filters: Vec<(&'static str, String)>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub page: u64,
    pub per_page: u64,
    pub cursor: Option<u64>,
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

pub fn parse(params: &HashMap<String, String>) -> ApiResult<Query> {
    for k in params.keys() {
        if !KNOWN.contains(&k.as_str()) {
            return Err(ApiError::bad(format!("unknown parameter `{k}`"))
                .details(serde_json::json!({"parameter": k, "known": KNOWN})));
        }
    }
    let num = |k: &str, default: u64, max: u64| -> ApiResult<u64> {
        match params.get(k) {
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
    let mut filters = Vec::new();
    for (name, path) in FILTERS {
        if let Some(v) = params.get(*name) {
            if v.is_empty() || v.len() > 256 {
                return Err(ApiError::bad(format!("{name} must be 1 to 256 characters"))
                    .details(serde_json::json!({"parameter": name})));
            }
            filters.push((*path, v.clone()));
        }
    }
    let start = params
        .get("start_date")
        .map(|v| date("start_date", v, false))
        .transpose()?;
    let end = params
        .get("end_date")
        .map(|v| date("end_date", v, true))
        .transpose()?;
    if let (Some(s), Some(e)) = (&start, &end) {
        if s >= e {
            return Err(ApiError::bad("start_date must be before end_date"));
        }
    }
    let cursor = match params.get("cursor") {
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
        page: num("page", 1, 1_000_000)?,
        per_page: num("per_page", 100, MAX_PER_PAGE)?,
        cursor,
    })
}

fn extract(kind: &str, path: &str) -> String {
    if kind == "postgres" {
        format!("((leaf::jsonb) #>> '{{{}}}')", path.replace('.', ","))
    } else {
        format!("json_extract(leaf, '$.{path}')")
    }
}

/// One page of matching events (their leaves) and the cursor of the next page.
pub fn run(store: &Store, q: &Query, limit: u64) -> ApiResult<(Vec<Value>, Option<u64>)> {
    let mut sql = String::from("SELECT seq, leaf FROM ledger_entries WHERE 1 = 1");
    let mut params: Vec<Sql> = Vec::new();
    for (path, v) in &q.filters {
        params.push(v.clone().into());
        sql.push_str(&format!(
            " AND {} = ${}",
            extract(store.kind(), path),
            params.len()
        ));
    }
    if let Some(s) = &q.start {
        params.push(s.clone().into());
        sql.push_str(&format!(" AND ts >= ${}", params.len()));
    }
    if let Some(e) = &q.end {
        params.push(e.clone().into());
        sql.push_str(&format!(" AND ts < ${}", params.len()));
    }
    if let Some(c) = q.cursor {
        params.push(Sql::Int(c as i64));
        sql.push_str(&format!(" AND seq > ${}", params.len()));
    }
    let offset = if q.cursor.is_some() {
        0
    } else {
        (q.page - 1) * limit
    };
    sql.push_str(&format!(
        " ORDER BY seq LIMIT {} OFFSET {offset}",
        limit + 1
    ));
    let rows = store.query(&sql, &params)?;
    let more = rows.len() as u64 > limit;
    let mut out = Vec::new();
    let mut last = None;
    for r in rows.iter().take(limit as usize) {
        last = Some(r.int(0) as u64);
        out.push(serde_json::from_str(&r.text(1)).map_err(ApiError::internal)?);
    }
    Ok((out, if more { last } else { None }))
}

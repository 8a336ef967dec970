//! The audit-log query: seed 003's filters plus `category` and `result`, over the
//! ledger, oldest entries first, with `page`/`per_page` or a `cursor` (the last seq
//! seen). Filters and the timestamp range are answered by the `audit_index` table the
//! sequencer writes with every leaf (migration 0018; verification checks each row
//! against its leaf); only the page's leaves are read. Entries pruned by retention are
//! returned as `archived` stubs naming the archive. [`run_baseline`] is the former
//! query (the engine's JSON functions over every leaf), kept as the reference that
//! tests and `vouch-bench auditlog` compare the index with.

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use vouch_store::{Store, Value as Sql};

/// Filter parameters and the event field each compares (a JSON path in the leaf).
pub const FILTERS: &[(&str, &str)] = &[
    ("organization_id", "organization_id"),
    ("actor_id", "actor.id"),
    ("action", "action"),
    ("resource_type", "resource.type"),
    ("category", "category"),
    ("result", "result"),
];
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

/// A checked query: filters, a half-open time range, and a page or a cursor.
#[derive(Debug, Clone)]
pub struct Query {
    /// Filter parameter (an `audit_index` column, see [`FILTERS`]) and the value it
    /// must equal.
    pub filters: Vec<(&'static str, String)>,
    /// First timestamp included (canonical form).
    pub start: Option<String>,
    /// First timestamp excluded (canonical form).
    pub end: Option<String>,
    /// Page number, from 1 (ignored with a cursor).
    pub page: u64,
    /// Events per page.
    pub per_page: u64,
    /// The last seq already seen.
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

/// A field of the leaf, in the engine's SQL. A leaf pruned by retention is empty (not
/// JSON): the CASE keeps the engine from parsing it, whatever order it evaluates in.
fn extract(kind: &str, path: &str) -> String {
    let field = if kind == "postgres" {
        format!("((leaf::jsonb) #>> '{{{}}}')", path.replace('.', ","))
    } else {
        format!("json_extract(leaf, '$.{path}')")
    };
    format!("(CASE WHEN leaf = '' THEN NULL ELSE {field} END)")
}

/// One page of matching entries and the cursor of the next: each entry is its leaf (the
/// event with its `seq`), or, for an entry pruned by retention, an `archived` stub (see
/// [`archived_stub`]). Filters, range, order and paging are answered by `audit_index`.
pub fn run(store: &Store, q: &Query, limit: u64) -> ApiResult<(Vec<Value>, Option<u64>)> {
    let mut cond = Vec::new();
    let mut params: Vec<Sql> = Vec::new();
    for (column, v) in &q.filters {
        params.push(v.clone().into());
        // `column` is one of FILTERS' parameter names, never caller text.
        cond.push(format!("{column} = ${}", params.len()));
    }
    if let Some(s) = &q.start {
        params.push(s.clone().into());
        cond.push(format!("ts >= ${}", params.len()));
    }
    if let Some(e) = &q.end {
        params.push(e.clone().into());
        cond.push(format!("ts < ${}", params.len()));
    }
    if let Some(c) = q.cursor {
        params.push(Sql::Int(c as i64));
        cond.push(format!("seq > ${}", params.len()));
    }
    // A date range also bounds the seqs: every event of a day lies between the first and
    // last seq the day's counters record (exact, whatever the arrival order; narrow when
    // events arrive roughly in time order), so a filter's index is read only there.
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    if let Some(s) = &q.start {
        params.push(day(s).into());
        cond.push(format!(
            "seq >= (SELECT coalesce(min(first_seq), 0) FROM audit_daily WHERE day >= ${})",
            params.len()
        ));
    }
    if let Some(e) = &q.end {
        params.push(day(e).into());
        cond.push(format!(
            "seq <= (SELECT coalesce(max(last_seq), -1) FROM audit_daily WHERE day <= ${})",
            params.len()
        ));
    }
    let offset = if q.cursor.is_some() {
        0
    } else {
        (q.page - 1) * limit
    };
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(
            "{} WHERE {}",
            sqlite_index_hint(store, q)?,
            cond.join(" AND ")
        )
    };
    // The page's seqs come from the index alone; then its leaves (and, for pruned
    // entries, their archive) are read by primary key.
    let sql = format!(
        "SELECT s.seq, e.leaf, i.organization_id, i.actor_id, i.action, i.resource_type, i.category, i.result, i.ts, e.id, p.run_id, r.destination \
         FROM (SELECT seq FROM audit_index {filter} ORDER BY seq LIMIT {} OFFSET {offset}) s \
         JOIN audit_index i ON i.seq = s.seq JOIN ledger_entries e ON e.seq = s.seq \
         LEFT JOIN ledger_pruned p ON p.seq = s.seq LEFT JOIN retention_runs r ON r.run_id = p.run_id \
         ORDER BY s.seq",
        limit + 1
    );
    let rows = store.query(&sql, &params)?;
    let more = rows.len() as u64 > limit;
    let mut out = Vec::new();
    let mut last = None;
    for r in rows.iter().take(limit as usize) {
        let seq = r.int(0) as u64;
        last = Some(seq);
        let leaf = r.text(1);
        if leaf.is_empty() {
            out.push(archived_stub(seq, r));
        } else {
            out.push(serde_json::from_str(&leaf).map_err(ApiError::internal)?);
        }
    }
    Ok((out, if more { last } else { None }))
}

/// SQLite's index for a query with several filters: the one whose value matches fewest
/// rows (counted up to 1000 in each, a few microseconds), as `INDEXED BY`. SQLite keeps
/// no per-value statistics, so on its own it may read a filter that matches millions of
/// rows (`result=success`) to find the few that also match a rare actor, or none.
/// PostgreSQL's planner has per-value statistics: no hint there.
fn sqlite_index_hint(store: &Store, q: &Query) -> ApiResult<String> {
    if store.kind() != "sqlite" || q.filters.len() < 2 {
        return Ok(String::new());
    }
    let value = |c: &str| q.filters.iter().find(|(n, _)| *n == c).map(|(_, v)| v);
    // Candidates in the order of their usual selectivity (ties, such as two filters that
    // both match over 1000 rows, go to the first); category and result together use
    // their composite index.
    let mut candidates: Vec<(&str, Vec<(&str, &String)>)> = Vec::new();
    for (column, index) in [
        ("actor_id", "audit_index_actor"),
        ("action", "audit_index_action"),
        ("organization_id", "audit_index_org"),
        ("resource_type", "audit_index_resource_type"),
    ] {
        if let Some(v) = value(column) {
            candidates.push((index, vec![(column, v)]));
        }
    }
    match (value("category"), value("result")) {
        (Some(c), Some(r)) => candidates.push((
            "audit_index_category_result",
            vec![("category", c), ("result", r)],
        )),
        (Some(c), None) => candidates.push(("audit_index_category", vec![("category", c)])),
        (None, Some(r)) => candidates.push(("audit_index_result", vec![("result", r)])),
        (None, None) => {}
    }
    if candidates.len() < 2 {
        // One index serves the query (category and result: the composite).
        return Ok(candidates
            .first()
            .map_or(String::new(), |(i, _)| format!("INDEXED BY {i}")));
    }
    let mut best: Option<(i64, &str)> = None;
    for (index, eqs) in &candidates {
        let cond: Vec<String> = eqs
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
            .collect();
        let params: Vec<Sql> = eqs.iter().map(|(_, v)| (*v).clone().into()).collect();
        let n = store.query(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM audit_index INDEXED BY {index} WHERE {} LIMIT 1000)",
                cond.join(" AND ")
            ),
            &params,
        )?[0]
            .int(0);
        if best.is_none_or(|(m, _)| n < m) {
            best = Some((n, index));
        }
    }
    Ok(best.map_or(String::new(), |(_, i)| format!("INDEXED BY {i}")))
}

/// What the query says of an entry pruned by retention: its seq, id, timestamp and
/// index fields (in the event's shape, absent fields omitted), and `archived`: the
/// retention run and the WORM destination holding its leaf. Columns of `r` as in [`run`].
fn archived_stub(seq: u64, r: &vouch_store::Row) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_string(), Value::String(v));
        }
    };
    put("organization_id", r.opt_text(2));
    put("action", r.opt_text(4));
    put("category", r.opt_text(6));
    put("result", r.opt_text(7));
    put("timestamp", r.opt_text(8));
    put("id", r.opt_text(9));
    if let Some(a) = r.opt_text(3) {
        m.insert("actor".into(), serde_json::json!({"id": a}));
    }
    if let Some(t) = r.opt_text(5) {
        m.insert("resource".into(), serde_json::json!({"type": t}));
    }
    m.insert("seq".into(), Value::from(seq));
    m.insert(
        "archived".into(),
        serde_json::json!({"run_id": r.opt_text(10), "destination": r.opt_text(11)}),
    );
    Value::Object(m)
}

/// Whether a query result is an archived stub rather than an event.
pub fn is_archived(v: &Value) -> bool {
    v.get("archived").is_some()
}

/// The audit-log query before the index (issue 17): the engine's JSON functions over
/// every leaf, pruned entries skipped. Kept as the reference the index path must match
/// (tests) and beat (`vouch-bench auditlog`); the API does not call it.
pub fn run_baseline(store: &Store, q: &Query, limit: u64) -> ApiResult<(Vec<Value>, Option<u64>)> {
    // Entries pruned by retention keep their place in the tree but have no leaf here
    // (their content is in the WORM archive): not part of query results or exports.
    let mut sql = String::from("SELECT seq, leaf FROM ledger_entries WHERE leaf <> ''");
    let mut params: Vec<Sql> = Vec::new();
    for (name, v) in &q.filters {
        let path = FILTERS
            .iter()
            .find(|(n, _)| n == name)
            .map_or(*name, |(_, p)| *p);
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

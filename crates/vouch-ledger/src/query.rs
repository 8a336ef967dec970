//! The audit-log query (`GET /audit-logs`, issue 17) over the store: filters and the
//! timestamp range are answered by the `audit_index` table the sequencer writes with
//! every leaf (migration 0018; verification checks each row against its leaf) and its
//! indexes (one per filter, migration 0018; one per pair of the low-cardinality
//! filters, migration 0023); only the page's leaves are read. Entries pruned by
//! retention are returned as `archived` stubs naming the archive. [`run_baseline`] is
//! the former query (the engine's JSON functions over every leaf), kept as the
//! reference that tests and `vouch-bench auditlog` compare the index with.
//!
//! Here rather than in the server so that the benchmark can run it without the
//! server's (and the engine's) dependencies; the server checks the parameters and maps
//! [`QueryError`] to HTTP.

use serde_json::Value;
use vouch_store::{Store, StoreError, Value as Sql};

/// Filter parameters (each an `audit_index` column) and the event field each compares
/// (a JSON path in the leaf).
pub const FILTERS: &[(&str, &str)] = &[
    ("organization_id", "organization_id"),
    ("actor_id", "actor.id"),
    ("action", "action"),
    ("resource_type", "resource.type"),
    ("category", "category"),
    ("result", "result"),
];

/// The filters with few distinct values: every pair of them has a composite index
/// (`audit_index_<a>_<b>`, migrations 0018 and 0023), so a pair is read as one list of
/// exactly its matches, whatever the two values' spread. `actor_id` has no pair
/// index: its values are many, and an index per pair would touch a separate B-tree
/// page per (actor, value) on every commit.
pub const PAIRED: &[&str] = &[
    "organization_id",
    "action",
    "resource_type",
    "category",
    "result",
];

/// A checked query: filters, a half-open time range, and a page or a cursor.
#[derive(Debug, Clone, Default)]
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

/// Why the query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored leaf is not JSON (the ledger is damaged; verification says where).
    #[error("entry {seq}: the stored leaf is not JSON: {source}")]
    Leaf {
        /// The entry.
        seq: u64,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// One page of entries and the cursor of the next page (`None` on the last).
pub type Page = (Vec<Value>, Option<u64>);

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

fn leaf(seq: u64, text: &str) -> Result<Value, QueryError> {
    serde_json::from_str(text).map_err(|source| QueryError::Leaf { seq, source })
}

/// One page of matching entries and the cursor of the next: each entry is its leaf (the
/// event with its `seq`), or, for an entry pruned by retention, an `archived` stub (see
/// [`archived_stub`]). Filters, range, order and paging are answered by `audit_index`.
pub fn run(store: &Store, q: &Query, limit: u64) -> Result<Page, QueryError> {
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
        let text = r.text(1);
        if text.is_empty() {
            out.push(archived_stub(seq, r));
        } else {
            out.push(leaf(seq, &text)?);
        }
    }
    Ok((out, if more { last } else { None }))
}

/// The name of an `audit_index` index: one filter's, or a pair's of [`PAIRED`] (in
/// that list's order).
fn index_name(columns: &[&str]) -> String {
    let parts: Vec<&str> = columns
        .iter()
        .map(|c| match *c {
            "organization_id" => "org",
            other => other,
        })
        .collect();
    format!("audit_index_{}", parts.join("_"))
}

/// Entries probed per candidate index before choosing one, and again, for the
/// candidates that reach it, with a higher bound (tens of thousands of index entries
/// take a few milliseconds; reading the wrong list of millions takes seconds).
const PROBE: [i64; 2] = [1_000, 50_000];

/// SQLite's index for a query with several filters, as `INDEXED BY`: the candidate
/// whose values match fewest rows, counted in each candidate (up to [`PROBE`]). SQLite
/// keeps no per-value statistics, so on its own it may read a filter that matches
/// millions of rows (`result=success`) to find the few that also match a rare actor.
/// Candidates: the actor's index, and, for the other filters, each given pair's
/// composite index (which holds exactly the pair's matches, so two values that never
/// occur together are answered at once) or the one filter's own index. PostgreSQL's
/// planner has per-value statistics and sees the composite indexes: no hint there.
fn sqlite_index_hint(store: &Store, q: &Query) -> Result<String, QueryError> {
    if store.kind() != "sqlite" || q.filters.len() < 2 {
        return Ok(String::new());
    }
    let value = |c: &str| {
        q.filters
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, v)| v.clone())
    };
    let mut candidates: Vec<(String, Vec<(&str, String)>)> = Vec::new();
    if let Some(v) = value("actor_id") {
        candidates.push(("audit_index_actor".into(), vec![("actor_id", v)]));
    }
    let paired: Vec<(&str, String)> = PAIRED
        .iter()
        .filter_map(|c| value(c).map(|v| (*c, v)))
        .collect();
    if paired.len() == 1 {
        candidates.push((index_name(&[paired[0].0]), paired.clone()));
    }
    for (i, a) in paired.iter().enumerate() {
        for b in &paired[i + 1..] {
            candidates.push((index_name(&[a.0, b.0]), vec![a.clone(), b.clone()]));
        }
    }
    if candidates.len() < 2 {
        // One index serves the query (two of the paired filters: their composite).
        return Ok(candidates
            .first()
            .map_or(String::new(), |(i, _)| format!("INDEXED BY {i}")));
    }
    let count = |index: &str, eqs: &[(&str, String)], cap: i64| -> Result<i64, QueryError> {
        let cond: Vec<String> = eqs
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
            .collect();
        let params: Vec<Sql> = eqs.iter().map(|(_, v)| v.clone().into()).collect();
        Ok(store.query(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM audit_index INDEXED BY {index} WHERE {} LIMIT {cap})",
                cond.join(" AND ")
            ),
            &params,
        )?[0]
            .int(0))
    };
    let mut counted: Vec<(i64, usize)> = Vec::new();
    for (k, (index, eqs)) in candidates.iter().enumerate() {
        let n = count(index, eqs, PROBE[0])?;
        if n == 0 {
            // Nothing matches: this index answers the query at once.
            return Ok(format!("INDEXED BY {index}"));
        }
        counted.push((n, k));
    }
    // Several lists longer than the first bound: tell them apart with the second.
    if counted.iter().filter(|(n, _)| *n >= PROBE[0]).count() == counted.len() {
        for (n, k) in counted.iter_mut() {
            let (index, eqs) = &candidates[*k];
            *n = count(index, eqs, PROBE[1])?;
        }
    }
    // The smallest count; ties go to the earlier candidate.
    let best = counted
        .iter()
        .min_by_key(|(n, k)| (*n, *k))
        .map(|(_, k)| *k)
        .unwrap_or(0);
    Ok(format!("INDEXED BY {}", candidates[best].0))
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
pub fn run_baseline(store: &Store, q: &Query, limit: u64) -> Result<Page, QueryError> {
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
        let seq = r.int(0) as u64;
        last = Some(seq);
        out.push(leaf(seq, &r.text(1))?);
    }
    Ok((out, if more { last } else { None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_follow_the_migrations() {
        assert_eq!(index_name(&["organization_id"]), "audit_index_org");
        assert_eq!(
            index_name(&["organization_id", "resource_type"]),
            "audit_index_org_resource_type"
        );
        assert_eq!(
            index_name(&["category", "result"]),
            "audit_index_category_result"
        );
        for m in [
            include_str!("../../vouch-store/src/migrations/sqlite/0023_audit_pair_index.sql"),
            include_str!("../../vouch-store/src/migrations/postgres/0023_audit_pair_index.sql"),
        ] {
            for (i, a) in PAIRED.iter().enumerate() {
                for b in &PAIRED[i + 1..] {
                    let name = index_name(&[*a, *b]);
                    if name == "audit_index_category_result" {
                        continue; // migration 0018's
                    }
                    assert!(
                        m.contains(&format!("CREATE INDEX {name} ON audit_index ({a}, {b}")),
                        "{name}"
                    );
                }
            }
        }
    }
}

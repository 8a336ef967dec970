//! The audit-log query (`GET /audit-logs`, issue 17) over the store: filters and the
//! timestamp range are answered by the `audit_index` table the sequencer writes with
//! every leaf (migration 0018; verification checks each row against its leaf) and its
//! indexes (one per filter, migration 0018; the combinations of the five
//! low-cardinality filters with their counts, an actor within an organisation and, on
//! SQLite, an actor's covering index, migration 0027); only the page's leaves are
//! read. On SQLite the query names the access it reads (the table in seq order, one of
//! those indexes) by an estimated cost ([`sqlite_plan`]). Entries pruned by retention
//! are returned as `archived` stubs naming the archive. [`run_baseline`] is
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

/// The filters with few distinct values, whatever the ledger's size: their distinct
/// combinations are counted by the sequencer (`audit_combo`, migration 0027), so the
/// query knows exactly how many events match two or more of them and reads exactly
/// those. `actor_id` is not one of them: its values are many.
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
    run_with(store, q, limit, None)
}

/// [`run`] through every way SQLite can read `audit_index` for the query (the table,
/// each filter's index, the combinations' index, the actor's covering index), named
/// by their hint: for tests, which check that every access gives the same page as the
/// baseline (the cost model chooses only one of them for a given ledger). On
/// PostgreSQL, the one page of [`run`].
#[doc(hidden)]
pub fn run_each_access(
    store: &Store,
    q: &Query,
    limit: u64,
) -> Result<Vec<(String, Page)>, QueryError> {
    if store.kind() != "sqlite" || q.filters.is_empty() {
        return Ok(vec![("default".into(), run(store, q, limit)?)]);
    }
    let mut access = vec![Access::Table];
    for (c, _) in &q.filters {
        access.push(Access::List(index_name(&[c])));
    }
    let has = |c: &str| q.filters.iter().any(|(f, _)| *f == c);
    if has("actor_id") && has("organization_id") {
        access.push(Access::List(ACTOR_ORG_INDEX.into()));
    }
    if let Some(c) = combos(store, q)? {
        access.push(Access::Combo(c.ids));
    }
    if q.filters.iter().any(|(c, _)| *c == "actor_id") {
        access.push(Access::ActorCover);
    }
    access
        .into_iter()
        .map(|a| {
            Ok((
                format!("{a:?}"),
                run_with(store, q, limit, Some(Plan::Force(a)))?,
            ))
        })
        .collect()
}

/// The access [`run`] chooses for the query on this store (its hint: `NOT INDEXED`,
/// `INDEXED BY …`; `no combination` when the combinations' counts say nothing
/// matches), or `""` where it names none (PostgreSQL, no condition): what
/// `vouch-bench auditlog` reports per case.
#[doc(hidden)]
pub fn explain(store: &Store, q: &Query, limit: u64) -> Result<String, QueryError> {
    let mut hint = String::new();
    run_with(store, q, limit, Some(Plan::Record(&mut hint)))?;
    Ok(hint)
}

/// What `run_with` is told about the access: use this one (tests), or record the
/// chosen one and stop before reading the page (explain).
enum Plan<'a> {
    Force(Access),
    Record(&'a mut String),
}

/// The combinations (`audit_combo`, migration 0027) matching a query's filters among
/// [`PAIRED`]: their ids and their events in all. Only for two or more of those filters
/// (one filter's own index answers alone, and the combinations of a common value are
/// many).
#[derive(Debug, Clone)]
struct Combos {
    ids: Vec<i64>,
    total: i64,
}

fn combos(store: &Store, q: &Query) -> Result<Option<Combos>, QueryError> {
    let five: Vec<&(&'static str, String)> = q
        .filters
        .iter()
        .filter(|(c, _)| PAIRED.contains(c))
        .collect();
    if five.len() < 2 {
        return Ok(None);
    }
    let cond: Vec<String> = five
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
        .collect();
    let params: Vec<Sql> = five.iter().map(|(_, v)| v.clone().into()).collect();
    let rows = store.query(
        &format!(
            "SELECT id, count FROM audit_combo WHERE {}",
            cond.join(" AND ")
        ),
        &params,
    )?;
    Ok(Some(Combos {
        ids: rows.iter().map(|r| r.int(0)).collect(),
        total: rows.iter().map(|r| r.int(1)).sum(),
    }))
}

/// Combinations past which PostgreSQL is given the filters' values rather than the list
/// of combinations (so many are a common value, which its own indexes or a scan in seq
/// order serve; a very long list costs planning time).
const PG_COMBO_IDS: usize = 1_000;

fn run_with(
    store: &Store,
    q: &Query,
    limit: u64,
    plan: Option<Plan<'_>>,
) -> Result<Page, QueryError> {
    let sqlite = store.kind() == "sqlite";
    // A date range also bounds the seqs: every event of a day lies between the first and
    // last seq the day's counters record (exact, whatever the arrival order; narrow when
    // events arrive roughly in time order), so an index is read only there. SQLite's
    // planning needs the numbers (and the ledger's last seq); PostgreSQL gets the same
    // bounds as subqueries of the one statement (a round trip each saved).
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    let mut lo: i64 = q.cursor.map_or(0, |c| c as i64 + 1);
    let (mut hi, mut last) = (i64::MAX / 2, i64::MAX / 2);
    if sqlite {
        if let Some(s) = &q.start {
            let first = store.query(
                "SELECT coalesce(min(first_seq), -1) FROM audit_daily WHERE day >= $1",
                &[day(s).into()],
            )?[0]
                .int(0);
            // No day at or after the start: nothing can match (an empty seq range).
            lo = lo.max(if first < 0 { i64::MAX / 2 } else { first });
        }
        last = store.query("SELECT coalesce(max(seq), -1) FROM audit_index", &[])?[0].int(0);
        hi = match &q.end {
            Some(e) => store.query(
                "SELECT coalesce(max(last_seq), -1) FROM audit_daily WHERE day <= $1",
                &[day(e).into()],
            )?[0]
                .int(0),
            None => last,
        };
    }
    let offset = if q.cursor.is_some() {
        0
    } else {
        (q.page - 1) * limit
    };
    // The combinations' counts are exact (verification recounts them): none, no events.
    let combos = combos(store, q)?;
    let forced = match &plan {
        Some(Plan::Force(a)) => Some(a.clone()),
        _ => None,
    };
    if forced.is_none() && combos.as_ref().is_some_and(|c| c.total == 0) {
        if let Some(Plan::Record(out)) = plan {
            *out = "no combination".into();
        }
        return Ok((Vec::new(), None));
    }
    let access = match forced {
        Some(a) => Some(a),
        None if sqlite && !(q.filters.is_empty() && q.start.is_none() && q.end.is_none()) => {
            Some(choose(
                store,
                q,
                (lo, hi, last + 1),
                offset + limit + 1,
                combos.as_ref(),
            )?)
        }
        None => None,
    };
    // The combinations named instead of their filters' values: SQLite's access through
    // their index, or, on PostgreSQL, a short list (its planner then reads exactly the
    // matches through (combo, seq), from the index alone, or scans in seq order).
    let by_combo = match (&access, &combos) {
        (Some(Access::Combo(ids)), _) => Some(ids.clone()),
        (None, Some(c)) if !sqlite && c.ids.len() <= PG_COMBO_IDS => Some(c.ids.clone()),
        _ => None,
    };
    let mut cond = Vec::new();
    let mut params: Vec<Sql> = Vec::new();
    for (column, v) in &q.filters {
        if by_combo.is_some() && PAIRED.contains(column) {
            continue; // the combinations hold exactly these values
        }
        params.push(v.clone().into());
        // `column` is one of FILTERS' parameter names, never caller text.
        cond.push(format!("{column} = ${}", params.len()));
    }
    if let Some(ids) = &by_combo {
        cond.push(format!("combo IN ({})", id_list(ids)));
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
    if sqlite {
        if lo > 0 || q.start.is_some() {
            params.push(Sql::Int(lo));
            cond.push(format!("seq >= ${}", params.len()));
        }
        if q.end.is_some() {
            params.push(Sql::Int(hi));
            cond.push(format!("seq <= ${}", params.len()));
        }
    } else {
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
    }
    let hint = access.as_ref().map(Access::hint).unwrap_or_default();
    if let Some(Plan::Record(out)) = plan {
        *out = hint;
        return Ok((Vec::new(), None));
    }
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!("{hint} WHERE {}", cond.join(" AND "))
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

/// Combination ids as SQL (integers from the store, never caller text).
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The name of one filter's `audit_index` index (migration 0018).
fn index_name(columns: &[&str]) -> String {
    let parts: Vec<&str> = columns
        .iter()
        .map(|c| match *c {
            "organization_id" => "org",
            "actor_id" => "actor",
            other => other,
        })
        .collect();
    format!("audit_index_{}", parts.join("_"))
}

/// The columns of the actor's covering index after `actor_id` (migration 0027), in
/// order: equal values of a prefix of them narrow the entries read.
const COVER_ORDER: &[&str] = &[
    "action",
    "result",
    "resource_type",
    "category",
    "organization_id",
];

/// Entries read from the start of a filter's list to estimate its length.
const SAMPLE: i64 = 128;

/// Estimated cost, in microseconds, of reading one `audit_index` row in seq order
/// (sequential table pages), one index entry (sequential index pages), one row looked
/// up from an index entry (a random table page), and one index seek. Measured on a
/// 10M-event ledger (docs/bench/auditlog.md: 20,000 of the first three took about 3, 2
/// and 40 ms); only their ratios matter.
const COST_ROW: f64 = 0.15;
const COST_ENTRY: f64 = 0.1;
const COST_LOOKUP: f64 = 2.0;
const COST_SEEK: f64 = 1.0;

/// A way to read `audit_index` for a query (SQLite).
#[derive(Debug, Clone, PartialEq)]
enum Access {
    /// The table itself in seq order, every filter checked on the row.
    Table,
    /// One filter's index (its entries in seq order); the other filters and the
    /// timestamp are checked on the row (a lookup each).
    List(String),
    /// The combinations' index (migration 0027; SQLite `(combo, actor_id, ts)`): the
    /// entries of these combinations (of the actor, when one is given) read from the
    /// index alone, the date range checked there, sorted by seq.
    Combo(Vec<i64>),
    /// The actor's covering index (migration 0027): the actor's entries (narrowed by the
    /// filters that follow it in the index) read from the index alone, the matches
    /// sorted by seq.
    ActorCover,
}

impl Access {
    fn hint(&self) -> String {
        match self {
            Access::Table => "NOT INDEXED".into(),
            Access::List(index) => format!("INDEXED BY {index}"),
            Access::Combo(_) => "INDEXED BY audit_index_combo".into(),
            Access::ActorCover => "INDEXED BY audit_index_actor_cover".into(),
        }
    }
}

/// The estimated number of entries of a filter's list with a seq in `lo..=hi`: exact
/// when the list holds fewer than [`SAMPLE`] there, else extrapolated from how far
/// into the range its first [`SAMPLE`] entries reach (read from the index alone, a few
/// tens of microseconds).
fn estimate(
    store: &Store,
    index: &str,
    eqs: &[(&'static str, &str)],
    lo: i64,
    hi: i64,
) -> Result<(f64, bool), QueryError> {
    let mut cond = Vec::new();
    let mut params: Vec<Sql> = Vec::new();
    for (c, v) in eqs {
        params.push(v.to_string().into());
        cond.push(format!("{c} = ${}", params.len()));
    }
    params.push(Sql::Int(lo));
    params.push(Sql::Int(hi));
    let rows = store.query(
        &format!(
            "SELECT seq FROM audit_index INDEXED BY {index} WHERE {} AND seq >= ${} AND seq <= ${} ORDER BY seq LIMIT {SAMPLE}",
            cond.join(" AND "),
            params.len() - 1,
            params.len()
        ),
        &params,
    )?;
    if (rows.len() as i64) < SAMPLE {
        return Ok((rows.len() as f64, true));
    }
    let last = rows[rows.len() - 1].int(0);
    let span = (hi - lo + 1).max(1) as f64;
    Ok((
        SAMPLE as f64 * span / ((last - lo + 1).max(1) as f64),
        false,
    ))
}

/// The index of an actor's entries in one organisation, in seq order (migration 0027):
/// an actor and an organisation that rarely or never meet are read as exactly their
/// entries.
const ACTOR_ORG_INDEX: &str = "audit_index_actor_org";

/// SQLite's access to `audit_index` for a query, as `NOT INDEXED` or `INDEXED BY`: the
/// cheapest by estimated cost. SQLite keeps no per-value statistics, so on its own it
/// may read a filter that matches millions of rows (`result=success`) to find the few
/// that also match a rare actor, or read a month through the timestamp index and sort
/// it. Each filter's list is estimated from a sample ([`estimate`]); the matches are the
/// combinations' exact count (two or more of [`PAIRED`]) or the filters' densities
/// multiplied (as if independent); then the cost of each access is what it reads to
/// find `need` matches ([`Access`]). PostgreSQL's planner has per-value statistics and
/// sees the same indexes: no hint there.
fn choose(
    store: &Store,
    q: &Query,
    range: (i64, i64, i64),
    need: u64,
    combos: Option<&Combos>,
) -> Result<Access, QueryError> {
    let (lo, hi, size) = range;
    if hi < lo || q.filters.is_empty() {
        return Ok(Access::Table);
    }
    let span = (hi - lo + 1) as f64;
    // The share of the ledger the seq range covers (the combinations count all of it).
    let share = (span / (size.max(1) as f64)).min(1.0);
    let need = need as f64;
    let ranged = q.start.is_some() || q.end.is_some();
    let mut lists: Vec<(&'static str, f64)> = Vec::new();
    for (c, v) in &q.filters {
        let index = index_name(&[c]);
        let (n, exact) = estimate(store, &index, &[(c, v.as_str())], lo, hi)?;
        if exact && n == 0.0 {
            return Ok(Access::List(index));
        }
        lists.push((c, n));
    }
    let n_of = |c: &str| lists.iter().find(|(l, _)| *l == c).map(|(_, n)| *n);
    let value = |c: &str| q.filters.iter().find(|(f, _)| *f == c).map(|(_, v)| v);
    let actor = n_of("actor_id");
    let density = |skip: &[&str]| {
        lists
            .iter()
            .filter(|(c, _)| !skip.contains(c))
            .fold(1.0, |d, (_, n)| d * n / span)
    };
    // An actor with an organisation: their own list.
    let actor_org = match (value("actor_id"), value("organization_id")) {
        (Some(a), Some(o)) => {
            let eqs = [("actor_id", a.as_str()), ("organization_id", o.as_str())];
            let (n, exact) = estimate(store, ACTOR_ORG_INDEX, &eqs, lo, hi)?;
            if exact && n == 0.0 {
                return Ok(Access::List(ACTOR_ORG_INDEX.into()));
            }
            Some(n)
        }
        _ => None,
    };
    let mut matches = match combos {
        Some(k) => {
            let m = k.total as f64 * share;
            actor.map_or(m, |a| m * a / span)
        }
        None => span * density(&[]),
    };
    if let Some(n) = actor_org {
        matches = matches.min(n * density(&["actor_id", "organization_id"]));
    }
    let matches = matches.max(0.5);
    let mut best = (COST_ROW * span.min(need * span / matches), Access::Table);
    let mut candidates: Vec<(String, usize, f64)> = lists
        .iter()
        .map(|(c, n)| (index_name(&[c]), 1, *n))
        .collect();
    if let Some(n) = actor_org {
        candidates.push((ACTOR_ORG_INDEX.into(), 2, n));
    }
    for (index, columns, n) in candidates {
        let complete = columns == lists.len() && !ranged;
        let cost = if complete {
            COST_ENTRY * n.min(need)
        } else {
            COST_LOOKUP * n.min(need * n / matches)
        };
        if cost < best.0 {
            best = (cost, Access::List(index));
        }
    }
    if let Some(k) = combos {
        // The index is (combo, actor_id, ts): with an actor, exactly its entries of
        // these combinations; without, all of the combinations' entries (the date range
        // checked in the index, not narrowing it).
        let read = match actor {
            Some(_) => matches,
            None => k.total as f64,
        };
        let cost = COST_ENTRY * read + COST_SEEK * k.ids.len() as f64;
        if cost < best.0 {
            best = (cost, Access::Combo(k.ids.clone()));
        }
    }
    if let Some(a) = actor {
        // The covering index holds the actor's entries in filter order, not seq order:
        // all of them are read, over the whole ledger (as many as the range's density
        // says), narrowed by the filters that follow the actor in the index.
        let mut read = a / share;
        for c in COVER_ORDER {
            match n_of(c) {
                Some(n) => read *= n / span,
                None => break,
            }
        }
        let cost = COST_ENTRY * read;
        if cost < best.0 {
            best = (cost, Access::ActorCover);
        }
    }
    Ok(best.1)
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
        assert_eq!(index_name(&["actor_id"]), "audit_index_actor");
        for (kind, m18, m27) in [
            (
                "sqlite",
                include_str!("../../vouch-store/src/migrations/sqlite/0018_audit_index.sql"),
                include_str!("../../vouch-store/src/migrations/sqlite/0027_audit_combo.sql"),
            ),
            (
                "postgres",
                include_str!("../../vouch-store/src/migrations/postgres/0018_audit_index.sql"),
                include_str!("../../vouch-store/src/migrations/postgres/0027_audit_combo.sql"),
            ),
        ] {
            for (c, _) in FILTERS {
                let name = index_name(&[c]);
                assert!(
                    m18.contains(&format!("CREATE INDEX {name} ON audit_index ({c}")),
                    "{kind}: {name}"
                );
            }
            assert!(m27.contains("CREATE INDEX audit_index_combo ON audit_index (combo"));
        }
        let m27 = include_str!("../../vouch-store/src/migrations/sqlite/0027_audit_combo.sql");
        assert!(m27.contains(&format!(
            "CREATE INDEX audit_index_actor_cover ON audit_index\n    (actor_id, {}, ts)",
            COVER_ORDER.join(", ")
        )));
    }
}

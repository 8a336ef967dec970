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
use vouch_store::{Sql, Store, StoreError, Value as Sql_};

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

/// [`run`] through every access the query could choose (the table, each filter's
/// index, an actor within an organisation, the combinations, on SQLite the actor's
/// covering index), named by their hint: for tests, which check that every access
/// gives the same page as the baseline (the cost model chooses only one of them for a
/// given ledger).
#[doc(hidden)]
pub fn run_each_access(
    store: &Store,
    q: &Query,
    limit: u64,
) -> Result<Vec<(String, Page)>, QueryError> {
    if q.filters.is_empty() {
        return Ok(vec![("default".into(), run(store, q, limit)?)]);
    }
    let pg = store.kind() != "sqlite";
    let mut access = vec![Access::Table];
    for (c, _) in &q.filters {
        access.push(Access::List(index_name(&[c])));
    }
    let has = |c: &str| q.filters.iter().any(|(f, _)| *f == c);
    if has("actor_id") && has("organization_id") {
        access.push(Access::List(ACTOR_ORG_INDEX.into()));
    }
    let mut found = None;
    store.read(PG_SETTINGS, &mut |sql| {
        found = combos(sql, q)?;
        Ok(())
    })?;
    if let Some(c) = found {
        access.push(Access::Combo(c.ids));
    }
    if has("actor_id") && !pg {
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
/// [`PAIRED`]: their ids and their events in all. With an actor, only the actor's
/// combinations and the actor's events in them (`audit_actor_combo`, migration 0028):
/// exact, for one or more of those filters. Without, for two or more (one filter's own
/// index answers alone, and the combinations of a common value are many).
#[derive(Debug, Clone)]
struct Combos {
    ids: Vec<i64>,
    total: i64,
    /// The ids and the total are the actor's.
    of_actor: bool,
}

fn combos(sql: &mut dyn Sql, q: &Query) -> vouch_store::Result<Option<Combos>> {
    let five: Vec<&(&'static str, String)> = q
        .filters
        .iter()
        .filter(|(c, _)| PAIRED.contains(c))
        .collect();
    let actor = q.filters.iter().find(|(c, _)| *c == "actor_id");
    if five.is_empty() || actor.is_none() && five.len() < 2 {
        return Ok(None);
    }
    let mut params: Vec<Sql_> = Vec::new();
    let mut cond: Vec<String> = Vec::new();
    for (c, v) in &five {
        params.push(v.clone().into());
        cond.push(format!("c.{c} = ${}", params.len()));
    }
    let statement = match actor {
        Some((_, a)) => {
            params.push(a.clone().into());
            format!(
                "SELECT a.combo, a.count FROM audit_actor_combo a JOIN audit_combo c ON c.id = a.combo \
                 WHERE a.actor_id = ${} AND {}",
                params.len(),
                cond.join(" AND ")
            )
        }
        None => format!(
            "SELECT c.id, c.count FROM audit_combo c WHERE {}",
            cond.join(" AND ")
        ),
    };
    let rows = sql.query(&statement, &params)?;
    Ok(Some(Combos {
        ids: rows.iter().map(|r| r.int(0)).collect(),
        total: rows.iter().map(|r| r.int(1)).sum(),
        of_actor: actor.is_some(),
    }))
}

/// Combinations past which PostgreSQL is not given the list of combinations (so many
/// are a common value, which its own index or a read in seq order serves; each
/// combination is one seek, and a very long list costs planning time).
const PG_COMBO_IDS: usize = 1_000;

/// PostgreSQL's planner settings for the audit-log query's transaction
/// ([`vouch_store::Backend::read`]). Its statistics cannot see that two filters rarely
/// meet (an actor and an action), so on its own it may read an actor's hundred
/// thousand entries in seq order to find the few of one action, or a month through
/// the timestamp index and sort it. The query chooses the access itself ([`choose`])
/// and writes it so that it is the only plan without a sort ([`pg_seqs`]); these rule
/// out sequential scans, bitmap scans and sorts to fall back on (but for the sort that
/// merges the combinations' lists, the only plan there). JIT compilation and parallel
/// workers, worth it for long analytical queries, would add milliseconds to these.
const PG_SETTINGS: &[(&str, &str)] = &[
    ("jit", "off"),
    ("max_parallel_workers_per_gather", "0"),
    ("enable_seqscan", "off"),
    ("enable_bitmapscan", "off"),
    ("enable_sort", "off"),
    ("enable_incremental_sort", "off"),
];

/// What the read transaction brings back: the page's rows, or the access chosen.
enum Read {
    Rows(Vec<vouch_store::Row>),
    Hint(String),
}

fn run_with(
    store: &Store,
    q: &Query,
    limit: u64,
    plan: Option<Plan<'_>>,
) -> Result<Page, QueryError> {
    let pg = store.kind() != "sqlite";
    let (forced, record) = match plan {
        Some(Plan::Force(a)) => (Some(a), None),
        Some(Plan::Record(out)) => (None, Some(out)),
        None => (None, None),
    };
    let mut read = None;
    store.read(PG_SETTINGS, &mut |sql| {
        read = Some(read_page(
            sql,
            pg,
            q,
            limit,
            forced.clone(),
            record.is_some(),
        )?);
        Ok(())
    })?;
    let rows = match read {
        Some(Read::Rows(rows)) => rows,
        Some(Read::Hint(h)) => {
            if let Some(out) = record {
                *out = h;
            }
            return Ok((Vec::new(), None));
        }
        None => return Ok((Vec::new(), None)),
    };
    page_of(&rows, limit, |seq, r| {
        let text = r.text(1);
        if text.is_empty() {
            Ok(archived_stub(seq, r))
        } else {
            leaf(seq, &text)
        }
    })
}

/// The entries to skip before the page: none after a cursor, else the earlier pages.
fn offset_of(q: &Query, limit: u64) -> u64 {
    if q.cursor.is_some() {
        0
    } else {
        (q.page - 1) * limit
    }
}

/// A page from rows of `seq, …` read with one row more than `limit`: the first `limit`
/// made into results, and the cursor (the last seq given) when that extra row came.
fn page_of(
    rows: &[vouch_store::Row],
    limit: u64,
    mut result: impl FnMut(u64, &vouch_store::Row) -> Result<Value, QueryError>,
) -> Result<Page, QueryError> {
    let mut out = Vec::new();
    let mut last = None;
    for r in rows.iter().take(limit as usize) {
        let seq = r.int(0) as u64;
        last = Some(seq);
        out.push(result(seq, r)?);
    }
    Ok((out, last.filter(|_| rows.len() as u64 > limit)))
}

/// The query in one read transaction: the seq bounds of the date range, the
/// combinations, the access (chosen, or forced by a test), then the page's rows (or,
/// for `explain`, the access's name).
fn read_page(
    sql: &mut dyn Sql,
    pg: bool,
    q: &Query,
    limit: u64,
    forced: Option<Access>,
    explain: bool,
) -> vouch_store::Result<Read> {
    // A date range also bounds the seqs: every event of a day lies between the first and
    // last seq the day's counters record (exact, whatever the arrival order; narrow when
    // events arrive roughly in time order), so an index is read only there.
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    // What is asked in one statement: the least first seq and the greatest last seq of
    // the range's days, and the ledger's last seq (for the cost model's share of the
    // ledger). Only the range's own days are read: with both ends given, a month's
    // counters, not every day after its start and every day before its end.
    let mut asked = Vec::new();
    let mut bounds: Vec<Sql_> = Vec::new();
    let mut days = Vec::new();
    for (bound, op) in [(&q.start, ">="), (&q.end, "<=")] {
        if let Some(t) = bound {
            bounds.push(day(t).into());
            days.push(format!("day {op} ${}", bounds.len()));
        }
    }
    let days = days.join(" AND ");
    if q.start.is_some() {
        asked.push(format!(
            "(SELECT coalesce(min(first_seq), -1) FROM audit_daily WHERE {days})"
        ));
    }
    if q.end.is_some() {
        asked.push(format!(
            "(SELECT coalesce(max(last_seq), -1) FROM audit_daily WHERE {days})"
        ));
    }
    // One filter and no range: its own list, in seq order (nothing to estimate, below).
    let alone = q.filters.len() == 1 && q.start.is_none() && q.end.is_none();
    if !q.filters.is_empty() && !alone || q.end.is_none() && !asked.is_empty() {
        asked.push("(SELECT coalesce(max(seq), -1) FROM audit_index)".into());
    }
    let got = if asked.is_empty() {
        Vec::new()
    } else {
        let rows = sql.query(&format!("SELECT {}", asked.join(", ")), &bounds)?;
        (0..asked.len()).map(|i| rows[0].int(i)).collect()
    };
    let mut got = got.into_iter();
    let mut lo: i64 = q.cursor.map_or(0, |c| c as i64 + 1);
    if q.start.is_some() {
        let first = got.next().unwrap_or(-1);
        // No day at or after the start: nothing can match (an empty seq range).
        lo = lo.max(if first < 0 { i64::MAX / 2 } else { first });
    }
    let end_last = if q.end.is_some() { got.next() } else { None };
    let last = got.next().unwrap_or(i64::MAX / 2);
    let hi = end_last.unwrap_or(last);
    let offset = offset_of(q, limit);
    let need = offset + limit + 1;
    // The combinations' counts are exact (verification recounts them): none, no events.
    let combos = combos(sql, q)?;
    if forced.is_none() && combos.as_ref().is_some_and(|c| c.total == 0) {
        return Ok(Read::Hint("no combination".into()));
    }
    let access = match forced {
        Some(a) => a,
        None if q.filters.is_empty() => Access::Table,
        // Its list reads at most a page of entries from the index alone; the table, a
        // page at the list's density at best: the list, whatever its length.
        None if alone => Access::List(index_name(&[q.filters[0].0])),
        None => choose(sql, pg, q, (lo, hi, last + 1), need, combos.as_ref())?,
    };
    if explain {
        return Ok(Read::Hint(access.hint()));
    }
    let mut params: Vec<Sql_> = Vec::new();
    let seqs = if pg {
        pg_seqs(
            q,
            &access,
            combos.as_ref(),
            (lo, hi),
            need,
            limit,
            offset,
            &mut params,
        )
    } else {
        sqlite_seqs(q, &access, (lo, hi), limit, offset, &mut params)
    };
    // The page's seqs come from the index; then its leaves (and, for pruned entries,
    // their archive) are read by primary key.
    let page = format!(
        "SELECT s.seq, e.leaf, i.organization_id, i.actor_id, i.action, i.resource_type, i.category, i.result, i.ts, e.id, p.run_id, r.destination \
         FROM ({seqs}) s \
         JOIN audit_index i ON i.seq = s.seq JOIN ledger_entries e ON e.seq = s.seq \
         LEFT JOIN ledger_pruned p ON p.seq = s.seq LEFT JOIN retention_runs r ON r.run_id = p.run_id \
         ORDER BY s.seq"
    );
    Ok(Read::Rows(sql.query(&page, &params)?))
}

/// The statement of the page's seqs on SQLite: the filters, the date range and its seq
/// bounds, with the chosen access named (`NOT INDEXED`, `INDEXED BY`).
fn sqlite_seqs(
    q: &Query,
    access: &Access,
    (lo, hi): (i64, i64),
    limit: u64,
    offset: u64,
    params: &mut Vec<Sql_>,
) -> String {
    let by_combo = match access {
        Access::Combo(ids) => Some(ids),
        _ => None,
    };
    let mut cond = Vec::new();
    for (column, v) in &q.filters {
        if by_combo.is_some() && PAIRED.contains(column) {
            continue; // the combinations hold exactly these values
        }
        params.push(v.clone().into());
        // `column` is one of FILTERS' parameter names, never caller text.
        cond.push(format!("{column} = ${}", params.len()));
    }
    if let Some(ids) = by_combo {
        cond.push(format!("combo IN ({})", id_list(ids)));
    }
    cond.extend(ts_range(q, params, false));
    if lo > 0 || q.start.is_some() {
        params.push(Sql_::Int(lo));
        cond.push(format!("seq >= ${}", params.len()));
    }
    if q.end.is_some() {
        params.push(Sql_::Int(hi));
        cond.push(format!("seq <= ${}", params.len()));
    }
    let filter = if cond.is_empty() {
        String::new()
    } else if q.filters.is_empty() && q.start.is_none() && q.end.is_none() {
        format!("WHERE {}", cond.join(" AND ")) // a cursor alone: the planner's
    } else {
        format!("{} WHERE {}", access.hint(), cond.join(" AND "))
    };
    format!(
        "SELECT seq FROM audit_index {filter} ORDER BY seq LIMIT {} OFFSET {offset}",
        limit + 1
    )
}

/// The statement of the page's seqs on PostgreSQL, written so that the chosen access
/// is the only plan without a sort, which [`PG_SETTINGS`] rules out:
/// - the table: every filter and the timestamp as `(…) IS TRUE`, which no index
///   matches, so only the primary key gives seq order;
/// - a list (a filter's index, an actor's in an organisation, a combination's): its
///   columns bounded by [`pg_list`], so that the order `(columns…, seq)` is that
///   index's alone;
/// - the combinations: one list each (`LATERAL`, at most `need` from each, of the
///   actor when one is given), merged by the one sort of at most `need` × their number.
#[allow(clippy::too_many_arguments)] // the page's parts, each used once
fn pg_seqs(
    q: &Query,
    access: &Access,
    combos: Option<&Combos>,
    (lo, hi): (i64, i64),
    need: u64,
    limit: u64,
    offset: u64,
    params: &mut Vec<Sql_>,
) -> String {
    let listed: Vec<&str> = match access {
        Access::List(index) if index == ACTOR_ORG_INDEX => vec!["actor_id", "organization_id"],
        Access::List(index) => FILTERS
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| index_name(&[c]) == *index)
            .collect(),
        _ => vec![],
    };
    let combo = match access {
        Access::Combo(ids) => Some(ids),
        _ => None,
    };
    // The actor's list checks the other filters by the actor's combinations, which its
    // index holds (migration 0028): from the index alone.
    let actor_combos = match (access, combos) {
        (Access::List(index), Some(k)) if index == ACTOR_INDEX && k.of_actor => Some(&k.ids),
        _ => None,
    };
    let mut cond = Vec::new();
    let mut row = Vec::new();
    if let Some(ids) = actor_combos {
        cond.push(format!("combo = ANY('{{{}}}'::bigint[])", id_list(ids)));
    }
    for (column, v) in &q.filters {
        if (combo.is_some() || actor_combos.is_some()) && PAIRED.contains(column) {
            continue; // the combinations hold exactly these values
        }
        params.push(v.clone().into());
        let p = params.len();
        // `column` is one of FILTERS' parameter names, never caller text.
        if listed.contains(column) {
            row.push(format!("${p}::text AS {column}"));
        } else if combo.is_some() {
            cond.push(format!("{column} = ${p}")); // the actor: (actor_id, combo, seq)
        } else {
            cond.push(format!("({column} = ${p}) IS TRUE"));
        }
    }
    cond.extend(ts_range(q, params, true));
    params.push(Sql_::Int(lo));
    let lo = format!("${}", params.len());
    params.push(Sql_::Int(hi));
    let hi = format!("${}", params.len());
    let page = format!("LIMIT {} OFFSET {offset}", limit + 1);
    if let Some(ids) = combo {
        let bounds = pg_list(&[("combo", "k.id")], &lo, &hi);
        cond.insert(0, bounds);
        format!(
            "SELECT x.seq FROM unnest('{{{}}}'::bigint[]) AS k(id) CROSS JOIN LATERAL \
             (SELECT seq FROM audit_index WHERE {} ORDER BY combo, seq LIMIT {need}) x \
             ORDER BY x.seq {page}",
            id_list(ids),
            cond.join(" AND ")
        )
    } else if !listed.is_empty() {
        // In the index's column order (FILTERS order is not ACTOR_ORG_INDEX's).
        let cols: Vec<(&str, String)> = listed.iter().map(|c| (*c, format!("v.{c}"))).collect();
        let cols: Vec<(&str, &str)> = cols.iter().map(|(c, v)| (*c, v.as_str())).collect();
        cond.insert(0, pg_list(&cols, &lo, &hi));
        format!(
            "WITH v AS MATERIALIZED (SELECT {}) SELECT x.seq FROM v CROSS JOIN LATERAL \
             (SELECT seq, {names} FROM audit_index WHERE {} ORDER BY {names}, seq LIMIT {need}) x \
             ORDER BY x.seq {page}",
            row.join(", "),
            cond.join(" AND "),
            names = listed.join(", ")
        )
    } else {
        cond.push(format!("seq >= {lo} AND seq <= {hi}"));
        format!(
            "SELECT seq FROM audit_index WHERE {} ORDER BY seq {page}",
            cond.join(" AND ")
        )
    }
}

/// The conditions of the query's time range (half-open), bound as `params`; `opaque`
/// writes them as `(…) IS TRUE`, which no PostgreSQL index matches.
fn ts_range(q: &Query, params: &mut Vec<Sql_>, opaque: bool) -> Vec<String> {
    let mut cond = Vec::new();
    for (bound, op) in [(&q.start, ">="), (&q.end, "<")] {
        if let Some(t) = bound {
            params.push(t.clone().into());
            let c = format!("ts {op} ${}", params.len());
            cond.push(if opaque { format!("({c}) IS TRUE") } else { c });
        }
    }
    cond
}

/// The index conditions of one list on PostgreSQL, an index `(columns…, seq)`: each
/// column between its value and its value (not `=`, which would let the planner drop
/// the column from the order and read the primary key in seq order instead, checking
/// each row), the seq from `lo`, and the whole key at most `(values…, hi)` (which ends
/// the index scan at `hi`: a bound on the seq alone would not, after a range).
fn pg_list(cols: &[(&str, &str)], lo: &str, hi: &str) -> String {
    let mut c: Vec<String> = cols
        .iter()
        .map(|(col, v)| format!("{col} >= {v} AND {col} <= {v}"))
        .collect();
    c.push(format!("seq >= {lo}"));
    let names: Vec<&str> = cols.iter().map(|(col, _)| *col).collect();
    let values: Vec<&str> = cols.iter().map(|(_, v)| *v).collect();
    c.push(format!(
        "({}, seq) <= ({}, {hi})",
        names.join(", "),
        values.join(", ")
    ));
    c.join(" AND ")
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

/// The estimated number of entries of each list (an index and the values of its
/// columns) with a seq in `lo..=hi`, all in one statement: exact when the list holds
/// fewer than [`SAMPLE`] there, else extrapolated from how far into the range its first
/// [`SAMPLE`] entries reach (read from the index alone, a few tens of microseconds).
fn estimates(
    sql: &mut dyn Sql,
    pg: bool,
    lists: &[(String, Vec<(&'static str, &str)>)],
    lo: i64,
    hi: i64,
) -> vouch_store::Result<Vec<(f64, bool)>> {
    if lists.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Sql_> = Vec::new();
    let mut from = Vec::new();
    let mut cols = Vec::new();
    for (i, (index, eqs)) in lists.iter().enumerate() {
        let sample = sample_seqs(pg, index, eqs, lo, hi, &mut params);
        from.push(format!(
            "(SELECT count(*) AS n, coalesce(max(seq), -1) AS last FROM ({sample}) x) s{i}"
        ));
        cols.push(format!("s{i}.n, s{i}.last"));
    }
    let rows = sql.query(
        &format!("SELECT {} FROM {}", cols.join(", "), from.join(", ")),
        &params,
    )?;
    let span = (hi - lo + 1).max(1) as f64;
    Ok((0..lists.len())
        .map(|i| {
            let (n, last) = (rows[0].int(2 * i), rows[0].int(2 * i + 1));
            if n < SAMPLE {
                (n as f64, true)
            } else {
                (
                    SAMPLE as f64 * span / ((last - lo + 1).max(1) as f64),
                    false,
                )
            }
        })
        .collect())
}

/// The statement of a list's first [`SAMPLE`] seqs in `lo..=hi`, its values bound as
/// `params`: on PostgreSQL the list's own index, as in [`pg_seqs`].
fn sample_seqs(
    pg: bool,
    index: &str,
    eqs: &[(&'static str, &str)],
    lo: i64,
    hi: i64,
    params: &mut Vec<Sql_>,
) -> String {
    let first = params.len() + 1;
    for (_, v) in eqs {
        params.push(v.to_string().into());
    }
    params.push(Sql_::Int(lo));
    params.push(Sql_::Int(hi));
    let (l, h) = (params.len() - 1, params.len());
    let names: Vec<&str> = eqs.iter().map(|(c, _)| *c).collect();
    if pg {
        let row: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, c)| format!("${}::text AS {c}", first + i))
            .collect();
        let vals: Vec<String> = names.iter().map(|c| format!("v.{c}")).collect();
        let cols: Vec<(&str, &str)> = names
            .iter()
            .zip(&vals)
            .map(|(c, v)| (*c, v.as_str()))
            .collect();
        format!(
            "WITH v AS MATERIALIZED (SELECT {}) SELECT x.seq FROM v CROSS JOIN LATERAL \
             (SELECT seq, {names} FROM audit_index WHERE {} \
             ORDER BY {names}, seq LIMIT {SAMPLE}) x",
            row.join(", "),
            pg_list(&cols, &format!("${l}"), &format!("${h}")),
            names = names.join(", ")
        )
    } else {
        let cond: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", first + i))
            .collect();
        format!(
            "SELECT seq FROM audit_index INDEXED BY {index} WHERE {} AND seq >= ${l} AND seq <= ${h} ORDER BY seq LIMIT {SAMPLE}",
            cond.join(" AND "),
        )
    }
}

/// The actor's index (migration 0018; on PostgreSQL, since 0028, with the timestamp
/// and the combination).
const ACTOR_INDEX: &str = "audit_index_actor";

/// PostgreSQL's lists that carry the timestamp (migration 0028): with a date range and
/// no other filter, read from the index alone.
const PG_TS_LISTS: &[&str] = &["audit_index_org", "audit_index_actor"];

/// The index of an actor's entries in one organisation, in seq order (migration 0027):
/// an actor and an organisation that rarely or never meet are read as exactly their
/// entries.
const ACTOR_ORG_INDEX: &str = "audit_index_actor_org";

/// The access to `audit_index` for a query: the cheapest by estimated cost. SQLite keeps
/// no per-value statistics, and PostgreSQL's cannot tell that two filters rarely meet,
/// so on its own either may read a filter that matches millions of rows
/// (`result=success`) to find the few that also match a rare actor, or read a month
/// through the timestamp index and sort it. Each filter's list is estimated from a
/// sample ([`estimate`]); the matches are the combinations' exact count (two or more of
/// [`PAIRED`], or one with an actor) or the filters' densities multiplied (as if
/// independent); then the cost of each access is what it reads to find `need` matches
/// ([`Access`]). SQLite is told the access by a hint ([`sqlite_seqs`]), PostgreSQL by
/// the statement's shape ([`pg_seqs`]).
fn choose(
    sql: &mut dyn Sql,
    pg: bool,
    q: &Query,
    range: (i64, i64, i64),
    need: u64,
    combos: Option<&Combos>,
) -> vouch_store::Result<Access> {
    let (lo, hi, size) = range;
    if hi < lo || q.filters.is_empty() {
        return Ok(Access::Table);
    }
    let span = (hi - lo + 1) as f64;
    // The share of the ledger the seq range covers (the combinations count all of it).
    let share = (span / (size.max(1) as f64)).min(1.0);
    let need = need as f64;
    let ranged = q.start.is_some() || q.end.is_some();
    // The combinations' exact count makes their access's cost known: when it is below
    // what any list costs to read a page, no list is sampled (a round trip each).
    if let (Some(k), true) = (combos, pg) {
        let read = (k.total as f64 * share).min(k.ids.len() as f64 * need);
        if k.ids.len() <= PG_COMBO_IDS
            && COST_SEEK * k.ids.len() as f64 + COST_ENTRY * read <= COST_ENTRY * need
        {
            return Ok(Access::Combo(k.ids.clone()));
        }
    }
    // Every filter's list, and an actor's within an organisation, sampled at once.
    let value = |c: &str| q.filters.iter().find(|(f, _)| *f == c).map(|(_, v)| v);
    let mut sampled: Vec<(String, Vec<(&'static str, &str)>)> = q
        .filters
        .iter()
        .map(|(c, v)| (index_name(&[c]), vec![(*c, v.as_str())]))
        .collect();
    if let (Some(a), Some(o)) = (value("actor_id"), value("organization_id")) {
        let eqs = vec![("actor_id", a.as_str()), ("organization_id", o.as_str())];
        sampled.push((ACTOR_ORG_INDEX.into(), eqs));
    }
    let found = estimates(sql, pg, &sampled, lo, hi)?;
    // A list with no entry in the range: nothing matches, and reading it says so.
    if let Some(i) = found.iter().position(|&(n, exact)| exact && n == 0.0) {
        return Ok(Access::List(sampled[i].0.clone()));
    }
    let lists: Vec<(&'static str, f64)> = q
        .filters
        .iter()
        .zip(&found)
        .map(|((c, _), (n, _))| (*c, *n))
        .collect();
    let actor_org = found.get(q.filters.len()).map(|(n, _)| *n);
    let n_of = |c: &str| lists.iter().find(|(l, _)| *l == c).map(|(_, n)| *n);
    let actor = n_of("actor_id");
    let density = |skip: &[&str]| {
        lists
            .iter()
            .filter(|(c, _)| !skip.contains(c))
            .fold(1.0, |d, (_, n)| d * n / span)
    };
    let mut matches = match combos {
        Some(k) if k.of_actor => k.total as f64 * share,
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
        // Read from the index alone: it holds every filter, and the range's timestamp
        // (on PostgreSQL an organisation's and an actor's list carry it, migration 0028).
        let with_ts = pg && PG_TS_LISTS.contains(&index.as_str());
        // On PostgreSQL the actor's index also holds the combination: with the actor's
        // combinations, every other filter is checked there.
        let by_combo = pg && index == ACTOR_INDEX && combos.is_some_and(|k| k.of_actor);
        let complete = (columns == lists.len() || by_combo) && (!ranged || with_ts);
        let cost = if complete && by_combo {
            COST_ENTRY * n.min(need * n / matches)
        } else if complete {
            COST_ENTRY * n.min(need)
        } else {
            COST_LOOKUP * n.min(need * n / matches)
        };
        if cost < best.0 {
            best = (cost, Access::List(index));
        }
    }
    match combos {
        Some(k) if !pg => {
            // The index is (combo, actor_id, ts): with an actor, exactly its entries of
            // these combinations; without, all of the combinations' entries (the date
            // range checked in the index, not narrowing it).
            let read = match actor {
                Some(_) => matches,
                None => k.total as f64,
            };
            let cost = COST_ENTRY * read + COST_SEEK * k.ids.len() as f64;
            if cost < best.0 {
                best = (cost, Access::Combo(k.ids.clone()));
            }
        }
        Some(k) if k.ids.len() <= PG_COMBO_IDS => {
            // PostgreSQL reads each combination's list in seq order, at most `need` from
            // each (every entry read a match, but for the date range), from the index
            // alone ((combo, seq) or (actor_id, combo, seq), the timestamp included).
            let k_n = k.ids.len() as f64;
            let cost = COST_SEEK * k_n + COST_ENTRY * (k.total as f64 * share).min(k_n * need);
            if cost < best.0 {
                best = (cost, Access::Combo(k.ids.clone()));
            }
        }
        _ => {}
    }
    if let (Some(a), false) = (actor, pg) {
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
    let mut params: Vec<Sql_> = Vec::new();
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
        params.push(Sql_::Int(c as i64));
        sql.push_str(&format!(" AND seq > ${}", params.len()));
    }
    let offset = offset_of(q, limit);
    sql.push_str(&format!(
        " ORDER BY seq LIMIT {} OFFSET {offset}",
        limit + 1
    ));
    let rows = store.query(&sql, &params)?;
    page_of(&rows, limit, |seq, r| leaf(seq, &r.text(1)))
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
        let m28 =
            include_str!("../../vouch-store/src/migrations/postgres/0028_audit_actor_combo.sql");
        for (index, c, include) in [
            ("audit_index_org", "organization_id", "ts"),
            (ACTOR_INDEX, "actor_id", "ts, combo"),
        ] {
            assert!(PG_TS_LISTS.contains(&index));
            assert!(m28.contains(&format!(
                "CREATE INDEX {index} ON audit_index ({c}, seq) INCLUDE ({include})"
            )));
        }
        assert!(
            m28.contains("CREATE INDEX audit_index_combo ON audit_index (combo, seq) INCLUDE (ts)")
        );
        assert!(m28.contains("CREATE INDEX audit_index_actor_combo ON audit_index (actor_id, combo, seq) INCLUDE (ts)"));
        let m27 = include_str!("../../vouch-store/src/migrations/sqlite/0027_audit_combo.sql");
        assert!(m27.contains(&format!(
            "CREATE INDEX audit_index_actor_cover ON audit_index\n    (actor_id, {}, ts)",
            COVER_ORDER.join(", ")
        )));
    }
}

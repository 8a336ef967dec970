//! `vouch-bench auditlog`: latency of `GET /audit-logs`' query per seed 003 filter,
//! pairs of filters and date ranges, through the audit-log index (`audit_index`,
//! migration 0018) and, in the same run on the same data, through the former query (the
//! engine's JSON functions over every leaf, `vouch_server::query::run_baseline`). Also
//! the append throughput of the fill (the sequencer writes index rows and daily
//! counters in every commit) and the `daily_counts` read a dashboard makes.
//!
//! Events are realistic in spread: organisations, actors and actions follow skewed
//! (Zipf-like) distributions, each action has its category, most results are
//! `success`. The fill re-stamps a pool of validated events with fresh ids and
//! timestamps (as `ledger::fill_between` does), so event generation is not the limit.

use crate::ledger::Scratch;
use crate::{machine, round};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vouch_core::event::{Event, Sealed};
use vouch_engine::demo::day;
use vouch_engine::{Error, Ledger};
use vouch_server::query::{self, AuditParams};
use vouch_store::Store;

/// Parameters of `vouch-bench auditlog`.
#[derive(Debug, Clone)]
pub struct AuditLogBench {
    /// Events in the ledger.
    pub events: usize,
    /// Timed queries per case and path (the baseline stops early past `baseline_budget`).
    pub queries: usize,
    /// Most time spent on one case's baseline queries (at least one is run; at 10M
    /// events one baseline query can take seconds).
    pub baseline_budget: Duration,
    /// PostgreSQL URL; PostgreSQL is skipped without one.
    pub postgres: Option<String>,
    /// Scratch directory.
    pub dir: PathBuf,
}

const ORGS: usize = 40;
const ACTORS: usize = 5000;
const ACTIONS: &[(&str, &str)] = &[
    ("user.login", "authentication"),
    ("user.logout", "authentication"),
    ("user.mfa_challenge", "authentication"),
    ("password.reset", "authentication"),
    ("session.refresh", "authentication"),
    ("token.issue", "authentication"),
    ("role.assign", "authorization"),
    ("role.revoke", "authorization"),
    ("permission.check", "authorization"),
    ("policy.evaluate", "authorization"),
    ("record.read", "data_access"),
    ("report.download", "data_access"),
    ("export.create", "data_access"),
    ("search.run", "data_access"),
    ("customer.view", "data_access"),
    ("record.update", "data_modification"),
    ("record.delete", "data_modification"),
    ("record.create", "data_modification"),
    ("bulk.import", "data_modification"),
    ("user.create", "administrative"),
    ("user.disable", "administrative"),
    ("config.change", "administrative"),
    ("integration.add", "administrative"),
    ("billing.update", "administrative"),
    ("firewall.change", "security"),
    ("key.rotate", "security"),
    ("alert.raise", "security"),
    ("scan.complete", "security"),
    ("backup.complete", "system"),
    ("deploy.finish", "system"),
    ("job.run", "system"),
    ("cert.renew", "system"),
];
const RESOURCE_TYPES: &[&str] = &[
    "user",
    "role",
    "session",
    "record",
    "report",
    "database",
    "bucket",
    "repository",
    "service",
    "key",
    "policy",
    "invoice",
    "ticket",
    "job",
    "certificate",
    "group",
];

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed towards small values: about 1/k of the mass on the k-th decile.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0).floor() as usize % n
    }
}

fn org(i: usize) -> String {
    format!("org_{i:03}")
}
fn actor(i: usize) -> String {
    format!("usr_{i:05}")
}

/// Validated events (canonical form, id and timestamp placeholders) to re-stamp.
fn pool(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let (action, category) = ACTIONS[rng.skewed(ACTIONS.len())];
            let r = rng.below(100);
            let result = if r < 90 {
                "success"
            } else if r < 97 {
                "failure"
            } else {
                "denied"
            };
            let mut e = json!({
                "id": MARK,
                "timestamp": "2025-01-01T00:00:00Z",
                "organization_id": org(rng.skewed(ORGS)),
                "actor": {"id": actor(rng.skewed(ACTORS)), "ip": format!("10.0.{}.{}", rng.below(256), rng.below(256))},
                "action": action,
                "category": category,
                "resource": {"type": RESOURCE_TYPES[rng.skewed(RESOURCE_TYPES.len())], "id": format!("res_{}", rng.below(100_000))},
                "result": result,
            });
            if rng.below(50) == 0 {
                // Some events without an actor (system events) or organisation.
                e.as_object_mut().expect("object").remove("actor");
            }
            Event::from_value(e).expect("valid").canonical().to_vec()
        })
        .collect()
}

const MARK: &str = "ffffffff-ffff-7fff-bfff-ffffffffffff";

/// Append `count` events spread over 2025, in batches of 10,000; the throughput.
fn fill(ledger: &Ledger, count: usize, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pool = pool(&mut rng, 20_000);
    let start_us = day(2025, 1, 1).timestamp_micros();
    let span_us = (day(2026, 1, 1) - day(2025, 1, 1))
        .num_microseconds()
        .unwrap_or(1) as u128;
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Sealed>>(4);
    let producer = std::thread::spawn(move || {
        let mut n = 0u64;
        let mut made = 0usize;
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        while made < count {
            let k = 10_000.min(count - made);
            let batch: Vec<Sealed> = (0..k)
                .map(|_| {
                    n += 1;
                    let tmpl = &pool[rng.below(pool.len())];
                    let t = start_us + ((n as u128 * span_us) / (count as u128 + 1)) as i64;
                    let ts = vouch_core::event::format_timestamp(
                        &chrono::DateTime::from_timestamp_micros(t).expect("in range"),
                    );
                    let id = format!(
                        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
                        (t / 1000) >> 16,
                        (t / 1000) & 0xffff,
                        (n >> 48) & 0xfff,
                        (n >> 36) & 0xfff,
                        n & 0xffff_ffff_ffff
                    );
                    let text = std::str::from_utf8(tmpl)
                        .expect("utf-8")
                        .replacen(MARK, &id, 1);
                    let mut canonical = text.into_bytes();
                    let tail = canonical.len() - 29;
                    canonical[tail..tail + 27].copy_from_slice(ts.as_bytes());
                    Sealed { id, ts, canonical }
                })
                .collect();
            made += k;
            if tx.send(batch).is_err() {
                break;
            }
        }
    });
    let t = Instant::now();
    let mut done = 0usize;
    for batch in rx {
        done += batch.len();
        ledger.append_sealed(batch)?;
        if done % 1_000_000 < 10_000 {
            progress(&format!(
                "filled {done}/{count} ({:.0} events/s)",
                done as f64 / t.elapsed().as_secs_f64()
            ));
        }
    }
    let _ = producer.join();
    let s = t.elapsed().as_secs_f64();
    Ok(
        json!({"events": count, "batch": 10_000, "seconds": round(s, 1), "events_per_sec": round(count as f64 / s.max(1e-9), 0)}),
    )
}

/// One kind of query: which filters, and whether with a date range.
struct Case {
    name: String,
    filters: Vec<&'static str>,
    range: Option<Range>,
}

#[derive(Clone, Copy)]
enum Range {
    /// One month (`start_date`/`end_date` as dates).
    Month,
    /// One day.
    Day,
}

const FILTERS: [&str; 6] = [
    "organization_id",
    "actor_id",
    "action",
    "resource_type",
    "category",
    "result",
];

fn cases() -> Vec<Case> {
    let mut out = vec![Case {
        name: "none".into(),
        filters: vec![],
        range: None,
    }];
    for f in FILTERS {
        out.push(Case {
            name: f.into(),
            filters: vec![f],
            range: None,
        });
    }
    for (i, a) in FILTERS.iter().enumerate() {
        for b in &FILTERS[i + 1..] {
            out.push(Case {
                name: format!("{a}+{b}"),
                filters: vec![a, b],
                range: None,
            });
        }
    }
    out.push(Case {
        name: "month".into(),
        filters: vec![],
        range: Some(Range::Month),
    });
    out.push(Case {
        name: "day".into(),
        filters: vec![],
        range: Some(Range::Day),
    });
    for f in FILTERS {
        out.push(Case {
            name: format!("{f}+month"),
            filters: vec![f],
            range: Some(Range::Month),
        });
        out.push(Case {
            name: format!("{f}+day"),
            filters: vec![f],
            range: Some(Range::Day),
        });
    }
    for (a, b) in [
        ("organization_id", "actor_id"),
        ("actor_id", "action"),
        ("category", "result"),
        ("organization_id", "category"),
        ("action", "result"),
    ] {
        out.push(Case {
            name: format!("{a}+{b}+month"),
            filters: vec![a, b],
            range: Some(Range::Month),
        });
    }
    out
}

/// A value for a filter, drawn as the events were (so common values are asked often).
fn value(rng: &mut Rng, f: &str) -> String {
    match f {
        "organization_id" => org(rng.skewed(ORGS)),
        "actor_id" => actor(rng.skewed(ACTORS)),
        "action" => ACTIONS[rng.skewed(ACTIONS.len())].0.to_string(),
        "resource_type" => RESOURCE_TYPES[rng.skewed(RESOURCE_TYPES.len())].to_string(),
        "category" => vouch_core::event::CATEGORIES[rng.below(7)].to_string(),
        _ => vouch_core::event::RESULTS[rng.below(3)].to_string(),
    }
}

fn params(rng: &mut Rng, c: &Case) -> AuditParams {
    let mut p = AuditParams::default();
    for f in &c.filters {
        let v = Some(value(rng, f));
        match *f {
            "organization_id" => p.organization_id = v,
            "actor_id" => p.actor_id = v,
            "action" => p.action = v,
            "resource_type" => p.resource_type = v,
            "category" => p.category = v,
            _ => p.result = v,
        }
    }
    if let Some(r) = c.range {
        let d = day(2025, 1, 1) + chrono::Duration::days(rng.below(330) as i64);
        let end = match r {
            Range::Month => d + chrono::Duration::days(30),
            Range::Day => d,
        };
        p.start_date = Some(d.format("%Y-%m-%d").to_string());
        p.end_date = Some(end.format("%Y-%m-%d").to_string());
    }
    p
}

type Run =
    fn(&Store, &query::Query, u64) -> vouch_server::error::ApiResult<(Vec<Value>, Option<u64>)>;

/// Time the queries (stopping once `budget` is spent, after at least `min_runs`);
/// percentiles in ms.
fn time(
    store: &Store,
    run: Run,
    qs: &[query::Query],
    budget: Duration,
    min_runs: usize,
) -> Result<Value, Error> {
    let started = Instant::now();
    let mut ms = Vec::new();
    let mut rows = 0usize;
    for q in qs {
        let t = Instant::now();
        let (data, _) = run(store, q, q.per_page).map_err(|e| Error::config(e.message))?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        rows += data.len();
        if ms.len() >= min_runs && started.elapsed() > budget {
            break;
        }
    }
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let pct =
        |p: f64| sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1];
    Ok(
        json!({"n": ms.len(), "p50_ms": round(pct(0.5), 2), "p95_ms": round(pct(0.95), 2), "p99_ms": round(pct(0.99), 2), "max_ms": round(pct(1.0), 2), "mean_rows": rows / ms.len().max(1)}),
    )
}

fn one_backend(
    b: &AuditLogBench,
    postgres: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<Value, Error> {
    let name = if postgres.is_some() {
        "auditlog-pg"
    } else {
        "auditlog-sqlite"
    };
    let scratch = Scratch::new(&b.dir, name, postgres)?;
    let (store, _keys, ledger) = scratch.open()?;
    progress(&format!("{}: filling {} events", store.kind(), b.events));
    let fill = fill(&ledger, b.events, progress)?;
    if store.kind() == "postgres" {
        // What autovacuum does shortly after a bulk load; the planner needs statistics.
        store.write(&mut |sql| sql.execute("ANALYZE", &[]).map(|_| ()))?;
    }
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut out = Vec::new();
    let mut worst_index_p99: f64 = 0.0;
    for c in cases() {
        let qs: Vec<query::Query> = (0..b.queries)
            .map(|_| query::parse(&params(&mut rng, &c)).map_err(|e| Error::config(e.message)))
            .collect::<Result<_, _>>()?;
        // Warm both paths once (page cache), then time.
        let _ = query::run(&store, &qs[0], 100);
        let index = time(&store, query::run, &qs, Duration::from_secs(60), 20)?;
        let baseline = time(&store, query::run_baseline, &qs, b.baseline_budget, 1)?;
        worst_index_p99 = worst_index_p99.max(index["p99_ms"].as_f64().unwrap_or(0.0));
        progress(&format!(
            "{}: {:<40} index p50 {:>8} ms p99 {:>8} ms | baseline p50 {:>9} ms p99 {:>9} ms",
            store.kind(),
            c.name,
            index["p50_ms"],
            index["p99_ms"],
            baseline["p50_ms"],
            baseline["p99_ms"]
        ));
        out.push(json!({"case": c.name, "index": index, "baseline": baseline}));
    }
    // The dashboard's read: a year of daily counters.
    let t = Instant::now();
    let daily = store.daily_counts("2025-01-01", "2025-12-31")?;
    let daily_ms = t.elapsed().as_secs_f64() * 1e3;
    let size = match store.kind() {
        "sqlite" => std::fs::metadata(scratch.config.database_url())
            .map(|m| m.len())
            .unwrap_or(0),
        _ => 0,
    };
    Ok(json!({
        "backend": store.kind(),
        "fill": fill,
        "database_mb": round(size as f64 / 1048576.0, 0),
        "worst_index_p99_ms": round(worst_index_p99, 2),
        "daily_counts_year": {"rows": daily.len(), "ms": round(daily_ms, 2)},
        "queries": out,
    }))
}

/// Run the benchmark on SQLite, and on PostgreSQL when a URL is given.
pub fn auditlog(b: &AuditLogBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    let mut results = vec![one_backend(b, None, progress)?];
    if let Some(url) = &b.postgres {
        results.push(one_backend(b, Some(url), progress)?);
    }
    Ok(json!({
        "benchmark": "auditlog",
        "machine": machine(),
        "build": if cfg!(debug_assertions) { "debug (dependencies at opt-level 1)" } else { "release" },
        "events": b.events,
        "queries_per_case": b.queries,
        "per_page": 100,
        "goal": "p99 <= 20 ms per filter combination at 10M events (issue 17)",
        "results": results,
    }))
}

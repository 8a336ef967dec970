//! `vouch-bench ledger`: append throughput (batched and 64 concurrent single-event
//! appenders), verification throughput and memory, and a baseline measured in the same
//! run: the same events inserted into a PostgreSQL table whose pgcrypto `BEFORE INSERT`
//! trigger hash-chains each row to the previous one (what most teams build).

use crate::child::{run_measured, Vouch};
use crate::{machine, round};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vouch_core::event::{Event, Sealed};
use vouch_engine::demo::{day, Generator};
use vouch_engine::ledger::LedgerOptions;
use vouch_engine::{Error, Keys, Ledger};
use vouch_store::Store;

/// Parameters of `vouch-bench ledger`.
#[derive(Debug, Clone)]
pub struct LedgerBench {
    /// Events for the batched-append runs.
    pub batched_events: usize,
    /// Events per batch in the batched runs.
    pub batch_size: usize,
    /// Events for the concurrent run (split over `appenders` threads).
    pub concurrent_events: usize,
    /// Concurrent appender threads.
    pub appenders: usize,
    /// Ledger sizes at which SQLite verification is measured.
    pub verify_sizes: Vec<usize>,
    /// Ledger sizes at which PostgreSQL verification is measured.
    pub pg_verify_sizes: Vec<usize>,
    /// PostgreSQL URL; the Postgres parts are skipped without one.
    pub postgres: Option<String>,
    /// Scratch directory (SQLite files, keys).
    pub dir: PathBuf,
    /// The `vouch` binary verification runs in (default: next to this executable).
    pub vouch: Option<PathBuf>,
}

/// One throughput measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Events appended or verified.
    pub events: usize,
    /// Wall-clock time, in seconds.
    pub seconds: f64,
    /// `events / seconds`.
    pub events_per_sec: f64,
}

/// Throughput and per-append latency of the concurrent single-event run.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Events appended.
    pub events: usize,
    /// Concurrent appender threads.
    pub appenders: usize,
    /// Wall-clock time, in seconds.
    pub seconds: f64,
    /// `events / seconds`.
    pub events_per_sec: f64,
    /// Median append latency, in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile append latency, in milliseconds.
    pub p99_ms: f64,
    /// Slowest append, in milliseconds.
    pub max_ms: f64,
}

fn throughput(events: usize, d: Duration) -> Throughput {
    let s = d.as_secs_f64();
    Throughput {
        events,
        seconds: round(s, 3),
        events_per_sec: round(events as f64 / s.max(1e-9), 0),
    }
}

/// All batches generated before timing starts (generation is not what is measured).
fn pregenerated(total: usize, size: usize, seed: u64) -> Vec<Vec<Sealed>> {
    batches(total, size, seed)
        .iter()
        .map(|b| b.into_iter().map(Event::seal).collect())
        .collect()
}

/// Events in batches, generated on another thread.
fn batches(total: usize, size: usize, seed: u64) -> crossbeam_channel::Receiver<Vec<Event>> {
    let (tx, rx) = crossbeam_channel::bounded(8);
    std::thread::spawn(move || {
        let mut gen = Generator::new(seed, 400);
        let start = day(2025, 1, 1);
        let step = chrono::Duration::days(365) / ((total / size).max(1) as i32);
        let mut made = 0;
        let mut t = start;
        while made < total {
            let n = size.min(total - made);
            let batch = gen.span(t, t + step, n);
            t += step;
            made += n;
            if tx.send(batch).is_err() {
                break;
            }
        }
    });
    rx
}

/// A fresh data directory (and PostgreSQL schema), removed when dropped.
pub struct Scratch {
    /// The configuration of the scratch data directory.
    pub config: vouch_engine::Config,
    /// The PostgreSQL schema, when running on PostgreSQL (dropped with the scratch).
    pub schema: Option<String>,
}

impl Scratch {
    /// Initialise `dir/name` afresh (on PostgreSQL at `postgres`, in a new schema, if given).
    pub fn new(dir: &Path, name: &str, postgres: Option<&str>) -> Result<Scratch, Error> {
        let d = dir.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let mut config =
            vouch_engine::init::init(&d, Some("Bench"), Some("bench.example/vouch/audit"))?.config;
        let mut schema = None;
        if let Some(url) = postgres {
            let s = format!(
                "vouch_bench_{}_{}",
                std::process::id(),
                name.replace('-', "_")
            );
            config.settings.database.url = url.to_string();
            config.settings.database.schema = s.clone();
            drop_schema(url, &s);
            schema = Some(s);
        }
        Ok(Scratch { config, schema })
    }

    /// Open its store, keys and ledger.
    pub fn open(&self) -> Result<(Store, Keys, Ledger), Error> {
        let keys = Keys::load(&self.config)?;
        let store = vouch_store::open(
            &self.config.database_url(),
            self.config.database_schema().as_deref(),
        )?;
        let ledger = Ledger::open(
            store.clone(),
            &keys,
            LedgerOptions {
                checkpoint_interval: Duration::from_secs(3600),
                max_batch: 10_000,
                ..Default::default()
            },
        );
        Ok((store, keys, ledger))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(s) = &self.schema {
            drop_schema(&self.config.settings.database.url, s);
        }
    }
}

fn drop_schema(url: &str, schema: &str) {
    if let Ok(mut c) = vouch_store::pg_tls::PgDsn::parse(url)
        .map_err(|_| ())
        .and_then(|d| d.connect().map_err(|_| ()))
    {
        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

fn batched(ledger: &Ledger, batches: Vec<Vec<Sealed>>) -> Result<Throughput, Error> {
    let total = batches.iter().map(Vec::len).sum();
    let t = Instant::now();
    for batch in batches {
        ledger.append_sealed(batch)?;
    }
    Ok(throughput(total, t.elapsed()))
}

/// The same batches with up to `depth` in flight (a client that does not wait for one
/// acknowledgement before sending the next); the sequencer gathers them per commit.
fn pipelined(
    ledger: &Ledger,
    batches: Vec<Vec<Sealed>>,
    depth: usize,
) -> Result<Throughput, Error> {
    let total = batches.iter().map(Vec::len).sum();
    let t = Instant::now();
    let mut inflight = std::collections::VecDeque::new();
    for batch in batches {
        if inflight.len() == depth {
            let rx: tokio::sync::oneshot::Receiver<_> = inflight.pop_front().expect("non-empty");
            rx.blocking_recv()
                .map_err(|_| vouch_engine::ledger::LedgerError::Stopped)??;
        }
        inflight.push_back(ledger.submit_sealed(batch)?);
    }
    for rx in inflight {
        rx.blocking_recv()
            .map_err(|_| vouch_engine::ledger::LedgerError::Stopped)??;
    }
    Ok(throughput(total, t.elapsed()))
}

/// Grow a ledger by `count` events spread over `[start, end)`, fast: a pool of generated
/// events is re-stamped with fresh ids and timestamps by fixed-width byte substitution
/// (the canonical form keeps `timestamp` last and ids are 36 bytes), so filling is not
/// limited by event generation.
pub fn fill_between(
    ledger: &Ledger,
    count: usize,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    const MARK: &str = "ffffffff-ffff-7fff-bfff-ffffffffffff";
    let mut gen = Generator::new(17, 200);
    let pool: Vec<Vec<u8>> = gen
        .span(start, end, 997)
        .into_iter()
        .map(|e| {
            let mut v = e.fields().clone();
            v.insert("id".into(), Value::String(MARK.into()));
            Event::from_value(Value::Object(v))
                .expect("valid")
                .canonical()
                .to_vec()
        })
        .collect();
    let span_us = (end - start).num_microseconds().unwrap_or(1).max(1) as u64;
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Sealed>>(4);
    let start_us = start.timestamp_micros();
    let producer = std::thread::spawn(move || {
        let mut made = 0usize;
        let mut n = 0u64;
        while made < count {
            let k = 10_000.min(count - made);
            let batch: Vec<Sealed> = (0..k)
                .map(|_| {
                    n += 1;
                    let tmpl = &pool[(n % pool.len() as u64) as usize];
                    // Timestamps increase through the span; ids are UUIDv7-shaped and unique.
                    let t = start_us + ((n as u128 * span_us as u128) / (count as u128 + 1)) as i64;
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
    let mut done = 0;
    for batch in rx {
        done += batch.len();
        ledger.append_sealed(batch)?;
        if done % 1_000_000 < 10_000 {
            progress(&format!("{done}/{count}"));
        }
    }
    let _ = producer.join();
    Ok(())
}

fn fill(ledger: &Ledger, count: usize, progress: &mut dyn FnMut(&str)) -> Result<(), Error> {
    fill_between(ledger, count, day(2025, 1, 1), day(2026, 1, 1), progress)
}

fn concurrent(ledger: &Ledger, total: usize, appenders: usize) -> Result<Latency, Error> {
    let per = total / appenders;
    let mut gen = Generator::new(5, 100);
    let sets: Vec<Vec<Event>> = (0..appenders)
        .map(|i| {
            gen.span(
                day(2025, 6, 1) + chrono::Duration::hours(i as i64),
                day(2025, 6, 1) + chrono::Duration::hours(i as i64 + 1),
                per,
            )
        })
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(appenders + 1));
    let handles: Vec<_> = sets
        .into_iter()
        .map(|events| {
            let ledger = ledger.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<Vec<f64>, String> {
                barrier.wait();
                let mut lat = Vec::with_capacity(events.len());
                for e in events {
                    let t = Instant::now();
                    ledger.append(vec![e]).map_err(|e| e.to_string())?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                Ok(lat)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| Error::config("appender thread panicked"))?
                .map_err(Error::config)?,
        );
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Ok(Latency {
        events: all.len(),
        appenders,
        seconds: round(secs, 3),
        events_per_sec: round(all.len() as f64 / secs, 0),
        p50_ms: round(pct(0.50), 2),
        p99_ms: round(pct(0.99), 2),
        max_ms: round(*all.last().unwrap_or(&0.0), 2),
    })
}

/// Verify a ledger of `size` entries in a fresh `vouch ledger verify` process, so its
/// peak RSS is verification's own; returns throughput and peak RSS.
fn verify_at(
    scratch: &Scratch,
    size: usize,
    vouch: &Vouch,
    progress: &mut dyn FnMut(&str),
) -> Result<Value, Error> {
    {
        let (store, _, ledger) = scratch.open()?;
        let have = store.head()?.size as usize;
        if have < size {
            progress(&format!("filling to {size}"));
            fill(&ledger, size - have, progress)?;
        }
        ledger.checkpoint()?;
    }
    let mut cmd = vouch.command(&scratch.config.data_dir);
    cmd.args(["--json", "ledger", "verify"]);
    if let Some(s) = &scratch.schema {
        cmd.env("VOUCH_DATABASE_URL", &scratch.config.settings.database.url)
            .env("VOUCH_DATABASE_SCHEMA", s);
    }
    let run = run_measured(cmd).map_err(|e| Error::config(format!("{e:#}")))?;
    let report: Value = serde_json::from_slice(&run.stdout)
        .map_err(|e| Error::config(format!("verify child printed no JSON: {e}")))?;
    if report["valid"] != true {
        return Err(Error::config(format!(
            "benchmark ledger did not verify: {}",
            report["reason"]
        )));
    }
    let checked = report["checked"].as_u64().unwrap_or(0) as usize;
    let tp = throughput(checked, Duration::from_secs_f64(run.seconds));
    Ok(json!({
        "events": checked, "seconds": tp.seconds, "events_per_sec": tp.events_per_sec,
        "peak_rss_mb": round(run.peak_rss_kb as f64 / 1024.0, 1),
        "note": "a separate `vouch ledger verify` process; time includes its start-up",
    }))
}

/// The baseline: a plain table with a pgcrypto hash-chain trigger, same events, same batches.
fn baseline(url: &str, total: usize, size: usize) -> Result<Throughput, Error> {
    let schema = format!("vouch_bench_{}_baseline", std::process::id());
    drop_schema(url, &schema);
    let pg = |e: postgres::Error| {
        Error::config(format!("baseline: {}", vouch_store::StoreError::from(e)))
    };
    let mut c = vouch_store::pg_tls::PgDsn::parse(url)
        .map_err(|e| Error::config(format!("baseline: {e}")))?
        .connect()
        .map_err(pg)?;
    c.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;
         CREATE SCHEMA {schema};
         SET search_path = {schema}, public;
         CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL, prev_hash BYTEA, hash BYTEA NOT NULL);
         CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
           NEW.hash := digest(coalesce(NEW.prev_hash, ''::bytea) || convert_to(NEW.payload::text, 'UTF8'), 'sha256');
           RETURN NEW;
         END $$;
         CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();"
    ))
    .map_err(pg)?;
    let mut spent = Duration::ZERO;
    for batch in pregenerated(total, size, 11) {
        // The same canonical event text vouch stores (without seq).
        let payloads: Vec<&str> = batch
            .iter()
            .map(|e| std::str::from_utf8(&e.canonical).unwrap_or_default())
            .collect();
        let t = Instant::now();
        let mut tx = c.transaction().map_err(pg)?;
        tx.execute(
            "INSERT INTO audit_log (payload) SELECT p::jsonb FROM unnest($1::text[]) AS p",
            &[&payloads],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)?;
        spent += t.elapsed();
    }
    drop(c);
    drop_schema(url, &schema);
    Ok(throughput(total, spent))
}

/// Run the ledger benchmark; `progress` gets one line per step.
pub fn ledger(b: &LedgerBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    // Verification runs in `vouch` child processes: find the binary before anything else.
    let verifies =
        !b.verify_sizes.is_empty() || (b.postgres.is_some() && !b.pg_verify_sizes.is_empty());
    let vouch = if verifies {
        Some(Vouch::locate(b.vouch.as_deref()).map_err(|e| Error::config(format!("{e:#}")))?)
    } else {
        None
    };
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::io(&b.dir, e))?;
    let mut out = json!({
        "benchmark": "ledger",
        "vouch_version": vouch_engine::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "machine": machine(),
        "parameters": {"batched_events": b.batched_events, "batch_size": b.batch_size, "concurrent_events": b.concurrent_events, "appenders": b.appenders},
    });
    let mut backends: Vec<(&str, Option<&str>)> = vec![("sqlite", None)];
    if let Some(url) = &b.postgres {
        backends.push(("postgres", Some(url.as_str())));
    }
    for (name, url) in &backends {
        progress(&format!(
            "{name}: batched append of {} events in batches of {}",
            b.batched_events, b.batch_size
        ));
        let s = Scratch::new(&b.dir, &format!("{name}-batched"), *url)?;
        let (_, _, ledger) = s.open()?;
        let t = batched(&ledger, pregenerated(b.batched_events, b.batch_size, 11))?;
        out["append_batched"][name] = serde_json::to_value(t).unwrap_or_default();
        drop(ledger);
        drop(s);

        progress(&format!("{name}: batched append, 4 batches in flight"));
        let s = Scratch::new(&b.dir, &format!("{name}-pipelined"), *url)?;
        let (_, _, ledger) = s.open()?;
        let t = pipelined(&ledger, pregenerated(b.batched_events, b.batch_size, 11), 4)?;
        out["append_batched_pipelined"][name] = serde_json::to_value(t).unwrap_or_default();
        drop(ledger);
        drop(s);

        progress(&format!(
            "{name}: {} concurrent single-event appenders, {} events",
            b.appenders, b.concurrent_events
        ));
        let s = Scratch::new(&b.dir, &format!("{name}-concurrent"), *url)?;
        let (_, _, ledger) = s.open()?;
        let l = concurrent(&ledger, b.concurrent_events, b.appenders)?;
        out["append_concurrent"][name] = serde_json::to_value(l).unwrap_or_default();
        drop(ledger);
        drop(s);

        let sizes = if *name == "sqlite" {
            &b.verify_sizes
        } else {
            &b.pg_verify_sizes
        };
        if !sizes.is_empty() {
            let vouch = vouch.as_ref().expect("located above");
            let s = Scratch::new(&b.dir, &format!("{name}-verify"), *url)?;
            let mut results = Vec::new();
            for &size in sizes {
                progress(&format!("{name}: verify at {size} events"));
                results.push(verify_at(&s, size, vouch, &mut |p| {
                    progress(&format!("  {p}"))
                })?);
            }
            out["verify"][name] = Value::Array(results);
        }
    }
    if let Some(url) = &b.postgres {
        progress(&format!(
            "baseline: pgcrypto hash-chain trigger, {} events in batches of {}",
            b.batched_events, b.batch_size
        ));
        let base = baseline(url, b.batched_events, b.batch_size)?;
        let ratio = |k: &str| {
            out["append_batched"][k]["events_per_sec"]
                .as_f64()
                .map(|v| round(v / base.events_per_sec.max(1e-9), 2))
        };
        let ratios = json!({"sqlite_vs_baseline": ratio("sqlite"), "postgres_vs_baseline": ratio("postgres")});
        out["baseline_pgcrypto_trigger"] = serde_json::to_value(&base).unwrap_or_default();
        out["ratios"] = ratios;
    } else {
        // Say so rather than leave the baseline out silently.
        out["baseline_pgcrypto_trigger"] = json!({"skipped": "the baseline is a PostgreSQL trigger: no PostgreSQL given (--postgres)"});
        out["ratios"] = Value::Null;
    }
    out["goals"] = json!({
        "batched_sqlite_events_per_sec": 200000, "batched_postgres_events_per_sec": 50000,
        "concurrent_events_per_sec": 20000, "concurrent_p99_ms": 50,
        "verify_events_per_sec": 1500000, "verify_peak_rss_mb_at_10m": 200
    });
    Ok(out)
}

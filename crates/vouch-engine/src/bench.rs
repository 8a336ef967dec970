//! `vouch bench ledger`: append throughput (batched and 64 concurrent single-event
//! appenders), verification throughput and memory, and a baseline measured in the same
//! run: the same events inserted into a PostgreSQL table whose pgcrypto `BEFORE INSERT`
//! trigger hash-chains each row to the previous one (what most teams build).

use crate::demo::{day, Generator};
use crate::ledger::LedgerOptions;
use crate::{Error, Keys, Ledger};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vouch_core::event::{Event, Sealed};
use vouch_store::Store;

/// What `vouch bench ledger` measures, and where.
#[derive(Debug, Clone)]
pub struct LedgerBench {
    /// Events for the batched-append runs.
    pub batched_events: usize,
    /// Events per append in the batched runs.
    pub batch_size: usize,
    /// Events for the concurrent run (split over `appenders` threads).
    pub concurrent_events: usize,
    /// Threads appending in the concurrent run.
    pub appenders: usize,
    /// Ledger sizes at which SQLite verification is measured.
    pub verify_sizes: Vec<usize>,
    /// Ledger sizes at which PostgreSQL verification is measured.
    pub pg_verify_sizes: Vec<usize>,
    /// PostgreSQL URL; the Postgres parts are skipped without one.
    pub postgres: Option<String>,
    /// Scratch directory (SQLite files, keys).
    pub dir: PathBuf,
}

/// A throughput measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Events processed.
    pub events: usize,
    /// Wall-clock time taken.
    pub seconds: f64,
    /// `events / seconds`.
    pub events_per_sec: f64,
}

/// A concurrent-append measurement with per-append latencies.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Events appended.
    pub events: usize,
    /// Threads appending.
    pub appenders: usize,
    /// Wall-clock time taken.
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

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
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

struct Scratch {
    config: crate::Config,
    schema: Option<String>,
}

impl Scratch {
    fn new(dir: &Path, name: &str, postgres: Option<&str>) -> Result<Scratch, Error> {
        let d = dir.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let mut config =
            crate::init::init(&d, Some("Bench"), Some("bench.example/vouch/audit"))?.config;
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

    fn open(&self) -> Result<(Store, Keys, Ledger), Error> {
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
                .map_err(|_| crate::ledger::LedgerError::Stopped)??;
        }
        inflight.push_back(ledger.submit_sealed(batch)?);
    }
    for rx in inflight {
        rx.blocking_recv()
            .map_err(|_| crate::ledger::LedgerError::Stopped)??;
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
    let exe = std::env::current_exe()
        .map_err(|e| Error::config(format!("cannot find the vouch binary: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--data-dir")
        .arg(&scratch.config.data_dir)
        .args(["--json", "ledger", "verify"]);
    if let Some(s) = &scratch.schema {
        cmd.env("VOUCH_DATABASE_URL", &scratch.config.settings.database.url)
            .env("VOUCH_DATABASE_SCHEMA", s);
    }
    let t = Instant::now();
    let (stdout, peak_kb) = run_measured(cmd)?;
    let d = t.elapsed();
    let report: Value = serde_json::from_slice(&stdout)
        .map_err(|e| Error::config(format!("verify child printed no JSON: {e}")))?;
    if report["valid"] != true {
        return Err(Error::config(format!(
            "benchmark ledger did not verify: {}",
            report["reason"]
        )));
    }
    let checked = report["checked"].as_u64().unwrap_or(0) as usize;
    let tp = throughput(checked, d);
    Ok(json!({
        "events": checked, "seconds": tp.seconds, "events_per_sec": tp.events_per_sec,
        "peak_rss_mb": round(peak_kb as f64 / 1024.0, 1),
        "note": "a separate `vouch ledger verify` process; time includes its start-up",
    }))
}

/// Run a vouch command to completion; returns its stdout and its own peak RSS in KiB,
/// which the child reports itself (`VOUCH_PEAK_RSS_FILE`).
fn run_measured(mut cmd: std::process::Command) -> Result<(Vec<u8>, i64), Error> {
    let rss_file = std::env::temp_dir().join(format!("vouch-bench-rss-{}", std::process::id()));
    let _ = std::fs::remove_file(&rss_file);
    let out = cmd
        .env("VOUCH_PEAK_RSS_FILE", &rss_file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Error::config(format!("cannot run {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(Error::config(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stdout)
        )));
    }
    let kb = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let _ = std::fs::remove_file(&rss_file);
    Ok((out.stdout, kb))
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

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    json!({"cpu": cpu, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "memory_gib": round(mem as f64 / 1048576.0, 1)})
}

/// Run the ledger benchmark; `progress` gets one line per step.
pub fn ledger(b: &LedgerBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::io(&b.dir, e))?;
    let mut out = json!({
        "benchmark": "ledger",
        "vouch_version": crate::VERSION,
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
            let s = Scratch::new(&b.dir, &format!("{name}-verify"), *url)?;
            let mut results = Vec::new();
            for &size in sizes {
                progress(&format!("{name}: verify at {size} events"));
                results.push(verify_at(&s, size, &mut |p| progress(&format!("  {p}")))?);
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
    }
    out["goals"] = json!({
        "batched_sqlite_events_per_sec": 200000, "batched_postgres_events_per_sec": 50000,
        "concurrent_events_per_sec": 20000, "concurrent_p99_ms": 50,
        "verify_events_per_sec": 1500000, "verify_peak_rss_mb_at_10m": 200
    });
    Ok(out)
}

/// What `vouch bench packet` measures, and where.
#[derive(Debug, Clone)]
pub struct PacketBench {
    /// Events in the month the packet covers.
    pub events: usize,
    /// Scratch directory.
    pub dir: PathBuf,
}

/// `vouch bench packet`: a month holding `events` ledger events, then `vouch packet` for
/// it in a separate process (time and peak RSS), against a baseline measured in the same
/// run: dumping the same month with the sqlite3 shell and hashing it (no verification,
/// no signatures, no PDF — the floor of "export and checksum").
pub fn packet(b: &PacketBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::io(&b.dir, e))?;
    let s = Scratch::new(&b.dir, "packet", None)?;
    {
        let (_, _, ledger) = s.open()?;
        progress(&format!("filling 2025-06 with {} events", b.events));
        fill_between(
            &ledger,
            b.events,
            day(2025, 6, 1),
            day(2025, 7, 1),
            progress,
        )?;
        ledger.checkpoint()?;
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::config(format!("cannot find the vouch binary: {e}")))?;
    let out = b.dir.join("packet-out");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = std::process::Command::new(&exe);
    cmd.arg("--data-dir")
        .arg(&s.config.data_dir)
        .args([
            "--json", "packet", "--period", "2025-06", "--format", "both", "--out",
        ])
        .arg(&out);
    progress("vouch packet --period 2025-06 (JSON + PDF + exports)");
    let t = Instant::now();
    let (stdout, peak_kb) = run_measured(cmd)?;
    let secs = t.elapsed().as_secs_f64();
    let written: Value = serde_json::from_slice(&stdout)
        .map_err(|e| Error::config(format!("packet printed no JSON: {e}")))?;

    progress("baseline: sqlite3 shell dump of the month + sha256sum");
    let db = s.config.database_url();
    let dump = b.dir.join("baseline.ndjson");
    let script = format!(
        "sqlite3 {db:?} \"SELECT leaf FROM ledger_entries WHERE ts >= '2025-06-01T00:00:00.000000Z' AND ts < '2025-07-01T00:00:00.000000Z' ORDER BY seq\" > {dump:?} && sha256sum {dump:?} > /dev/null"
    );
    let t = Instant::now();
    let st = std::process::Command::new("bash")
        .args(["-c", &script])
        .status()
        .map_err(|e| Error::config(format!("baseline: {e}")))?;
    let base_secs = t.elapsed().as_secs_f64();
    let baseline = if st.success() {
        json!({"seconds": round(base_secs, 2)})
    } else {
        json!({"skipped": "the sqlite3 shell is not installed"})
    };
    let _ = std::fs::remove_file(&dump);
    let _ = std::fs::remove_dir_all(&out);
    Ok(json!({
        "benchmark": "packet",
        "vouch_version": crate::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "machine": machine(),
        "events_in_month": b.events,
        "packet": {"seconds": round(secs, 2), "peak_rss_mb": round(peak_kb as f64 / 1024.0, 1), "events": written["events"], "files": written["files"]},
        "baseline_sqlite3_dump_and_sha256": baseline,
        "ratio_packet_vs_baseline": baseline["seconds"].as_f64().map(|b| round(secs / b.max(1e-9), 2)),
        "goals": {"seconds": 30, "peak_rss_mb": 300},
    }))
}

/// What `vouch bench archive` measures, and where.
#[derive(Debug, Clone)]
pub struct ArchiveBench {
    /// Size of the evidence set in MiB.
    pub size_mb: u64,
    /// Scratch directory.
    pub dir: PathBuf,
}

/// This process's peak RSS in KiB (VmHWM), 0 where /proc is missing.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `vouch bench archive`: an evidence set of `size_mb` MiB (NDJSON files like collector
/// output), sealed by vouch (deterministic tar → zstd → age, and → OpenPGP) against seed
/// 001's own pipeline on the same files in the same run: `tar czf` then `gpg --encrypt`.
pub fn archive(b: &ArchiveBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    use crate::seal::bundle::Entry;
    use crate::seal::encrypt::{seal, Compression, Sealing};
    use std::io::Write;
    let files_dir = b.dir.join("archive-set");
    let _ = std::fs::remove_dir_all(&files_dir);
    std::fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;
    progress(&format!("writing a {} MiB evidence set", b.size_mb));
    let file_mb = 64u64;
    let n_files = b.size_mb.div_ceil(file_mb).max(1);
    let mut entries = Vec::new();
    let mut state = 0x9e3779b97f4a7c15u64;
    let actions = [
        "user.login",
        "role.assign",
        "config.change",
        "data.export",
        "backup.completed",
        "user.logout",
    ];
    for i in 0..n_files {
        let path = files_dir.join(format!("evidence-{i:04}.ndjson"));
        let mut w = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?,
        );
        let target = (file_mb << 20).min((b.size_mb << 20) - i * (file_mb << 20));
        let mut written = 0u64;
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        while written < target {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let line = format!(
                "{{\"id\":\"{:016x}{:016x}\",\"timestamp\":\"2026-10-{:02}T{:02}:{:02}:{:02}.{:06}Z\",\"actor\":\"usr_{:04}\",\"action\":\"{}\",\"ip\":\"10.{}.{}.{}\",\"bytes\":{}}}\n",
                state, state.rotate_left(17), 1 + state % 31, state % 24, (state >> 8) % 60, (state >> 16) % 60, (state >> 24) % 1_000_000,
                (state >> 32) % 420, actions[(state % 6) as usize], (state >> 40) % 256, (state >> 48) % 256, (state >> 56) % 256, state % 100_000
            );
            let bytes = &line.as_bytes()[..line.len().min((target - written) as usize)];
            w.write_all(bytes).map_err(|e| Error::io(&path, e))?;
            sha2::Digest::update(&mut h, bytes);
            written += bytes.len() as u64;
        }
        w.flush().map_err(|e| Error::io(&path, e))?;
        entries.push(Entry::file(
            format!(
                "evidence/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            path,
            written,
            hex::encode(sha2::Digest::finalize(h)),
        ));
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let rss_before = peak_rss_kb();

    let identity = age::x25519::Identity::generate();
    let out_age = b.dir.join("vouch.tar.zst.age");
    progress("vouch: tar → zstd → age");
    let t = Instant::now();
    let f = std::fs::File::create(&out_age).map_err(|e| Error::io(&out_age, e))?;
    let w = seal(
        &entries,
        0,
        Compression::Zstd,
        &Sealing::Age(vec![identity.to_public()]),
        std::io::BufWriter::with_capacity(1 << 20, f),
    )
    .map_err(|e| Error::config(format!("seal: {e}")))?;
    drop(w);
    let vouch_age = t.elapsed().as_secs_f64();
    let age_size = std::fs::metadata(&out_age).map(|m| m.len()).unwrap_or(0);
    let rss_after = peak_rss_kb();

    // An OpenPGP key made by gpg, used by both vouch's OpenPGP path and the baseline.
    let gnupg = b.dir.join("bench-gnupg");
    let _ = std::fs::remove_dir_all(&gnupg);
    std::fs::create_dir_all(&gnupg).map_err(|e| Error::io(&gnupg, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700));
    }
    let gpg = |args: &[&str]| {
        std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
    };
    let made = gpg(&[
        "--quick-gen-key",
        "Bench <bench@example.com>",
        "default",
        "default",
        "never",
    ])
    .map(|o| o.status.success())
    .unwrap_or(false);
    let mut vouch_gpg = None;
    let mut baseline = json!({"skipped": "gpg is not installed"});
    if made {
        let pub_path = b.dir.join("bench.asc");
        let exported = gpg(&["--armor", "--export", "bench@example.com"])
            .map_err(|e| Error::config(e.to_string()))?;
        std::fs::write(&pub_path, &exported.stdout).map_err(|e| Error::io(&pub_path, e))?;
        if let Ok(crate::seal::encrypt::Recipient::Pgp(keys, _)) =
            crate::seal::encrypt::parse_recipient(pub_path.to_str().unwrap_or(""), Path::new("/"))
        {
            progress("vouch: tar → zstd → OpenPGP");
            let out = b.dir.join("vouch.tar.zst.gpg");
            let t = Instant::now();
            let f = std::fs::File::create(&out).map_err(|e| Error::io(&out, e))?;
            seal(
                &entries,
                0,
                Compression::Zstd,
                &Sealing::Pgp(keys),
                std::io::BufWriter::with_capacity(1 << 20, f),
            )
            .map_err(|e| Error::config(format!("seal: {e}")))?;
            vouch_gpg = Some(round(t.elapsed().as_secs_f64(), 2));
            let _ = std::fs::remove_file(&out);
        }
        progress("baseline (seed 001): tar czf, then gpg --encrypt");
        let tgz = b.dir.join("baseline.tar.gz");
        let t = Instant::now();
        let tar_ok = std::process::Command::new("tar")
            .arg("czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&files_dir)
            .arg(".")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let tar_secs = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let enc = gpg(&[
            "--trust-model",
            "always",
            "--recipient",
            "bench@example.com",
            "--output",
            b.dir.join("baseline.tar.gz.gpg").to_str().unwrap_or(""),
            "--encrypt",
            tgz.to_str().unwrap_or(""),
        ])
        .map(|o| o.status.success())
        .unwrap_or(false);
        let gpg_secs = t2.elapsed().as_secs_f64();
        baseline = if tar_ok && enc {
            json!({"seconds": round(tar_secs + gpg_secs, 2), "tar_czf_seconds": round(tar_secs, 2), "gpg_encrypt_seconds": round(gpg_secs, 2), "bytes": std::fs::metadata(b.dir.join("baseline.tar.gz.gpg")).map(|m| m.len()).unwrap_or(0)})
        } else {
            json!({"skipped": "tar or gpg failed"})
        };
        let _ = std::fs::remove_file(&tgz);
        let _ = std::fs::remove_file(b.dir.join("baseline.tar.gz.gpg"));
    }
    let _ = std::fs::remove_file(&out_age);
    let _ = std::fs::remove_dir_all(&files_dir);
    let _ = std::fs::remove_dir_all(&gnupg);
    let base = baseline["seconds"].as_f64();
    Ok(json!({
        "benchmark": "archive",
        "vouch_version": crate::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "machine": machine(),
        "evidence_bytes": total,
        "files": entries.len(),
        "vouch_zstd_age": {"seconds": round(vouch_age, 2), "mb_per_sec": round(total as f64 / 1048576.0 / vouch_age.max(1e-9), 1), "bytes": age_size, "peak_rss_mb_before": round(rss_before as f64 / 1024.0, 1), "peak_rss_mb_after": round(rss_after as f64 / 1024.0, 1)},
        "vouch_zstd_openpgp_seconds": vouch_gpg,
        "baseline_tar_czf_then_gpg_encrypt": baseline,
        "speedup_age_vs_baseline": base.map(|b| round(b / vouch_age.max(1e-9), 2)),
        "speedup_openpgp_vs_baseline": base.zip(vouch_gpg).map(|(b, v)| round(b / v.max(1e-9), 2)),
        "goals": {"speedup": 3, "memory": "flat in the size of the set"},
    }))
}

//! `vouch-bench`: vouch's benchmarks, printing JSON with baselines measured in the same run.
//! `cargo run -p vouch-bench --release -- ledger` (the `vouch` binary it runs as a child
//! is taken from the same target directory, or `--vouch PATH` / `VOUCH_BIN`).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use vouch_bench::auditlog;
#[cfg(feature = "full")]
use vouch_bench::{archive, dashboard, http, ledger, packet};

#[derive(Parser)]
#[command(
    name = "vouch-bench",
    version,
    about = "vouch's benchmarks: JSON, with baselines measured in the same run."
)]
struct Cli {
    /// The `vouch` binary to run where a figure is the CLI's own (verification, packet,
    /// server); default: `vouch` next to this executable.
    #[cfg(feature = "full")]
    #[arg(long, global = true, env = "VOUCH_BIN")]
    vouch: Option<PathBuf>,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Ledger: batched and concurrent appends, verification, and the pgcrypto trigger baseline.
    #[cfg(feature = "full")]
    Ledger(LedgerArgs),
    /// Packet: JSON + PDF + exports for a month holding N events (default 10M), vs a dump baseline.
    #[cfg(feature = "full")]
    Packet(PacketArgs),
    /// HTTP: batched ingest over loopback with several clients, and filtered-query latency.
    #[cfg(feature = "full")]
    Http(HttpArgs),
    /// Audit log: p50/p95/p99 of the audit-log query per filter combination, through the
    /// index and through the former JSON-function query (baseline), after filling N events.
    Auditlog(AuditLogArgs),
    /// Dashboard: p50/p95/p99 of every dashboard page on a `vouch demo` ledger of N events
    /// (default 10M), logged in as the officer and as the auditor, vs a small ledger.
    #[cfg(feature = "full")]
    Dashboard(DashboardArgs),
    /// Archive: seal a 2 GiB evidence set (tar → zstd → age / OpenPGP) vs `tar czf` + `gpg --encrypt`.
    #[cfg(feature = "full")]
    Archive(ArchiveArgs),
}

#[cfg(feature = "full")]
#[derive(clap::Args)]
struct PacketArgs {
    /// Ledger events in the month.
    #[arg(long, default_value_t = 10_000_000)]
    events: usize,
    #[arg(long, default_value = "/var/tmp/vouch-bench-packet")]
    dir: PathBuf,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[cfg(feature = "full")]
#[derive(clap::Args)]
struct LedgerArgs {
    /// Events for the batched-append runs.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Events for the concurrent single-event run.
    #[arg(long, default_value_t = 128_000)]
    concurrent_events: usize,
    #[arg(long, default_value_t = 64)]
    appenders: usize,
    /// Ledger sizes at which SQLite verification is measured (comma-separated; given
    /// with no value, none).
    #[arg(long, value_delimiter = ',', num_args = 0..=1, default_value = "1000000,10000000")]
    verify_sizes: Vec<usize>,
    /// Ledger sizes at which PostgreSQL verification is measured (given with no value, none).
    #[arg(long, value_delimiter = ',', num_args = 0..=1, default_value = "1000000")]
    pg_verify_sizes: Vec<usize>,
    /// PostgreSQL URL (default: VOUCH_BENCH_DATABASE_URL, then VOUCH_TEST_DATABASE_URL); `none` skips.
    #[arg(long)]
    postgres: Option<String>,
    /// Scratch directory.
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    dir: PathBuf,
    /// Small sizes for a quick look (100k batched, 12.8k concurrent, verify at 100k).
    #[arg(long)]
    quick: bool,
    /// Also write the JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[cfg(feature = "full")]
#[derive(clap::Args)]
struct DashboardArgs {
    /// Events in the measured ledger (`vouch demo --events N`).
    #[arg(long, default_value_t = 10_000_000)]
    events: usize,
    /// Events in the baseline ledger, measured in the same run (0: none).
    #[arg(long, default_value_t = 100_000)]
    baseline_events: usize,
    /// Timed requests per page and login, after one warm-up request.
    #[arg(long, default_value_t = 50)]
    requests: usize,
    /// Keep the measured ledger's data directory here: filled by `vouch demo` when it
    /// holds no earlier fill of this benchmark, reused as it is when it does (fill once,
    /// time many times).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The same for the baseline ledger.
    #[arg(long, value_name = "DIR")]
    baseline_data_dir: Option<PathBuf>,
    /// PostgreSQL URL: the ledgers go to schemas there instead of SQLite (`none`: SQLite).
    #[arg(long)]
    database: Option<String>,
    /// Scratch directory (the data directories not kept), removed after the run.
    #[arg(long, default_value = "/var/tmp/vouch-bench-dashboard")]
    dir: PathBuf,
    /// Also write the JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[cfg(feature = "full")]
#[derive(clap::Args)]
struct ArchiveArgs {
    /// Size of the evidence set, MiB.
    #[arg(long, default_value_t = 2048)]
    size_mb: u64,
    /// Scratch directory (several GB free).
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    dir: PathBuf,
    /// Also write the JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct AuditLogArgs {
    /// Events in the ledger (a kept ledger that exists is queried as it is).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Timed queries per case (and path).
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Most seconds spent on one case's baseline queries (at least one runs).
    #[arg(long, default_value_t = 10)]
    baseline_budget_secs: u64,
    /// Skip the baseline (the former JSON-function query): for tuning runs only, the
    /// figures need it.
    #[arg(long)]
    no_baseline: bool,
    /// PostgreSQL URL (default: VOUCH_BENCH_DATABASE_URL, then VOUCH_TEST_DATABASE_URL); `none` skips.
    #[arg(long)]
    database: Option<String>,
    /// Skip SQLite (run PostgreSQL only).
    #[arg(long)]
    no_sqlite: bool,
    /// Keep the SQLite ledger in this file: filled when it does not exist, queried as
    /// it is when it does (fill once, query many times).
    #[arg(long, value_name = "PATH")]
    sqlite_db: Option<PathBuf>,
    /// Keep the PostgreSQL ledger in this schema (as --sqlite-db; drop it yourself).
    #[arg(long, value_name = "SCHEMA")]
    pg_schema: Option<String>,
    /// Also fill this many events into fresh ledgers as shipped, without migration
    /// 0027's covering actor index and without any audit-log index, to compare throughput.
    #[arg(long, default_value_t = 0, value_name = "EVENTS")]
    fill_compare: usize,
    /// Fill the main ledger with `audit_index`'s own indexes dropped and build them
    /// once at the end (a 10M ledger in minutes instead of an hour): the data and
    /// indexes are the same as the sequencer's; the fill's throughput is then not the
    /// shipped one (that is `--fill-compare`'s), and the output says so.
    #[arg(long)]
    index_after_fill: bool,
    /// Only the cases whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    #[arg(long, default_value = "/var/tmp/vouch-bench-auditlog")]
    dir: PathBuf,
    /// Also write the JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[cfg(feature = "full")]
#[derive(clap::Args)]
struct HttpArgs {
    /// Events to ingest over HTTP.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Events per POST.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Filtered queries to time.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    dir: PathBuf,
    #[arg(long)]
    out: Option<PathBuf>,
}

fn progress(line: &str) {
    eprintln!("[bench] {line}");
}

fn run(cli: &Cli) -> Result<()> {
    #[cfg(feature = "full")]
    let vouch = cli.vouch.clone();
    match &cli.command {
        #[cfg(feature = "full")]
        BenchCommand::Http(a) => {
            let result = http::http(
                &http::HttpBench {
                    events: a.events,
                    clients: a.clients,
                    batch: a.batch,
                    queries: a.queries,
                    dir: a.dir.clone(),
                    vouch,
                },
                &mut progress,
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        BenchCommand::Auditlog(a) => {
            let postgres = match a.database.as_deref() {
                Some("none") => None,
                Some(u) => Some(u.to_string()),
                None => std::env::var("VOUCH_BENCH_DATABASE_URL")
                    .or_else(|_| std::env::var("VOUCH_TEST_DATABASE_URL"))
                    .ok()
                    .filter(|s| !s.is_empty()),
            };
            if let Some(db) = &a.sqlite_db {
                // The scratch directory is removed at the end: a kept ledger must not be in it.
                if db.starts_with(&a.dir) {
                    anyhow::bail!(
                        "--sqlite-db {} is inside --dir {}, which is removed after the run",
                        db.display(),
                        a.dir.display()
                    );
                }
            }
            let result = auditlog::auditlog(
                &auditlog::AuditLogBench {
                    events: a.events,
                    queries: a.queries,
                    baseline_budget: (!a.no_baseline)
                        .then(|| std::time::Duration::from_secs(a.baseline_budget_secs)),
                    sqlite: !a.no_sqlite,
                    sqlite_db: a.sqlite_db.clone(),
                    postgres,
                    pg_schema: a.pg_schema.clone(),
                    fill_compare: a.fill_compare,
                    index_after_fill: a.index_after_fill,
                    only: a.only.clone(),
                    dir: a.dir.clone(),
                },
                &mut progress,
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        #[cfg(feature = "full")]
        BenchCommand::Dashboard(a) => {
            for kept in [&a.data_dir, &a.baseline_data_dir].into_iter().flatten() {
                // The scratch directory is removed at the end: a kept one must not be in it.
                if kept.starts_with(&a.dir) {
                    anyhow::bail!(
                        "{} is inside --dir {}, which is removed after the run",
                        kept.display(),
                        a.dir.display()
                    );
                }
            }
            let result = dashboard::dashboard(
                &dashboard::DashboardBench {
                    events: a.events,
                    baseline_events: a.baseline_events,
                    requests: a.requests,
                    data_dir: a.data_dir.clone(),
                    baseline_data_dir: a.baseline_data_dir.clone(),
                    database: a.database.clone().filter(|d| d != "none" && !d.is_empty()),
                    dir: a.dir.clone(),
                    vouch,
                },
                &mut progress,
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        #[cfg(feature = "full")]
        BenchCommand::Archive(a) => {
            let result = archive::archive(
                &archive::ArchiveBench {
                    size_mb: a.size_mb,
                    dir: a.dir.clone(),
                },
                &mut progress,
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        #[cfg(feature = "full")]
        BenchCommand::Packet(a) => {
            let result = packet::packet(
                &packet::PacketBench {
                    events: a.events,
                    dir: a.dir.clone(),
                    vouch,
                },
                &mut progress,
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        #[cfg(feature = "full")]
        BenchCommand::Ledger(a) => {
            let postgres = match a.postgres.as_deref() {
                Some("none") => None,
                Some(u) => Some(u.to_string()),
                None => std::env::var("VOUCH_BENCH_DATABASE_URL")
                    .or_else(|_| std::env::var("VOUCH_TEST_DATABASE_URL"))
                    .ok()
                    .filter(|s| !s.is_empty()),
            };
            let mut b = ledger::LedgerBench {
                batched_events: a.events,
                batch_size: a.batch_size,
                concurrent_events: a.concurrent_events,
                appenders: a.appenders,
                verify_sizes: a.verify_sizes.clone(),
                pg_verify_sizes: a.pg_verify_sizes.clone(),
                postgres,
                dir: a.dir.clone(),
                vouch,
            };
            if a.quick {
                b.batched_events = 100_000;
                b.concurrent_events = 12_800;
                b.verify_sizes = vec![100_000];
                b.pg_verify_sizes = vec![100_000];
            }
            let result = ledger::ledger(&b, &mut progress)?;
            emit(&result, a.out.as_deref(), &b.dir)
        }
    }
}

/// Print a benchmark's JSON, save it when asked, and remove its scratch directory.
fn emit(result: &serde_json::Value, out: Option<&Path>, scratch: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(result)?;
    println!("{text}");
    // The scratch directory goes first: an `--out` inside it (the default `--dir` is an
    // easy place to name) would otherwise be removed with it.
    let _ = std::fs::remove_dir_all(scratch);
    if let Some(p) = out {
        if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, format!("{text}\n"))?;
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}

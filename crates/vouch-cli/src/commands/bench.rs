use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Ledger: batched and concurrent appends, verification, and the pgcrypto trigger baseline.
    Ledger(LedgerArgs),
    /// Packet: JSON + PDF + exports for a month holding N events (default 10M), vs a dump baseline.
    Packet(PacketArgs),
    /// HTTP: batched ingest over loopback with several clients, and filtered-query latency.
    Http(HttpArgs),
    /// Archive: seal a 2 GiB evidence set (tar → zstd → age / OpenPGP) vs `tar czf` + `gpg --encrypt`.
    Archive(ArchiveArgs),
}

#[derive(clap::Args)]
pub struct PacketArgs {
    /// Ledger events in the month.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: usize,
    #[arg(long, default_value = "/var/tmp/vouch-bench-packet")]
    pub dir: PathBuf,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct LedgerArgs {
    /// Events for the batched-append runs.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Events for the concurrent single-event run.
    #[arg(long, default_value_t = 128_000)]
    pub concurrent_events: usize,
    #[arg(long, default_value_t = 64)]
    pub appenders: usize,
    /// Ledger sizes at which SQLite verification is measured (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    pub verify_sizes: Vec<usize>,
    /// Ledger sizes at which PostgreSQL verification is measured.
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    pub pg_verify_sizes: Vec<usize>,
    /// PostgreSQL URL (default: VOUCH_BENCH_DATABASE_URL, then VOUCH_TEST_DATABASE_URL); `none` skips.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Scratch directory.
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    pub dir: PathBuf,
    /// Small sizes for a quick look (100k batched, 12.8k concurrent, verify at 100k).
    #[arg(long)]
    pub quick: bool,
    /// Also write the JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ArchiveArgs {
    /// Size of the evidence set, MiB.
    #[arg(long, default_value_t = 2048)]
    pub size_mb: u64,
    /// Scratch directory (several GB free).
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    pub dir: PathBuf,
    /// Also write the JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(_cli: &crate::Cli, c: &BenchCommand) -> Result<i32> {
    match c {
        BenchCommand::Http(a) => {
            let result = http(a)?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        BenchCommand::Archive(a) => {
            let result = vouch_engine::bench::archive(
                &vouch_engine::bench::ArchiveBench {
                    size_mb: a.size_mb,
                    dir: a.dir.clone(),
                },
                &mut |l| eprintln!("[bench] {l}"),
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        BenchCommand::Packet(a) => {
            let result = vouch_engine::bench::packet(
                &vouch_engine::bench::PacketBench {
                    events: a.events,
                    dir: a.dir.clone(),
                },
                &mut |l| eprintln!("[bench] {l}"),
            )?;
            emit(&result, a.out.as_deref(), &a.dir)
        }
        BenchCommand::Ledger(a) => {
            let postgres = match a.postgres.as_deref() {
                Some("none") => None,
                Some(u) => Some(u.to_string()),
                None => std::env::var("VOUCH_BENCH_DATABASE_URL")
                    .or_else(|_| std::env::var("VOUCH_TEST_DATABASE_URL"))
                    .ok()
                    .filter(|s| !s.is_empty()),
            };
            let mut b = vouch_engine::bench::LedgerBench {
                batched_events: a.events,
                batch_size: a.batch_size,
                concurrent_events: a.concurrent_events,
                appenders: a.appenders,
                verify_sizes: a.verify_sizes.clone(),
                pg_verify_sizes: a.pg_verify_sizes.clone(),
                postgres,
                dir: a.dir.clone(),
            };
            if a.quick {
                b.batched_events = 100_000;
                b.concurrent_events = 12_800;
                b.verify_sizes = vec![100_000];
                b.pg_verify_sizes = vec![100_000];
            }
            let result = vouch_engine::bench::ledger(&b, &mut |line| eprintln!("[bench] {line}"))?;
            emit(&result, a.out.as_deref(), &b.dir)
        }
    }
}

/// Print a benchmark's JSON, save it when asked, and remove its scratch directory.
fn emit(
    result: &serde_json::Value,
    out: Option<&std::path::Path>,
    scratch: &std::path::Path,
) -> Result<i32> {
    let text = serde_json::to_string_pretty(result)?;
    println!("{text}");
    if let Some(p) = out {
        std::fs::write(p, format!("{text}\n"))?;
    }
    let _ = std::fs::remove_dir_all(scratch);
    Ok(0)
}

#[derive(clap::Args)]
pub struct HttpArgs {
    /// Events to ingest over HTTP.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Events per POST.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Filtered queries to time.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    #[arg(long, default_value = "/var/tmp/vouch-bench")]
    pub dir: PathBuf,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `vouch bench http`: batched ingest over loopback HTTP with several clients, and the
/// filtered query's latency, against the same batches appended in-process (the ledger's
/// own ceiling) measured in the same run.
pub fn http(a: &HttpArgs) -> Result<serde_json::Value> {
    use serde_json::json;
    let events = {
        let mut g = vouch_engine::demo::Generator::new(11, 420);
        g.span(
            vouch_engine::demo::day(2026, 9, 1),
            vouch_engine::demo::day(2026, 10, 1),
            a.events,
        )
    };
    let bodies: Vec<String> = events
        .chunks(a.batch)
        .map(|c| {
            format!(
                "[{}]",
                c.iter()
                    .map(|e| String::from_utf8_lossy(e.canonical()).into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    let fresh = |name: &str| -> Result<vouch_engine::Config> {
        let d = a.dir.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&a.dir)?;
        Ok(vouch_engine::init::init(&d, Some("Bench"), Some("bench.example/vouch/audit"))?.config)
    };
    // Baseline: the same batches through Ledger::append, no HTTP.
    eprintln!(
        "[bench] baseline: {} events appended in-process",
        events.len()
    );
    let base_cfg = fresh("http-baseline")?;
    let (_, _, ledger) = vouch_engine::open(&base_cfg)?;
    let t = std::time::Instant::now();
    for c in events.chunks(a.batch) {
        ledger.append(c.to_vec())?;
    }
    let base_secs = t.elapsed().as_secs_f64();
    drop(ledger);

    let cfg = fresh("http")?;
    let store = vouch_engine::open(&cfg)?.0;
    let (_, ingest) = vouch_server::auth::create_token(
        &store,
        "bench-ingest",
        vouch_server::roles::Role::Ingest,
        None,
    )
    .map_err(anyhow::Error::msg)?;
    let (_, reader) = vouch_server::auth::create_token(
        &store,
        "bench-reader",
        vouch_server::roles::Role::Auditor,
        None,
    )
    .map_err(anyhow::Error::msg)?;
    drop(store);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server_cfg = cfg.clone();
    rt.spawn(async move {
        let _ =
            vouch_server::serve(server_cfg, "127.0.0.1:0".parse().expect("addr"), Some(tx)).await;
    });
    let addr = rt.block_on(rx)?;
    eprintln!(
        "[bench] ingest over HTTP: {} clients, {} events per request",
        a.clients, a.batch
    );
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = std::time::Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..a.clients {
            handles.push(s.spawn(|| -> Result<()> {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else {
                        return Ok(());
                    };
                    let r = agent
                        .post(format!("http://{addr}/api/compliance/audit-logs"))
                        .header("Authorization", format!("Bearer {ingest}"))
                        .header("Content-Type", "application/json")
                        .send(body.as_str())?;
                    if r.status().as_u16() != 201 {
                        anyhow::bail!("ingest returned {}", r.status());
                    }
                }
            }));
        }
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
        }
        Ok(())
    })?;
    let http_secs = t.elapsed().as_secs_f64();

    eprintln!("[bench] {} filtered queries", a.queries);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut lat = Vec::new();
    for i in 0..a.queries {
        let url = format!(
            "http://{addr}/api/compliance/audit-logs?actor_id=usr_{:04}&start_date=2026-09-{:02}&end_date=2026-09-{:02}&per_page=100",
            (i * 37) % 420,
            1 + i % 20,
            8 + i % 20
        );
        let t = std::time::Instant::now();
        let mut r = agent
            .get(&url)
            .header("Authorization", format!("Bearer {reader}"))
            .call()?;
        let _ = r.body_mut().read_to_vec()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.status().as_u16() != 200 {
            anyhow::bail!("query returned {}", r.status());
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let n = events.len() as f64;
    Ok(json!({
        "benchmark": "http",
        "vouch_version": vouch_engine::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "events": events.len(), "clients": a.clients, "batch": a.batch,
        "http_ingest": {"seconds": (http_secs * 100.0).round() / 100.0, "events_per_sec": (n / http_secs).round()},
        "baseline_in_process_append": {"seconds": (base_secs * 100.0).round() / 100.0, "events_per_sec": (n / base_secs).round()},
        "http_vs_in_process": ((base_secs / http_secs) * 100.0).round() / 100.0,
        "query": {"ledger_events": events.len(), "requests": a.queries, "p50_ms": (percentile(&lat, 0.5) * 100.0).round() / 100.0, "p99_ms": (percentile(&lat, 0.99) * 100.0).round() / 100.0},
        "goals": {"ingest_events_per_sec": 100000, "query_p99_ms_at_10m": 20},
    }))
}

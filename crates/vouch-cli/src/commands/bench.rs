use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Ledger: batched and concurrent appends, verification, and the pgcrypto trigger baseline.
    Ledger(LedgerArgs),
    /// Packet: JSON + PDF + exports for a month holding N events (default 10M), vs a dump baseline.
    Packet(PacketArgs),
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

//! `vouch auditor-kit --period YEAR --out DIR`: a whole audit period in one directory,
//! verified by the kit's own `verify.sh` (bash + openssl + Python; no vouch).

use crate::output;
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use vouch_core::period::Period;
use vouch_engine::kit;

#[derive(clap::Args)]
pub struct KitArgs {
    /// The audit period in whole months: a year (2026), a quarter (2026-Q3) or a month.
    #[arg(long)]
    pub period: String,
    /// The directory to create (it must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Witness cosignatures each month must carry (default: every configured witness).
    #[arg(long, value_name = "K")]
    pub min_cosignatures: Option<usize>,
    /// Where the monthly packets are, one directory per month (default:
    /// <data-dir>/packets, where the monthly job writes them).
    #[arg(long, value_name = "DIR")]
    pub packets: Option<PathBuf>,
    /// The time the kit is made (RFC 3339); default now. Months not ended by then are
    /// listed as not yet.
    #[arg(long, hide = true)]
    pub made_at: Option<String>,
}

pub fn run(cli: &crate::Cli, a: &KitArgs) -> Result<i32> {
    let made_at = match &a.made_at {
        Some(t) => vouch_core::period::parse_instant(t)
            .ok_or_else(|| anyhow!("--made-at: `{t}` is not an RFC 3339 date-time"))?,
        None => chrono::Utc::now(),
    };
    let period = Period::parse(&a.period, made_at).map_err(|e| anyhow!("--period: {e}"))?;
    // Usage errors before the data directory is opened: one line, nothing written.
    kit::months_of(&period)?;
    if a.out.exists()
        && (!a.out.is_dir() || std::fs::read_dir(&a.out).is_ok_and(|mut d| d.next().is_some()))
    {
        anyhow::bail!(
            "{} exists and is not an empty directory; the auditor kit is written into a new directory",
            a.out.display()
        );
    }
    let (config, store, keys, ledger) = super::open(cli)?;
    let k = kit::make(
        &config,
        &store,
        &keys,
        &ledger,
        &kit::Request {
            period,
            out: a.out.clone(),
            min_cosignatures: a.min_cosignatures,
            packets_dir: a.packets.clone(),
            made_at,
        },
    )?;
    for w in &k.warnings {
        eprintln!("warning: {w}");
    }
    if cli.json {
        output::print_json(&k);
        return Ok(0);
    }
    println!(
        "auditor kit for {} written to {} ({} files):",
        k.period,
        k.dir.display(),
        k.files
    );
    for m in &k.months {
        match m.status.as_str() {
            "present" => println!(
                "  {} packet (tree {}), {} archive(s)",
                m.month,
                m.checkpoint_size.unwrap_or_default(),
                m.archives.len()
            ),
            "not_yet" => println!(
                "  {} NOT YET: {}",
                m.month,
                m.reason.as_deref().unwrap_or("")
            ),
            _ => println!(
                "  {} MISSING: {}",
                m.month,
                m.reason.as_deref().unwrap_or("")
            ),
        }
    }
    println!("  {} population(s), {} sample(s)", k.populations, k.samples);
    println!(
        "check it (no vouch needed): bash {}/verify.sh",
        k.dir.display()
    );
    Ok(0)
}

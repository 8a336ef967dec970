//! `vouch collect` and `vouch evidence list|show|cat|upload`.

use crate::output;
use anyhow::{bail, Result};
use std::io::Write;
use std::path::PathBuf;
use vouch_core::period::Period;
use vouch_engine::evidence::{self, Collector, Item, ListFilter};

#[derive(clap::Args)]
pub struct CollectArgs {
    /// Evidence definition to run (repeatable); default: all of them.
    #[arg(long = "evidence", value_name = "ID")]
    pub evidence: Vec<String>,
    /// 2026-10, 2026-Q3, last-month, START..END.
    #[arg(long, default_value = "last-month")]
    pub period: String,
}

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Evidence items, newest first.
    List {
        /// Only items of this evidence definition (its id in vouch.toml or a pack).
        #[arg(long, value_name = "ID")]
        evidence: Option<String>,
        /// Only items collected for a period inside this one.
        #[arg(long)]
        period: Option<String>,
        /// At most this many items.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// One item's full record (source, operation, times, hash, status).
    Show { id: String },
    /// The content of an item, checked against its SHA-256, to stdout.
    Cat { id: String },
    /// Store a file (a DR drill report, a policy, a screenshot) as evidence.
    Upload {
        file: PathBuf,
        #[arg(long, value_name = "ID")]
        evidence: String,
        /// Why it is evidence, recorded with it.
        #[arg(long)]
        note: Option<String>,
        /// Who uploads it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// The period it belongs to: 2026-10, 2026-Q3, last-month, START..END.
        #[arg(long, default_value = "last-month")]
        period: String,
    },
}

fn collector<'a>(
    config: &'a vouch_engine::Config,
    store: vouch_store::Store,
    ledger: &'a vouch_engine::Ledger,
) -> Collector<'a> {
    Collector::new(config, store, ledger)
}

fn line(item: &Item) -> String {
    let r = &item.record;
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let what = if item.ok() {
        format!(
            "{} rows, {} bytes, sha256 {}",
            r["count"].as_u64().map_or("-".into(), output::n),
            r["size"].as_u64().unwrap_or(0),
            &s("sha256")[..12.min(s("sha256").len())]
        )
    } else {
        format!("ERROR {}", s("error"))
    };
    format!(
        "{}  {:<28} {:<8} {}  {}",
        &s("id"),
        s("evidence_id"),
        r["period"]["label"].as_str().unwrap_or(""),
        if item.ok() { "ok   " } else { "error" },
        what
    )
}

pub fn collect(cli: &crate::Cli, a: &CollectArgs) -> Result<i32> {
    let period = Period::parse(&a.period, chrono::Utc::now())?;
    let (config, store, _keys, ledger) = super::open(cli)?;
    let total = if a.evidence.is_empty() {
        config.evidence.len()
    } else {
        a.evidence.len()
    } as u64;
    if total == 0 {
        bail!(
            "no evidence is defined: add [[evidence]] to {} or include a pack (see packs/)",
            config.file.display()
        );
    }
    let bar = output::progress(total, "collecting");
    let c = collector(&config, store.clone(), &ledger);
    let items = c.collect(&a.evidence, &period, &mut |item| {
        bar.inc(1);
        if !cli.json {
            bar.suspend(|| println!("{}", line(item)));
        }
    })?;
    bar.finish_and_clear();
    let failed = items.iter().filter(|i| !i.ok()).count();
    // Revoked accounts now gone from their population close their findings.
    let remediated =
        vouch_engine::after_collection(&config, &store, &ledger, &items, chrono::Utc::now())?;
    if cli.json {
        let mut out = serde_json::json!({
            "period": period.label,
            "items": items.iter().map(|i| &i.record).collect::<Vec<_>>(),
            "failed": failed,
        });
        if !remediated.is_empty() {
            out["access_reviews_remediated"] = serde_json::json!(remediated);
        }
        output::print_json(&out);
    } else {
        println!(
            "{} item(s) for {}, {failed} failed",
            items.len(),
            period.label
        );
        for e in &remediated {
            println!(
                "access review: revoked account `{}` is gone from `{}`; finding {} resolved",
                e.account,
                e.population,
                e.finding_id.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

pub fn run(cli: &crate::Cli, c: &EvidenceCommand) -> Result<i32> {
    let (config, store, _keys, ledger) = super::open(cli)?;
    match c {
        EvidenceCommand::List {
            evidence: id,
            period,
            limit,
        } => {
            let period = match period {
                Some(p) => Some(Period::parse(p, chrono::Utc::now())?),
                None => None,
            };
            let items = evidence::list(
                &store,
                &ListFilter {
                    evidence_id: id.clone(),
                    period,
                    limit: Some(*limit),
                },
            )?;
            if cli.json {
                output::print_json(&items.iter().map(|i| &i.record).collect::<Vec<_>>());
            } else {
                for i in &items {
                    println!("{}", line(i));
                }
            }
        }
        EvidenceCommand::Show { id } => {
            let item = evidence::get(&store, id)?;
            let mut v = item.record.clone();
            v["ledger_seq"] = serde_json::json!(item.ledger_seq);
            output::print_json(&v);
        }
        EvidenceCommand::Cat { id } => {
            let item = evidence::get(&store, id)?;
            let Some(sha) = item.sha256() else {
                bail!(
                    "item {} has no content (status {}: {})",
                    item.id(),
                    item.record["status"].as_str().unwrap_or(""),
                    item.record["error"].as_str().unwrap_or("")
                );
            };
            let bytes = evidence::blob_store(&config).get(sha)?;
            std::io::stdout().write_all(&bytes)?;
        }
        EvidenceCommand::Upload {
            file,
            evidence: id,
            note,
            by,
            period,
        } => {
            let period = Period::parse(period, chrono::Utc::now())?;
            let by = by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let item = collector(&config, store, &ledger).upload(
                file,
                id,
                note.as_deref(),
                &by,
                &period,
            )?;
            if cli.json {
                output::print_json(&item.record);
            } else {
                println!("{}", line(&item));
            }
        }
    }
    Ok(0)
}

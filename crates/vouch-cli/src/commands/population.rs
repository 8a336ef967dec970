//! `vouch population take|list|export`: the company's side of populations — the same
//! operations as the API's `/populations` endpoints, each take a ledger event.

use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use vouch_engine::auditor::{population, Ctx};

/// `vouch population …`.
#[derive(Subcommand, Debug)]
pub enum PopulationCommand {
    /// Take a population for a period: its items, their Merkle root, a ledger event.
    Take {
        /// The population's id (a `[[population]]`, or an evidence definition declared
        /// `population = true`).
        population: String,
        /// The period (2026-10, 2026-Q3, 2026, START..END).
        #[arg(long)]
        period: String,
        /// Who takes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Population definitions and the populations taken, newest first.
    List {
        /// Only populations of this definition.
        #[arg(long)]
        population: Option<String>,
    },
    /// Write a population's files for the auditor into a directory: population.ndjson
    /// (each line a Merkle leaf), population.csv, population.json (the record) and
    /// population-event.tlog-proof (its ledger event in a signed checkpoint).
    Export {
        /// The population's id (at least 8 characters of it).
        id: String,
        /// The directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// An engine error as one readable line.
pub(crate) fn flag_error(e: vouch_engine::auditor::AuditError) -> anyhow::Error {
    match e {
        vouch_engine::auditor::AuditError::Invalid { field, message } => {
            anyhow!("{}: {message}", field.replace('_', "-"))
        }
        other => anyhow!(other),
    }
}

pub(crate) fn write(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Run `vouch population …`.
pub fn run(cli: &crate::Cli, c: &PopulationCommand) -> Result<i32> {
    let (config, store, _keys, ledger) = super::open(cli)?;
    let ctx = Ctx {
        config: &config,
        store: &store,
        ledger: &ledger,
    };
    let now = chrono::Utc::now();
    match c {
        PopulationCommand::Take {
            population: def,
            period,
            by,
        } => {
            let period = vouch_core::period::Period::parse(period, now)
                .map_err(|e| anyhow!("--period: {e}"))?;
            let p = population::take(&ctx, def, &period, &who(by), now).map_err(flag_error)?;
            if cli.json {
                output::print_json(&p);
            } else {
                println!(
                    "population {} taken: `{}` for {}, {} items, root {} (ledger entry {})",
                    p.id,
                    def,
                    p.period.label,
                    p.size,
                    p.root,
                    p.ledger_seq.unwrap_or_default()
                );
            }
        }
        PopulationCommand::List { population: def } => {
            let all = population::list(&store, def.as_deref()).map_err(flag_error)?;
            if cli.json {
                output::print_json(&serde_json::json!({
                    "definitions": population::definitions(&config),
                    "populations": all,
                }));
            } else if all.is_empty() {
                let defs: Vec<String> = population::definitions(&config)
                    .into_iter()
                    .map(|d| d.id)
                    .collect();
                println!(
                    "no populations taken (defined: {})",
                    if defs.is_empty() {
                        "none".into()
                    } else {
                        defs.join(", ")
                    }
                );
            } else {
                for p in &all {
                    println!(
                        "{}  {:<20} {:<10} {:>7} items  root {}  taken {} by {}",
                        p.id,
                        p.definition.id,
                        p.period.label,
                        p.size,
                        p.root,
                        p.taken_at,
                        p.taken_by
                    );
                }
            }
        }
        PopulationCommand::Export { id, out } => {
            let p = population::get(&store, id).map_err(flag_error)?;
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            write(
                &out.join("population.ndjson"),
                population::export_ndjson(&config, &p)
                    .map_err(flag_error)?
                    .as_bytes(),
            )?;
            write(
                &out.join("population.csv"),
                population::export_csv(&config, &p)
                    .map_err(flag_error)?
                    .as_bytes(),
            )?;
            write(
                &out.join("population.json"),
                serde_json::to_string_pretty(&p)?.as_bytes(),
            )?;
            let seq = p
                .ledger_seq
                .ok_or_else(|| anyhow!("population {} has no ledger event", p.id))?;
            let cp = ledger.checkpoint()?;
            let proof = ledger.inclusion_proof(seq, Some(cp.size))?;
            write(&out.join("population-event.tlog-proof"), proof.as_bytes())?;
            if cli.json {
                output::print_json(
                    &serde_json::json!({"dir": out, "id": p.id, "size": p.size, "root": p.root}),
                );
            } else {
                println!(
                    "population {} ({} items) written to {}: population.ndjson, population.csv, population.json, population-event.tlog-proof",
                    p.id,
                    p.size,
                    out.display()
                );
            }
        }
    }
    Ok(0)
}

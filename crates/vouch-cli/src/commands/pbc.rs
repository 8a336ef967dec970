//! `vouch pbc request|answer|accept|return|list`: requests on sampled items (the PBC
//! list) — the auditor requests, accepts and returns; the company answers with an
//! upload or a collected evidence item. Every step is a ledger event.

use super::population::{flag_error, who};
use crate::output;
use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::PathBuf;
use vouch_engine::auditor::{pbc, Ctx};

/// `vouch pbc …`.
#[derive(Subcommand, Debug)]
pub enum PbcCommand {
    /// Request something about a sampled item (the auditor).
    Request {
        /// The sample's id.
        #[arg(long)]
        sample: String,
        /// The item's index in the population (one the sample drew).
        #[arg(long)]
        item: u64,
        /// What is requested ("the approval for this change").
        #[arg(long)]
        text: String,
        /// Who requests (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Answer a request with a file (uploaded as evidence) or a collected evidence item.
    Answer {
        /// The request's id.
        id: String,
        /// A file to upload as the answer.
        #[arg(long, conflicts_with = "evidence_item")]
        file: Option<PathBuf>,
        /// The evidence id the upload is stored under.
        #[arg(long, default_value = "pbc")]
        evidence: String,
        /// An evidence item already collected or uploaded.
        #[arg(long)]
        evidence_item: Option<String>,
        /// A note for the auditor.
        #[arg(long)]
        note: Option<String>,
        /// Who answers (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Accept a request's answer (the auditor).
    Accept {
        /// The request's id.
        id: String,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
        /// Who accepts (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Return a request's answer with a comment (the auditor).
    Return {
        /// The request's id.
        id: String,
        /// Why it is returned.
        #[arg(long)]
        comment: String,
        /// Who returns it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Requests with their answers and history, oldest first.
    List {
        /// Only requests of this sample.
        #[arg(long)]
        sample: Option<String>,
    },
}

fn show(json: bool, r: &pbc::Request) {
    if json {
        output::print_json(r);
    } else {
        println!(
            "{}  {:<9} sample {} item {}: {}",
            r.id, r.status, r.sample_id, r.item_index, r.text
        );
        for s in &r.history {
            println!(
                "    {}  {:<9} {}{}",
                s.at,
                s.action,
                s.by,
                s.comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// Run `vouch pbc …`.
pub fn run(cli: &crate::Cli, c: &PbcCommand) -> Result<i32> {
    let (config, store, _keys, ledger) = super::open(cli)?;
    let ctx = Ctx {
        config: &config,
        store: &store,
        ledger: &ledger,
    };
    let now = chrono::Utc::now();
    match c {
        PbcCommand::Request {
            sample,
            item,
            text,
            by,
        } => show(
            cli.json,
            &pbc::request(&ctx, sample, *item, text, &who(by), now).map_err(flag_error)?,
        ),
        PbcCommand::Answer {
            id,
            file,
            evidence,
            evidence_item,
            note,
            by,
        } => {
            let by = who(by);
            let item = match (file, evidence_item) {
                (Some(f), _) => {
                    let req = pbc::get(&store, id).map_err(flag_error)?;
                    // The upload's period: the sampled population's.
                    let pop = vouch_engine::auditor::population::get(&store, &req.population_id)
                        .map_err(flag_error)?;
                    let period = vouch_core::period::Period::parse(
                        &format!("{}..{}", pop.period.start, pop.period.end),
                        now,
                    )
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let up =
                        vouch_engine::evidence::Collector::new(&config, store.clone(), &ledger)
                            .upload(f, evidence, note.as_deref(), &by, &period)?;
                    up.id().to_string()
                }
                (None, Some(i)) => i.clone(),
                (None, None) => bail!("give --file (an upload) or --evidence-item"),
            };
            show(
                cli.json,
                &pbc::answer(&ctx, id, &item, note.as_deref(), &by, now).map_err(flag_error)?,
            )
        }
        PbcCommand::Accept { id, comment, by } => show(
            cli.json,
            &pbc::decide(&ctx, id, true, comment.as_deref(), &who(by), now).map_err(flag_error)?,
        ),
        PbcCommand::Return { id, comment, by } => show(
            cli.json,
            &pbc::decide(&ctx, id, false, Some(comment), &who(by), now).map_err(flag_error)?,
        ),
        PbcCommand::List { sample } => {
            let all = pbc::list(&store, sample.as_deref()).map_err(flag_error)?;
            if cli.json {
                output::print_json(&all);
            } else if all.is_empty() {
                println!("no requests");
            } else {
                for r in &all {
                    show(false, r);
                }
            }
        }
    }
    Ok(0)
}

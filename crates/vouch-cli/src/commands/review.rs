//! `vouch review`: access-review campaigns (start, list, show, decide, complete, cancel).

use crate::output;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use vouch_engine::signoff::review::{self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer};

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Start a campaign: snapshot the populations' latest collection (or start a draft).
    Start(StartArgs),
    /// Campaigns, newest first (--status draft|in_progress|completed|cancelled).
    List {
        /// Only campaigns in this state.
        #[arg(long)]
        status: Option<String>,
    },
    /// One campaign with its entries; --out writes a completed campaign's signed document.
    Show {
        /// The campaign id (at least 8 characters of it).
        id: String,
        /// Write `access-review-<id>.json` and its `.sig` (and `.md`) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the Markdown rendering (every account, decision, note, remediation).
        #[arg(long)]
        markdown: bool,
    },
    /// Decide one account: keep, revoke, defer or escalate (a note is required except for keep).
    Decide(DecideArgs),
    /// Complete and sign a campaign (refused while any entry is undecided).
    Complete {
        /// The campaign id.
        id: String,
        /// Who completes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Also write the signed document and its `.sig` into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Cancel a draft or a campaign in progress.
    Cancel {
        /// The campaign id.
        id: String,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
        /// Who cancels it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Args)]
pub struct StartArgs {
    /// Start this draft instead of creating a campaign.
    pub draft_id: Option<String>,
    /// The campaign's title.
    #[arg(long)]
    pub title: Option<String>,
    /// A population and its reviewers: EVIDENCE=REVIEWER[,REVIEWER…] (repeatable).
    #[arg(long = "population", value_name = "EVIDENCE=REVIEWERS")]
    pub populations: Vec<String>,
    /// Accounts that are a reviewer's own besides their id: REVIEWER=ACCOUNT[,ACCOUNT…].
    #[arg(long = "owns", value_name = "REVIEWER=ACCOUNTS")]
    pub owns: Vec<String>,
    /// Create it as a draft (no snapshot yet).
    #[arg(long)]
    pub draft: bool,
    /// Who starts it (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Args)]
pub struct DecideArgs {
    /// The campaign id.
    pub id: String,
    /// The population (evidence id) of the account.
    #[arg(long)]
    pub population: String,
    /// The account.
    #[arg(long)]
    pub account: String,
    /// keep, revoke, defer or escalate.
    #[arg(long)]
    pub decision: String,
    /// Why (required for revoke, defer and escalate).
    #[arg(long)]
    pub note: Option<String>,
    /// The reviewer deciding (default: $USER); must be a reviewer of the population.
    #[arg(long)]
    pub by: Option<String>,
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn split_pair<'a>(flag: &str, s: &'a str) -> Result<(&'a str, Vec<String>)> {
    let Some((k, v)) = s.split_once('=') else {
        bail!("{flag} `{s}`: expected NAME=VALUE[,VALUE…]");
    };
    let vals: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if k.trim().is_empty() || vals.is_empty() {
        bail!("{flag} `{s}`: expected NAME=VALUE[,VALUE…]");
    }
    Ok((k.trim(), vals))
}

fn spec(a: &StartArgs) -> Result<NewCampaign> {
    let Some(title) = a.title.clone() else {
        bail!("--title is required to create a campaign");
    };
    if a.populations.is_empty() {
        bail!("--population EVIDENCE=REVIEWER[,REVIEWER…] is required (at least one)");
    }
    let mut owns: Vec<(String, Vec<String>)> = Vec::new();
    for o in &a.owns {
        let (r, accts) = split_pair("--owns", o)?;
        owns.push((r.to_lowercase(), accts));
    }
    let mut populations = Vec::new();
    for p in &a.populations {
        let (evidence, ids) = split_pair("--population", p)?;
        populations.push(PopulationSpec {
            evidence: evidence.to_string(),
            reviewers: ids
                .into_iter()
                .map(|id| Reviewer {
                    accounts: owns
                        .iter()
                        .filter(|(r, _)| *r == id.to_lowercase())
                        .flat_map(|(_, a)| a.clone())
                        .collect(),
                    id,
                })
                .collect(),
        });
    }
    Ok(NewCampaign {
        title,
        populations,
        draft: a.draft,
    })
}

fn print_view(v: &review::View) {
    let c = &v.campaign;
    let s = &v.summary;
    println!("{}  {}  [{}]", c.id, c.title, c.status);
    println!("  scope       {}", c.scope);
    if let Some(t) = &c.started_at {
        println!(
            "  started     {t}  snapshot sha256 {}",
            c.snapshot_sha256.as_deref().unwrap_or("-")
        );
    }
    if let Some(p) = &c.previous {
        println!("  compared to {p} (last completed review of this scope)");
    }
    if let Some(t) = &c.ended_at {
        println!(
            "  {:<11} {t} by {}",
            c.status,
            c.ended_by.as_deref().unwrap_or("-")
        );
    }
    for p in &c.populations {
        let r: Vec<&str> = p.reviewers.iter().map(|r| r.id.as_str()).collect();
        println!(
            "  population  {} — reviewers: {}",
            p.evidence_id,
            r.join(", ")
        );
    }
    println!(
        "  entries     {} to decide, {} undecided; {}",
        s.to_decide,
        s.undecided,
        s.decisions
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for e in &v.entries {
        println!(
            "  {:<20} {:<24} {:<9} {:<10} {:<24} {}",
            e.population,
            e.account,
            e.tag,
            e.decision.as_deref().unwrap_or("-"),
            e.flags.join(","),
            e.note.as_deref().unwrap_or("")
        );
    }
}

fn write_document(
    dir: &std::path::Path,
    v: &review::View,
    doc: &str,
    sig: &str,
) -> Result<PathBuf> {
    let id = &v.campaign.id;
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!("access-review-{id}.json"));
    std::fs::write(&file, doc)?;
    std::fs::write(dir.join(format!("access-review-{id}.json.sig")), sig)?;
    std::fs::write(
        dir.join(format!("access-review-{id}.md")),
        vouch_engine::signoff::markdown::render_review(v),
    )?;
    Ok(file)
}

pub fn run(cli: &crate::Cli, c: &ReviewCommand) -> Result<i32> {
    let (config, store, keys, ledger) = super::open(cli)?;
    let ctx = Ctx {
        config: &config,
        store: &store,
        ledger: &ledger,
    };
    let now = chrono::Utc::now();
    let show = |v: &review::View| {
        if cli.json {
            output::print_json(v);
        } else {
            print_view(v);
        }
    };
    match c {
        ReviewCommand::Start(a) => {
            let v = match &a.draft_id {
                Some(id) => review::start(&ctx, id, &who(&a.by), now)?,
                None => review::create(&ctx, &spec(a)?, &who(&a.by), now)?,
            };
            show(&v);
        }
        ReviewCommand::List { status } => {
            let all = review::list(&store, status.as_deref())?;
            if cli.json {
                output::print_json(&all);
            } else if all.is_empty() {
                println!("no access reviews");
            } else {
                for l in &all {
                    println!(
                        "{}  {:<11} {:<32} {}  {} undecided of {}",
                        l.campaign.id,
                        l.campaign.status,
                        l.campaign.title,
                        l.campaign.scope,
                        l.summary.undecided,
                        l.summary.to_decide
                    );
                }
            }
        }
        ReviewCommand::Show { id, out, markdown } => {
            let v = review::get(&store, id)?;
            if let Some(dir) = out {
                let (Some(doc), Some(sig)) = (&v.document, &v.signature) else {
                    bail!(
                        "access review {} is {}: only a completed review has a signed document",
                        v.campaign.id,
                        v.campaign.status
                    );
                };
                let f = write_document(dir, &v, doc, sig)?;
                eprintln!("wrote {} and its .sig and .md", f.display());
            }
            if *markdown {
                print!("{}", vouch_engine::signoff::markdown::render_review(&v));
            } else {
                show(&v);
            }
        }
        ReviewCommand::Decide(a) => {
            let e = review::decide(
                &ctx,
                &a.id,
                &Decision {
                    population: a.population.clone(),
                    account: a.account.clone(),
                    decision: a.decision.clone(),
                    note: a.note.clone(),
                },
                &who(&a.by),
                now,
            )?;
            if cli.json {
                output::print_json(&e);
            } else {
                println!(
                    "{} in {}: {}{}",
                    e.account,
                    e.population,
                    e.decision.as_deref().unwrap_or("-"),
                    e.finding_id
                        .as_deref()
                        .map(|f| format!(" (remediation finding {f})"))
                        .unwrap_or_default()
                );
            }
        }
        ReviewCommand::Complete { id, by, out } => {
            let done = review::complete(&ctx, &keys, id, &who(by), now)?;
            if let Some(dir) = out {
                let f = write_document(dir, &done.view, &done.document, &done.signature)?;
                eprintln!("wrote {} and its .sig", f.display());
            }
            show(&done.view);
        }
        ReviewCommand::Cancel { id, reason, by } => {
            show(&review::cancel(&ctx, id, reason, &who(by), now)?);
        }
    }
    Ok(0)
}

//! `vouch review`: access-review campaigns (start, list, show, decide, complete, cancel).

use crate::output;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use vouch_engine::signoff::review::{self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer};
use vouch_engine::signoff::signature::PersonalKey;

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
    /// One campaign with its entries; --out writes a completed campaign's signed documents.
    Show {
        /// The campaign id (at least 8 characters of it).
        id: String,
        /// Write the signed document set (`access-review.json`, `.md`, `.pdf`, their
        /// signatures, `public_key.pem`) into this directory.
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
        /// Also write the signed document set into this directory (it is always
        /// written under the data directory's attestations/access-review-<id>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also sign with this SSH private key (`ssh-keygen -Y sign -n
        /// vouch-attestation`; its .pub must be beside it).
        #[arg(long, value_name = "FILE", conflicts_with = "gpg_key")]
        ssh_key: Option<PathBuf>,
        /// Also sign with this OpenPGP key of your keyring (`gpg --detach-sign`).
        #[arg(long, value_name = "ID")]
        gpg_key: Option<String>,
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
                // The set again from the stored document: the same JSON and PDF bytes
                // (hashes as in its ledger event), vouch's key that signed it.
                let key_id = serde_json::from_str::<serde_json::Value>(doc)?["signing_key"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if key_id != keys.signing_key_id() {
                    bail!(
                        "access review {} was signed with key {key_id}, not this data directory's signing key {}: its files are under attestations/ where it was completed",
                        v.campaign.id,
                        keys.signing_key_id()
                    );
                }
                let set = review::document_set(
                    doc,
                    sig,
                    &keys.signing_public_pem(),
                    v.campaign.personal_signature.clone(),
                    &vouch_engine::packet::attestation::review_pdf,
                )?;
                // The PDF and Markdown are rendered again by this binary: after an
                // upgrade that renders differently they would not be the files whose
                // hashes the ledger event and packets hold, so refuse rather than write
                // look-alikes (the JSON is the stored bytes).
                for (name, sha) in set.hashes() {
                    if let Some(recorded) = v.campaign.files.get(&name) {
                        if !recorded.eq_ignore_ascii_case(&sha) {
                            bail!(
                                "access review {}: {name} rendered by this vouch ({}) has SHA-256 {sha}, not {recorded} as recorded at completion; use the files written then (attestations/access-review-{})",
                                v.campaign.id,
                                vouch_core::VERSION,
                                v.campaign.id
                            );
                        }
                    }
                }
                let files = vouch_engine::packet::attestation::write_review(dir, &keys, &set)?;
                eprintln!("wrote {} files into {}", files.len(), dir.display());
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
        ReviewCommand::Complete {
            id,
            by,
            out,
            ssh_key,
            gpg_key,
        } => {
            let key = match (ssh_key, gpg_key) {
                (Some(f), _) => Some(PersonalKey::Ssh(f.clone())),
                (None, Some(id)) => Some(PersonalKey::Gpg(id.clone())),
                _ => None,
            };
            let personal = match &key {
                Some(k) => review::Personal::Key(k),
                None => review::Personal::None,
            };
            let done = review::complete(
                &ctx,
                &keys,
                id,
                &who(by),
                now,
                personal,
                &vouch_engine::packet::attestation::review_pdf,
            )?;
            // Beside the attestations, like theirs; then the copy asked for. The review
            // is completed and recorded before: a failed write says so.
            let home = vouch_engine::packet::attestation::review_dir_for(
                &config.data_dir,
                &done.view.campaign.id,
            );
            for dir in std::iter::once(&home).chain(out.iter()) {
                let files = vouch_engine::packet::attestation::write_review(dir, &keys, &done.files)
                    .with_context(|| format!(
                        "access review {} IS COMPLETED and signed (document SHA-256 {}), but writing its files to {} failed; write them with `vouch review show {} --out DIR`",
                        done.view.campaign.id, done.files.signed.sha256, dir.display(), done.view.campaign.id
                    ))?;
                eprintln!("wrote {} files into {}", files.len(), dir.display());
            }
            show(&done.view);
        }
        ReviewCommand::Cancel { id, reason, by } => {
            show(&review::cancel(&ctx, id, reason, &who(by), now)?);
        }
    }
    Ok(0)
}

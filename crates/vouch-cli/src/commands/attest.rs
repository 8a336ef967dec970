//! `vouch attest list|show|open|sign|export` (seed 002's quarterly attestation) and the
//! shared code of `vouch signoff` (seed 001's collection sign-off): same documents, same
//! signing, another kind and signer role.

use crate::output;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vouch_engine::signoff::attest::{
    Attestation, Opinion, SignRequest, Signoffs, KIND_ATTESTATION, KIND_COLLECTION,
};
use vouch_engine::signoff::quarterly::KIND_REVIEW;
use vouch_engine::signoff::signature::PersonalKey;

#[derive(clap::Subcommand)]
pub enum AttestCommand {
    /// Attestations: period, window, status, opinion (--status open|overdue|missed|signed).
    List {
        /// Only attestations in this state.
        #[arg(long)]
        status: Option<String>,
    },
    /// One attestation: its steps as they would be signed now (re-read from the stored
    /// check results), exceptions and findings; the signed document once signed.
    Show {
        /// The attestation's id (at least 8 characters).
        id: String,
        /// Print the Markdown rendering (seed 002's attestation-log/YYYY-QN.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Open a period's window now with a draft (the scheduler does this at the window's
    /// opening; a window that has closed is not opened).
    Open {
        /// The attested period (2026-Q4; 2026-11 with monthly attestations).
        #[arg(long)]
        period: String,
    },
    /// Sign: freezes the document, signs it with vouch's key (and yours), records it.
    Sign(SignArgs),
    /// Request seed 001's quarterly review of a quarter (signoff only): the three monthly
    /// packets' chain and consistency proofs, backup and vault-rotation checks.
    Review {
        /// The quarter (2026-Q3).
        #[arg(long)]
        period: String,
    },
    /// Decide a sampled merged PR of a quarterly review (signoff only): --approve, or
    /// --exception with a --note; each decision is a ledger event.
    Decide {
        /// The quarterly review's id (at least 8 characters).
        id: String,
        /// The sampled PR: its number (412 or #412) or its URL, as `show` lists it.
        #[arg(long)]
        pr: String,
        /// The PR followed the change-management policy.
        #[arg(
            long,
            conflicts_with = "exception",
            required_unless_present = "exception"
        )]
        approve: bool,
        /// It did not: an exception (needs --note).
        #[arg(long)]
        exception: bool,
        /// Why (required with --exception).
        #[arg(long)]
        note: Option<String>,
        /// Your name as the reviewer (default: $USER).
        #[arg(long)]
        signer: Option<String>,
    },
    /// Signers' pinned personal keys (configured, first use, rotated): list them, or
    /// rotate one (recorded in the ledger with the old and new fingerprints).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a signed document's files (JSON, .sig, public key, Markdown, PDF) to a
    /// directory.
    Export {
        /// The attestation's id.
        id: String,
        /// Where to write them.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Every pinned signer key: who, fingerprint, how it was pinned.
    List,
    /// Replace a signer's pinned key (the old one is lost or compromised): an
    /// `attestation.signer_key_rotated` ledger event names the old and new fingerprints,
    /// you and the reason. Keys configured in vouch.toml are changed there.
    Rotate {
        /// The signer's name, as their documents record it.
        signer: String,
        /// The new SSH public key (the .pub file, or the private key with its .pub beside).
        #[arg(long, value_name = "FILE", required_unless_present = "gpg_fingerprint")]
        ssh_key: Option<PathBuf>,
        /// The new OpenPGP key's fingerprint.
        #[arg(long, value_name = "FPR", conflicts_with = "ssh_key")]
        gpg_fingerprint: Option<String>,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
        /// Your name as the admin who rotates it (default: $USER).
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(clap::Args)]
#[command(
    after_help = "The signed files are written to <data dir>/attestations/<period>-<kind>/;
check them with `vouch verify DIR`, `openssl dgst -sha256 -verify public_key.pem
-signature <(base64 -d attestation.json.sig) attestation.json`, `ssh-keygen -Y verify -f
allowed_signers -I NAME -n vouch-attestation -s attestation.json.ssh.sig <
attestation.json` or `gpg --verify attestation.json.asc attestation.json`."
)]
pub struct SignArgs {
    /// The document's id (at least 8 characters).
    pub id: String,
    /// Sign a qualified opinion (with the exceptions listed). Without it the opinion is
    /// unqualified, refused while a step did not pass or a high/critical finding is open.
    #[arg(long)]
    pub qualified: bool,
    /// A note on a step: STEP=TEXT, STEP being its number or control id (repeatable).
    #[arg(long = "note", value_name = "STEP=TEXT")]
    pub notes: Vec<String>,
    /// Also sign with this SSH private key (`ssh-keygen -Y sign -n vouch-attestation`;
    /// its .pub must be beside it).
    #[arg(long, value_name = "FILE", conflicts_with = "gpg_key")]
    pub ssh_key: Option<PathBuf>,
    /// Also sign with this OpenPGP key of your keyring (`gpg --detach-sign`).
    #[arg(long, value_name = "ID")]
    pub gpg_key: Option<String>,
    /// Your name as the signer (default: $USER).
    #[arg(long)]
    pub signer: Option<String>,
}

fn line(a: &Attestation) -> String {
    let signed = match &a.signed {
        Some(s) => format!(
            "signed {} by {} ({}){}",
            s.signed_at,
            s.signer.name,
            s.opinion,
            if s.late { ", LATE" } else { "" }
        ),
        None => format!("closes {}", a.closes_at),
    };
    format!(
        "{}  {:<22} {:<8} {}  steps {}  exceptions {}",
        &a.id[..a.id.len().min(13)],
        a.title,
        a.status,
        signed,
        a.steps.len(),
        a.exceptions.len()
    )
}

fn text(a: &Attestation) {
    println!("{}", line(a));
    println!(
        "window: opens {}  target {}  hard close {}",
        a.opens_at, a.target_at, a.closes_at
    );
    for s in &a.steps {
        println!(
            "  {:>2}. {:<8} {} — {}{}",
            s.number,
            s.status.to_uppercase(),
            s.control_id,
            s.title,
            s.note
                .as_ref()
                .map(|n| format!("  [note: {n}]"))
                .unwrap_or_default()
        );
        for c in &s.checks {
            println!(
                "        {} {}: {}",
                c.check_id,
                c.status,
                c.messages.join("; ")
            );
        }
        if let Some(d) = &s.detail {
            println!("        {d}");
        }
        if let Some(sample) = &s.sample {
            for p in &sample.prs {
                println!(
                    "        {} {} {}{}",
                    p.number
                        .map(|n| format!("#{n}"))
                        .unwrap_or_else(|| p.key.clone()),
                    p.title.as_deref().unwrap_or(""),
                    match &p.decision {
                        Some(d) => format!("— {} by {}", d.decision, d.by),
                        None => "— awaiting a decision".into(),
                    },
                    p.decision
                        .as_ref()
                        .and_then(|d| d.note.as_ref())
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    if a.exceptions.is_empty() {
        println!("no exceptions: an unqualified opinion may be signed");
    } else {
        println!("exceptions (sign with --qualified):");
        for e in &a.exceptions {
            println!("  - {e}");
        }
    }
}

/// Run an `attest` (kind `attestation`) or `signoff` (kind `collection-signoff`) command.
pub fn run_kind(cli: &crate::Cli, c: &AttestCommand, kind: &str) -> Result<i32> {
    let (config, store, keys, ledger) = super::open(cli)?;
    let s = Signoffs {
        config: &config,
        store,
        ledger: &ledger,
        keys: &keys,
    };
    let now = chrono::Utc::now();
    // `vouch signoff` handles collection sign-offs and quarterly reviews.
    let mine = |k: &str| k == kind || (kind == KIND_COLLECTION && k == KIND_REVIEW);
    let of_kind = |a: Attestation| -> Result<Attestation> {
        if !mine(&a.kind) {
            bail!(
                "{} is a {}: use `vouch {}`",
                a.id,
                a.kind,
                if a.kind == KIND_ATTESTATION {
                    "attest"
                } else {
                    "signoff"
                }
            );
        }
        Ok(a)
    };
    match c {
        AttestCommand::List { status } => {
            let all: Vec<Attestation> = s
                .list(None, status.as_deref())?
                .into_iter()
                .filter(|a| mine(&a.kind))
                .collect();
            if cli.json {
                output::print_json(&all);
            } else if all.is_empty() {
                println!("no {kind}s yet");
            } else {
                for a in &all {
                    println!("{}", line(a));
                }
            }
        }
        AttestCommand::Show { id, markdown } => {
            let a = of_kind(s.preview(id, now)?)?;
            if *markdown {
                print!("{}", vouch_engine::signoff::markdown::render(&a));
            } else if cli.json {
                let doc = s.document(&a.id)?;
                output::print_json(&serde_json::json!({"attestation": a, "signed_document": doc}));
            } else {
                text(&a);
            }
        }
        AttestCommand::Open { period } => {
            if kind != KIND_ATTESTATION {
                bail!("collection sign-offs are requested by the monthly collection job (`vouch jobs run generate-soc2-evidence --period P`)");
            }
            let p = vouch_core::period::Period::parse(period, now)
                .map_err(|e| anyhow::anyhow!("--period: {e}"))?;
            let a = s.open_period(&p, now)?;
            if cli.json {
                output::print_json(&a);
            } else {
                text(&a);
            }
        }
        AttestCommand::Sign(args) => {
            let a = of_kind(s.get(&args.id)?)?;
            let mut notes = BTreeMap::new();
            for n in &args.notes {
                let (k, v) = n
                    .split_once('=')
                    .with_context(|| format!("--note `{n}`: give STEP=TEXT"))?;
                notes.insert(k.trim().to_string(), v.to_string());
            }
            let personal = match (&args.ssh_key, &args.gpg_key) {
                (Some(f), _) => Some(PersonalKey::Ssh(f.clone())),
                (None, Some(id)) => Some(PersonalKey::Gpg(id.clone())),
                _ => None,
            };
            let req = SignRequest {
                signer: args
                    .signer
                    .clone()
                    .or_else(|| std::env::var("USER").ok())
                    .unwrap_or_else(|| "unknown".into()),
                // The CLI runs with the data directory's keys: its user acts in the
                // document's signer role (the API checks the caller's role instead).
                role: a.signer_role.clone(),
                via: "cli".into(),
                opinion: if args.qualified {
                    Opinion::Qualified
                } else {
                    Opinion::Unqualified
                },
                notes,
                personal,
            };
            let (a, doc) = s.sign(&a.id, &req, now)?;
            let dir = vouch_engine::packet::attestation::dir_for(&config.data_dir, &a);
            let files = vouch_engine::packet::attestation::write(&dir, &keys, &a, &doc)?;
            if cli.json {
                output::print_json(&serde_json::json!({"attestation": a, "files": files}));
            } else {
                println!("{}", line(&a));
                println!(
                    "document SHA-256 {}  ledger seq {}",
                    a.document_sha256.clone().unwrap_or_default(),
                    a.ledger_seq.unwrap_or(0)
                );
                println!("files in {}", dir.display());
            }
        }
        AttestCommand::Review { period } => {
            if kind != KIND_COLLECTION {
                bail!("quarterly reviews are seed 001's team-lead sign-off: `vouch signoff review --period 2026-Q3`");
            }
            let p = vouch_core::period::Period::parse(period, now)
                .map_err(|e| anyhow::anyhow!("--period: {e}"))?;
            let runner = vouch_engine::jobs::Runner {
                config: &config,
                store: s.store.clone(),
                keys: &keys,
                ledger: &ledger,
                clock: &vouch_engine::jobs::SystemClock,
                worker: format!("cli:{}", std::process::id()),
                max_attempts: 1,
                backoff: chrono::Duration::minutes(1),
                not_before: None,
            };
            let a = runner.quarterly_review(&p)?;
            if cli.json {
                output::print_json(&a);
            } else {
                text(&a);
            }
        }
        AttestCommand::Decide {
            id,
            pr,
            approve,
            exception,
            note,
            signer,
        } => {
            if kind != KIND_COLLECTION {
                bail!("PR decisions belong to seed 001's quarterly review: `vouch signoff decide ID --pr N --approve`");
            }
            let a = of_kind(s.get(id)?)?;
            let decision = match (*approve, *exception) {
                (true, _) => "approved",
                (_, true) => "exception",
                _ => bail!("give --approve or --exception"),
            };
            let who = signer
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            // As for signing, the CLI user acts in the review's signer role.
            let a = s.decide_pr(
                &a.id,
                pr,
                decision,
                note.as_deref(),
                &who,
                &a.signer_role.clone(),
                now,
            )?;
            if cli.json {
                output::print_json(&a);
            } else {
                text(&a);
            }
        }
        AttestCommand::Keys(KeysCommand::List) => {
            let pins = s.signer_pins()?;
            if cli.json {
                output::print_json(&pins);
            } else if pins.is_empty() {
                println!("no signer key is pinned yet");
            } else {
                for p in &pins {
                    println!(
                        "{:<24} {}  {}{}",
                        p.signer,
                        p.fingerprint,
                        p.pinned_by,
                        if p.pinned_at.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", p.pinned_at)
                        }
                    );
                }
            }
        }
        AttestCommand::Keys(KeysCommand::Rotate {
            signer,
            ssh_key,
            gpg_fingerprint,
            reason,
            actor,
        }) => {
            let key = match (ssh_key, gpg_fingerprint) {
                (Some(f), _) => {
                    // The public key: the file itself, or the .pub beside a private key.
                    let mut text = std::fs::read_to_string(f)
                        .with_context(|| format!("--ssh-key: cannot read {}", f.display()))?;
                    if text.contains("PRIVATE KEY") {
                        let mut p = f.as_os_str().to_owned();
                        p.push(".pub");
                        text = std::fs::read_to_string(&p).with_context(|| {
                            format!(
                                "--ssh-key: the public key {} is needed",
                                PathBuf::from(&p).display()
                            )
                        })?;
                    }
                    text
                }
                (None, Some(fpr)) => fpr.clone(),
                (None, None) => bail!("give --ssh-key FILE or --gpg-fingerprint FPR"),
            };
            let who = actor
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let pin = s.rotate_signer_key(signer, &key, reason, &who, now)?;
            if cli.json {
                output::print_json(&pin);
            } else {
                println!(
                    "{} is now pinned to {} (rotated)",
                    pin.signer, pin.fingerprint
                );
            }
        }
        AttestCommand::Export { id, out } => {
            let a = of_kind(s.get(id)?)?;
            let Some(doc) = s.document(&a.id)? else {
                bail!(
                    "{} is not signed yet: only signed documents are exported",
                    a.id
                );
            };
            let files = vouch_engine::packet::attestation::write(out, &keys, &a, &doc)?;
            if cli.json {
                output::print_json(&files);
            } else {
                for f in files {
                    println!("{}", f.display());
                }
            }
        }
    }
    Ok(0)
}

/// `vouch attest …`.
pub fn run(cli: &crate::Cli, c: &AttestCommand) -> Result<i32> {
    run_kind(cli, c, KIND_ATTESTATION)
}

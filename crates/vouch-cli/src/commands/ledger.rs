use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::path::PathBuf;
use vouch_core::event::parse_batch;
use vouch_core::note::NoteVerifier;
use vouch_core::period::Period;
use vouch_engine::ledger::{verify_proof_file, VerifyOptions};

#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Append events (NDJSON, a JSON array, or one object) from FILE or stdin; all or nothing.
    Append {
        /// Input file; `-` or nothing reads stdin.
        file: Option<PathBuf>,
    },
    /// Verify the whole ledger: {"valid", "broken_at", "checked", "tree_size", "root"}.
    Verify {
        /// A signed checkpoint obtained earlier; the ledger must still match it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint text).
    Checkpoint {
        /// Sign a new checkpoint of the current tree first.
        #[arg(long)]
        new: bool,
    },
    /// Write an inclusion proof (C2SP tlog-proof) for entry INDEX.
    Prove {
        /// The entry (its seq).
        #[arg(long)]
        index: u64,
        /// Tree size (default: the latest checkpoint's).
        #[arg(long)]
        size: Option<u64>,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a consistency proof between tree sizes FROM and TO.
    Consistency {
        /// The earlier tree size (a checkpoint's).
        #[arg(long)]
        from: u64,
        /// The later tree size (a checkpoint's).
        #[arg(long)]
        to: u64,
    },
    /// Stream the events of a period as NDJSON leaves, in sequence order.
    Export {
        /// 2026-10, 2026-Q3, 2026, last-month, or START..END.
        #[arg(long)]
        period: String,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a tlog-proof file offline against a log verifier key.
    VerifyProof {
        proof: PathBuf,
        /// The log's verifier key (`vouch keys show`); default: this data dir's.
        #[arg(long)]
        key: Option<String>,
    },
    /// Check a retention archive (audit-archive.ndjson) against the ledger's leaf hashes.
    VerifyArchive { archive: String },
}

pub fn run(cli: &crate::Cli, c: &LedgerCommand) -> Result<i32> {
    match c {
        LedgerCommand::Append { file } => append(cli, file.as_ref()),
        LedgerCommand::Verify { checkpoint } => {
            let (_, _, _, ledger) = super::open(cli)?;
            let trusted = match checkpoint {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                None => None,
            };
            let started = std::time::Instant::now();
            let report = ledger.verify(&VerifyOptions {
                trusted_checkpoint: trusted,
                up_to: None,
            })?;
            if cli.json {
                output::print_json(&report);
            } else if report.valid {
                println!(
                    "valid: {} entries verified, tree size {}, {} checkpoints, root {} ({:.2} s)",
                    output::n(report.checked),
                    output::n(report.tree_size),
                    report.checkpoints_checked,
                    report.root,
                    started.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "BROKEN at {}: {}",
                    report.broken_at.map(|b| b.to_string()).unwrap_or_default(),
                    report.reason.clone().unwrap_or_default()
                );
            }
            Ok(if report.valid { 0 } else { 1 })
        }
        LedgerCommand::Checkpoint { new } => {
            let (_, _, _, ledger) = super::open(cli)?;
            let cp = if *new {
                Some(ledger.checkpoint()?)
            } else {
                ledger.latest_checkpoint()?
            };
            let cp = cp.ok_or_else(|| anyhow!("the ledger has no checkpoint yet (append events, or run `vouch ledger checkpoint --new`)"))?;
            if cli.json {
                output::print_json(&cp);
            } else {
                print!("{}", cp.note);
            }
            Ok(0)
        }
        LedgerCommand::Prove { index, size, out } => {
            let (_, _, _, ledger) = super::open(cli)?;
            let proof = ledger.inclusion_proof(*index, *size)?;
            match out {
                Some(p) => {
                    write_new_file(p, proof.as_bytes())?;
                    if cli.json {
                        output::print_json(
                            &serde_json::json!({"index": index, "file": p.display().to_string()}),
                        );
                    } else {
                        println!("wrote inclusion proof for entry {index} to {}", p.display());
                    }
                }
                None => print!("{proof}"),
            }
            Ok(0)
        }
        LedgerCommand::Consistency { from, to } => {
            let (_, _, _, ledger) = super::open(cli)?;
            let proof = ledger.consistency_proof(*from, *to)?;
            output::print_json(&proof);
            Ok(0)
        }
        LedgerCommand::Export { period, out } => {
            let period = Period::parse(period, chrono::Utc::now())?;
            let (_, _, _, ledger) = super::open(cli)?;
            let count = match out {
                Some(p) => {
                    let tmp = p.with_extension("partial");
                    let f = std::fs::File::create(&tmp)
                        .with_context(|| format!("cannot create {}", tmp.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    let n = ledger.export(&period, &mut w)?;
                    w.flush()?;
                    std::fs::rename(&tmp, p)?;
                    eprintln!(
                        "exported {} events of {} to {}",
                        output::n(n),
                        period.label,
                        p.display()
                    );
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = ledger.export(&period, &mut w)?;
                    w.flush()?;
                    n
                }
            };
            let _ = count;
            Ok(0)
        }
        LedgerCommand::VerifyArchive { archive } => {
            let (_config, store, _keys, _ledger) = super::open(cli)?;
            let mut bytes = Vec::new();
            vouch_engine::seal::worm::Worm::read(archive)
                .map_err(anyhow::Error::msg)?
                .read_to_end(&mut bytes)?;
            let r = vouch_engine::seal::retention::verify_archive(&store, &bytes)?;
            if cli.json {
                output::print_json(&r);
            } else if r["valid"] == true {
                println!(
                    "ok   {archive}: {} archived entries match the ledger's leaf hashes",
                    r["checked"]
                );
            } else {
                println!("FAIL {archive}: {}", r["reason"].as_str().unwrap_or(""));
            }
            Ok(if r["valid"] == true { 0 } else { 1 })
        }
        LedgerCommand::VerifyProof { proof, key } => {
            let text = std::fs::read_to_string(proof)
                .with_context(|| format!("cannot read {}", proof.display()))?;
            let vkey = match key {
                Some(k) => k.clone(),
                None => {
                    let config = vouch_engine::Config::load(&cli.data_dir)?;
                    vouch_engine::Keys::load(&config)?.log_verifier().to_vkey()
                }
            };
            let verifier = NoteVerifier::parse(&vkey).map_err(|e| anyhow!("--key: {e}"))?;
            match verify_proof_file(&text, &verifier, None) {
                Ok((index, cp)) => {
                    if cli.json {
                        output::print_json(
                            &serde_json::json!({"valid": true, "index": index, "tree_size": cp.size, "origin": cp.origin}),
                        );
                    } else {
                        println!(
                            "valid: entry {index} is in {} at tree size {}",
                            cp.origin, cp.size
                        );
                    }
                    Ok(0)
                }
                Err(e) => bail!("{}: {e}", proof.display()),
            }
        }
    }
}

fn append(cli: &crate::Cli, file: Option<&PathBuf>) -> Result<i32> {
    let mut text = String::new();
    match file {
        Some(p) if p.as_os_str() != "-" => {
            text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin")?;
        }
    }
    // Opened first: the ledger's config sets how far ahead a timestamp may be.
    let (_, _, _, ledger) = super::open(cli)?;
    let events = match parse_batch(&text) {
        Ok(ev) => ev,
        Err(errors) => {
            if cli.json {
                output::print_json(
                    &serde_json::json!({"error": {"message": "invalid events; nothing was appended", "details": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()}}),
                );
                return Ok(1);
            }
            let more = if errors.len() > 1 {
                format!(" (and {} more errors)", errors.len() - 1)
            } else {
                String::new()
            };
            bail!("{}{more}; nothing was appended", errors[0]);
        }
    };
    if events.is_empty() {
        bail!("no events in the input; nothing was appended");
    }
    let appended = ledger.append(events)?;
    // A CLI append ends with a checkpoint covering what it appended.
    let cp = ledger.checkpoint_at(appended.tree_size)?;
    if cli.json {
        output::print_json(&serde_json::json!({
            "seqs": appended.seqs, "new": appended.new, "tree_size": appended.tree_size,
            "checkpoint": cp.note,
        }));
    } else {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::new(stdout.lock());
        for s in &appended.seqs {
            writeln!(w, "{s}")?;
        }
        w.flush()?;
        eprintln!(
            "appended {} new events ({} already present); tree size {}, checkpoint signed",
            output::n(appended.new as u64),
            output::n((appended.seqs.len() - appended.new) as u64),
            output::n(appended.tree_size)
        );
    }
    Ok(0)
}

/// Create a file that must not exist yet; write it whole or not at all.
pub fn write_new_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!("{} already exists; not overwriting it", path.display());
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

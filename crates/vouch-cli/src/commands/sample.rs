//! `vouch sample commit|draw|show|export|list`: unsteerable samples (docs/sampling.md).
//! `commit --out` runs on the auditor's side without a data directory: the nonce is
//! made and hashed here, and only its hash leaves the auditor's machine.

use super::population::{flag_error, who, write};
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;
use vouch_engine::auditor::{sample, sampling, Ctx};

/// `vouch sample …`.
#[derive(Subcommand, Debug)]
pub enum SampleCommand {
    /// Commit to a secret nonce for a population and period. The auditor: `--nonce-file F
    /// --new --out commitment.json` (makes the nonce, writes only its hash; no data
    /// directory needed). The company: `--commitment-file commitment.json` records it.
    Commit {
        /// The population definition to be sampled (with --nonce-file).
        #[arg(long, requires = "period")]
        population: Option<String>,
        /// The period (with --nonce-file).
        #[arg(long)]
        period: Option<String>,
        /// The file holding the nonce (64 hex characters).
        #[arg(long, conflicts_with = "commitment_file", requires = "population")]
        nonce_file: Option<PathBuf>,
        /// Make a new random nonce into --nonce-file (never overwrites).
        #[arg(long, requires = "nonce_file")]
        new: bool,
        /// Write the commitment to this file instead of recording it here.
        #[arg(long, requires = "nonce_file")]
        out: Option<PathBuf>,
        /// Record a commitment file made by `--out`.
        #[arg(long)]
        commitment_file: Option<PathBuf>,
        /// Who commits (default: the file's `by`, else $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Reveal the nonce and draw the sample. The nonce file is read only after the
    /// population (taken after the commitment, by someone else) is in a signed checkpoint.
    Draw {
        /// The commitment's id (at least 8 characters of it).
        #[arg(long)]
        commitment: String,
        /// The file holding the nonce the auditor revealed.
        #[arg(long)]
        nonce_file: PathBuf,
        /// Who draws (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Commitments and samples, newest first.
    List,
    /// One sample: seed, checkpoint, indices, basis.
    Show {
        /// The sample's id.
        id: String,
    },
    /// Write the sample's export (everything verify_sample.py checks) to a file.
    Export {
        /// The sample's id.
        id: String,
        /// The file to write (sample.json).
        #[arg(long)]
        out: PathBuf,
    },
}

fn read_nonce(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the nonce file {}", path.display()))?;
    sampling::parse_nonce(&text).map_err(|m| anyhow!("{}: {m}", path.display()))?;
    Ok(text.trim().to_ascii_lowercase())
}

fn new_nonce_file(path: &std::path::Path) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).with_context(|| {
        format!(
            "cannot create the nonce file {} (it is never overwritten)",
            path.display()
        )
    })?;
    writeln!(f, "{}", sampling::new_nonce())?;
    Ok(())
}

/// Run `vouch sample …`.
pub fn run(cli: &crate::Cli, c: &SampleCommand) -> Result<i32> {
    let now = chrono::Utc::now();
    // The auditor's offline step: no data directory is opened.
    if let SampleCommand::Commit {
        population: Some(def),
        period: Some(period),
        nonce_file: Some(nf),
        new,
        out: Some(out),
        by,
        ..
    } = c
    {
        if *new {
            new_nonce_file(nf)?;
        }
        let nonce = read_nonce(nf)?;
        let p =
            vouch_core::period::Period::parse(period, now).map_err(|e| anyhow!("--period: {e}"))?;
        let commitment = sampling::commitment_of(&hex_bytes(&nonce)?);
        let doc = json!({"format": "vouch-commitment@v1", "population": def, "period": p.label, "commitment": commitment, "by": who(by)});
        write(out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        if cli.json {
            output::print_json(&doc);
        } else {
            println!(
                "commitment {commitment} written to {} (keep {} secret until the population is taken)",
                out.display(),
                nf.display()
            );
        }
        return Ok(0);
    }
    let (config, store, _keys, ledger) = super::open(cli)?;
    let ctx = Ctx {
        config: &config,
        store: &store,
        ledger: &ledger,
    };
    match c {
        SampleCommand::Commit {
            population,
            period,
            nonce_file,
            new,
            commitment_file,
            by,
            ..
        } => {
            let (def, period, commitment, by) = match (commitment_file, nonce_file) {
                (Some(f), _) => {
                    let v: Value = serde_json::from_slice(
                        &std::fs::read(f)
                            .with_context(|| format!("cannot read {}", f.display()))?,
                    )
                    .with_context(|| format!("{} is not JSON", f.display()))?;
                    let get = |k: &str| {
                        v[k].as_str().map(str::to_string).ok_or_else(|| {
                            anyhow!("{}: `{k}` is missing (not a commitment file)", f.display())
                        })
                    };
                    let by = by.clone().or_else(|| v["by"].as_str().map(str::to_string));
                    (
                        get("population")?,
                        get("period")?,
                        get("commitment")?,
                        who(&by),
                    )
                }
                (None, Some(nf)) => {
                    if *new {
                        new_nonce_file(nf)?;
                    }
                    let nonce = read_nonce(nf)?;
                    (
                        population.clone().unwrap_or_default(),
                        period.clone().unwrap_or_default(),
                        sampling::commitment_of(&hex_bytes(&nonce)?),
                        who(by),
                    )
                }
                (None, None) => {
                    bail!("give --nonce-file (the auditor) or --commitment-file (the company)")
                }
            };
            let p = vouch_core::period::Period::parse(&period, now)
                .map_err(|e| anyhow!("--period: {e}"))?;
            let rec = sample::commit(&ctx, &def, &p, &commitment, &by, now).map_err(flag_error)?;
            if cli.json {
                output::print_json(&rec);
            } else {
                println!(
                    "commitment {} recorded for `{def}` in {} by {by} (ledger entry {})",
                    rec.id,
                    p.label,
                    rec.ledger_seq.unwrap_or_default()
                );
            }
        }
        SampleCommand::Draw {
            commitment,
            nonce_file,
            by,
        } => {
            // The nonce file is read only once the population event is in a signed
            // checkpoint (the seed checkpoint) whose signature and inclusion proof
            // check with the log's key: before, a revealed nonce would let the company
            // retake the population knowing it.
            let (_, _, pop, pseq, cp) =
                sample::prepare(&ctx, commitment, &who(by)).map_err(flag_error)?;
            let proof = ledger.inclusion_proof(pseq, Some(cp.size))?;
            let (index, _) = vouch_engine::ledger::verify_proof_file(&proof, &ledger.verifier(), None)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "population {}: its event is not in a signed checkpoint ({e}); the nonce was not read",
                        pop.id
                    )
                })?;
            if index != pseq {
                anyhow::bail!(
                    "population {}: the checkpoint proof is for entry {index}, not {pseq}; the nonce was not read",
                    pop.id
                );
            }
            let nonce = read_nonce(nonce_file)?;
            let s = sample::draw(&ctx, commitment, &nonce, &who(by), now).map_err(flag_error)?;
            if cli.json {
                output::print_json(&s);
            } else {
                println!(
                    "sample {} drawn: {} of {} items of population {} (seed {}, checkpoint {}): {:?}",
                    s.id,
                    s.indices.len(),
                    s.population_size,
                    s.population_id,
                    s.seed,
                    s.checkpoint.size,
                    s.indices
                );
            }
        }
        SampleCommand::List => {
            let cs = sample::commitments(&store).map_err(flag_error)?;
            let ss = sample::list(&store).map_err(flag_error)?;
            if cli.json {
                output::print_json(&json!({"commitments": cs, "samples": ss}));
            } else {
                for c in &cs {
                    println!(
                        "commitment {}  {:<20} {:<10} {:<6} by {}",
                        c.id,
                        c.population,
                        c.period.label,
                        c.status.as_deref().unwrap_or(""),
                        c.committed_by
                    );
                }
                for s in &ss {
                    println!(
                        "sample     {}  {:<20} {} of {} items  {:?}",
                        s.id,
                        s.population,
                        s.indices.len(),
                        s.population_size,
                        s.indices
                    );
                }
                if cs.is_empty() && ss.is_empty() {
                    println!("no commitments and no samples");
                }
            }
        }
        SampleCommand::Show { id } => {
            let s = sample::get(&store, id).map_err(flag_error)?;
            output::print_json(&s);
        }
        SampleCommand::Export { id, out } => {
            // A checkpoint after the draw, so the draw's own event has its proof.
            ledger.checkpoint()?;
            let doc = sample::export(&ctx, id).map_err(flag_error)?;
            write(out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
            if cli.json {
                output::print_json(&json!({"file": out, "sample": doc["sample"]["id"]}));
            } else {
                println!(
                    "sample {} written to {} (verify: python3 tests/independent/verify_sample.py --key \"$KEY\" {})",
                    doc["sample"]["id"].as_str().unwrap_or(""),
                    out.display(),
                    out.display()
                );
            }
        }
    }
    Ok(0)
}

fn hex_bytes(h: &str) -> Result<Vec<u8>> {
    sampling::parse_nonce(h).map_err(|m| anyhow!("{m}"))
}

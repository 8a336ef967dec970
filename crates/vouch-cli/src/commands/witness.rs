//! `vouch witness …` (C2SP tlog-witness: run a witness, submit checkpoints, verify
//! cosigned checkpoints k of n) and `vouch timestamp` (RFC 3161 tokens). See
//! docs/witnesses.md.

use anyhow::{bail, Context, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use vouch_engine::witness::{self, cosig, CosignerKey};

#[derive(clap::Subcommand)]
pub enum WitnessCommand {
    /// Make a witness key: the private key goes to --out (0600, never overwritten), the
    /// verifier key (vkey) is printed for the log operator's `[[witness]] vkey`.
    Keygen(KeygenArgs),
    /// Run an independent witness: cosign checkpoints of the given logs that are
    /// consistent with the last one it cosigned. Needs no vouch data directory.
    Serve(ServeArgs),
    /// Submit the ledger's latest checkpoint to the `[[witness]]` entries now and store
    /// the cosignatures (what the `witness` job does).
    Submit,
    /// Print a checkpoint with its stored cosignatures (a C2SP note), default the
    /// latest cosigned one.
    Checkpoint(CheckpointArgs),
    /// Verify a cosigned checkpoint file offline: the log's signature and at least K
    /// cosignatures from the witnesses file.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The witness's name, a schema-less URL (e.g. `auditor.example/witness`).
    #[arg(long)]
    pub name: String,
    /// Where to write the private key.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:7380`; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:7380")]
    pub listen: String,
    /// The witness's private key file (from `vouch witness keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A log's verifier key (`vouch keys show`); repeat for several logs.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
    /// The witness's state file: the last cosigned checkpoint per log.
    #[arg(long, value_name = "FILE", default_value = "witness-state.json")]
    pub state: PathBuf,
}

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// Tree size (default: the largest one with cosignatures).
    #[arg(long)]
    pub size: Option<u64>,
    /// Write the note to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also timestamp the written file at the `[timestamp]` authority (FILE.tsr).
    #[arg(long, requires = "out")]
    pub timestamp: bool,
    /// The checkpoint as the log signed it, without cosignatures (default size: the
    /// latest one the `witness` job timestamped); its stored RFC 3161 token is written
    /// beside --out as FILE.tsr (`openssl ts -verify -data FILE -in FILE.tsr`).
    #[arg(long, conflicts_with = "timestamp")]
    pub signed_only: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The cosigned checkpoint (a C2SP note with cosignature lines).
    pub checkpoint: PathBuf,
    /// The log's verifier key (`vouch keys show`).
    #[arg(long, value_name = "VKEY")]
    pub log_key: String,
    /// Trusted witness verifier keys, one per line.
    #[arg(long, value_name = "FILE")]
    pub witnesses: PathBuf,
    /// Cosignatures required (default: every witness in the file).
    #[arg(long, value_name = "K")]
    pub min_cosignatures: Option<usize>,
}

#[derive(clap::Args)]
pub struct TimestampArgs {
    /// Files to timestamp (packets' SOC2_Evidence.json, attestation.json, checkpoints);
    /// each token is written beside its file as FILE.tsr.
    #[arg(required_unless_present = "pending")]
    pub files: Vec<PathBuf>,
    /// Timestamp what should have been and is not: every signed attestation or sign-off
    /// without a token (the authority was down when it was signed: the token is stored
    /// with it, written beside its files, recorded in the ledger) and the latest ledger
    /// checkpoint.
    #[arg(long)]
    pub pending: bool,
    /// The timestamp authority (default: `[timestamp] url` of vouch.toml).
    #[arg(long)]
    pub url: Option<String>,
}

/// The trusted witnesses of `--witnesses FILE` and K (default: all of them).
pub fn quorum(file: &Path, k: Option<usize>) -> Result<(Vec<witness::CosignerVerifier>, usize)> {
    let ws = cosig::read_witnesses_file(file)?;
    let k = k.unwrap_or(ws.len());
    if k == 0 || k > ws.len() {
        bail!(
            "--min-cosignatures {k}: must be between 1 and the {} witness(es) of {}",
            ws.len(),
            file.display()
        );
    }
    Ok((ws, k))
}

fn read_key(path: &Path) -> Result<CosignerKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "{}: the witness key is readable by others; chmod 600 it",
                path.display()
            );
        }
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    CosignerKey::from_skey(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn run(cli: &crate::Cli, c: &WitnessCommand) -> Result<i32> {
    match c {
        WitnessCommand::Keygen(a) => {
            let key = CosignerKey::generate(&a.name)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&a.out).with_context(|| {
                format!("cannot create {} (never overwritten)", a.out.display())
            })?;
            writeln!(f, "{}", key.to_skey())
                .with_context(|| format!("cannot write {}", a.out.display()))?;
            let vkey = key.verifier().to_vkey();
            if cli.json {
                crate::output::print_json(
                    &serde_json::json!({"name": a.name, "vkey": vkey, "key_file": a.out}),
                );
            } else {
                println!("{vkey}");
            }
            Ok(0)
        }
        WitnessCommand::Serve(a) => {
            let key = read_key(&a.key)?;
            let logs = a
                .logs
                .iter()
                .map(|v| {
                    vouch_core::note::NoteVerifier::parse(v)
                        .map_err(|e| anyhow::anyhow!("--log {v}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let vkey = key.verifier().to_vkey();
            let w = witness::server::Witness::open(key, &logs, &a.state)?;
            let json = cli.json;
            witness::server::serve(w, &a.listen, |addr| {
                if json {
                    crate::output::print_json(
                        &serde_json::json!({"listening": addr.to_string(), "vkey": vkey}),
                    );
                } else {
                    println!("witness {vkey} listening on {addr}");
                }
                let _ = std::io::stdout().flush();
            })?;
            Ok(0)
        }
        WitnessCommand::Submit => {
            let (config, _, _, ledger) = super::open(cli)?;
            let targets = witness::client::targets(&config)?;
            let report = witness::client::submit(&ledger, &targets)?;
            let failures = report.failures();
            if cli.json {
                crate::output::print_json(&report);
            } else {
                for o in &report.witnesses {
                    println!(
                        "{} {} — {}",
                        if o.cosigned { "ok  " } else { "FAIL" },
                        o.witness,
                        o.detail
                    );
                }
            }
            if failures.is_empty() {
                Ok(0)
            } else {
                if !cli.json {
                    eprintln!("error: tree size {}: {}", report.size, failures.join("; "));
                }
                Ok(1)
            }
        }
        WitnessCommand::Checkpoint(a) if a.signed_only => {
            let (_, store, _, ledger) = super::open(cli)?;
            let size = match a.size {
                Some(s) => s,
                None => witness::tsa::latest_timestamped_size(&store)?.context(
                    "no checkpoint is timestamped yet (set [timestamp] url; the witness job or `vouch timestamp --pending` does it)",
                )?,
            };
            let note = ledger.checkpoint_at(size)?.note;
            let token = witness::tsa::checkpoint_token(&store, size)?;
            match &a.out {
                None => print!("{note}"),
                Some(out) => {
                    std::fs::write(out, &note)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    let tsr = witness::tsa::token_path(out);
                    match token {
                        Some(t) => {
                            std::fs::write(&tsr, t)
                                .with_context(|| format!("cannot write {}", tsr.display()))?;
                            eprintln!("{} and its timestamp {}", out.display(), tsr.display());
                        }
                        None => eprintln!(
                            "{}: tree size {size} has no stored timestamp (not timestamped)",
                            out.display()
                        ),
                    }
                }
            }
            Ok(0)
        }
        WitnessCommand::Checkpoint(a) => {
            let (config, store, _, ledger) = super::open(cli)?;
            let size = match a.size {
                Some(s) => s,
                None => store
                    .query("SELECT MAX(size) FROM witness_cosignatures", &[])?
                    .first()
                    .and_then(|r| r.opt_int(0))
                    .map(|n| n as u64)
                    .context("no checkpoint has cosignatures yet (vouch witness submit)")?,
            };
            let note = witness::client::cosigned_note(&ledger, size)?
                .with_context(|| format!("tree size {size} has no cosignatures"))?;
            match &a.out {
                None => print!("{note}"),
                Some(out) => {
                    std::fs::write(out, &note)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    if a.timestamp {
                        let url = &config.settings.timestamp.url;
                        if url.is_empty() {
                            bail!("--timestamp: no [timestamp] url in vouch.toml");
                        }
                        let (tsr, when) = witness::tsa::timestamp(out, url)?;
                        eprintln!("timestamped at {when}: {}", tsr.display());
                    }
                }
            }
            Ok(0)
        }
        WitnessCommand::Verify(a) => {
            let note = std::fs::read_to_string(&a.checkpoint)
                .with_context(|| format!("cannot read {}", a.checkpoint.display()))?;
            let log = vouch_core::note::NoteVerifier::parse(&a.log_key)
                .map_err(|e| anyhow::anyhow!("--log-key: {e}"))?;
            let (ws, k) = quorum(&a.witnesses, a.min_cosignatures)?;
            match witness::verify::verify_cosigned(&note, &log, &ws, k) {
                Ok(w) => {
                    if cli.json {
                        crate::output::print_json(
                            &serde_json::json!({"valid": true, "size": w.checkpoint.size, "origin": w.checkpoint.origin, "cosigned_by": w.cosigned_by}),
                        );
                    } else {
                        println!(
                            "ok   tree size {} of {} cosigned by {} of {} witnesses: {}",
                            w.checkpoint.size,
                            w.checkpoint.origin,
                            w.cosigned_by.len(),
                            ws.len(),
                            w.describe()
                        );
                    }
                    Ok(0)
                }
                Err(e) => {
                    if cli.json {
                        crate::output::print_json(
                            &serde_json::json!({"valid": false, "reason": e.to_string()}),
                        );
                    } else {
                        eprintln!("error: {}: {e}", a.checkpoint.display());
                    }
                    Ok(1)
                }
            }
        }
    }
}

/// `vouch timestamp FILE…`.
pub fn timestamp(cli: &crate::Cli, a: &TimestampArgs) -> Result<i32> {
    let url = match &a.url {
        Some(u) => u.clone(),
        None => {
            let config = vouch_engine::Config::load(&cli.data_dir)?;
            let u = config.settings.timestamp.url.clone();
            if u.is_empty() {
                bail!("no timestamp authority: pass --url or set [timestamp] url in vouch.toml");
            }
            u
        }
    };
    let mut out = Vec::new();
    let mut failed = 0;
    if a.pending {
        let (config, store, keys, ledger) = super::open(cli)?;
        let s = vouch_engine::signoff::attest::Signoffs {
            config: &config,
            store,
            ledger: &ledger,
            keys: &keys,
        };
        let now = chrono::Utc::now();
        for r in s.timestamp_pending(&url, now)? {
            let dir = vouch_engine::packet::attestation::dir_for(&config.data_dir, &r.attestation);
            let mut v = serde_json::json!({"attestation": r.attestation.id, "title": r.attestation.title, "timestamp": r.timestamp.summary(), "ledger_seq": r.ledger_seq});
            match &r.timestamp.error {
                Some(e) => {
                    failed += 1;
                    eprintln!("error: {}: {e}", r.attestation.title);
                }
                None => {
                    // The token beside the document's files; the other files are left as
                    // they are (written at signing), or all written if they never were.
                    let json = dir.join("attestation.json");
                    let tsr = if json.exists() {
                        let tsr = witness::tsa::token_path(&json);
                        let token = r.timestamp.token_der().context("the stored token")?;
                        std::fs::write(&tsr, token)
                            .with_context(|| format!("cannot write {}", tsr.display()))?;
                        Some(tsr)
                    } else {
                        vouch_engine::packet::attestation::write(
                            &dir,
                            &keys,
                            &r.attestation,
                            &r.document,
                        )?
                        .into_iter()
                        .find(|f| f.extension().is_some_and(|x| x == "tsr"))
                    };
                    if !cli.json {
                        println!(
                            "{} — {} ({})",
                            tsr.as_deref().unwrap_or(dir.as_path()).display(),
                            r.timestamp.time.clone().unwrap_or_default(),
                            r.attestation.title
                        );
                    }
                    v["token"] = serde_json::json!(tsr);
                }
            }
            out.push(v);
        }
        match witness::tsa::timestamp_checkpoint(&ledger, &url, now) {
            Ok(t) => {
                if !cli.json && t.new {
                    println!("checkpoint {} — {}", t.size, t.time);
                }
                out.push(serde_json::json!({"checkpoint": t.size, "time": t.time, "token_sha256": t.token_sha256}));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: the latest checkpoint: {e}");
            }
        }
    }
    for f in &a.files {
        if !f.is_file() {
            bail!("{}: no such file", f.display());
        }
        let (tsr, when) = witness::tsa::timestamp(f, &url)?;
        if !cli.json {
            println!("{} — {when}", tsr.display());
        }
        out.push(serde_json::json!({"file": f, "token": tsr, "time": when}));
    }
    if cli.json {
        crate::output::print_json(&out);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

use crate::output;
use anyhow::{Context, Result};
use std::path::PathBuf;
use vouch_engine::packet::verify::{self, Options};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Packet files (SOC2_Evidence.json / .pdf) or directories holding them; signed
    /// attestations and completed access reviews (a directory holding attestation.json
    /// or access-review.json, or that file).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Pin the signing public key (SPKI PEM file).
    #[arg(long, value_name = "PEM")]
    pub public_key: Option<PathBuf>,
    /// Pin the log's C2SP verifier key (as `vouch keys show` prints it).
    #[arg(long, value_name = "VKEY")]
    pub log_key: Option<String>,
    /// Require witness cosignatures: trusted witness verifier keys, one per line.
    #[arg(long, value_name = "FILE")]
    pub witnesses: Option<PathBuf>,
    /// How many of --witnesses must have cosigned (default: all of them).
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub min_cosignatures: Option<usize>,
    /// Check the RFC 3161 token (FILE.tsr) beside each packet JSON and attestation
    /// against this CA (PEM): `openssl ts -verify`; a missing token fails. Default: the
    /// data directory's `[timestamp] ca_file`, when set.
    #[arg(long, value_name = "PEM")]
    pub tsa_ca: Option<PathBuf>,
}

pub fn run(cli: &crate::Cli, a: &VerifyArgs) -> Result<i32> {
    // A path that is not there is a usage error, one line (README), not a report.
    if let Some(p) = a.paths.iter().find(|p| !p.exists()) {
        anyhow::bail!("{}: no such file or directory", p.display());
    }
    let public_key_pem = match &a.public_key {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => None,
    };
    // Keys this data directory knows (current and rotated), when there is one, and its
    // timestamp authority's CA.
    let config = vouch_engine::Config::load(&cli.data_dir).ok();
    let known_keys = match &config {
        Some(config) => vouch_engine::keys::known_signing_keys(
            config,
            vouch_engine::Keys::load(config).ok().as_ref(),
        ),
        None => Vec::new(),
    };
    let tsa_ca = a.tsa_ca.clone().or_else(|| {
        config
            .as_ref()
            .filter(|c| !c.settings.timestamp.ca_file.is_empty())
            .map(|c| c.data_dir.join(&c.settings.timestamp.ca_file))
    });
    let (witnesses, min_cosignatures) = match &a.witnesses {
        Some(f) => super::witness::quorum(f, a.min_cosignatures)?,
        None => (Vec::new(), 0),
    };
    // Signed attestations and access reviews (a directory holding attestation.json or
    // access-review.json, or that file) are checked on their own; everything else is a
    // packet.
    let (attestations, packets): (Vec<PathBuf>, Vec<PathBuf>) = a
        .paths
        .iter()
        .cloned()
        .partition(|p| vouch_engine::packet::attestation::is_attestation(p));
    let mut steps = Vec::new();
    for p in &attestations {
        steps.extend(vouch_engine::packet::attestation::verify(
            p,
            public_key_pem.as_deref(),
            &known_keys,
        ));
    }
    if !packets.is_empty() {
        steps.extend(verify::verify(
            &packets,
            &Options {
                public_key_pem,
                known_keys,
                log_key: a.log_key.clone(),
                witnesses,
                min_cosignatures,
            },
        ));
    }
    if tsa_ca.is_none() && !cli.json {
        // Nothing was checked, so nothing is reported as OK: say so.
        for f in timestamped_files(&a.paths) {
            if vouch_engine::witness::tsa::token_path(&f).exists() {
                eprintln!(
                    "note: {}: its RFC 3161 token was not checked (give --tsa-ca PEM or set [timestamp] ca_file)",
                    f.display()
                );
            }
        }
    }
    if let Some(ca) = &tsa_ca {
        for f in timestamped_files(&a.paths) {
            steps.push(verify::Step {
                check: format!("{}: RFC 3161 timestamp", f.display()),
                ok: false,
                detail: String::new(),
            });
            let last = steps.last_mut().expect("just pushed");
            match vouch_engine::witness::tsa::verify(&f, ca) {
                Ok(when) => {
                    last.ok = true;
                    last.detail = format!("openssl ts -verify: OK, time stamp {when}");
                }
                Err(e) => last.detail = e.to_string(),
            }
        }
    }
    let failed = steps.iter().find(|s| !s.ok).cloned();
    if cli.json {
        output::print_json(&serde_json::json!({"valid": failed.is_none(), "steps": steps}));
    } else {
        for s in &steps {
            println!(
                "{} {} — {}",
                if s.ok { "ok  " } else { "FAIL" },
                s.check,
                s.detail
            );
        }
    }
    match failed {
        None => Ok(0),
        Some(f) => {
            if !cli.json {
                eprintln!("error: {}: {}", f.check, f.detail);
            }
            Ok(1)
        }
    }
}

/// The files whose `.tsr` `--tsa-ca` checks: each packet's JSON and each attestation's
/// JSON (given as the file or its directory).
fn timestamped_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            for name in [vouch_engine::packet::JSON_FILE, "attestation.json"] {
                if p.join(name).is_file() {
                    out.push(p.join(name));
                }
            }
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p.clone());
        }
    }
    out
}

use crate::output;
use anyhow::{Context, Result};
use std::path::PathBuf;
use vouch_engine::packet::verify::{self, Options};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Packet files (SOC2_Evidence.json / .pdf) or directories holding them; signed
    /// attestations (a directory holding attestation.json, or that file).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Pin the signing public key (SPKI PEM file).
    #[arg(long, value_name = "PEM")]
    pub public_key: Option<PathBuf>,
    /// Pin the log's C2SP verifier key (as `vouch keys show` prints it).
    #[arg(long, value_name = "VKEY")]
    pub log_key: Option<String>,
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
    // Keys this data directory knows (current and rotated), when there is one.
    let known_keys = match vouch_engine::Config::load(&cli.data_dir) {
        Ok(config) => vouch_engine::keys::known_signing_keys(
            &config,
            vouch_engine::Keys::load(&config).ok().as_ref(),
        ),
        Err(_) => Vec::new(),
    };
    // Signed attestations (a directory holding attestation.json, or that file) are
    // checked on their own; everything else is a packet.
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
            },
        ));
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

//! `vouch archive`, `vouch archive verify|restore`, `vouch collections list`.

use crate::output;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use vouch_core::period::Period;
use vouch_engine::seal::{self, ArchiveRequest};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub command: Option<ArchiveCommand>,
    /// The period to archive: 2026-10, 2026-Q3, last-month, START..END.
    #[arg(long)]
    pub period: Option<String>,
    /// An age recipient (age1…) or the path of an OpenPGP public key; repeatable.
    /// Default: [archive] recipients.
    #[arg(long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Write an unencrypted archive (only when no recipient is given).
    #[arg(long)]
    pub no_encrypt: bool,
    /// Archive a period again, under a new key; both archives are kept and logged.
    #[arg(long)]
    pub supersede: bool,
    /// zstd (default) or gzip.
    #[arg(long)]
    pub compression: Option<String>,
    /// dir, dir:/path or s3://bucket/prefix (default: [archive] storage).
    #[arg(long)]
    pub storage: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum ArchiveCommand {
    /// Decrypt in memory and check the manifest, its signature and every file's hash.
    Verify {
        /// A path or an s3:// URI.
        source: String,
        /// An age identity file or an OpenPGP secret key (not needed for --no-encrypt archives).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// The signing public key (PEM) to check the manifest with; default: vouch's known keys.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Decrypt and extract an archive into a new directory, checking it as `verify` does.
    Restore {
        /// A path or an s3:// URI.
        source: String,
        /// An age identity file or an OpenPGP secret key (not needed for --no-encrypt archives).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// A new (or empty) directory to extract into.
        #[arg(long)]
        out: PathBuf,
        /// The signing public key (PEM) to check the manifest with; default: vouch's known keys.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

#[derive(clap::Subcommand)]
pub enum CollectionsCommand {
    /// Archived collections: period, files, storage, signer.
    List {
        /// Only the collections of this period (its label, e.g. 2026-10).
        #[arg(long)]
        period: Option<String>,
    },
}

fn public_keys(cli: &crate::Cli, given: &Option<PathBuf>) -> Result<Vec<String>> {
    if let Some(p) = given {
        return Ok(vec![
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        ]);
    }
    let config = vouch_engine::Config::load(&cli.data_dir)?;
    let keys = vouch_engine::Keys::load(&config).ok();
    Ok(vouch_engine::keys::known_signing_keys(
        &config,
        keys.as_ref(),
    ))
}

fn checked(cli: &crate::Cli, r: &seal::Checked, source: &str) -> i32 {
    if cli.json {
        output::print_json(r);
    } else if r.valid {
        println!(
            "ok   {source}: {} files, {} bytes, every hash matches the signed manifest (key {})",
            r.files,
            r.bytes,
            r.manifest_signed_by.as_deref().unwrap_or("?")
        );
    } else {
        for p in &r.problems {
            println!("FAIL {source}: {p}");
        }
    }
    if r.valid {
        0
    } else {
        1
    }
}

pub fn run(cli: &crate::Cli, a: &ArchiveArgs) -> Result<i32> {
    match &a.command {
        Some(ArchiveCommand::Verify {
            source,
            identity,
            public_key,
        }) => {
            let keys = public_keys(cli, public_key)?;
            let r = seal::verify(source, identity.as_deref(), &keys, None)?;
            Ok(checked(cli, &r, source))
        }
        Some(ArchiveCommand::Restore {
            source,
            identity,
            out,
            public_key,
        }) => {
            let keys = public_keys(cli, public_key)?;
            let r = seal::verify(source, identity.as_deref(), &keys, Some(out))?;
            let code = checked(cli, &r, source);
            if !cli.json {
                println!("restored into {}", out.display());
            }
            Ok(code)
        }
        None => {
            let Some(p) = &a.period else {
                bail!("--period is required (or use `archive verify|restore`)")
            };
            let period = Period::parse(p, chrono::Utc::now())?;
            let (config, store, keys, ledger) = super::open(cli)?;
            let req = ArchiveRequest {
                period: Some(period),
                // A recipient key file given on the command line is relative to the
                // current directory (those in vouch.toml are relative to the data dir).
                recipients: a
                    .recipients
                    .iter()
                    .map(|r| {
                        let t = r.trim();
                        if t.starts_with("age1") || Path::new(t).is_absolute() {
                            Ok(r.clone())
                        } else {
                            Ok(std::env::current_dir()?.join(t).display().to_string())
                        }
                    })
                    .collect::<std::io::Result<Vec<_>>>()?,
                no_encrypt: a.no_encrypt,
                supersede: a.supersede,
                compression: a.compression.clone(),
                storage: a.storage.clone(),
            };
            let done = seal::archive(&config, &keys, &ledger, &store, &req)?;
            if cli.json {
                output::print_json(&done.record);
            } else {
                println!(
                    "archived {} to {}:",
                    done.record["period"]["label"].as_str().unwrap_or(""),
                    done.record["folder"].as_str().unwrap_or("")
                );
                for s in &done.stored {
                    println!(
                        "  {}  {} bytes  sha256 {}  retain until {} ({})",
                        s.uri, s.size, s.sha256, s.retain_until, s.lock_mode
                    );
                }
                if let Some(r) = done.record["retention"].as_str() {
                    println!("retention: {r}");
                }
            }
            Ok(0)
        }
    }
}

pub fn collections(cli: &crate::Cli, c: &CollectionsCommand) -> Result<i32> {
    let CollectionsCommand::List { period } = c;
    let (_config, store, _keys, _ledger) = super::open(cli)?;
    let label = match period {
        Some(p) => Some(Period::parse(p, chrono::Utc::now())?.label),
        None => None,
    };
    let all = seal::collections(&store, label.as_deref())?;
    if cli.json {
        output::print_json(&all);
    } else {
        for c in &all {
            println!(
                "{}  {:<8} {}  {} file(s) in {}  signed by {}",
                c["id"].as_str().unwrap_or(""),
                c["period"]["label"].as_str().unwrap_or(""),
                c["created_at"].as_str().unwrap_or(""),
                c["files"].as_array().map_or(0, Vec::len),
                c["storage"].as_str().unwrap_or(""),
                &c["signer_key_id"].as_str().unwrap_or("")
                    [..16.min(c["signer_key_id"].as_str().unwrap_or("").len())]
            );
        }
    }
    Ok(0)
}

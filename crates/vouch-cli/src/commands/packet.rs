use crate::output;
use anyhow::{bail, Result};
use std::path::PathBuf;
use vouch_core::period::Period;
use vouch_engine::packet::{self, Format};

#[derive(clap::Args)]
pub struct PacketArgs {
    /// 2026-10, 2026-Q3, 2026, last-month, or START..END.
    #[arg(long, required_unless_present = "reproduce")]
    pub period: Option<String>,
    /// json, pdf or both.
    #[arg(long, default_value = "both")]
    pub format: String,
    /// Output directory (default: <data-dir>/packets/<period>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace a packet already in the output directory.
    #[arg(long)]
    pub force: bool,
    /// Regenerate PACKET.json from the store with its recorded parameters and compare.
    #[arg(long, value_name = "PACKET.json", conflicts_with_all = ["period", "out", "force"])]
    pub reproduce: Option<PathBuf>,
    /// Generation time to record (RFC 3339); default now.
    #[arg(long, hide = true)]
    pub generated_at: Option<String>,
}

pub fn run(cli: &crate::Cli, a: &PacketArgs) -> Result<i32> {
    if let Some(p) = &a.reproduce {
        let (config, _, _, ledger) = super::open(cli)?;
        let results = packet::reproduce(&config, &ledger, p)?;
        // Events for the period appended after the packet: not in it, and not a
        // difference (the packet covers its checkpoint), but the auditor must know.
        let late = packet::late_after(&ledger, p)?;
        if cli.json {
            output::print_json(&serde_json::json!({
                "artifacts": results,
                "late_arrivals": late.as_ref().map(packet::series::Late::to_json),
            }));
        } else {
            for r in &results {
                match &r.difference {
                    None => println!("{}: identical", r.artifact),
                    Some(d) => println!("{}: differs — {d}", r.artifact),
                }
            }
            if let Some(l) = &late {
                println!(
                    "late arrivals: {} (not in the packet, which covers tree size {})",
                    l.sentence(),
                    l.packet_checkpoint_size
                );
            }
        }
        return Ok(if results.iter().all(|r| r.identical) {
            0
        } else {
            1
        });
    }
    let format: Format = a.format.parse().map_err(anyhow::Error::msg)?;
    let now = chrono::Utc::now();
    let period = Period::parse(a.period.as_deref().unwrap_or_default(), now)?;
    let generated_at = match &a.generated_at {
        Some(t) => Some(vouch_core::period::parse_instant(t).ok_or_else(|| {
            anyhow::anyhow!("--generated-at: `{t}` is not an RFC 3339 date-time")
        })?),
        None => None,
    };
    let (config, _, keys, ledger) = super::open(cli)?;
    let out = a.out.clone().unwrap_or_else(|| {
        config
            .data_dir
            .join("packets")
            .join(packet::build::period_slug(&period))
    });
    if out.exists() && !out.is_dir() {
        bail!("{} exists and is not a directory", out.display());
    }
    let written = packet::generate(
        &config,
        &keys,
        &ledger,
        &packet::Request {
            period,
            generated_at,
            format,
            out,
            force: a.force,
        },
    )?;
    if cli.json {
        output::print_json(&written);
        return Ok(0);
    }
    println!(
        "packet for {} — overall status {} — {} events, ledger checkpoint at tree size {}",
        written.period,
        written.overall_status,
        output::n(written.events),
        written.checkpoint_size
    );
    println!("written to {}:", written.dir.display());
    for f in &written.files {
        println!(
            "  {:<40} {:>12} bytes  sha256 {}",
            f.name, f.bytes, f.sha256
        );
    }
    let d = written.dir.display();
    println!("\nverify with vouch:   vouch verify {d}");
    println!("or with openssl (seed 000's procedure):");
    println!("  vouch keys show --json | jq -r .signing_public_key_pem > public_key.pem");
    for f in [packet::JSON_FILE, packet::PDF_FILE] {
        if written.files.iter().any(|w| w.name == f) {
            println!("  base64 -d {d}/{f}.sig > {f}.sig.bin && openssl dgst -sha256 -verify public_key.pem -signature {f}.sig.bin {d}/{f}");
        }
    }
    Ok(0)
}

//! `vouch export`: the organisation's evidence in other formats (OSCAL).

use crate::output;
use anyhow::Result;
use std::path::PathBuf;
use vouch_core::period::Period;
use vouch_engine::oscal;

#[derive(clap::Subcommand)]
pub enum ExportCommand {
    /// OSCAL assessment results for a period and a component definition per pack (JSON).
    Oscal(OscalArgs),
}

#[derive(clap::Args)]
pub struct OscalArgs {
    /// 2026-10, 2026-Q3, 2026, last-month, or START..END.
    #[arg(long)]
    pub period: String,
    /// Output directory (created; an earlier OSCAL export in it is replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Read the data as it stood at this time (RFC 3339), e.g. a packet's generated_at;
    /// default: everything stored, dated by the newest record.
    #[arg(long)]
    pub as_of: Option<String>,
}

pub fn run(cli: &crate::Cli, c: &ExportCommand) -> Result<i32> {
    match c {
        ExportCommand::Oscal(a) => export_oscal(cli, a),
    }
}

fn export_oscal(cli: &crate::Cli, a: &OscalArgs) -> Result<i32> {
    let period = Period::parse(&a.period, chrono::Utc::now())?;
    let as_of = match &a.as_of {
        Some(t) => Some(
            vouch_core::period::parse_instant(t)
                .ok_or_else(|| anyhow::anyhow!("--as-of: `{t}` is not an RFC 3339 date-time"))?,
        ),
        None => None,
    };
    let (config, store, _, _) = super::open(cli)?;
    let written = oscal::export(
        &config,
        &store,
        &oscal::Request {
            period,
            as_of,
            out: a.out.clone(),
        },
    )?;
    if cli.json {
        output::print_json(&written);
        return Ok(0);
    }
    println!(
        "OSCAL {} for {} as of {}: {} criteria reviewed, {} satisfied (overall {}); {} observations, {} findings; {} component definition(s)",
        oscal::OSCAL_VERSION,
        written.period,
        written.as_of,
        written.criteria,
        written.satisfied,
        written.overall_status,
        written.observations,
        written.findings,
        written.component_definitions
    );
    println!("written to {}:", written.dir.display());
    for f in written.files.iter().filter(|f| {
        !f.name.starts_with(oscal::EVIDENCE_DIR) && !f.name.starts_with(oscal::RESULTS_DIR)
    }) {
        println!(
            "  {:<48} {:>10} bytes  sha256 {}",
            f.name, f.bytes, f.sha256
        );
    }
    let artifacts = written.files.len()
        - written
            .files
            .iter()
            .filter(|f| {
                !f.name.starts_with(oscal::EVIDENCE_DIR) && !f.name.starts_with(oscal::RESULTS_DIR)
            })
            .count();
    println!(
        "  and {artifacts} artifact(s) under {}/ and {}/ (named by SHA-256 / result id)",
        oscal::EVIDENCE_DIR,
        oscal::RESULTS_DIR
    );
    Ok(0)
}

//! `vouch reports create|list|show|download`: seed 003's compliance reports from the
//! command line. `create` generates the report now, as a job run (`generate-report:<id>`).

use crate::output;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use vouch_engine::jobs::{Runner, SystemClock};
use vouch_engine::reports;

#[derive(clap::Subcommand)]
pub enum ReportsCommand {
    /// Request and generate a report (soc2, access_review, vulnerability, incident).
    Create {
        /// The report type: soc2, access_review, vulnerability or incident.
        #[arg(long = "type", value_name = "TYPE")]
        report_type: String,
        /// First day of the period (YYYY-MM-DD); with --period-end. Default: the type's
        /// last whole period (soc2 quarter, access_review and incident month,
        /// vulnerability week).
        #[arg(long)]
        period_start: Option<String>,
        /// Last day of the period, inclusive (YYYY-MM-DD).
        #[arg(long)]
        period_end: Option<String>,
        /// Categories (security, availability, processing_integrity, confidentiality,
        /// privacy) or criterion ids (CC6.1), comma-separated. Default: all.
        #[arg(long, value_delimiter = ',')]
        criteria: Vec<String>,
    },
    /// Reports, newest first.
    List {
        /// Only this type.
        #[arg(long = "type", value_name = "TYPE")]
        report_type: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One report: status and artifacts.
    Show {
        /// The report id.
        id: String,
    },
    /// Write an artifact (json, pdf or csv) and its signature (`FILE.sig`).
    Download {
        /// The report id.
        id: String,
        /// json (default), pdf or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// Where to write it (default: report-<id>.<format> here).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

fn line(r: &reports::Report) -> String {
    format!(
        "{}  {:<13} {:<24} {:<10} {}",
        r.id,
        r.report_type,
        r.period.label,
        r.status,
        r.error.as_deref().unwrap_or("")
    )
}

pub fn run(cli: &crate::Cli, c: &ReportsCommand) -> Result<i32> {
    let (config, store, keys, ledger) = super::open(cli)?;
    match c {
        ReportsCommand::Create {
            report_type,
            period_start,
            period_end,
            criteria,
        } => {
            let mut body = json!({"report_type": report_type, "period_start": period_start, "period_end": period_end});
            if !criteria.is_empty() {
                body["criteria"] = json!(criteria);
            }
            let req = reports::parse_request(&body, chrono::Utc::now()).map_err(|e| match e {
                reports::Error::Invalid { field, message } => {
                    let flag = match field.as_str() {
                        "report_type" => "--type".to_string(),
                        f => format!("--{}", f.replace('_', "-")),
                    };
                    anyhow::anyhow!("{flag}: {message}")
                }
                other => other.into(),
            })?;
            let who = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            let Some(report) =
                reports::create(&store, &ledger, &req, &who, None, chrono::Utc::now())?
            else {
                bail!("a new report id collided; try again");
            };
            let runner = Runner {
                config: &config,
                store: store.clone(),
                keys: &keys,
                ledger: &ledger,
                clock: &SystemClock,
                worker: format!("cli:{}", std::process::id()),
                max_attempts: 1,
                backoff: chrono::Duration::minutes(1),
                not_before: None,
            };
            runner.run_report(&report.id)?;
            let r = reports::get(&store, &report.id)?;
            if cli.json {
                output::print_json(&r);
            } else {
                println!("{}", line(&r));
                for a in &r.artifacts {
                    println!(
                        "  {:<4} {} ({} bytes, sha256 {})",
                        a.format,
                        reports::dir_of(&config, &r.id).join(&a.file).display(),
                        a.bytes,
                        a.sha256
                    );
                }
            }
            if r.status != "succeeded" {
                bail!(
                    "report {} {}: {}",
                    r.id,
                    r.status,
                    r.error.as_deref().unwrap_or("no error recorded")
                );
            }
            Ok(0)
        }
        ReportsCommand::List { report_type, limit } => {
            if let Some(t) = report_type {
                if !reports::TYPES.contains(&t.as_str()) {
                    bail!("--type: must be one of {}", reports::TYPES.join(", "));
                }
            }
            let list = reports::list(&store, report_type.as_deref(), *limit)?;
            if cli.json {
                output::print_json(&list);
            } else {
                for r in &list {
                    println!("{}", line(r));
                }
            }
            Ok(0)
        }
        ReportsCommand::Show { id } => {
            let r = reports::get(&store, id)?;
            if cli.json {
                output::print_json(&r);
            } else {
                println!("{}", line(&r));
                println!("  requested by {} at {}", r.requested_by, r.requested_at);
                if !r.request.criteria_requested.is_empty() {
                    println!("  criteria: {}", r.request.criteria_requested.join(", "));
                }
                for a in &r.artifacts {
                    println!("  {:<4} {} bytes  sha256 {}", a.format, a.bytes, a.sha256);
                }
                // The report's own status and summary, from its signed JSON.
                if let Ok((_, bytes)) = reports::artifact(&config, &store, id, "json") {
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    println!("  status: {}", v["status"].as_str().unwrap_or(""));
                    for l in v["summary"].as_array().into_iter().flatten() {
                        println!("  {}", l.as_str().unwrap_or(""));
                    }
                    for l in v["notes"].as_array().into_iter().flatten() {
                        println!("  NOTE: {}", l.as_str().unwrap_or(""));
                    }
                }
            }
            Ok(0)
        }
        ReportsCommand::Download { id, format, out } => {
            let (a, bytes) = reports::artifact(&config, &store, id, format)?;
            let out = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("report-{id}.{format}")));
            let sig = PathBuf::from(format!("{}.sig", out.display()));
            std::fs::write(&out, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            std::fs::write(&sig, &a.signature)
                .map_err(|e| anyhow::anyhow!("{}: {e}", sig.display()))?;
            if cli.json {
                output::print_json(
                    &json!({"file": out, "signature": sig, "sha256": a.sha256, "bytes": a.bytes}),
                );
            } else {
                println!("{} ({} bytes, sha256 {})", out.display(), a.bytes, a.sha256);
                println!("{}", sig.display());
            }
            Ok(0)
        }
    }
}

//! `vouch check`, `vouch controls list` and `vouch findings ...`.

use crate::output;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_engine::checks::{controls, findings, Checker};

#[derive(clap::Args)]
#[command(after_help = "Exit codes:
  0  every control (and every check no control maps) passes
  1  a control or check fails, and none is in error, without evidence or untested
  2  a control or check is in error, has no evidence or is not tested, whatever else
     failed: the run was incomplete, so cron must page; also every error of the run
     itself (bad arguments or period, configuration, store, unknown check, no checks
     defined), reported in one line on stderr
A check switched off by configuration (not_applicable, the reason in its message) is
skipped; a control whose checks are all switched off is not_applicable (never pass) and
does not count either.
With --check, only the controls that map one of the named checks count.")]
pub struct CheckArgs {
    /// 2026-10, 2026-Q3, last-month, START..END.
    #[arg(long, default_value = "last-month")]
    pub period: String,
    /// Only these checks (repeatable).
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
    /// Exit 0 even when a control fails, errs or has no evidence (an error of the run
    /// itself still exits 2).
    #[arg(long)]
    pub no_fail: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// 2026-10, 2026-Q3, last-month, START..END.
    #[arg(long, default_value = "last-month")]
    pub period: String,
}

#[derive(clap::Subcommand)]
pub enum ControlsCommand {
    /// The 61 Trust Services Criteria and the controls mapped to each, with status.
    List {
        /// 2026-10, 2026-Q3, last-month, START..END.
        #[arg(long, default_value = "last-month")]
        period: String,
    },
}

#[derive(clap::Subcommand)]
pub enum FindingsCommand {
    /// Findings (default: all; --status open|accepted|resolved).
    List {
        /// Only findings in this state: open, accepted or resolved.
        #[arg(long)]
        status: Option<String>,
    },
    /// One finding with its history (every version, who changed what and when).
    Show {
        /// The finding's id.
        id: String,
    },
    /// Open a finding by hand.
    Open {
        #[arg(long)]
        title: String,
        /// low, medium, high or critical.
        #[arg(long, default_value = "medium")]
        severity: String,
        /// A control id or a criterion (CC6.1).
        #[arg(long)]
        control: Option<String>,
        /// What is wrong and what evidence shows it.
        #[arg(long)]
        description: Option<String>,
        /// Who opens it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Change status (open, accepted, resolved), severity or owner, or add a note.
    Update {
        /// The finding's id.
        id: String,
        /// open, accepted (a risk accepted, with a note saying why) or resolved.
        #[arg(long)]
        status: Option<String>,
        /// low, medium, high or critical.
        #[arg(long)]
        severity: Option<String>,
        /// Who is to remediate it.
        #[arg(long)]
        owner: Option<String>,
        /// A note kept in the finding's history.
        #[arg(long)]
        note: Option<String>,
        /// Who makes the change (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// How `vouch status` shows an overall status (engine `overall_status`).
fn overall_mark(status: &str) -> &'static str {
    match status {
        "compliant" => "COMPLIANT",
        "non_compliant" => "NON-COMPLIANT",
        "no_evidence" => "NO EVIDENCE",
        "not_assessed" => "NOT ASSESSED",
        _ => "INCOMPLETE",
    }
}

fn mark(status: &str) -> &'static str {
    match status {
        "pass" => "PASS",
        "fail" => "FAIL",
        "error" => "ERROR",
        "no_evidence" => "NO EVIDENCE",
        "not_applicable" => "OFF (N/A)",
        _ => "NOT TESTED",
    }
}

pub fn check(cli: &crate::Cli, a: &CheckArgs) -> Result<i32> {
    let now = chrono::Utc::now();
    let period = Period::parse(&a.period, now)?;
    let (config, store, _keys, ledger) = super::open(cli)?;
    if config.checks.is_empty() {
        bail!(
            "no checks are defined: add [[check]] to {} or include a pack (see packs/)",
            config.file.display()
        );
    }
    let checker = Checker::new(&config, store.clone(), &ledger);
    let report = checker.run(&period, &a.checks, now)?;
    for i in vouch_engine::incidents::auto::on_check_results(
        &store,
        &ledger,
        &config,
        &report.results,
        now,
    )? {
        eprintln!(
            "incident {} opened: {} ({} severity, response due by {})",
            i.id, i.title, i.severity, i.response_deadline
        );
    }
    let mapped: Vec<&str> = config
        .controls
        .iter()
        .flat_map(|c| c.checks.iter().map(String::as_str))
        .collect();
    let unmapped: Vec<&str> = report
        .results
        .iter()
        .filter(|r| !mapped.contains(&r.check_id.as_str()))
        .map(|r| r.rollup_status())
        .collect();
    // With --check, the controls this run touched; otherwise all.
    let judged: Vec<&Value> = report
        .controls
        .iter()
        .filter(|c| {
            a.checks.is_empty()
                || c["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| a.checks.iter().any(|id| x["id"] == id.as_str()))
        })
        .collect();
    let failed = judged.iter().any(|c| {
        c["status"] == "fail"
            || c["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x["status"] == "fail")
    }) || unmapped.contains(&"fail");
    let incomplete = judged.iter().any(|c| controls::incomplete(c))
        || unmapped
            .iter()
            .any(|s| !matches!(*s, "pass" | "fail" | "not_applicable"));
    let code = if incomplete {
        2
    } else if failed {
        1
    } else {
        0
    };
    if cli.json {
        output::print_json(&json!({
            "period": period.label,
            "controls": report.controls,
            "checks": report.results,
            "findings": report.findings.iter().map(|c| json!({"action": c.action, "finding": c.finding})).collect::<Vec<_>>(),
            "failed": failed,
            "incomplete": incomplete,
            "exit_code": code,
        }));
    } else {
        println!("Checks for {}:", period.label);
        for r in &report.results {
            println!("  {:<11} {:<40} {}", mark(&r.status), r.check_id, r.message);
        }
        if !report.controls.is_empty() {
            println!("Controls:");
            for c in &report.controls {
                println!(
                    "  {:<11} {:<40} {}",
                    mark(c["status"].as_str().unwrap_or("")),
                    c["id"].as_str().unwrap_or(""),
                    c["criteria"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
        }
        for ch in &report.findings {
            println!(
                "  finding {} {}: {}",
                ch.action,
                ch.finding["id"].as_str().unwrap_or(""),
                ch.finding["title"].as_str().unwrap_or("")
            );
        }
    }
    if !cli.json && code != 0 {
        println!(
            "{}",
            if incomplete {
                "Incomplete: a control is in error, has no evidence or is not tested (exit 2)."
            } else {
                "A control fails (exit 1)."
            }
        );
    }
    Ok(if a.no_fail { 0 } else { code })
}

pub fn controls(cli: &crate::Cli, c: &ControlsCommand) -> Result<i32> {
    let ControlsCommand::List { period } = c;
    let now = chrono::Utc::now();
    let period = Period::parse(period, now)?;
    let (config, store, _keys, _ledger) = super::open(cli)?;
    let statuses = controls::evaluate(&config, &store, &period, now, None)?;
    let rows: Vec<Value> = vouch_core::tsc::CRITERIA
        .iter()
        .map(|cr| {
            let mapped: Vec<&Value> = statuses.iter().filter(|s| s["criteria"].as_array().is_some_and(|a| a.iter().any(|x| x == cr.id))).collect();
            json!({
                "id": cr.id, "topic": cr.topic,
                "controls": mapped.iter().map(|s| json!({"id": s["id"], "title": s["title"], "status": s["status"]})).collect::<Vec<_>>(),
            })
        })
        .collect();
    if cli.json {
        output::print_json(
            &json!({"period": period.label, "criteria": rows, "controls": statuses}),
        );
    } else {
        for r in &rows {
            let cs = r["controls"].as_array().cloned().unwrap_or_default();
            let shown = if cs.is_empty() {
                "-".to_string()
            } else {
                cs.iter()
                    .map(|c| {
                        format!(
                            "{} {}",
                            c["id"].as_str().unwrap_or(""),
                            mark(c["status"].as_str().unwrap_or(""))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "{:<6} {:<58} {}",
                r["id"].as_str().unwrap_or(""),
                r["topic"].as_str().unwrap_or(""),
                shown
            );
        }
    }
    Ok(0)
}

/// `vouch status`: the period's overall status (engine `overall_status`, the API's rule), controls by
/// status, open findings and the ledger's size — what GET /api/compliance/status says.
pub fn status(cli: &crate::Cli, a: &StatusArgs) -> Result<i32> {
    let now = chrono::Utc::now();
    let period = Period::parse(&a.period, now)?;
    let (config, store, _keys, _ledger) = super::open(cli)?;
    let statuses = controls::evaluate(&config, &store, &period, now, None)?;
    let all: Vec<&str> = statuses
        .iter()
        .map(|c| c["status"].as_str().unwrap_or("error"))
        .collect();
    let overall = controls::overall_status(&all);
    let counts: serde_json::Map<String, Value> = controls::STATUSES
        .iter()
        .map(|s| {
            (
                s.to_string(),
                json!(statuses.iter().filter(|c| c["status"] == *s).count()),
            )
        })
        .collect();
    let open = findings::list(&store, Some("open"))?.len();
    let size = store.head()?.size;
    if cli.json {
        output::print_json(&json!({
            "period": period.label, "overall_status": overall, "controls": counts,
            "open_findings": open, "ledger": {"tree_size": size},
        }));
    } else {
        println!("{}: {}", period.label, overall_mark(overall));
        println!(
            "  controls: {}",
            controls::STATUSES
                .iter()
                .map(|s| format!("{} {}", counts[*s], mark(s)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  open findings: {open}");
        println!("  ledger: {size} entries");
    }
    Ok(0)
}

fn finding_line(f: &Value) -> String {
    format!(
        "{}  {:<8} {:<9} {}  (last seen {})",
        f["id"].as_str().unwrap_or(""),
        f["severity"].as_str().unwrap_or(""),
        f["status"].as_str().unwrap_or(""),
        f["title"].as_str().unwrap_or(""),
        f["last_seen"].as_str().unwrap_or("")
    )
}

pub fn findings(cli: &crate::Cli, c: &FindingsCommand) -> Result<i32> {
    let (config, store, _keys, ledger) = super::open(cli)?;
    let show = |f: &Value| {
        if cli.json {
            output::print_json(f);
        } else {
            println!("{}", finding_line(f));
        }
    };
    match c {
        FindingsCommand::List { status } => {
            if let Some(s) = status {
                if !findings::STATUSES.contains(&s.as_str()) {
                    bail!("--status must be one of {}", findings::STATUSES.join(", "));
                }
            }
            let all = findings::list(&store, status.as_deref())?;
            if cli.json {
                output::print_json(&all);
            } else {
                for f in &all {
                    println!("{}", finding_line(f));
                }
            }
        }
        FindingsCommand::Show { id } => output::print_json(&findings::get(&store, id)?),
        FindingsCommand::Open {
            title,
            severity,
            control,
            description,
            by,
        } => {
            let f = findings::open(
                &store,
                &ledger,
                &config,
                title,
                severity,
                control.as_deref(),
                description.as_deref(),
                &who(by),
            )?;
            show(&f);
        }
        FindingsCommand::Update {
            id,
            status,
            severity,
            owner,
            note,
            by,
        } => {
            let u = findings::Update {
                status: status.clone(),
                severity: severity.clone(),
                owner: owner.clone(),
                note: note.clone(),
            };
            let f = findings::update(&store, &ledger, id, &u, &who(by))?;
            show(&f);
        }
    }
    Ok(0)
}

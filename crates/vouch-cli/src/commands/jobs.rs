//! `vouch jobs list|runs|run`.

use crate::output;
use anyhow::Result;
use vouch_core::period::Period;
use vouch_engine::jobs::{self, Runner, SystemClock};

#[derive(clap::Subcommand)]
pub enum JobsCommand {
    /// The built-in jobs, their schedules (UTC) and latest runs.
    List,
    /// Run history, newest first.
    Runs {
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Run a job now (outside its schedule), for a period (default: its current one).
    Run {
        /// The job (`vouch jobs list` names them).
        name: String,
        /// The period it runs for (default: the one its schedule would pick now).
        #[arg(long)]
        period: Option<String>,
    },
}

fn line(r: &jobs::Run) -> String {
    format!(
        "{:<10} {:<45} attempt {}  started {}  {}",
        r.status,
        r.run_key,
        r.attempt,
        r.started_at,
        r.error.as_deref().unwrap_or("")
    )
}

pub fn run(cli: &crate::Cli, c: &JobsCommand) -> Result<i32> {
    let (config, store, keys, ledger) = super::open(cli)?;
    match c {
        JobsCommand::List => {
            let mut all = Vec::new();
            for j in jobs::JOBS {
                let last = jobs::runs(&store, Some(j.name), 1)?.into_iter().next();
                all.push((j, last));
            }
            if cli.json {
                let all: Vec<_> = all
                    .iter()
                    .map(|(j, last)| serde_json::json!({"name": j.name, "schedule": j.schedule, "description": j.description, "last_run": last}))
                    .collect();
                output::print_json(&all);
            } else {
                for (j, last) in &all {
                    println!("{:<24} {:<20} {}", j.name, j.schedule, j.description);
                    if let Some(last) = last {
                        println!("    last: {}", line(last));
                    }
                }
            }
            Ok(0)
        }
        JobsCommand::Runs { name, limit } => {
            if let Some(n) = name {
                if jobs::job(n).is_none() {
                    anyhow::bail!(
                        "no job `{n}` (jobs: {})",
                        jobs::JOBS
                            .iter()
                            .map(|j| j.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            let runs = jobs::runs(&store, name.as_deref(), *limit)?;
            if cli.json {
                output::print_json(&runs);
            } else {
                for r in &runs {
                    println!("{}", line(r));
                }
            }
            Ok(0)
        }
        JobsCommand::Run { name, period } => {
            let period = period
                .as_deref()
                .map(|p| Period::parse(p, chrono::Utc::now()))
                .transpose()?;
            let runner = Runner {
                config: &config,
                store,
                keys: &keys,
                ledger: &ledger,
                clock: &SystemClock,
                worker: format!("cli:{}", std::process::id()),
                max_attempts: 1,
                backoff: chrono::Duration::minutes(1),
                not_before: None,
            };
            let r = runner.run_now(name, period)?;
            if cli.json {
                output::print_json(&r);
            } else {
                println!("{}", line(&r));
                if let Some(note) = r.outputs.as_ref().and_then(|o| o["note"].as_str()) {
                    println!("  {note}");
                }
            }
            Ok(if r.status == "succeeded" { 0 } else { 1 })
        }
    }
}

//! `vouch incidents`: list, show, open, update, note — the same operations as the API's
//! `/incidents` endpoints, each change a ledger event.

use crate::output;
use anyhow::{bail, Result};
use clap::Subcommand;
use vouch_engine::incidents as inc;

/// `vouch incidents …`.
#[derive(Subcommand, Debug)]
pub enum IncidentsCommand {
    /// Incidents, oldest detection first, with their response SLA.
    List {
        /// A status (detected, triaged, contained, eradicated, recovered, closed,
        /// dismissed) or `open` (any but closed and dismissed).
        #[arg(long)]
        status: Option<String>,
        /// critical, high, medium or low.
        #[arg(long)]
        severity: Option<String>,
        /// Detected in this period (2026-10, 2026-Q3, START..END).
        #[arg(long)]
        period: Option<String>,
        /// Only incidents whose response deadline was breached.
        #[arg(long, conflicts_with = "not_breached")]
        breached: bool,
        /// Only incidents whose response deadline was not breached.
        #[arg(long)]
        not_breached: bool,
    },
    /// One incident: SLA and timeline.
    Show {
        /// The incident's id (at least 8 characters of it).
        id: String,
    },
    /// Log an incident (seed 003's fields); prints its id and response deadline.
    Open {
        /// Short title.
        #[arg(long)]
        title: String,
        /// critical (15 min), high (1 h), medium (4 h) or low (24 h) by default.
        #[arg(long)]
        severity: String,
        /// What happened.
        #[arg(long)]
        description: Option<String>,
        /// An affected system (repeat for several).
        #[arg(long = "affected-system")]
        affected_systems: Vec<String>,
        /// When it was detected (RFC 3339; default now). The response clock starts here.
        #[arg(long)]
        detected_at: Option<String>,
        /// Who or what detected it (default: --by).
        #[arg(long)]
        detected_by: Option<String>,
        /// Who logs it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Move an incident along its lifecycle, change its severity or responder.
    Update {
        /// The incident's id.
        id: String,
        /// triaged, contained, eradicated, recovered, closed or dismissed.
        #[arg(long)]
        state: Option<String>,
        /// critical, high, medium or low.
        #[arg(long)]
        severity: Option<String>,
        /// The responder (required to triage).
        #[arg(long)]
        assignee: Option<String>,
        /// Why it is dismissed (required with --state dismissed).
        #[arg(long)]
        reason: Option<String>,
        /// The lessons-learned review (required with --state closed).
        #[arg(long)]
        lessons_learned: Option<String>,
        /// A note for the timeline.
        #[arg(long)]
        note: Option<String>,
        /// Who makes the change (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Add a timeline entry.
    Note {
        /// The incident's id.
        id: String,
        /// What happened.
        text: String,
        /// When it happened (RFC 3339; default now; not before detection, not future).
        #[arg(long)]
        at: Option<String>,
        /// Who records it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn line(i: &inc::Incident, now: chrono::DateTime<chrono::Utc>) -> String {
    let sla = if i.breached(now) {
        "BREACHED".to_string()
    } else if i.sla.responded_at.is_some() {
        "met".to_string()
    } else {
        format!("due {}", i.sla.deadline)
    };
    format!(
        "{}  {:<8}  {:<10}  {}  response: {sla}  {}",
        i.id, i.severity, i.status, i.detected_at, i.title
    )
}

/// Run `vouch incidents …`.
pub fn run(cli: &crate::Cli, c: &IncidentsCommand) -> Result<i32> {
    let (config, store, _keys, ledger) = super::open(cli)?;
    let now = chrono::Utc::now();
    let show = |i: &inc::Incident| {
        if cli.json {
            output::print_json(&i.view(now));
        } else {
            println!("{}", line(i, now));
            for e in &i.timeline {
                println!("    {}  {:<12} {:<14} {}", e.at, e.kind, e.by, e.text);
            }
        }
    };
    match c {
        IncidentsCommand::List {
            status,
            severity,
            period,
            breached,
            not_breached,
        } => {
            let period = match period {
                Some(p) => Some(
                    vouch_core::period::Period::parse(p, now)
                        .map_err(|e| anyhow::anyhow!("--period: {e}"))?,
                ),
                None => None,
            };
            let f = inc::Filter {
                status: status.clone(),
                severity: severity.clone(),
                period,
                breached: match (breached, not_breached) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let all = inc::list(&store, &f, now).map_err(flag_error)?;
            if cli.json {
                output::print_json(&all.iter().map(|i| i.view(now)).collect::<Vec<_>>());
            } else if all.is_empty() {
                println!("no incidents");
            } else {
                for i in &all {
                    println!("{}", line(i, now));
                }
            }
        }
        IncidentsCommand::Show { id } => show(&inc::get(&store, id).map_err(flag_error)?),
        IncidentsCommand::Open {
            title,
            severity,
            description,
            affected_systems,
            detected_at,
            detected_by,
            by,
        } => {
            let n = inc::NewIncident {
                title: title.clone(),
                severity: severity.clone(),
                description: description.clone(),
                affected_systems: affected_systems.clone(),
                detected_at: detected_at.clone(),
                detected_by: detected_by.clone(),
            };
            let i = inc::open(&store, &ledger, &config, &n, &who(by), now).map_err(flag_error)?;
            if cli.json {
                output::print_json(&i.view(now));
            } else {
                println!(
                    "incident {} logged ({} severity); response due by {}",
                    i.id, i.severity, i.response_deadline
                );
            }
        }
        IncidentsCommand::Update {
            id,
            state,
            severity,
            assignee,
            reason,
            lessons_learned,
            note,
            by,
        } => {
            let u = inc::Update {
                state: state.clone(),
                severity: severity.clone(),
                assignee: assignee.clone(),
                reason: reason.clone(),
                lessons_learned: lessons_learned.clone(),
                note: note.clone(),
            };
            let i =
                inc::update(&store, &ledger, &config, id, &u, &who(by), now).map_err(flag_error)?;
            show(&i);
        }
        IncidentsCommand::Note { id, text, at, by } => {
            if text.trim().is_empty() {
                bail!("the note's text is empty");
            }
            let i = inc::note(
                &store,
                &ledger,
                &config,
                id,
                text,
                at.as_deref(),
                &who(by),
                now,
            )
            .map_err(flag_error)?;
            show(&i);
        }
    }
    Ok(0)
}

/// An engine error as the CLI says it: a field is the flag of the same name.
fn flag_error(e: inc::IncidentError) -> anyhow::Error {
    match e {
        inc::IncidentError::Invalid { field, message } if field == "id" || field == "text" => {
            anyhow::anyhow!("{field}: {message}")
        }
        inc::IncidentError::Invalid { field, message } => {
            anyhow::anyhow!("--{}: {message}", field.replace('_', "-"))
        }
        other => other.into(),
    }
}

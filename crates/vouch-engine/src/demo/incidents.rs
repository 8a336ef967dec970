//! The demo's incident step: a rule in the demo's vouch.toml (more than 5 failed logins
//! from one address within 10 minutes), a burst of failed logins from one address in
//! the last minutes, appended to the ledger and run through the rules exactly as the
//! API's ingest does, so the rule opens an incident. It is then triaged within its
//! response time, which the timeline and the SLA show.

use crate::{Config, Error, Ledger};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::path::Path;

/// The rule the demo adds to its vouch.toml.
pub const RULE: &str = r#"
# Added by `vouch demo`: a failed-login burst from one address opens an incident.
[[incidents.rule]]
id = "login-burst"
on = "events"
action = "login"
result = "failure"
more_than = 5
within = "10m"
per = "ip"
severity = "high"
title = "Failed-login burst"
"#;

/// The address the burst comes from (TEST-NET-3, documentation range).
pub const ATTACKER_IP: &str = "203.0.113.77";

/// Add the rule, append the burst, open and triage the incident; the incident.
pub fn run(
    dir: &Path,
    config: &mut Config,
    ledger: &Ledger,
    store: &vouch_store::Store,
    now: DateTime<Utc>,
) -> Result<Option<crate::incidents::Incident>, Error> {
    let main = dir.join(crate::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&main).map_err(|e| Error::io(&main, e))?;
    std::fs::write(&main, format!("{text}{RULE}")).map_err(|e| Error::io(&main, e))?;
    *config = Config::load(dir)?;
    let start = now - Duration::minutes(4);
    let mut events = Vec::new();
    for k in 0..8i64 {
        let t = start + Duration::seconds(20 * k);
        let v = json!({
            "action": "user.login", "category": "authentication", "result": "failure",
            "actor": {"id": format!("usr_guess_{k}"), "email": format!("admin{k}@acme.example"), "ip": ATTACKER_IP},
            "resource": {"type": "session"},
            "details": {"description": "Invalid password"},
            "metadata": {"user_agent": "python-requests/2.31"},
            "timestamp": vouch_core::event::format_timestamp(&t),
        });
        events.push(
            vouch_core::event::Event::from_value(v)
                .map_err(|e| Error::Demo(format!("demo burst event: {e}")))?,
        );
    }
    let fields: Vec<_> = events.iter().map(|e| e.fields().clone()).collect();
    ledger.append(events)?;
    let opened = crate::incidents::auto::on_events(store, ledger, config, &fields, now)?;
    let Some(i) = opened.into_iter().next() else {
        return Ok(None);
    };
    // The on-call engineer triages it straight away, well within high's hour (the
    // demo does not invent times: the triage is recorded when it is made).
    let u = crate::incidents::Update {
        state: Some("triaged".into()),
        assignee: Some("grace@acme.example".into()),
        note: Some(format!(
            "Blocked {ATTACKER_IP} at the WAF; no account was accessed."
        )),
        ..Default::default()
    };
    let i = crate::incidents::update(
        store,
        ledger,
        config,
        &i.id,
        &u,
        "grace@acme.example",
        now.max(Utc::now()),
    )?;
    Ok(Some(i))
}

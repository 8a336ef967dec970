//! Incidents (CC7.3–CC7.5): seed 003's incident log with severity response times, the
//! lifecycle from detection to lessons learned, a timeline, findings when a response
//! deadline is breached, and incidents opened automatically by rules over the ledger's
//! events and check results. Every change is a ledger event.
//!
//! # The response SLA, precisely
//!
//! * The *response* is the incident's first move out of `detected`: to `triaged`
//!   (severity confirmed and a responder assigned) or to `dismissed` (a false positive,
//!   with the reason). Its time is when vouch recorded that change.
//! * The *deadline* is `detected_at` + the response time of the severity (from
//!   `[incidents.response]`; seed 003's 15 minutes, 1 hour, 4 hours, 24 hours).
//! * A severity change before the response and before the deadline restarts the clock
//!   for the new severity: deadline = time of the change + the new severity's response
//!   time. A change after the response, or after the deadline passed, does not move
//!   the deadline: a response already given, or a breach that already happened, stands.
//! * The deadline is *breached* when no response was recorded by then. The breach is
//!   recorded (at the deadline) by the first of: the scheduler's sweep ([`sweep`], every
//!   tick), or the late response itself. Recording it adds a timeline entry, opens a
//!   finding against `[incidents] control` and is a ledger event. Reads compute
//!   "breached" from the deadline too, so a breach shows before the sweep has run.

pub mod auto;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::{parse_instant, Period};
use vouch_ledger::Ledger;
use vouch_store::Store;

pub use vouch_config::incidents::SEVERITIES;

/// Every status, in lifecycle order (`dismissed` ends an incident from `detected` or
/// `triaged`).
pub const STATUSES: &[&str] = &[
    "detected",
    "triaged",
    "contained",
    "eradicated",
    "recovered",
    "closed",
    "dismissed",
];

/// Statuses of incidents that are over.
pub const ENDED: &[&str] = &["closed", "dismissed"];

/// The statuses an incident in `from` may move to.
pub fn next_states(from: &str) -> &'static [&'static str] {
    match from {
        "detected" => &["triaged", "dismissed"],
        "triaged" => &["contained", "dismissed"],
        "contained" => &["eradicated"],
        "eradicated" => &["recovered"],
        "recovered" => &["closed"],
        _ => &[],
    }
}

/// Errors of incident operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IncidentError {
    /// A value is wrong; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (or parameter) at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No incident has this id.
    #[error("no incident {0}")]
    NotFound(String),
    /// The lifecycle does not allow moving from `from` to `to`.
    #[error("an incident cannot go from {from} to {to}{allowed}")]
    Transition {
        /// The current status.
        from: String,
        /// The status asked for.
        to: String,
        /// The statuses that are allowed, as text.
        allowed: String,
    },
    /// A change other than a note to a closed or dismissed incident; `field` names the
    /// first field of the request that cannot change any more.
    #[error("incident {id} is {status}: its {field} can no longer change (only timeline notes can be added to a {status} incident)")]
    Ended {
        /// The incident.
        id: String,
        /// `closed` or `dismissed`.
        status: String,
        /// The request field that cannot change (`state`, `severity`, `assignee`,
        /// `reason`, `lessons_learned`).
        field: String,
    },
    /// The incident changed while this change was being made; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// A stored incident cannot be read back.
    #[error("{0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// Appending to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// Opening the finding of a breach failed.
    #[error(transparent)]
    Checks(#[from] vouch_checks::CheckError),
}

fn invalid(field: &str, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When it happened (never before detection, never in the future).
    pub at: String,
    /// Who recorded it (the API caller, or `vouch`).
    pub by: String,
    /// `detected`, `state`, `severity`, `assignee`, `note`, `sla_breached` or
    /// `rule_matched` (an automatic incident's rule matched again while it was open).
    pub kind: String,
    /// What happened, for people.
    pub text: String,
    /// The previous value (state, severity, assignee changes).
    pub from: Option<String>,
    /// The new value.
    pub to: Option<String>,
    /// When vouch recorded it.
    pub recorded_at: String,
}

/// The response SLA of an incident (see the crate documentation for the rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sla {
    /// The severity the deadline follows.
    pub severity: String,
    /// Its response time, in seconds.
    pub response_time_secs: i64,
    /// When the clock started: detection, or the severity change that restarted it.
    pub clock_started_at: String,
    /// The response deadline.
    pub deadline: String,
    /// When the response (triage or dismissal) was recorded.
    pub responded_at: Option<String>,
    /// Seconds from detection to the response.
    pub response_secs: Option<i64>,
    /// When the deadline was breached (recorded), if it was.
    pub breached_at: Option<String>,
    /// The finding opened for the breach.
    pub finding_id: Option<String>,
}

/// What opened an automatic incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// The rule's id.
    pub rule: String,
    /// The key within the rule (an actor id, an IP, a check id; empty for none).
    pub key: String,
    /// How many events or results matched.
    pub count: u64,
    /// The first and last matching event or result time.
    pub first_at: String,
    /// The last matching time.
    pub last_at: String,
    /// The ids of the matching events (at most 50) or the check result ids.
    pub refs: Vec<String>,
}

/// An incident as stored (canonical JSON in `incidents.record`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Its id (a UUIDv7).
    pub id: String,
    /// Seed 003's `title`.
    pub title: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// Seed 003's `description`.
    pub description: Option<String>,
    /// Seed 003's `affected_systems`.
    pub affected_systems: Vec<String>,
    /// Seed 003's `detected_at` (normalised: UTC, 6 fractional digits).
    pub detected_at: String,
    /// Seed 003's `detected_by` (`automated_monitoring`, a person…).
    pub detected_by: String,
    /// One of [`STATUSES`].
    pub status: String,
    /// The responder.
    pub assignee: Option<String>,
    /// Who logged it (the API caller, or `vouch` for automatic incidents).
    pub reported_by: String,
    /// `manual` or `rule`.
    pub source: String,
    /// For automatic incidents: what opened it.
    pub trigger: Option<Trigger>,
    /// The response deadline (the same as `sla.deadline`).
    pub response_deadline: String,
    /// The response SLA.
    pub sla: Sla,
    /// The post-incident review (required to close).
    pub lessons_learned: Option<String>,
    /// Why it was dismissed (required to dismiss).
    pub dismissal_reason: Option<String>,
    /// When it was closed or dismissed.
    pub ended_at: Option<String>,
    /// Every change and note, in order.
    pub timeline: Vec<Entry>,
    /// Version number, from 1 (each change adds one).
    pub version: i64,
    /// When it was logged.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl Incident {
    /// Whether the response deadline is breached as of `now`: recorded, or responded
    /// late, or still unanswered past the deadline.
    pub fn breached(&self, now: DateTime<Utc>) -> bool {
        if self.sla.breached_at.is_some() {
            return true;
        }
        match &self.sla.responded_at {
            Some(r) => r.as_str() > self.sla.deadline.as_str(),
            None => ts(&now) > self.sla.deadline,
        }
    }

    /// Whether it is still open (neither closed nor dismissed).
    pub fn is_open(&self) -> bool {
        !ENDED.contains(&self.status.as_str())
    }

    /// The record with what is computed at read time: `breached` (as of `now`) and,
    /// while unanswered, `sla.remaining_secs`.
    pub fn view(&self, now: DateTime<Utc>) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["breached"] = json!(self.breached(now));
        if self.sla.responded_at.is_none() && self.is_open() {
            let left = parse_instant(&self.sla.deadline).map(|d| (d - now).num_seconds());
            v["sla"]["remaining_secs"] = json!(left);
        }
        v
    }
}

/// Seed 003's `POST /incidents` body.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    /// Short title (required).
    pub title: String,
    /// `critical`, `high`, `medium` or `low` (required).
    pub severity: String,
    /// Longer description.
    pub description: Option<String>,
    /// The systems affected.
    pub affected_systems: Vec<String>,
    /// When it was detected (RFC 3339); `now` when absent.
    pub detected_at: Option<String>,
    /// Who or what detected it; the caller when absent.
    pub detected_by: Option<String>,
}

fn check_severity(field: &str, s: &str) -> Result<(), IncidentError> {
    if SEVERITIES.contains(&s) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("`{s}` is not a severity (critical, high, medium or low)"),
        ))
    }
}

/// A time given by a caller: RFC 3339, not in the future (beyond the ledger's clock
/// skew), normalised.
fn instant(field: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, IncidentError> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|_| {
            invalid(
                field,
                format!("`{s}` is not an RFC 3339 time (2025-01-21T10:00:00Z)"),
            )
        })?
        .with_timezone(&Utc);
    if t > now + vouch_core::event::max_clock_skew() {
        return Err(invalid(
            field,
            format!("`{s}` is in the future (now is {})", ts(&now)),
        ));
    }
    Ok(t)
}

fn sla_for(config: &Config, severity: &str, start: DateTime<Utc>) -> Sla {
    let rt = config.settings.incidents.response_time(severity);
    Sla {
        severity: severity.to_string(),
        response_time_secs: rt.num_seconds(),
        clock_started_at: ts(&start),
        deadline: ts(&(start + rt)),
        responded_at: None,
        response_secs: None,
        breached_at: None,
        finding_id: None,
    }
}

/// Log an incident (seed 003's body); `by` is who logs it. The response deadline runs
/// from `detected_at`.
pub fn open(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    n: &NewIncident,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Incident, IncidentError> {
    let i = build(config, n, by, now, "manual", None)?;
    insert(store, ledger, &i, None, by)?;
    Ok(i)
}

fn build(
    config: &Config,
    n: &NewIncident,
    by: &str,
    now: DateTime<Utc>,
    source: &str,
    trigger: Option<Trigger>,
) -> Result<Incident, IncidentError> {
    if n.title.trim().is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    check_severity("severity", &n.severity)?;
    for (k, s) in n.affected_systems.iter().enumerate() {
        if s.trim().is_empty() {
            return Err(invalid(
                &format!("affected_systems[{k}]"),
                "must not be empty",
            ));
        }
    }
    let detected = match &n.detected_at {
        Some(d) => instant("detected_at", d, now)?,
        None => now,
    };
    if let Some(d) = &n.detected_by {
        if d.trim().is_empty() {
            return Err(invalid("detected_by", "must not be empty"));
        }
    }
    let at = ts(&now);
    let detected_at = ts(&detected);
    let sla = sla_for(config, &n.severity, detected);
    let detected_by = n.detected_by.clone().unwrap_or_else(|| by.to_string());
    Ok(Incident {
        id: uuid::Uuid::now_v7().to_string(),
        title: n.title.clone(),
        severity: n.severity.clone(),
        description: n.description.clone(),
        affected_systems: n.affected_systems.clone(),
        detected_at: detected_at.clone(),
        detected_by: detected_by.clone(),
        status: "detected".into(),
        assignee: None,
        reported_by: by.to_string(),
        source: source.into(),
        trigger,
        response_deadline: sla.deadline.clone(),
        sla,
        lessons_learned: None,
        dismissal_reason: None,
        ended_at: None,
        timeline: vec![Entry {
            at: detected_at,
            by: by.to_string(),
            kind: "detected".into(),
            text: format!("Detected by {detected_by} ({} severity)", n.severity),
            from: None,
            to: Some("detected".into()),
            recorded_at: at.clone(),
        }],
        version: 1,
        created_at: at.clone(),
        updated_at: at,
    })
}

fn record_event(
    ledger: &Ledger,
    i: &Incident,
    canonical: &str,
    action: &str,
    what: &str,
    by: &str,
) -> Result<(), IncidentError> {
    let mut ev = json!({
        "action": format!("incident.{action}"), "category": "security", "result": "success",
        "resource": {"type": "incident", "id": i.id, "name": i.title},
        "details": {"description": format!("Incident {action}: {} ({}, {}): {what}", i.title, i.severity, i.status)},
        "metadata": {"record_sha256": vouch_store::blobs::sha256_hex(canonical.as_bytes()), "status": i.status, "severity": i.severity, "version": i.version},
    });
    if by != "vouch" {
        ev["actor"] = json!({"id": by, "email": null, "ip": null});
    }
    vouch_ledger::audit::record(ledger, ev)?;
    Ok(())
}

fn canonical(i: &Incident) -> String {
    vouch_core::canonical::to_string(&serde_json::to_value(i).unwrap_or_default())
}

/// Insert a new incident (with `open_key` for automatic ones): false when an open
/// incident already holds the key. The ledger event follows the write; if it cannot be
/// appended the row is removed again, so nothing stays unrecorded.
fn insert(
    store: &Store,
    ledger: &Ledger,
    i: &Incident,
    open_key: Option<&str>,
    by: &str,
) -> Result<bool, IncidentError> {
    let c = canonical(i);
    let mut inserted = false;
    store.write(&mut |sql| {
        let n = sql.execute(
            "INSERT INTO incidents (id, status, severity, detected_at, deadline, responded_at, breached_at, open_key, version, updated_at, record) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, 1, $7, $8) ON CONFLICT DO NOTHING",
            &[i.id.clone().into(), i.status.clone().into(), i.severity.clone().into(), i.detected_at.clone().into(), i.sla.deadline.clone().into(), open_key.map(str::to_string).into(), i.updated_at.clone().into(), c.clone().into()],
        )?;
        inserted = n == 1;
        if inserted {
            sql.execute(
                "INSERT INTO incident_history (incident_id, version, at, record) VALUES ($1, 1, $2, $3)",
                &[i.id.clone().into(), i.updated_at.clone().into(), c.clone().into()],
            )?;
        }
        Ok(())
    })?;
    if !inserted {
        return Ok(false);
    }
    if let Err(e) = record_event(ledger, i, &c, "opened", "logged", by) {
        let _ = store.write(&mut |sql| {
            sql.execute(
                "DELETE FROM incident_history WHERE incident_id = $1",
                &[i.id.clone().into()],
            )?;
            sql.execute(
                "DELETE FROM incidents WHERE id = $1",
                &[i.id.clone().into()],
            )?;
            Ok(())
        });
        return Err(e);
    }
    Ok(true)
}

/// Store a new version of `i` (whose `version` is one more than the stored one); a
/// concurrent change in between is a conflict and nothing is written. The ledger event
/// follows; if it cannot be appended the previous version is restored.
fn save(
    store: &Store,
    ledger: &Ledger,
    i: &Incident,
    previous: &Incident,
    action: &str,
    what: &str,
    by: &str,
) -> Result<(), IncidentError> {
    let c = canonical(i);
    let prev_c = canonical(previous);
    let write = |rec: &Incident,
                 c: &str,
                 expect: i64,
                 history: bool|
     -> Result<u64, IncidentError> {
        let mut changed = 0;
        store.write(&mut |sql| {
            // An ended incident gives its rule key back (NULL), so the rule can open a
            // new one; an open one keeps it.
            changed = sql.execute(
                &format!("UPDATE incidents SET status = $2, severity = $3, deadline = $4, responded_at = $5, breached_at = $6, version = $7, updated_at = $8, record = $9{} WHERE id = $1 AND version = $10",
                    if rec.is_open() { "" } else { ", open_key = NULL" }),
                &[rec.id.clone().into(), rec.status.clone().into(), rec.severity.clone().into(), rec.sla.deadline.clone().into(), rec.sla.responded_at.clone().into(), rec.sla.breached_at.clone().into(), rec.version.into(), rec.updated_at.clone().into(), c.to_string().into(), expect.into()],
            )?;
            if changed == 1 && history {
                sql.execute(
                    "INSERT INTO incident_history (incident_id, version, at, record) VALUES ($1, $2, $3, $4)",
                    &[rec.id.clone().into(), rec.version.into(), rec.updated_at.clone().into(), c.to_string().into()],
                )?;
            }
            Ok(())
        })?;
        Ok(changed)
    };
    // Closing gives the rule key back; if the ledger refuses the close, the key must come
    // back too, or the rule would open a second incident for it.
    let key = if previous.is_open() && !i.is_open() {
        store
            .query(
                "SELECT open_key FROM incidents WHERE id = $1",
                &[i.id.clone().into()],
            )?
            .first()
            .and_then(|r| r.opt_text(0))
    } else {
        None
    };
    if write(i, &c, previous.version, true)? == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {} changed while this change was made; nothing was written, retry",
            i.id
        )));
    }
    if let Err(e) = record_event(ledger, i, &c, action, what, by) {
        let _ = write(previous, &prev_c, i.version, false);
        let _ = store.write(&mut |sql| {
            sql.execute(
                "DELETE FROM incident_history WHERE incident_id = $1 AND version = $2",
                &[i.id.clone().into(), i.version.into()],
            )?;
            if let Some(k) = &key {
                // Unless the rule opened a new incident for it meanwhile (unique key).
                sql.execute(
                    "UPDATE incidents SET open_key = $2 WHERE id = $1 AND open_key IS NULL AND NOT EXISTS (SELECT 1 FROM incidents o WHERE o.open_key = $2)",
                    &[i.id.clone().into(), k.clone().into()],
                )?;
            }
            Ok(())
        });
        return Err(e);
    }
    Ok(())
}

fn parse_record(text: &str) -> Result<Incident, IncidentError> {
    serde_json::from_str(text).map_err(|e| IncidentError::Corrupt(format!("stored incident: {e}")))
}

/// The incident whose id starts with `id` (at least 8 characters, matching exactly one).
pub fn get(store: &Store, id: &str) -> Result<Incident, IncidentError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(invalid(
            "id",
            format!("`{id}` is not an incident id (give at least 8 characters of it)"),
        ));
    }
    let rows = store.query(
        "SELECT record FROM incidents WHERE id LIKE $1 ORDER BY id LIMIT 2",
        &[format!("{}%", id.to_ascii_lowercase()).into()],
    )?;
    match rows.len() {
        0 => Err(IncidentError::NotFound(id.into())),
        1 => parse_record(&rows[0].text(0)),
        _ => Err(invalid(
            "id",
            format!("`{id}` matches more than one incident; give more of the id"),
        )),
    }
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only incidents with this status (`open` means any status but closed and dismissed).
    pub status: Option<String>,
    /// Only incidents of this severity.
    pub severity: Option<String>,
    /// Only incidents detected in this period.
    pub period: Option<Period>,
    /// Only incidents whose response deadline is (or is not) breached.
    pub breached: Option<bool>,
}

/// Incidents matching `f`, oldest detection first.
pub fn list(store: &Store, f: &Filter, now: DateTime<Utc>) -> Result<Vec<Incident>, IncidentError> {
    if let Some(s) = &f.status {
        if s != "open" && !STATUSES.contains(&s.as_str()) {
            return Err(invalid(
                "status",
                format!("`{s}` is not a status (open, {})", STATUSES.join(", ")),
            ));
        }
    }
    if let Some(s) = &f.severity {
        check_severity("severity", s)?;
    }
    let mut sql = String::from("SELECT record FROM incidents WHERE 1 = 1");
    let mut params: Vec<vouch_store::Value> = Vec::new();
    if let Some(p) = &f.period {
        params.push(ts(&p.start).into());
        params.push(ts(&p.end).into());
        sql.push_str(&format!(
            " AND detected_at >= ${} AND detected_at < ${}",
            params.len() - 1,
            params.len()
        ));
    }
    match f.status.as_deref() {
        Some("open") => sql.push_str(" AND status NOT IN ('closed', 'dismissed')"),
        Some(s) => {
            params.push(s.into());
            sql.push_str(&format!(" AND status = ${}", params.len()));
        }
        None => {}
    }
    if let Some(s) = &f.severity {
        params.push(s.into());
        sql.push_str(&format!(" AND severity = ${}", params.len()));
    }
    sql.push_str(" ORDER BY detected_at, id");
    let mut out = Vec::new();
    for r in store.query(&sql, &params)? {
        let i = parse_record(&r.text(0))?;
        if f.breached.is_some_and(|b| i.breached(now) != b) {
            continue;
        }
        out.push(i);
    }
    Ok(out)
}

/// What an update may change.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// The new status (one of [`STATUSES`], along the lifecycle).
    pub state: Option<String>,
    /// The new severity.
    pub severity: Option<String>,
    /// The responder.
    pub assignee: Option<String>,
    /// Why it is dismissed (required with `state = dismissed`).
    pub reason: Option<String>,
    /// The lessons-learned review (required with `state = closed`).
    pub lessons_learned: Option<String>,
    /// A note for the timeline.
    pub note: Option<String>,
}

/// Apply an update at `now` by `by`: severity and assignee first, then the state change
/// (so one request can assign, confirm the severity and triage). Each change is a
/// timeline entry; the whole update is one new version and one ledger event.
pub fn update(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    id: &str,
    u: &Update,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Incident, IncidentError> {
    if u.state.is_none()
        && u.severity.is_none()
        && u.assignee.is_none()
        && u.note.is_none()
        && u.reason.is_none()
        && u.lessons_learned.is_none()
    {
        return Err(invalid(
            "state",
            "nothing to update: give a state, severity, assignee or note",
        ));
    }
    let previous = get(store, id)?;
    // A breach that happened before this change is recorded first, as it happened.
    let previous = record_breach_if_due(store, ledger, config, previous, now)?;
    let mut i = previous.clone();
    let at = ts(&now);
    let mut said = Vec::new();
    let entry = |kind: &str, text: String, from: Option<String>, to: Option<String>| Entry {
        at: at.clone(),
        by: by.to_string(),
        kind: kind.into(),
        text,
        from,
        to,
        recorded_at: at.clone(),
    };
    if !i.is_open() {
        // A closed or dismissed incident no longer changes, but notes can still be
        // added (docs/incidents.md): a PATCH carrying only a note is one.
        if let (Some(text), None, None, None, None, None) = (
            &u.note,
            &u.state,
            &u.severity,
            &u.assignee,
            &u.reason,
            &u.lessons_learned,
        ) {
            return note(store, ledger, config, id, text, None, by, now);
        }
        if let Some(to) = u.state.as_ref().filter(|to| **to != i.status) {
            return Err(IncidentError::Transition {
                from: i.status.clone(),
                to: to.clone(),
                allowed: format!(": it is {} and can no longer change", i.status),
            });
        }
        let field = [
            ("severity", u.severity.is_some()),
            ("assignee", u.assignee.is_some()),
            ("reason", u.reason.is_some()),
            ("lessons_learned", u.lessons_learned.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(f, _)| f)
        .unwrap_or("state");
        return Err(IncidentError::Ended {
            id: i.id.clone(),
            status: i.status.clone(),
            field: field.into(),
        });
    }
    if let Some(s) = &u.severity {
        check_severity("severity", s)?;
        if *s != i.severity {
            let moves = i.sla.responded_at.is_none() && i.sla.breached_at.is_none();
            let old = std::mem::replace(&mut i.severity, s.clone());
            let mut text = format!("Severity changed from {old} to {s}");
            if moves {
                let keep = (i.sla.responded_at.clone(), i.sla.breached_at.clone());
                i.sla = sla_for(config, s, now);
                (i.sla.responded_at, i.sla.breached_at) = keep;
                i.response_deadline = i.sla.deadline.clone();
                text.push_str(&format!("; response now due by {}", i.sla.deadline));
            }
            i.timeline
                .push(entry("severity", text, Some(old), Some(s.clone())));
            said.push("severity");
        }
    }
    if let Some(a) = &u.assignee {
        if a.trim().is_empty() {
            return Err(invalid("assignee", "must not be empty"));
        }
        if i.assignee.as_deref() != Some(a) {
            let old = i.assignee.replace(a.clone());
            i.timeline.push(entry(
                "assignee",
                format!("Assigned to {a}"),
                old,
                Some(a.clone()),
            ));
            said.push("assignee");
        }
    }
    if u.reason.is_some() && u.state.as_deref() != Some("dismissed") {
        return Err(invalid("reason", "is only given with state dismissed"));
    }
    if u.lessons_learned.is_some() && u.state.as_deref() != Some("closed") {
        return Err(invalid(
            "lessons_learned",
            "is only given with state closed",
        ));
    }
    if let Some(to) = &u.state {
        if !STATUSES.contains(&to.as_str()) {
            return Err(invalid(
                "state",
                format!("`{to}` is not a status ({})", STATUSES.join(", ")),
            ));
        }
        let from = i.status.clone();
        let allowed = next_states(&from);
        if !allowed.contains(&to.as_str()) {
            return Err(IncidentError::Transition {
                from,
                to: to.clone(),
                allowed: if allowed.is_empty() {
                    String::new()
                } else {
                    format!(" (from {} it can go to {})", i.status, allowed.join(" or "))
                },
            });
        }
        let mut text = format!("State changed from {from} to {to}");
        match to.as_str() {
            "triaged" => {
                let Some(a) = &i.assignee else {
                    return Err(invalid(
                        "assignee",
                        "triage assigns a responder: give `assignee` (or assign one first)",
                    ));
                };
                text = format!("Triaged: severity {} confirmed, responder {a}", i.severity);
            }
            "dismissed" => {
                let Some(r) = u.reason.as_deref().filter(|r| !r.trim().is_empty()) else {
                    return Err(invalid("reason", "dismissing an incident needs a reason"));
                };
                i.dismissal_reason = Some(r.to_string());
                text = format!("Dismissed: {r}");
            }
            "closed" => {
                let Some(l) = u
                    .lessons_learned
                    .as_deref()
                    .filter(|r| !r.trim().is_empty())
                else {
                    return Err(invalid(
                        "lessons_learned",
                        "closing an incident needs the lessons-learned review",
                    ));
                };
                i.lessons_learned = Some(l.to_string());
                text = format!("Closed after the lessons-learned review: {l}");
            }
            _ => {}
        }
        if from == "detected" {
            i.sla.responded_at = Some(at.clone());
            i.sla.response_secs = parse_instant(&i.detected_at).map(|d| (now - d).num_seconds());
        }
        if ENDED.contains(&to.as_str()) {
            i.ended_at = Some(at.clone());
        }
        i.status = to.clone();
        i.timeline
            .push(entry("state", text, Some(from), Some(to.clone())));
        said.push("state");
    }
    if let Some(n) = &u.note {
        if n.trim().is_empty() {
            return Err(invalid("note", "must not be empty"));
        }
        i.timeline.push(entry("note", n.clone(), None, None));
        said.push("note");
    }
    if said.is_empty() {
        return Ok(i);
    }
    i.version += 1;
    i.updated_at = at;
    let action = match u.state.as_deref() {
        Some("closed") => "closed",
        Some("dismissed") => "dismissed",
        Some("triaged") => "triaged",
        _ => "updated",
    };
    save(store, ledger, &i, &previous, action, &said.join(", "), by)?;
    // A response given after the deadline is a breach too.
    record_breach_if_due(store, ledger, config, i, now)
}

/// Add a timeline entry (`at`: when it happened, default now; never before detection
/// or in the future).
#[allow(clippy::too_many_arguments)] // one per part of the entry
pub fn note(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    id: &str,
    text: &str,
    at: Option<&str>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Incident, IncidentError> {
    if text.trim().is_empty() {
        return Err(invalid("text", "must not be empty"));
    }
    let previous = get(store, id)?;
    let previous = record_breach_if_due(store, ledger, config, previous, now)?;
    let when = match at {
        Some(a) => {
            let t = DateTime::parse_from_rfc3339(a.trim())
                .map_err(|_| invalid("at", format!("`{a}` is not an RFC 3339 time")))?
                .with_timezone(&Utc);
            if t > now {
                return Err(invalid(
                    "at",
                    format!("`{a}` is in the future (now is {})", ts(&now)),
                ));
            }
            if ts(&t) < previous.detected_at {
                return Err(invalid(
                    "at",
                    format!(
                        "`{a}` is before the incident was detected ({})",
                        previous.detected_at
                    ),
                ));
            }
            t
        }
        None => now,
    };
    let mut i = previous.clone();
    let recorded = ts(&now);
    i.timeline.push(Entry {
        at: ts(&when),
        by: by.to_string(),
        kind: "note".into(),
        text: text.to_string(),
        from: None,
        to: None,
        recorded_at: recorded.clone(),
    });
    i.version += 1;
    i.updated_at = recorded;
    save(store, ledger, &i, &previous, "noted", "timeline entry", by)?;
    Ok(i)
}

/// If `i`'s deadline passed without a response (or the response came late) and the
/// breach is not recorded yet: record it at the deadline (timeline entry, finding
/// against `[incidents] control`, ledger event). The incident as it is after.
pub fn record_breach_if_due(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    i: Incident,
    now: DateTime<Utc>,
) -> Result<Incident, IncidentError> {
    if i.sla.breached_at.is_some() || !i.breached(now) {
        return Ok(i);
    }
    let previous = i.clone();
    let mut i = i;
    let at = ts(&now);
    let deadline = i.sla.deadline.clone();
    let control = config.settings.incidents.control.clone();
    let finding_id = uuid::Uuid::now_v7().to_string();
    i.sla.breached_at = Some(deadline.clone());
    i.sla.finding_id = Some(finding_id.clone());
    let late = match &i.sla.responded_at {
        Some(r) => format!("the response came at {r}"),
        None => "no response was recorded".into(),
    };
    i.timeline.push(Entry {
        at: deadline.clone(),
        by: "vouch".into(),
        kind: "sla_breached".into(),
        text: format!(
            "Response deadline {deadline} ({} severity) breached: {late}; finding {finding_id} opened against {control}",
            i.sla.severity
        ),
        from: None,
        to: None,
        recorded_at: at.clone(),
    });
    i.version += 1;
    i.updated_at = at.clone();
    save(store, ledger, &i, &previous, "sla_breached", &late, "vouch")?;
    // If the finding cannot be opened now, the incident names it already and the next
    // sweep opens it (`open_missing_findings`): the id never points at nothing for long.
    open_breach_finding(store, ledger, config, &i, &at)?;
    Ok(i)
}

/// Open the finding a recorded breach of `i` names (`sla.finding_id`), at `at`.
fn open_breach_finding(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    i: &Incident,
    at: &str,
) -> Result<(), IncidentError> {
    let Some(finding_id) = &i.sla.finding_id else {
        return Ok(());
    };
    let control = config.settings.incidents.control.clone();
    let deadline = &i.sla.deadline;
    let late = match &i.sla.responded_at {
        Some(r) => format!("the response came at {r}"),
        None => "no response was recorded".into(),
    };
    let finding = json!({
        "id": finding_id, "source": "incident", "check_id": null, "incident_id": i.id,
        "controls": [control], "control_id": control,
        "title": format!("Incident response deadline breached: {}", i.title),
        "description": format!("Incident {} ({} severity, detected {}) had a response deadline of {deadline}; {late}.", i.id, i.sla.severity, i.detected_at),
        "severity": i.severity, "status": "open",
        "first_seen": at, "last_seen": at, "occurrences": 1, "failing": [], "failing_count": 0,
        "latest_result": null, "opened_by": "vouch", "owner": null, "notes": [],
        "resolved_at": null, "resolution": null, "created_at": at, "updated_at": at,
    });
    vouch_checks::findings::open_record(store, ledger, finding, "vouch")?;
    Ok(())
}

/// Breaches recorded whose finding was never opened (the finding store failed right
/// after the breach was saved): open them now, under the id the incident names.
fn open_missing_findings(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(), IncidentError> {
    let rows = store.query(
        "SELECT record FROM incidents WHERE breached_at IS NOT NULL ORDER BY breached_at",
        &[],
    )?;
    for r in rows {
        let i = parse_record(&r.text(0))?;
        let Some(f) = &i.sla.finding_id else { continue };
        if store
            .query("SELECT 1 FROM findings WHERE id = $1", &[f.clone().into()])?
            .is_empty()
        {
            open_breach_finding(store, ledger, config, &i, &ts(&now))?;
        }
    }
    Ok(())
}

/// The SLA watch: record every breach that is due as of `now` (unanswered incidents
/// past their deadline). Run on every scheduler tick; idempotent. The incidents whose
/// breach it recorded.
pub fn sweep(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Incident>, IncidentError> {
    let rows = store.query(
        "SELECT record FROM incidents WHERE status = 'detected' AND breached_at IS NULL AND deadline < $1 ORDER BY deadline",
        &[ts(&now).into()],
    )?;
    open_missing_findings(store, ledger, config, now)?;
    let mut out = Vec::new();
    for r in rows {
        let i = parse_record(&r.text(0))?;
        match record_breach_if_due(store, ledger, config, i, now) {
            Ok(i) => out.push(i),
            // Another process recorded it (or the incident moved on) meanwhile.
            Err(IncidentError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Every incident as it stood at `at` (RFC 3339, fixed width), from the history.
pub fn as_of(store: &Store, at: &str) -> Result<Vec<Incident>, IncidentError> {
    let rows = store.query(
        "SELECT h.record FROM incident_history h WHERE h.at <= $1 AND h.version = (SELECT MAX(x.version) FROM incident_history x WHERE x.incident_id = h.incident_id AND x.at <= $1) ORDER BY h.incident_id",
        &[at.into()],
    )?;
    rows.iter().map(|r| parse_record(&r.text(0))).collect()
}

/// SLA performance of one severity over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeverityPerformance {
    /// The severity.
    pub severity: String,
    /// Its configured response time, in seconds.
    pub response_time_secs: i64,
    /// Incidents of this severity detected in the period.
    pub total: u64,
    /// Of those, responded to by their deadline.
    pub met: u64,
    /// Breached (late response, or none past the deadline).
    pub breached: u64,
    /// Not responded to yet and still within the deadline.
    pub pending: u64,
    /// Still open (not closed or dismissed).
    pub open: u64,
    /// Mean seconds from detection to response, over those responded to.
    pub mean_response_secs: Option<i64>,
    /// Longest seconds from detection to response.
    pub max_response_secs: Option<i64>,
    /// met / (met + breached), when any were decided.
    pub met_ratio: Option<f64>,
}

/// The period's incidents with SLA performance per severity (what packets and the
/// `incident` report show).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodReport {
    /// The period's label.
    pub period: String,
    /// As of when (RFC 3339): the incidents as they stood then.
    pub as_of: String,
    /// One row per severity, most severe first.
    pub by_severity: Vec<SeverityPerformance>,
    /// The incidents detected in the period, as of `as_of`, each with `breached`.
    pub incidents: Vec<Value>,
}

/// The period's incidents (detected in it) with SLA performance per severity, as they
/// stood at `as_of` (from the history, so a packet made later shows the same).
pub fn period_report(
    store: &Store,
    config: &Config,
    period: &Period,
    as_of: DateTime<Utc>,
) -> Result<PeriodReport, IncidentError> {
    let at = ts(&as_of);
    let (start, end) = (ts(&period.start), ts(&period.end));
    let incidents: Vec<Incident> = self::as_of(store, &at)?
        .into_iter()
        .filter(|i| i.detected_at >= start && i.detected_at < end)
        .collect();
    let mut by_severity = Vec::new();
    for s in SEVERITIES {
        // By the severity whose response time the deadline followed (`sla.severity`):
        // a medium incident re-rated high after its four hours ran out breached
        // medium's SLA, not high's.
        let mine: Vec<&Incident> = incidents.iter().filter(|i| i.sla.severity == *s).collect();
        let mut p = SeverityPerformance {
            severity: s.to_string(),
            response_time_secs: config.settings.incidents.response_time(s).num_seconds(),
            total: mine.len() as u64,
            ..Default::default()
        };
        let mut secs = Vec::new();
        for i in &mine {
            if i.breached(as_of) {
                p.breached += 1;
            } else if i.sla.responded_at.is_some() {
                p.met += 1;
            } else {
                p.pending += 1;
            }
            if i.is_open() {
                p.open += 1;
            }
            if let Some(r) = i.sla.response_secs {
                secs.push(r);
            }
        }
        if !secs.is_empty() {
            p.mean_response_secs = Some(secs.iter().sum::<i64>() / secs.len() as i64);
            p.max_response_secs = secs.iter().max().copied();
        }
        if p.met + p.breached > 0 {
            p.met_ratio = Some(p.met as f64 / (p.met + p.breached) as f64);
        }
        by_severity.push(p);
    }
    Ok(PeriodReport {
        period: period.label.clone(),
        as_of: at,
        by_severity,
        incidents: incidents.iter().map(|i| i.view(as_of)).collect(),
    })
}

/// Open incidents by severity and the number of recorded breaches (for `/metrics`).
pub fn counts(store: &Store) -> Result<(Vec<(String, u64)>, u64), IncidentError> {
    let mut open: Vec<(String, u64)> = SEVERITIES.iter().map(|s| (s.to_string(), 0)).collect();
    for r in store.query(
        "SELECT severity, COUNT(*) FROM incidents WHERE status NOT IN ('closed', 'dismissed') GROUP BY severity",
        &[],
    )? {
        let s = r.text(0);
        let n = r.int(1).max(0) as u64;
        match open.iter_mut().find(|(k, _)| *k == s) {
            Some(e) => e.1 = n,
            None => open.push((s, n)),
        }
    }
    let breaches = store
        .query(
            "SELECT COUNT(*) FROM incidents WHERE breached_at IS NOT NULL",
            &[],
        )?
        .first()
        .map(|r| r.int(0).max(0) as u64)
        .unwrap_or(0);
    Ok((open, breaches))
}

/// Shorthand used by [`auto`].
pub(crate) fn open_automatic(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    n: &NewIncident,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<Option<Incident>, IncidentError> {
    let key = format!("{}:{}", trigger.rule, trigger.key);
    let i = build(config, n, "vouch", now, "rule", Some(trigger))?;
    Ok(insert(store, ledger, &i, Some(&key), "vouch")?.then_some(i))
}

/// The open incident holding a rule's key (`<rule>:<key>`), if any.
pub(crate) fn open_for_key(store: &Store, open_key: &str) -> Result<Option<String>, IncidentError> {
    Ok(store
        .query(
            "SELECT id FROM incidents WHERE open_key = $1",
            &[open_key.into()],
        )?
        .first()
        .map(|r| r.text(0)))
}

/// A rule matched again while its incident is open: one `rule_matched` timeline entry
/// for the whole batch (a count, the time range, the first event ids), a new version and
/// a ledger event — never one entry per event. `None` when no incident holds the key
/// any more (it was closed meanwhile). A concurrent change to the incident is retried.
pub(crate) fn add_rule_match(
    store: &Store,
    ledger: &Ledger,
    open_key: &str,
    m: &Trigger,
    now: DateTime<Utc>,
) -> Result<Option<Incident>, IncidentError> {
    // Concurrent requests matching the same rule each add their entry; a lost race on
    // the version is retried (bounded).
    for _ in 0..20 {
        let Some(id) = open_for_key(store, open_key)? else {
            return Ok(None);
        };
        let previous = get(store, &id)?;
        if !previous.is_open() {
            return Ok(None);
        }
        // Events already counted (in the trigger or an earlier entry: a client posting
        // the same event again, or the same batch evaluated twice) are not counted again.
        let known = |r: &String| {
            previous
                .trigger
                .as_ref()
                .is_some_and(|t| t.refs.contains(r))
                || previous
                    .timeline
                    .iter()
                    .any(|e| e.kind == "rule_matched" && e.text.contains(r.as_str()))
        };
        let fresh: Vec<String> = m.refs.iter().filter(|r| !known(r)).cloned().collect();
        let unlisted = m.count.saturating_sub(m.refs.len() as u64);
        if fresh.len() < m.refs.len() && fresh.is_empty() && unlisted == 0 {
            return Ok(Some(previous));
        }
        let m = &Trigger {
            count: fresh.len() as u64 + unlisted,
            refs: fresh,
            ..m.clone()
        };
        let mut i = previous.clone();
        let at = ts(&now);
        let range = if m.first_at == m.last_at {
            format!("at {}", m.first_at)
        } else {
            format!("from {} to {}", m.first_at, m.last_at)
        };
        i.timeline.push(Entry {
            at: at.clone(),
            by: "vouch".into(),
            kind: "rule_matched".into(),
            text: format!(
                "Rule `{}` matched again while this incident is open: {} more matching {} {range}{}",
                m.rule,
                m.count,
                if m.count == 1 { "event or result" } else { "events or results" },
                if m.refs.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", m.refs.join(", "))
                }
            ),
            from: None,
            to: None,
            recorded_at: at.clone(),
        });
        i.version += 1;
        i.updated_at = at;
        match save(
            store,
            ledger,
            &i,
            &previous,
            "updated",
            "rule matched again",
            "vouch",
        ) {
            Ok(()) => return Ok(Some(i)),
            Err(IncidentError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(IncidentError::Conflict(format!(
        "incident for {open_key} kept changing; the repeated match was not recorded"
    )))
}

/// A duration as people read it (`15m`, `1h`, `1d 2h`).
pub fn human(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

//! Findings: opened by failing checks (or by hand), updated by repeat failures, resolved
//! by a later passing run with the evidence that resolved it. Every version of a finding
//! is kept (`finding_history`) so a packet can show findings exactly as they stood when
//! it was generated, and every change is a ledger event.

use super::CheckError;
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_ledger::Ledger;
use vouch_store::Store;

/// The statuses a finding can have.
pub const STATUSES: &[&str] = &["open", "accepted", "resolved"];

/// A change a check run made.
#[derive(Debug, Clone)]
pub struct Change {
    /// `opened`, `updated` or `resolved`.
    pub action: &'static str,
    /// The finding's record after the change.
    pub finding: Value,
}

fn now() -> String {
    vouch_core::event::format_timestamp(&chrono::Utc::now())
}

/// Open, update or resolve the finding of a check after a result.
pub fn apply(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    result: &crate::results::CheckResult,
) -> Result<Option<Change>, CheckError> {
    let check_id = result.check_id.as_str();
    // A finding belongs to a check and a period: a result for another period neither
    // updates nor resolves it.
    let period = result.period.label.as_str();
    let existing: Option<Value> = store
        .query(
            "SELECT record FROM findings WHERE check_id = $1 AND status <> 'resolved' ORDER BY id DESC",
            &[check_id.into()],
        )?
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.text(0)).ok())
        .find(|f| f["period"] == period);
    let at = result.evaluated_at.clone();
    let result_ref =
        json!({"result_id": result.id, "period": result.period.label, "evaluated_at": at});
    match (Some(result.status.as_str()), existing) {
        (Some("fail"), Some(mut f)) => {
            f["last_seen"] = json!(at);
            f["occurrences"] = json!(f["occurrences"].as_u64().unwrap_or(1) + 1);
            f["failing"] = json!(result.failing);
            f["failing_count"] = json!(result.failing_count);
            f["latest_result"] = result_ref;
            f["updated_at"] = json!(at);
            save(store, ledger, f, "updated", "vouch").map(Some)
        }
        (Some("fail"), None) => {
            let controls = config
                .controls
                .iter()
                .filter(|c| c.checks.iter().any(|x| x == check_id))
                .map(|c| c.id.clone())
                .collect::<Vec<_>>();
            let f = json!({
                "id": uuid::Uuid::now_v7().to_string(),
                "source": "check",
                "check_id": check_id,
                "period": period,
                "controls": controls,
                "title": result.title,
                "description": result.message,
                "severity": result.severity,
                "status": "open",
                "first_seen": at,
                "last_seen": at,
                "occurrences": 1,
                "failing": result.failing,
                "failing_count": result.failing_count,
                "latest_result": result_ref,
                "opened_by": "vouch",
                "owner": null,
                "notes": [],
                "resolved_at": null,
                "resolution": null,
                "created_at": at,
                "updated_at": at,
            });
            save(store, ledger, f, "opened", "vouch").map(Some)
        }
        (Some("pass"), Some(mut f)) => {
            f["status"] = json!("resolved");
            f["resolved_at"] = json!(at);
            f["resolution"] =
                json!({"by": "check", "result": result_ref, "evidence": result.evidence});
            f["updated_at"] = json!(at);
            save(store, ledger, f, "resolved", "vouch").map(Some)
        }
        _ => Ok(None),
    }
}

fn save(
    store: &Store,
    ledger: &Ledger,
    f: Value,
    action: &'static str,
    actor: &str,
) -> Result<Change, CheckError> {
    let id = f["id"].as_str().unwrap_or("").to_string();
    let canonical = vouch_core::canonical::to_string(&f);
    vouch_ledger::audit::record(
        ledger,
        json!({
            "action": format!("finding.{action}"), "category": "security", "result": "success",
            "actor": {"id": actor, "email": null, "ip": null},
            "resource": {"type": "finding", "id": id, "name": f["title"]},
            "details": {"description": format!("Finding {action}: {} ({}, {})", f["title"].as_str().unwrap_or(""), f["severity"].as_str().unwrap_or(""), f["status"].as_str().unwrap_or(""))},
            "metadata": {"record_sha256": vouch_store::blobs::sha256_hex(canonical.as_bytes()), "status": f["status"], "check_id": f["check_id"]},
        }),
    )?;
    let at = f["updated_at"].as_str().unwrap_or("").to_string();
    store.write(&mut |sql| {
        let n = sql.execute(
            "UPDATE findings SET status = $2, severity = $3, updated_at = $4, record = $5 WHERE id = $1",
            &[id.clone().into(), f["status"].as_str().unwrap_or("").into(), f["severity"].as_str().unwrap_or("").into(), at.clone().into(), canonical.clone().into()],
        )?;
        if n == 0 {
            sql.execute(
                "INSERT INTO findings (id, check_id, status, severity, updated_at, record) VALUES ($1, $2, $3, $4, $5, $6)",
                &[id.clone().into(), f["check_id"].as_str().map(str::to_string).into(), f["status"].as_str().unwrap_or("").into(), f["severity"].as_str().unwrap_or("").into(), at.clone().into(), canonical.clone().into()],
            )?;
        }
        let version = sql.query("SELECT COALESCE(MAX(version), 0) + 1 FROM finding_history WHERE finding_id = $1", &[id.clone().into()])?;
        sql.execute(
            "INSERT INTO finding_history (finding_id, version, at, record) VALUES ($1, $2, $3, $4)",
            &[id.clone().into(), version[0].int(0).into(), at.clone().into(), canonical.clone().into()],
        )?;
        Ok(())
    })?;
    Ok(Change { action, finding: f })
}

/// Store a finding record made elsewhere (an incident whose response deadline was
/// breached, say: `source` names where it comes from) as a new finding, with its first
/// version and a `finding.opened` ledger event by `by`. The record must carry the
/// fields of [`open`]'s records (`id`, `title`, `severity`, `status`, `updated_at`…).
pub fn open_record(
    store: &Store,
    ledger: &Ledger,
    record: Value,
    by: &str,
) -> Result<Value, CheckError> {
    Ok(save(store, ledger, record, "opened", by)?.finding)
}

/// Open a finding by hand, now (the system clock).
#[allow(clippy::too_many_arguments)] // one per field of the finding; callers name them all
pub fn open(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    title: &str,
    severity: &str,
    control: Option<&str>,
    description: Option<&str>,
    by: &str,
) -> Result<Value, CheckError> {
    open_at(
        store,
        ledger,
        config,
        title,
        severity,
        control,
        description,
        by,
        chrono::Utc::now(),
    )
}

/// [`open`] at a time the caller's clock gives (the scheduler's `Clock`, so findings
/// opened by jobs carry the job's time, also when tests move the clock).
#[allow(clippy::too_many_arguments)]
pub fn open_at(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    title: &str,
    severity: &str,
    control: Option<&str>,
    description: Option<&str>,
    by: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Value, CheckError> {
    if title.trim().is_empty() {
        return Err(CheckError::Invalid("a finding needs a title".into()));
    }
    if !super::defs::SEVERITIES.contains(&severity) {
        return Err(CheckError::Invalid(format!(
            "severity must be one of {}",
            super::defs::SEVERITIES.join(", ")
        )));
    }
    if let Some(c) = control {
        if !config.controls.iter().any(|x| x.id == c) && vouch_core::tsc::criterion(c).is_none() {
            return Err(CheckError::Invalid(format!(
                "`{c}` is neither a control id nor a Trust Services Criterion"
            )));
        }
    }
    let at = vouch_core::event::format_timestamp(&at);
    let f = json!({
        "id": uuid::Uuid::now_v7().to_string(), "source": "manual", "check_id": null,
        "controls": control.map(|c| vec![c]).unwrap_or_default(),
        "title": title, "description": description, "severity": severity, "status": "open",
        "first_seen": at, "last_seen": at, "occurrences": 1, "failing": [], "failing_count": 0,
        "latest_result": null, "opened_by": by, "owner": null, "notes": [],
        "resolved_at": null, "resolution": null, "created_at": at, "updated_at": at,
    });
    Ok(save(store, ledger, f, "opened", by)?.finding)
}

/// What a hand update may change.
#[derive(Debug, Default)]
pub struct Update {
    /// New status (one of [`STATUSES`]); `resolved` records who resolved it and the note.
    pub status: Option<String>,
    /// New severity.
    pub severity: Option<String>,
    /// New owner.
    pub owner: Option<String>,
    /// A note to append to the finding's notes.
    pub note: Option<String>,
}

/// Apply a hand update to the finding `id` (a unique prefix of at least 8 characters)
/// and record it in the ledger; the updated record. Errors when nothing is to change.
pub fn update(
    store: &Store,
    ledger: &Ledger,
    id: &str,
    u: &Update,
    by: &str,
) -> Result<Value, CheckError> {
    let mut f = get(store, id)?;
    if let Some(s) = &u.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(CheckError::Invalid(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
        f["status"] = json!(s);
        if s == "resolved" {
            f["resolved_at"] = json!(now());
            f["resolution"] = json!({"by": by, "note": u.note});
        } else {
            f["resolved_at"] = Value::Null;
        }
    }
    if let Some(s) = &u.severity {
        if !super::defs::SEVERITIES.contains(&s.as_str()) {
            return Err(CheckError::Invalid(format!(
                "severity must be one of {}",
                super::defs::SEVERITIES.join(", ")
            )));
        }
        f["severity"] = json!(s);
    }
    if let Some(o) = &u.owner {
        f["owner"] = json!(o);
    }
    let at = now();
    if let Some(n) = &u.note {
        if let Some(a) = f["notes"].as_array_mut() {
            a.push(json!({"at": at, "by": by, "text": n}));
        }
    }
    if u.status.is_none() && u.severity.is_none() && u.owner.is_none() && u.note.is_none() {
        return Err(CheckError::Invalid(
            "nothing to update: give a status, severity, owner or note".into(),
        ));
    }
    f["updated_at"] = json!(at);
    let action = if u.status.as_deref() == Some("resolved") {
        "resolved"
    } else {
        "updated"
    };
    Ok(save(store, ledger, f, action, by)?.finding)
}

/// The finding whose id starts with `id` (at least 8 characters, matching exactly one).
pub fn get(store: &Store, id: &str) -> Result<Value, CheckError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(CheckError::Invalid(format!(
            "`{id}` is not a finding id (give at least 8 characters of it)"
        )));
    }
    let rows = store.query(
        "SELECT record FROM findings WHERE id LIKE $1 ORDER BY id LIMIT 2",
        &[format!("{id}%").into()],
    )?;
    match rows.len() {
        0 => Err(CheckError::NotFound(id.into())),
        1 => serde_json::from_str(&rows[0].text(0)).map_err(|e| CheckError::Invalid(e.to_string())),
        _ => Err(CheckError::Invalid(format!(
            "`{id}` matches more than one finding; give more of the id"
        ))),
    }
}

/// Current findings, optionally only those with a status.
pub fn list(store: &Store, status: Option<&str>) -> Result<Vec<Value>, CheckError> {
    let rows = match status {
        Some(s) => store.query(
            "SELECT record FROM findings WHERE status = $1 ORDER BY id",
            &[s.into()],
        )?,
        None => store.query("SELECT record FROM findings ORDER BY id", &[])?,
    };
    rows.iter()
        .map(|r| serde_json::from_str(&r.text(0)).map_err(|e| CheckError::Invalid(e.to_string())))
        .collect()
}

/// Every finding as it stood at `at` (RFC 3339, fixed width), from the history.
pub fn as_of(store: &Store, at: &str) -> Result<Vec<Value>, CheckError> {
    let rows = store.query(
        "SELECT h.record FROM finding_history h WHERE h.at <= $1 AND h.version = (SELECT MAX(x.version) FROM finding_history x WHERE x.finding_id = h.finding_id AND x.at <= $1) ORDER BY h.finding_id",
        &[at.into()],
    )?;
    rows.iter()
        .map(|r| serde_json::from_str(&r.text(0)).map_err(|e| CheckError::Invalid(e.to_string())))
        .collect()
}

/// Seed 003's `POST /findings` body.
#[derive(Debug, Default)]
pub struct NewFinding<'a> {
    /// Short title of the finding.
    pub title: &'a str,
    /// Severity (one of the check severities).
    pub severity: &'a str,
    /// An organisation control id or a Trust Services Criterion (`CC6.1`).
    pub control: Option<&'a str>,
    /// Longer description.
    pub description: Option<&'a str>,
    /// How the finding is to be remediated.
    pub remediation_plan: Option<&'a str>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<&'a str>,
}

/// Open a finding by hand with seed 003's fields: as `open`, plus `control_id`,
/// `remediation_plan` and `due_date` kept in the record.
pub fn open_planned(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    n: &NewFinding<'_>,
    by: &str,
) -> Result<Value, CheckError> {
    if n.title.trim().is_empty() {
        return Err(CheckError::Invalid("a finding needs a title".into()));
    }
    if !super::defs::SEVERITIES.contains(&n.severity) {
        return Err(CheckError::Invalid(format!(
            "severity must be one of {}",
            super::defs::SEVERITIES.join(", ")
        )));
    }
    if let Some(c) = n.control {
        if !config.controls.iter().any(|x| x.id == c) && vouch_core::tsc::criterion(c).is_none() {
            return Err(CheckError::Invalid(format!(
                "control_id: `{c}` is neither a control id nor a Trust Services Criterion"
            )));
        }
    }
    if let Some(d) = n.due_date {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            return Err(CheckError::Invalid(format!(
                "due_date: `{d}` is not a date (YYYY-MM-DD)"
            )));
        }
    }
    let at = now();
    let f = json!({
        "id": uuid::Uuid::now_v7().to_string(), "source": "manual", "check_id": null,
        "controls": n.control.map(|c| vec![c]).unwrap_or_default(), "control_id": n.control,
        "title": n.title, "description": n.description, "severity": n.severity, "status": "open",
        "remediation_plan": n.remediation_plan, "due_date": n.due_date,
        "first_seen": at, "last_seen": at, "occurrences": 1, "failing": [], "failing_count": 0,
        "latest_result": null, "opened_by": by, "owner": null, "notes": [],
        "resolved_at": null, "resolution": null, "created_at": at, "updated_at": at,
    });
    Ok(save(store, ledger, f, "opened", by)?.finding)
}

/// A finding opened by another part of vouch (an access review's `revoke`, say) rather
/// than by a check or by hand: its `source` names that part and `links` says what it
/// came from (kept in the record, so a packet shows it).
#[derive(Debug)]
pub struct Raised<'a> {
    /// What opened it (`access_review`).
    pub source: &'a str,
    /// Short title.
    pub title: &'a str,
    /// Severity (one of the check severities).
    pub severity: &'a str,
    /// Trust Services Criteria or control ids it concerns.
    pub controls: Vec<String>,
    /// Longer description.
    pub description: &'a str,
    /// How it is to be remediated.
    pub remediation_plan: Option<&'a str>,
    /// What it came from (ids, hashes), as JSON.
    pub links: Value,
}

/// Open a finding raised by another part of vouch; recorded like every finding
/// (`finding.opened` in the ledger, a history version), `opened_by` is `by`.
pub fn raise(
    store: &Store,
    ledger: &Ledger,
    r: &Raised<'_>,
    by: &str,
) -> Result<Value, CheckError> {
    if !super::defs::SEVERITIES.contains(&r.severity) {
        return Err(CheckError::Invalid(format!(
            "severity must be one of {}",
            super::defs::SEVERITIES.join(", ")
        )));
    }
    let at = now();
    let f = json!({
        "id": uuid::Uuid::now_v7().to_string(), "source": r.source, "check_id": null,
        "controls": r.controls, "title": r.title, "description": r.description,
        "severity": r.severity, "status": "open", "remediation_plan": r.remediation_plan,
        "links": r.links,
        "first_seen": at, "last_seen": at, "occurrences": 1, "failing": [], "failing_count": 0,
        "latest_result": null, "opened_by": by, "owner": null, "notes": [],
        "resolved_at": null, "resolution": null, "created_at": at, "updated_at": at,
    });
    Ok(save(store, ledger, f, "opened", by)?.finding)
}

/// Resolve a finding raised by another part of vouch, recording `resolution` (what
/// showed it fixed) as given; `finding.resolved` in the ledger. A finding that is
/// already resolved is returned unchanged.
pub fn resolve_with(
    store: &Store,
    ledger: &Ledger,
    id: &str,
    resolution: Value,
    by: &str,
) -> Result<Value, CheckError> {
    let mut f = get(store, id)?;
    if f["status"] == "resolved" {
        return Ok(f);
    }
    let at = now();
    f["status"] = json!("resolved");
    f["resolved_at"] = json!(at);
    f["resolution"] = resolution;
    f["updated_at"] = json!(at);
    Ok(save(store, ledger, f, "resolved", by)?.finding)
}

//! Control status and coverage for a period.
//!
//! Statuses, most severe first (the order of [`STATUSES`], which [`rollup`] applies):
//!
//! 1. `fail` — a check found something wrong: a demonstrated exception outranks an
//!    unknown, so the auditor sees it first;
//! 2. `error` — a check could not reach a verdict (its collection failed, a policy
//!    errored, a value was not what the check needs);
//! 3. `no_evidence` — there was nothing to judge: no evidence collected for the period,
//!    a check with no data in its range, a control with no results at all;
//! 4. `not_tested` — a check has not been evaluated for the period, or evidence is stale;
//! 5. `pass` — only when every part passed.
//!
//! A check switched off by configuration (an optional part whose parameter is empty) is
//! `not_applicable`, with the reason in its message: the rollup and the exit code skip
//! it, and its evidence is not required. A control whose checks are all switched off
//! (and that names no evidence of its own) is `not_applicable` itself — never `pass` —
//! and does not make `vouch check` exit 2: it was turned off on purpose. A check with no
//! collected evidence stays `no_evidence`.
//!
//! `pass` never hides anything: one `error`, `no_evidence` or `not_tested` part keeps a
//! control from passing, and an empty set of parts is `no_evidence`. A `fail` can hide
//! an `error` in the rolled-up status; [`incomplete`] tells whether any part of a
//! control could not be judged (what `vouch check` exits 2 for).

use super::CheckError;
use crate::results::latest_results;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_evidence::{self as evidence, ListFilter};
use vouch_store::Store;

/// How old the newest item of a schedule may be before the evidence is stale.
fn freshness(schedule: Option<&str>) -> Option<Duration> {
    Some(Duration::days(match schedule? {
        "daily" => 2,
        "weekly" => 8,
        "monthly" => 32,
        "quarterly" => 93,
        "yearly" => 366,
        _ => return None,
    }))
}

/// Control statuses, most severe first: the order of precedence when rolling up. The
/// last, `not_applicable` (switched off by configuration), counts only when nothing else
/// is there: `pass` + `not_applicable` is `pass`.
pub const STATUSES: &[&str] = &[
    "fail",
    "error",
    "no_evidence",
    "not_tested",
    "pass",
    "not_applicable",
];

/// A status as a control status; anything unknown is `error`.
pub fn normalize(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|x| **x == status)
        .copied()
        .unwrap_or("error")
}

/// A stored check result's status: `not_applicable` means switched off by configuration
/// only when the result says so (`switched_off`); results stored before `no_evidence`
/// existed said `not_applicable` for "nothing collected", which is `no_evidence`.
pub fn result_status(record: &Value) -> &'static str {
    match record["status"].as_str().unwrap_or("error") {
        "not_applicable" if record["switched_off"] != true => "no_evidence",
        s => normalize(s),
    }
}

/// The status a set of statuses rolls up to: the most severe of them in the order of
/// [`STATUSES`] (fail, error, no_evidence, not_tested, pass, not_applicable). An empty
/// set is `no_evidence`: nothing was judged, so nothing passed.
pub fn rollup<'s>(statuses: impl IntoIterator<Item = &'s str>) -> &'static str {
    let seen: Vec<&str> = statuses.into_iter().map(normalize).collect();
    STATUSES
        .iter()
        .find(|s| seen.contains(s))
        .copied()
        .unwrap_or("no_evidence")
}

/// The overall (or per-category) status of a set of control statuses, one rule for
/// `vouch status` and GET /api/compliance/status: `not_assessed` when there are no
/// controls, `compliant` when all pass, `non_compliant` when any fails, `no_evidence`
/// when none had evidence to judge, `incomplete` otherwise (an error, no evidence,
/// stale evidence or not tested for some), in seed 003's vocabulary. Nothing checked is
/// never compliant; an error is not a failure of the control, so it never makes the
/// set `non_compliant` by itself, but it never lets it be `compliant` either.
pub fn overall_status(statuses: &[&str]) -> &'static str {
    if statuses.is_empty() {
        "not_assessed"
    } else if statuses.iter().all(|s| *s == "pass") {
        "compliant"
    } else if statuses.contains(&"fail") {
        "non_compliant"
    } else if statuses.iter().all(|s| *s == "no_evidence") {
        "no_evidence"
    } else {
        "incomplete"
    }
}

/// Whether any part of a control (its status, a check, an evidence state) could not be
/// judged: error, no evidence, not tested or stale — even when the control fails.
pub fn incomplete(control: &Value) -> bool {
    let bad = |s: &Value| {
        !matches!(
            normalize(s.as_str().unwrap_or("error")),
            "pass" | "fail" | "not_applicable"
        )
    };
    bad(&control["status"])
        || control["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| bad(&c["status"]))
        || control["evidence_state"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["state"] != "current")
}

/// The built-in ledger-integrity control's status: `fail` when the ledger does not
/// verify, `no_evidence` when there is nothing to vouch for (an empty ledger, or no
/// event in the period), `pass` otherwise.
pub fn ledger_status(valid: bool, verified_entries: u64, period_events: u64) -> &'static str {
    if !valid {
        "fail"
    } else if verified_entries == 0 || period_events == 0 {
        "no_evidence"
    } else {
        "pass"
    }
}

/// Every configured control for `period`: status, check results, evidence state and
/// coverage. `as_of` limits results and items to those that existed then (packets).
pub fn evaluate(
    config: &Config,
    store: &Store,
    period: &Period,
    now: DateTime<Utc>,
    as_of: Option<&str>,
) -> Result<Vec<Value>, CheckError> {
    let results = latest_results(store, period, as_of)?;
    let reference = now.min(period.end);
    let mut out = Vec::new();
    for c in &config.controls {
        let mut statuses = Vec::new();
        let mut checks = Vec::new();
        let mut evidence_ids: Vec<String> = c.evidence.clone();
        for id in &c.checks {
            let def = config.checks.iter().find(|d| &d.id == id);
            let result = results.iter().find(|r| r["check_id"] == id.as_str());
            // A check switched off does not need its evidence.
            let off = result.is_some_and(|r| result_status(r) == "not_applicable");
            for e in def.map(|d| d.inputs()).unwrap_or_default() {
                if !off && !evidence_ids.iter().any(|x| x == e) {
                    evidence_ids.push(e.to_string());
                }
            }
            match result {
                Some(r) => {
                    let s = result_status(r);
                    statuses.push(s.to_string());
                    checks.push(json!({
                        "id": id, "title": r["title"], "status": s, "evaluated_at": r["evaluated_at"],
                        "detail": r["message"], "evidence": r["evidence"].as_array().into_iter().flatten().map(|e| e["item_id"].clone()).collect::<Vec<_>>(),
                        "result_id": r["id"], "failing_count": r["failing_count"], "definition_sha256": r["definition_sha256"],
                    }));
                }
                None => {
                    statuses.push("not_tested".into());
                    checks.push(json!({
                        "id": id, "title": def.map(|d| d.title.clone()).unwrap_or_default(), "status": "not_tested",
                        "evaluated_at": null, "detail": format!("not evaluated for {}", period.label), "evidence": [],
                    }));
                }
            }
        }
        let mut evidence_state = Vec::new();
        let mut unit = "month";
        let mut covered = std::collections::BTreeSet::new();
        for id in &evidence_ids {
            let schedule = config.evidence_def(id).and_then(|d| d.schedule.as_deref());
            match schedule {
                Some("daily") => unit = "day",
                Some("weekly") if unit != "day" => unit = "week",
                _ => {}
            }
            let items: Vec<_> = evidence::list(
                store,
                &ListFilter {
                    evidence_id: Some(id.clone()),
                    period: Some(period.clone()),
                    limit: None,
                },
            )?
            .into_iter()
            .filter(|i| {
                i.ok() && as_of.is_none_or(|a| i.record["finished_at"].as_str().unwrap_or("") <= a)
            })
            .collect();
            for i in &items {
                covered.insert(bucket_of(i, period, unit));
            }
            let newest = items
                .iter()
                .filter_map(|i| vouch_core::checks::parse_time(&i.record["effective_at"]))
                .max();
            let state = match (newest, freshness(schedule)) {
                (None, _) => "missing",
                (Some(t), Some(f)) if t < reference - f => "stale",
                _ => "current",
            };
            match state {
                "missing" => statuses.push("no_evidence".into()),
                "stale" => statuses.push("not_tested".into()),
                _ => {}
            }
            evidence_state.push(json!({"id": id, "state": state, "items": items.len(), "newest_effective_at": newest.map(|t| ts(&t))}));
        }
        let status = rollup(statuses.iter().map(String::as_str));
        let all = buckets(period, unit);
        let gaps: Vec<&String> = all.iter().filter(|b| !covered.contains(*b)).collect();
        out.push(json!({
            "id": c.id, "title": c.title, "description": c.description.clone().unwrap_or_default(),
            "criteria": c.criteria, "status": status, "owner": c.owner,
            "checks": checks, "evidence": evidence_ids, "evidence_state": evidence_state,
            "coverage": {"unit": unit, "buckets": all.len(), "covered": covered.iter().filter(|b| all.contains(b)).collect::<Vec<_>>(), "gaps": gaps},
        }));
    }
    Ok(out)
}

fn label(t: DateTime<Utc>, unit: &str) -> String {
    match unit {
        "day" => t.format("%Y-%m-%d").to_string(),
        "week" => t.format("%G-W%V").to_string(),
        _ => t.format("%Y-%m").to_string(),
    }
}

/// The bucket an item counts for: its effective time when inside the period, otherwise
/// the last moment of the period it was collected for.
fn bucket_of(item: &evidence::Item, period: &Period, unit: &str) -> String {
    let eff = vouch_core::checks::parse_time(&item.record["effective_at"]);
    let t = match eff {
        Some(t) if period.contains(t) => t,
        _ => vouch_core::checks::parse_time(&item.record["period"]["end"])
            .map(|e| e - Duration::microseconds(1))
            .unwrap_or(period.start),
    };
    label(t, unit)
}

fn buckets(period: &Period, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = period.start;
    while t < period.end {
        let l = label(t, unit);
        if out.last() != Some(&l) {
            out.push(l);
        }
        t += Duration::days(1);
    }
    out
}

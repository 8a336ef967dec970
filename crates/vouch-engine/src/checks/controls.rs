//! Control status and coverage for a period. A control fails if one of its checks
//! failed, is in error if one errored, is not tested if a check did not run or its
//! evidence is missing or stale, and passes otherwise.

use super::run::latest_results;
use super::CheckError;
use crate::evidence::{self, ListFilter};
use crate::Config;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
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

/// Statuses in order of precedence when rolling up.
pub const STATUSES: &[&str] = &["fail", "error", "not_tested", "pass"];

/// The status a set of statuses rolls up to: fail, then error, then not_tested, else
/// pass (an empty set is not tested).
pub fn rollup<'s>(statuses: impl IntoIterator<Item = &'s str>) -> &'static str {
    let seen: Vec<&str> = statuses.into_iter().collect();
    if seen.is_empty() {
        return "not_tested";
    }
    STATUSES
        .iter()
        .find(|s| seen.contains(s))
        .copied()
        .unwrap_or("not_tested")
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
            for e in def.map(|d| d.inputs()).unwrap_or_default() {
                if !evidence_ids.iter().any(|x| x == e) {
                    evidence_ids.push(e.to_string());
                }
            }
            match results.iter().find(|r| r["check_id"] == id.as_str()) {
                Some(r) => {
                    let s = match r["status"].as_str().unwrap_or("error") {
                        "not_applicable" => "not_tested",
                        s => s,
                    };
                    statuses.push(s.to_string());
                    checks.push(json!({
                        "id": id, "title": r["title"], "status": r["status"], "evaluated_at": r["evaluated_at"],
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
            if state != "current" {
                statuses.push("not_tested".into());
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

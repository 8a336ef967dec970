//! Automatic incidents (seed 003's `SOC2_INCIDENT_AUTO_CREATE`): `[[incidents.rule]]`
//! over the events the API ingests and over check results. At most one incident per
//! rule and key is open at a time: the claim is the unique `open_key` column, so it
//! holds across concurrent requests and processes. Further matches while that incident
//! is open do not open another: they add one `rule_matched` timeline entry per batch of
//! events (or check run) and key, with the count, never one entry per event. vouch's own
//! events never count.

use super::{
    add_rule_match, open_automatic, open_for_key, Incident, IncidentError, NewIncident, Trigger,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use vouch_config::incidents::IncidentRule;
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::parse_instant;
use vouch_ledger::Ledger;
use vouch_store::Store;

/// Most event ids kept in an incident's trigger.
const MAX_REFS: usize = 50;

fn field<'a>(e: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let mut v = e.get(path[0])?;
    for p in &path[1..] {
        v = v.get(p)?;
    }
    v.as_str()
}

/// Whether an event (its fields) matches a rule's action, category and result.
pub fn matches(rule: &IncidentRule, e: &Map<String, Value>) -> bool {
    let eq = |want: &Option<String>, path: &[&str]| {
        want.as_deref()
            .is_none_or(|w| field(e, path).is_some_and(|v| v == w))
    };
    let action_ok = rule.action.as_deref().is_none_or(|w| {
        field(e, &["action"]).is_some_and(|a| a == w || a.split('.').any(|part| part == w))
    });
    action_ok && eq(&rule.category, &["category"]) && eq(&rule.result, &["result"])
}

/// The key an event counts under for a rule: the actor id, the actor's IP, or "" (no
/// `per`). `None` when the event has no such value (it cannot count per actor or IP).
pub fn key_of(rule: &IncidentRule, e: &Map<String, Value>) -> Option<String> {
    match rule.per.as_deref() {
        Some("actor") => field(e, &["actor", "id"]).map(str::to_string),
        Some("ip") => field(e, &["actor", "ip"]).map(str::to_string),
        _ => Some(String::new()),
    }
}

fn title_of(rule: &IncidentRule, key: &str, count: u64) -> String {
    if let Some(t) = &rule.title {
        return if key.is_empty() {
            t.clone()
        } else {
            format!("{t} ({key})")
        };
    }
    let what = [
        rule.action.as_deref().map(|a| format!("`{a}`")),
        rule.category.clone(),
        rule.result.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let by = match rule.per.as_deref() {
        Some("actor") => format!(" by actor {key}"),
        Some("ip") => format!(" from {key}"),
        _ => String::new(),
    };
    match rule.window() {
        Some(w) => format!("{count} {what} events{by} within {}", super::human(w)),
        None => format!("{what} event{by}"),
    }
}

/// Evaluate the event rules after `events` (the fields of events just appended) were
/// ingested; the incidents opened. Counting rules read the ledger's matching events in
/// the window before each new event (ledger time, `ts`), so bursts spread over several
/// requests are seen.
pub fn on_events(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    events: &[Map<String, Value>],
    now: DateTime<Utc>,
) -> Result<Vec<Incident>, IncidentError> {
    let settings = &config.settings.incidents;
    if !settings.auto_create_enabled() || events.is_empty() {
        return Ok(Vec::new());
    }
    let mut opened = Vec::new();
    for rule in settings.rule.iter().filter(|r| r.on == "events") {
        // The new matching events, by key, each with its time and id.
        let mut fresh: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for e in events.iter().filter(|e| matches(rule, e)) {
            let Some(k) = key_of(rule, e) else { continue };
            let t = field(e, &["timestamp"]).unwrap_or_default().to_string();
            let id = field(e, &["id"]).unwrap_or_default().to_string();
            fresh.entry(k).or_default().push((t, id));
        }
        for (key, mut new) in fresh {
            new.sort();
            let open_key = format!("{}:{key}", rule.id);
            if open_for_key(store, &open_key)?.is_some() {
                // Already open for this key: every new matching event is more of it.
                let m = matched(rule, &key, &new);
                if add_rule_match(store, ledger, &open_key, &m, now)?.is_some() {
                    continue;
                }
            }
            let hit = match rule.window() {
                None if rule.more_than == 0 => Some(new.clone()),
                None => None,
                Some(w) => burst(store, rule, &key, &new, w)?,
            };
            let Some(hit) = hit else { continue };
            let count = hit.len() as u64;
            let trigger = Trigger {
                rule: rule.id.clone(),
                key: key.clone(),
                count,
                first_at: hit.first().map(|h| h.0.clone()).unwrap_or_default(),
                last_at: hit.last().map(|h| h.0.clone()).unwrap_or_default(),
                refs: hit.iter().take(MAX_REFS).map(|h| h.1.clone()).collect(),
            };
            let n = NewIncident {
                title: title_of(rule, &key, count),
                severity: rule.severity.clone(),
                description: Some(format!(
                    "Opened by rule `{}`: {count} matching event(s) from {} to {}.",
                    rule.id, trigger.first_at, trigger.last_at
                )),
                affected_systems: Vec::new(),
                detected_at: None,
                detected_by: Some(format!("vouch rule {}", rule.id)),
            };
            if let Some(i) = open_automatic(store, ledger, config, &n, trigger, now)? {
                opened.push(i);
            } else {
                // Another request opened it meanwhile: these events are more of it.
                add_rule_match(store, ledger, &open_key, &matched(rule, &key, &new), now)?;
            }
        }
    }
    Ok(opened)
}

/// A batch of new matching events of one key, as a repeated match.
fn matched(rule: &IncidentRule, key: &str, new: &[(String, String)]) -> Trigger {
    Trigger {
        rule: rule.id.clone(),
        key: key.to_string(),
        count: new.len() as u64,
        first_at: new.first().map(|h| h.0.clone()).unwrap_or_default(),
        last_at: new.last().map(|h| h.0.clone()).unwrap_or_default(),
        refs: new.iter().take(MAX_REFS).map(|h| h.1.clone()).collect(),
    }
}

/// The matching events of `key` in the window ending at the first new event where more
/// than `rule.more_than` fall within `w`; `None` if no window ending at a new event has
/// that many.
fn burst(
    store: &Store,
    rule: &IncidentRule,
    key: &str,
    new: &[(String, String)],
    w: chrono::Duration,
) -> Result<Option<Vec<(String, String)>>, IncidentError> {
    let (Some(first), Some(last)) = (
        new.first().and_then(|n| parse_instant(&n.0)),
        new.last().and_then(|n| parse_instant(&n.0)),
    ) else {
        return Ok(None);
    };
    // A cheap pre-filter on the canonical leaf; every leaf is matched exactly below.
    let like = match (&rule.result, &rule.category) {
        (Some(r), _) => format!("%\"result\":{}%", Value::from(r.as_str())),
        (None, Some(c)) => format!("%\"category\":{}%", Value::from(c.as_str())),
        _ => "%".into(),
    };
    let rows = store.query(
        "SELECT leaf FROM ledger_entries WHERE ts >= $1 AND ts <= $2 AND leaf LIKE $3 ORDER BY ts, seq",
        &[ts(&(first - w)).into(), ts(&last).into(), like.into()],
    )?;
    let mut seen: Vec<(String, String)> = Vec::new();
    for r in rows {
        let leaf = r.text(0);
        if leaf.is_empty() || vouch_ledger::audit::is_own(leaf.as_bytes()) {
            continue;
        }
        let Ok(Value::Object(e)) = serde_json::from_str::<Value>(&leaf) else {
            continue;
        };
        if matches(rule, &e) && key_of(rule, &e).as_deref() == Some(key) {
            seen.push((
                field(&e, &["timestamp"]).unwrap_or_default().to_string(),
                field(&e, &["id"]).unwrap_or_default().to_string(),
            ));
        }
    }
    seen.sort();
    seen.dedup();
    let limit = rule.more_than as usize;
    for (t, _) in new {
        let Some(end) = parse_instant(t) else {
            continue;
        };
        let start = ts(&(end - w));
        let window: Vec<(String, String)> = seen
            .iter()
            .filter(|(s, _)| s.as_str() > start.as_str() && s.as_str() <= t.as_str())
            .cloned()
            .collect();
        if window.len() > limit {
            return Ok(Some(window));
        }
    }
    Ok(None)
}

/// Evaluate the check rules after a check run: a `fail` whose severity the rule names
/// opens an incident keyed by the check id. The incidents opened.
pub fn on_check_results(
    store: &Store,
    ledger: &Ledger,
    config: &Config,
    results: &[vouch_checks::results::CheckResult],
    now: DateTime<Utc>,
) -> Result<Vec<Incident>, IncidentError> {
    let settings = &config.settings.incidents;
    if !settings.auto_create_enabled() {
        return Ok(Vec::new());
    }
    let mut opened = Vec::new();
    for rule in settings.rule.iter().filter(|r| r.on == "checks") {
        let severities = rule.check_severities();
        for r in results
            .iter()
            .filter(|r| r.status == "fail" && severities.contains(&r.severity))
        {
            let trigger = Trigger {
                rule: rule.id.clone(),
                key: r.check_id.clone(),
                count: 1,
                first_at: r.evaluated_at.clone(),
                last_at: r.evaluated_at.clone(),
                refs: vec![r.id.clone()],
            };
            let n = NewIncident {
                title: match &rule.title {
                    Some(t) => format!("{t} ({})", r.check_id),
                    None => format!("{} check failed: {}", r.severity, r.title),
                },
                severity: rule.severity.clone(),
                description: Some(format!(
                    "Opened by rule `{}`: check {} ({} severity) failed for {}: {}",
                    rule.id, r.check_id, r.severity, r.period.label, r.message
                )),
                affected_systems: Vec::new(),
                detected_at: None,
                detected_by: Some(format!("vouch rule {}", rule.id)),
            };
            let open_key = format!("{}:{}", trigger.rule, trigger.key);
            let again = trigger.clone();
            if let Some(i) = open_automatic(store, ledger, config, &n, trigger, now)? {
                opened.push(i);
            } else {
                // The check's incident is still open: this failing run is more of it.
                add_rule_match(store, ledger, &open_key, &again, now)?;
            }
        }
    }
    Ok(opened)
}

//! The assessment-results document: one result for the period.
//!
//! - `reviewed-controls`: the Trust Services Criteria the organisation's controls address.
//! - `findings`: one per criterion (its determination: `satisfied` only when every
//!   control on it passed; anything not judged — no evidence, not tested, an error — is
//!   `not-satisfied` with the reason in its remarks), then one per vouch finding of the
//!   period (an exception: always `not-satisfied`, its vouch status in a property).
//! - `observations`: one per evidence item (`EXAMINE`) and per check result (`TEST`),
//!   whose `relevant-evidence` links the artifact in the export with its SHA-256 and the
//!   ledger sequence number of the event that recorded it.

use crate::{ids, Data, NS, OSCAL_VERSION, TSC_SOURCE};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use vouch_checks::controls::{overall_status, rollup};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_core::tsc;

/// Counts for the command's report.
pub(crate) struct Summary {
    pub as_of: String,
    pub overall_status: String,
    pub criteria: usize,
    pub satisfied: usize,
    pub observations: usize,
    pub findings: usize,
}

/// A vouch property, or nothing when the value is empty (OSCAL values may not be).
pub(crate) fn prop(name: &str, value: impl AsRef<str>) -> Option<Value> {
    let v = value.as_ref().trim();
    (!v.is_empty()).then(|| json!({"name": name, "ns": NS, "value": v}))
}

/// A JSON value as text (strings unquoted, numbers printed, null empty).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Criteria in the AICPA order, unknown ids after them in text order.
pub(crate) fn tsc_order(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let set: BTreeSet<String> = ids.into_iter().collect();
    let pos = |c: &str| {
        tsc::CRITERIA
            .iter()
            .position(|x| x.id == c)
            .unwrap_or(usize::MAX)
    };
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_by(|a, b| pos(a).cmp(&pos(b)).then(a.cmp(b)));
    v
}

/// The short topic of a criterion.
pub(crate) fn topic(c: &str) -> &'static str {
    tsc::CRITERIA
        .iter()
        .find(|x| x.id == c)
        .map_or("", |x| x.topic)
}

/// An OSCAL token (`target-id`): letters, digits, `.`, `-`, `_`, starting with a letter
/// or `_`.
fn token(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        t.insert(0, '_');
    }
    t
}

fn compact(v: Vec<Option<Value>>) -> Vec<Value> {
    v.into_iter().flatten().collect()
}

/// How an item was produced, in one phrase (the packet's `produced_by.query`).
fn produced_by(r: &Value) -> String {
    let op = vouch_evidence::Operation::of_record(r);
    op.query
        .clone()
        .or_else(|| op.command())
        .or_else(|| op.url.as_ref().map(|u| format!("GET {u}")))
        .or_else(|| op.glob.as_ref().map(|g| format!("files matching {g}")))
        .or_else(|| op.upload.as_ref().map(|u| format!("uploaded {u}")))
        .unwrap_or_default()
}

fn item_observation(origin: &str, i: &vouch_evidence::Item) -> Value {
    let r = &i.record;
    let id = i.id();
    let sha = text(&r["sha256"]);
    let seq = i.ledger_seq.map(|s| s.to_string()).unwrap_or_default();
    let count = r["count"].as_u64().unwrap_or(1);
    let how = produced_by(r);
    let mut props = compact(vec![
        prop("evidence-id", text(&r["evidence_id"])),
        prop("evidence-item-id", id),
        prop("row-count", count.to_string()),
        prop("media-type", text(&r["media_type"])),
        prop("effective-at", text(&r["effective_at"])),
    ]);
    for c in r["criteria"].as_array().into_iter().flatten() {
        props.extend(prop("criterion", text(c)));
    }
    json!({
        "uuid": ids::id(&[origin, "observation", "evidence-item", id]),
        "title": format!("Evidence: {}", text(&r["title"])),
        "description": format!(
            "{count} row(s) of evidence `{}` for {}, collected {} from the {} source `{}`{}.",
            text(&r["evidence_id"]),
            text(&r["period"]["label"]),
            text(&r["finished_at"]),
            text(&r["source"]["kind"]),
            text(&r["source"]["name"]),
            if how.is_empty() { String::new() } else { format!(" by: {how}") }
        ),
        "props": props,
        "methods": ["EXAMINE"],
        "relevant-evidence": [{
            "href": format!("{}/{sha}", crate::EVIDENCE_DIR),
            "description": format!("The collected content, as stored (SHA-256 {sha}); its record is hashed into ledger entry {}.", if seq.is_empty() { String::from("(none recorded)") } else { seq.clone() }),
            "props": compact(vec![prop("sha256", &sha), prop("ledger-seq", &seq), prop("evidence-item-id", id)]),
        }],
        "collected": text(&r["finished_at"]),
    })
}

fn result_observation(origin: &str, r: &Value, record_sha: &str) -> Value {
    let id = text(&r["id"]);
    let status = vouch_checks::controls::result_status(r);
    let seq = text(&r["ledger_seq"]);
    let mut props = compact(vec![
        prop("check-id", text(&r["check_id"])),
        prop("check-result-id", &id),
        prop("vouch-status", status),
        prop("check-kind", text(&r["kind"])),
        prop("severity", text(&r["severity"])),
        prop("failing-count", text(&r["failing_count"])),
        prop("definition-sha256", text(&r["definition_sha256"])),
        prop("reference-time", text(&r["reference_time"])),
    ]);
    for c in r["controls"].as_array().into_iter().flatten() {
        props.extend(prop("control", text(c)));
    }
    let mut evidence = vec![json!({
        "href": format!("{}/{id}.json", crate::RESULTS_DIR),
        "description": format!("The stored check result (canonical JSON, SHA-256 {record_sha}), the record_sha256 of its check.evaluated event at ledger entry {}.", if seq.is_empty() { String::from("(none recorded)") } else { seq.clone() }),
        "props": compact(vec![prop("sha256", record_sha), prop("ledger-seq", &seq), prop("check-result-id", &id)]),
    })];
    for e in r["evidence"].as_array().into_iter().flatten() {
        let sha = text(&e["sha256"]);
        let item = text(&e["item_id"]);
        evidence.push(json!({
            "href": format!("{}/{sha}", crate::EVIDENCE_DIR),
            "description": format!("Evidence item {item} (`{}`) read by the check.", text(&e["evidence_id"])),
            "props": compact(vec![prop("sha256", &sha), prop("ledger-seq", text(&e["ledger_seq"])), prop("evidence-item-id", &item)]),
        }));
    }
    let msg = text(&r["message"]);
    json!({
        "uuid": ids::id(&[origin, "observation", "check-result", &id]),
        "title": format!("Check {}: {status}", text(&r["check_id"])),
        "description": if msg.trim().is_empty() { format!("Check {} evaluated: {status}.", text(&r["check_id"])) } else { msg },
        "props": props,
        "methods": ["TEST"],
        "relevant-evidence": evidence,
        "collected": text(&r["evaluated_at"]),
    })
}

/// Why a status is not a pass, for remarks.
fn explain(status: &str) -> &'static str {
    match status {
        "fail" => "a check found exceptions",
        "error" => "a check could not reach a verdict (collection or evaluation error)",
        "no_evidence" => {
            "no_evidence: nothing was collected or judged for the period, so nothing is claimed"
        }
        "not_tested" => {
            "not_tested: a check was not evaluated for the period, or its evidence is stale"
        }
        "not_applicable" => "switched off by configuration: not assessed, so not claimed satisfied",
        _ => "",
    }
}

/// The assessment-results document and its summary. `cd_refs` are the component
/// definitions written beside it (path, SHA-256).
pub(crate) fn document(
    config: &Config,
    data: &Data,
    cd_refs: &[(String, String)],
    result_shas: &std::collections::BTreeMap<String, String>,
    period: &Period,
) -> (Value, Summary) {
    let origin = config.settings.ledger.origin.as_str();
    let org = config.settings.organization.name.as_str();
    let at = ts(&data.at);
    let start = ts(&period.start);
    let end_t: DateTime<Utc> = period.end.min(data.at).max(period.start);
    let doc_uuid = ids::id(&[
        origin,
        "assessment-results",
        &period.label,
        &start,
        &ts(&period.end),
        &at,
    ]);
    let plan_uuid = ids::id(&[origin, "assessment-plan", &doc_uuid]);
    let tsc_uuid = ids::id(&[origin, "catalog", TSC_SOURCE]);

    // Observations: items, then check results.
    let mut observations: Vec<Value> = data
        .items
        .iter()
        .map(|i| item_observation(origin, i))
        .collect();
    let obs_of_item = |id: &str| ids::id(&[origin, "observation", "evidence-item", id]);
    let obs_of_result = |id: &str| ids::id(&[origin, "observation", "check-result", id]);
    for r in &data.results {
        let sha = result_shas.get(&text(&r["id"])).map_or("", String::as_str);
        observations.push(result_observation(origin, r, sha));
    }

    // Criteria and their determinations.
    let criteria = tsc_order(
        data.controls
            .iter()
            .flat_map(|c| c["criteria"].as_array().cloned().unwrap_or_default())
            .map(|c| text(&c)),
    );
    let mut findings = Vec::new();
    let mut satisfied = 0;
    for c in &criteria {
        let ctls: Vec<&Value> = data
            .controls
            .iter()
            .filter(|x| {
                x["criteria"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|y| y == c.as_str()))
            })
            .collect();
        let status = rollup(ctls.iter().map(|x| x["status"].as_str().unwrap_or("error")));
        let ok = status == "pass";
        satisfied += usize::from(ok);
        let mut related = BTreeSet::new();
        let mut lines = Vec::new();
        let mut props = compact(vec![
            prop("finding-kind", "criterion-determination"),
            prop("vouch-status", status),
        ]);
        for x in &ctls {
            props.extend(prop("control", text(&x["id"])));
            let mut checks = Vec::new();
            for k in x["checks"].as_array().into_iter().flatten() {
                checks.push(format!("{} {}", text(&k["id"]), text(&k["status"])));
                if let Some(rid) = k["result_id"].as_str() {
                    related.insert(obs_of_result(rid));
                }
            }
            let direct: Vec<String> = x["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            for i in &data.items {
                if direct.iter().any(|d| *d == text(&i.record["evidence_id"])) {
                    related.insert(obs_of_item(i.id()));
                }
            }
            lines.push(format!(
                "- {} ({}): {}{}",
                text(&x["id"]),
                text(&x["title"]),
                text(&x["status"]),
                if checks.is_empty() {
                    String::new()
                } else {
                    format!("; checks: {}", checks.join(", "))
                }
            ));
        }
        let remarks = if ok {
            "Every control addressing this criterion passed for the period.".to_string()
        } else {
            format!("Not satisfied: {}.", explain(status))
        };
        let mut target = json!({
            "type": "objective-id",
            "target-id": token(c),
            "title": format!("Trust Services Criterion {c}"),
            "status": {
                "state": if ok { "satisfied" } else { "not-satisfied" },
                "reason": match status { "pass" => "pass", "fail" => "fail", _ => "other" },
                "remarks": remarks,
            },
        });
        if status == "not_applicable" {
            target["implementation-status"] =
                json!({"state": "not-applicable", "remarks": explain(status)});
        }
        let mut f = json!({
            "uuid": ids::id(&[&doc_uuid, "finding", "criterion", c]),
            "title": format!("{c}: {}", topic(c)),
            "description": format!(
                "{c} ({}) is addressed by {} control(s) of {org}. Status for {} as of {at}: {status}.\n\n{}",
                topic(c), ctls.len(), period.label, lines.join("\n")
            ),
            "props": props,
            "target": target,
        });
        if !related.is_empty() {
            f["related-observations"] = related
                .into_iter()
                .map(|u| json!({"observation-uuid": u}))
                .collect();
        }
        if !ok {
            f["remarks"] = json!(explain(status));
        }
        findings.push(f);
    }

    // vouch findings: exceptions against the criteria of their controls.
    let result_ids: BTreeSet<String> = data.results.iter().map(|r| text(&r["id"])).collect();
    let mut exported = 0;
    for f in &data.findings {
        let ctl_ids: Vec<String> = f["controls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .chain(f["control_id"].as_str().map(String::from))
            .collect();
        let mut crit: Vec<String> = config
            .controls
            .iter()
            .filter(|c| ctl_ids.contains(&c.id))
            .flat_map(|c| c.criteria.clone())
            .collect();
        crit.extend(
            ctl_ids
                .iter()
                .filter(|i| tsc::CRITERIA.iter().any(|x| x.id == i.as_str()))
                .cloned(),
        );
        let crit = tsc_order(crit);
        let target_id = crit
            .first()
            .cloned()
            .or_else(|| ctl_ids.first().cloned())
            .unwrap_or_else(|| "unmapped".into());
        let id = text(&f["id"]);
        let vstatus = text(&f["status"]);
        let mut props = compact(vec![
            prop("finding-kind", "exception"),
            prop("finding-id", &id),
            prop("finding-status", &vstatus),
            prop("severity", text(&f["severity"])),
            prop("source", text(&f["source"])),
            prop("check-id", text(&f["check_id"])),
            prop("first-seen", text(&f["first_seen"])),
            prop("last-seen", text(&f["last_seen"])),
            prop("resolved-at", text(&f["resolved_at"])),
            prop("occurrences", text(&f["occurrences"])),
            prop("failing-count", text(&f["failing_count"])),
        ]);
        for c in &ctl_ids {
            props.extend(prop("control", c));
        }
        for c in &crit {
            props.extend(prop("criterion", c));
        }
        let related: Vec<Value> = f["latest_result"]["result_id"]
            .as_str()
            .filter(|r| result_ids.contains(*r))
            .map(String::from)
            .or_else(|| {
                data.results
                    .iter()
                    .find(|r| r["check_id"] == f["check_id"] && !f["check_id"].is_null())
                    .map(|r| text(&r["id"]))
            })
            .map(|r| json!({"observation-uuid": obs_of_result(&r)}))
            .into_iter()
            .collect();
        let title = text(&f["title"]);
        let desc = text(&f["description"]);
        let mut o = json!({
            "uuid": ids::id(&[&doc_uuid, "finding", "vouch", &id]),
            "title": if title.trim().is_empty() { format!("Finding {id}") } else { title.clone() },
            "description": if desc.trim().is_empty() { if title.trim().is_empty() { format!("vouch finding {id}") } else { title } } else { desc },
            "props": props,
            "target": {
                "type": "objective-id",
                "target-id": token(&target_id),
                "title": if crit.is_empty() { format!("vouch control {target_id} (no Trust Services Criterion mapped)") } else { format!("Trust Services Criterion {target_id}") },
                "status": {
                    "state": "not-satisfied",
                    "reason": "fail",
                    "remarks": format!("vouch finding {id}, {vstatus} as of {at}: an exception in the period, whatever its later remediation."),
                },
            },
        });
        if !related.is_empty() {
            o["related-observations"] = json!(related);
        }
        if let Some(r) = f["resolution"].as_str().filter(|r| !r.trim().is_empty()) {
            o["remarks"] = json!(format!("Resolution: {r}"));
        }
        findings.push(o);
        exported += 1;
    }

    let statuses: Vec<&str> = data
        .controls
        .iter()
        .map(|c| c["status"].as_str().unwrap_or("error"))
        .collect();
    let overall = overall_status(&statuses);
    let checked = !data.results.is_empty();
    let mut result = json!({
        "uuid": ids::id(&[&doc_uuid, "result"]),
        "title": format!("SOC 2 evidence for {org}, {}", period.label),
        "description": format!(
            "vouch's automated assessment of {org}'s controls against the AICPA Trust Services Criteria for {} ({start} to {}, end exclusive), as of {at}: the latest stored check results, the evidence items collected and the findings as they stood then. Overall status: {overall}.",
            period.label, ts(&period.end)
        ),
        "start": start,
        "end": ts(&end_t),
        "props": compact(vec![
            prop("period", &period.label),
            prop("as-of", &at),
            prop("overall-status", overall),
            prop("criteria-satisfied", format!("{satisfied} of {}", criteria.len())),
        ]),
        "reviewed-controls": {
            "description": format!("The Trust Services Criteria addressed by {org}'s controls ({TSC_SOURCE})."),
            "control-selections": [{
                "description": "Criteria named by the organisation's [[control]] definitions.",
                "include-controls": criteria.iter().map(|c| json!({"control-id": token(c)})).collect::<Vec<_>>(),
            }],
        },
    });
    if !observations.is_empty() {
        result["observations"] = json!(observations);
    }
    if !findings.is_empty() {
        result["findings"] = json!(findings);
    }
    if !checked {
        result["remarks"] = json!(format!(
            "no_evidence: no check was evaluated for {} as of {at}; no criterion is claimed satisfied.",
            period.label
        ));
    }

    let mut plan_links: Vec<Value> = cd_refs
        .iter()
        .map(|(p, sha)| json!({"href": p, "media-type": "application/json", "hashes": [{"algorithm": "SHA-256", "value": sha}]}))
        .collect();
    plan_links.sort_by(|a, b| text(&a["href"]).cmp(&text(&b["href"])));
    let mut plan = json!({
        "uuid": plan_uuid,
        "title": "Assessment plan: vouch configuration",
        "description": "No separate OSCAL assessment plan is produced. The plan is vouch's configuration: the evidence definitions, checks (each bound to its definition's SHA-256) and controls of vouch.toml and its packs, described by the component definitions linked here.",
    });
    if !plan_links.is_empty() {
        plan["rlinks"] = json!(plan_links);
    }
    let doc = json!({
        "assessment-results": {
            "uuid": doc_uuid,
            "metadata": {
                "title": format!("SOC 2 assessment results: {org}, {}", period.label),
                "last-modified": at,
                "version": format!("{} as of {at}", period.label),
                "oscal-version": OSCAL_VERSION,
                "props": compact(vec![
                    prop("generator", format!("vouch {}", vouch_core::VERSION)),
                    prop("ledger-origin", origin),
                ]),
                "parties": [{
                    "uuid": ids::id(&[origin, "party", org]),
                    "type": "organization",
                    "name": org,
                }],
                "remarks": "Generated by vouch from its tamper-evident ledger. Each observation links the artifact it rests on (in this export, named by its SHA-256 or id) and the ledger entry that recorded it; a criterion is satisfied only when every control on it passed.",
            },
            "import-ap": {
                "href": format!("#{plan_uuid}"),
                "remarks": "A back-matter resource: vouch's configuration is the plan.",
            },
            "results": [result],
            "back-matter": {
                "resources": [plan, {
                    "uuid": tsc_uuid,
                    "title": "AICPA 2017 Trust Services Criteria (with revised points of focus, 2022)",
                    "description": "The criteria the control ids (CC6.1, A1.2, …) refer to. The AICPA does not publish them as an OSCAL catalog.",
                    "rlinks": [{"href": TSC_SOURCE}],
                }],
            },
        }
    });
    let summary = Summary {
        as_of: at,
        overall_status: overall.to_string(),
        criteria: criteria.len(),
        satisfied,
        observations: observations.len(),
        findings: exported,
    };
    (doc, summary)
}

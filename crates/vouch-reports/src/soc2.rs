//! The `soc2` report: the packet's organisation section (controls with their check
//! results, evidence, findings, coverage, as of generation time) restricted to the
//! requested criteria, with a result per criterion. A criterion no control maps to, or
//! whose controls judged nothing, is `no_evidence`, never `pass`.

use crate::{Built, Ctx, Error, Request, Table};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use vouch_checks::controls;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_packet::build::LEDGER_CONTROL;

fn has_any(list: &Value, ids: &[&str]) -> bool {
    list.as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x.as_str().is_some_and(|s| ids.contains(&s)))
    })
}

/// Build the soc2 report.
pub fn build(
    ctx: &Ctx<'_>,
    req: &Request,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Built, Error> {
    let section = vouch_packet::rules::section(ctx.config, ctx.store, period, &now)?;
    // As in the packet, vouch's own control comes first: the ledger's integrity.
    let mut all_controls = vec![ledger_control(ctx, period, now)?];
    all_controls.extend(section.controls.iter().cloned());
    let scope: Vec<&str> = req.criteria.iter().map(String::as_str).collect();
    let in_scope: Vec<&Value> = all_controls
        .iter()
        .filter(|c| has_any(&c["criteria"], &scope))
        .collect();
    let control_ids: Vec<&str> = in_scope.iter().filter_map(|c| c["id"].as_str()).collect();

    let mut criteria = Vec::new();
    let mut table = Table::new(
        "Per-criterion results",
        &[
            "criterion",
            "category",
            "topic",
            "status",
            "controls",
            "evidence_items",
            "reason",
        ],
        "no criteria requested",
    );
    for &id in &scope {
        let Some(c) = vouch_core::tsc::criterion(id) else {
            continue;
        };
        let mapped: Vec<&&Value> = in_scope
            .iter()
            .filter(|x| has_any(&x["criteria"], &[id]))
            .collect();
        let statuses: Vec<&str> = mapped
            .iter()
            .map(|x| x["status"].as_str().unwrap_or("error"))
            .collect();
        let evidence = section
            .evidence
            .iter()
            .filter(|e| has_any(&e["criteria"], &[id]))
            .count();
        let (status, reason) = if mapped.is_empty() {
            (
                "no_evidence",
                "no configured control maps to this criterion".to_string(),
            )
        } else {
            let mut s = controls::rollup(statuses.iter().copied());
            // The built-in ledger control alone never makes a criterion pass (as in
            // the packet): it shows the audit trail is intact, not that the
            // organisation's controls work.
            let org_pass = mapped
                .iter()
                .any(|x| x["id"] != LEDGER_CONTROL && x["status"] == "pass");
            if s == "pass" && !org_pass {
                s = "no_evidence";
            }
            let reason = match s {
                "no_evidence" if statuses.contains(&"pass") => "only vouch's own ledger-integrity control passed; no configured control judged this criterion".into(),
                "no_evidence" => "its controls had no evidence to judge in the period".into(),
                "not_tested" => "some of its checks were not evaluated for the period, or their evidence is stale".into(),
                "fail" => "a control failed".into(),
                "error" => "a check or its evidence collection failed".into(),
                _ => String::new(),
            };
            (s, reason)
        };
        let ids: Vec<&Value> = mapped.iter().map(|x| &x["id"]).collect();
        table.push(&[
            json!(c.id),
            json!(c.category),
            json!(c.topic),
            json!(status),
            json!(ids),
            json!(evidence),
            json!(reason),
        ]);
        criteria.push(json!({
            "id": c.id, "category": c.category, "topic": c.topic, "status": status, "result": status,
            "controls": mapped.iter().map(|x| json!({"id": x["id"], "status": x["status"]})).collect::<Vec<_>>(),
            "evidence_items": evidence, "reason": if reason.is_empty() { Value::Null } else { json!(reason) },
        }));
    }

    // Exceptions: controls in scope that failed or errored, with the checks that did.
    let mut exceptions = Vec::new();
    let mut ex_table = Table::new(
        "Exceptions",
        &[
            "control",
            "status",
            "check",
            "check_status",
            "failing",
            "detail",
        ],
        "no control in scope failed or errored",
    );
    for c in &in_scope {
        let s = c["status"].as_str().unwrap_or("error");
        if s != "fail" && s != "error" {
            continue;
        }
        let bad: Vec<&Value> = c["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["status"] == "fail" || k["status"] == "error")
            .collect();
        for k in &bad {
            ex_table.push(&[
                c["id"].clone(),
                json!(s),
                k["id"].clone(),
                k["status"].clone(),
                k["failing_count"].clone(),
                k["detail"].clone(),
            ]);
        }
        exceptions
            .push(json!({"control": c["id"], "title": c["title"], "status": s, "checks": bad}));
    }
    let findings: Vec<&Value> = section
        .findings
        .iter()
        .filter(|f| f["status"] != "resolved" && has_any(&f["controls"], &control_ids))
        .collect();
    let mut f_table = Table::new(
        "Open findings",
        &[
            "finding",
            "severity",
            "status",
            "controls",
            "title",
            "first_seen",
        ],
        "no open finding against a control in scope",
    );
    for f in &findings {
        f_table.push(&[
            f["id"].clone(),
            f["severity"].clone(),
            f["status"].clone(),
            f["controls"].clone(),
            f["title"].clone(),
            f["first_seen"].clone(),
        ]);
    }
    let coverage: Vec<&Value> = section
        .coverage
        .iter()
        .filter(|c| {
            c["control"]
                .as_str()
                .is_some_and(|id| control_ids.contains(&id))
        })
        .collect();
    let mut cov_table = Table::new(
        "Coverage of the period",
        &["control", "unit", "buckets", "covered", "gaps"],
        "no control in scope",
    );
    for c in &coverage {
        cov_table.push(&[
            c["control"].clone(),
            c["unit"].clone(),
            c["buckets"].clone(),
            json!(c["covered"].as_array().map(Vec::len).unwrap_or(0)),
            c["gaps"].clone(),
        ]);
    }

    // Per category, seed 003's status shape.
    let mut categories = Map::new();
    for cat in crate::CATEGORIES {
        let of: Vec<&Value> = criteria.iter().filter(|c| c["category"] == *cat).collect();
        if of.is_empty() {
            continue;
        }
        let st: Vec<&str> = of
            .iter()
            .map(|c| c["status"].as_str().unwrap_or("error"))
            .collect();
        let ctl: Vec<&&Value> = in_scope
            .iter()
            .filter(|c| {
                c["criteria"].as_array().is_some_and(|a| {
                    a.iter().any(|x| {
                        x.as_str()
                            .and_then(vouch_core::tsc::criterion)
                            .is_some_and(|k| k.category == *cat)
                    })
                })
            })
            .collect();
        categories.insert(
            cat.to_string(),
            json!({
                "status": controls::overall_status(&st),
                "criteria_total": st.len(), "criteria_passed": st.iter().filter(|s| **s == "pass").count(),
                "criteria_no_evidence": st.iter().filter(|s| **s == "no_evidence").count(),
                "controls_total": ctl.len(), "controls_passed": ctl.iter().filter(|c| c["status"] == "pass").count(),
            }),
        );
    }
    let statuses: Vec<&str> = criteria
        .iter()
        .map(|c| c["status"].as_str().unwrap_or("error"))
        .filter(|s| *s != "not_applicable")
        .collect();
    let overall = vouch_packet::build::organisation_judged(
        controls::overall_status(&statuses),
        in_scope.iter().copied(),
    );
    let count = |s: &str| statuses.iter().filter(|x| **x == s).count();
    let summary = vec![
        format!("Overall: {overall} ({} criteria in scope)", statuses.len()),
        format!(
            "{} pass, {} fail, {} error, {} no evidence, {} not tested",
            count("pass"),
            count("fail"),
            count("error"),
            count("no_evidence"),
            count("not_tested")
        ),
        format!(
            "{} control(s) in scope, {} exception(s), {} open finding(s), {} evidence item(s) in the period",
            in_scope.len(),
            exceptions.len(),
            findings.len(),
            section.evidence.iter().filter(|e| has_any(&e["criteria"], &scope)).count()
        ),
    ];
    let mut notes = Vec::new();
    if count("no_evidence") > 0 {
        notes.push(format!(
            "{} criteria have no evidence: nothing was checked for them in this period, so this report does not say they are met.",
            count("no_evidence")
        ));
    }
    let mut body = Map::new();
    body.insert("overall_status".into(), json!(overall));
    body.insert("categories".into(), Value::Object(categories));
    body.insert("criteria_results".into(), json!(criteria));
    body.insert("controls".into(), json!(in_scope));
    body.insert("exceptions".into(), json!(exceptions));
    body.insert("findings".into(), json!(findings));
    body.insert("coverage".into(), json!(coverage));
    body.insert(
        "evidence".into(),
        json!(section
            .evidence
            .iter()
            .filter(|e| has_any(&e["criteria"], &scope))
            .collect::<Vec<_>>()),
    );
    Ok(Built {
        body,
        status: overall.to_string(),
        summary,
        notes,
        tables: vec![table, ex_table, f_table, cov_table],
        csv: Some(0),
    })
}

/// vouch's own control, as the packet has it: the whole ledger up to the last entry
/// before the period's end verifies (leaf hashes, HMAC chain, Merkle tree, signed
/// checkpoints), and the period has events of audited systems to vouch for.
fn ledger_control(ctx: &Ctx<'_>, period: &Period, now: DateTime<Utc>) -> Result<Value, Error> {
    let (start, end) = (ts(&period.start), ts(&period.end));
    let size = ctx.ledger.store().size_covering_before(&end)?;
    let (mut total, mut own) = (0u64, 0u64);
    let (start_b, end_b) = (start.as_bytes(), end.as_bytes());
    let v = ctx.ledger.verify_observed(
        &vouch_ledger::VerifyOptions {
            trusted_checkpoint: None,
            up_to: Some(size),
        },
        &mut |_, t, leaf| {
            if t >= start_b && t < end_b {
                total += 1;
                if vouch_ledger::audit::is_own(leaf) {
                    own += 1;
                }
            }
        },
    )?;
    let status = controls::ledger_status(v.valid, v.checked, total - own);
    let detail = if !v.valid {
        format!(
            "broken at entry {}: {}",
            v.broken_at.unwrap_or(0),
            v.reason.clone().unwrap_or_default()
        )
    } else if status == "no_evidence" {
        format!("no events of audited systems are timestamped in {} ({own} of vouch's own), so there is nothing to vouch for ({} entries verified; root {})", period.label, v.checked, v.root)
    } else {
        format!("{} entries verified (leaf hashes, HMAC chain, Merkle tree, signed checkpoints); {} events of audited systems in the period; root {}", v.checked, total - own, v.root)
    };
    Ok(json!({
        "id": LEDGER_CONTROL,
        "title": "Audit trail integrity",
        "description": "Security-relevant events are recorded in an append-only ledger (RFC 6962 Merkle tree, HMAC-SHA-256 chain, Ed25519-signed checkpoints) that is verified in full at report generation.",
        "criteria": ["CC7.2", "CC8.1"],
        "status": status,
        "checks": [{
            "id": "ledger.verify",
            "title": "The whole ledger up to the period's end verifies",
            "status": status,
            "evaluated_at": ts(&now),
            "detail": detail,
            "tree_size": size,
        }],
    }))
}

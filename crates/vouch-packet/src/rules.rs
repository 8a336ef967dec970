//! The organisation's part of a packet: its controls with the check results that stood
//! at generation time, the evidence items of the period (with how each was produced),
//! findings as they stood then, and coverage. Everything is read "as of" the packet's
//! `generated_at`, so regenerating it later gives the same bytes.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vouch_checks::{controls, findings, CheckError};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_evidence::{self as evidence, ListFilter};
use vouch_store::Store;

/// The organisation's part of a packet.
pub struct Section {
    /// Each control with its status at generation time.
    pub controls: Vec<Value>,
    /// The period's evidence items, with how each was produced.
    pub evidence: Vec<Value>,
    /// Findings as they stood at generation time.
    pub findings: Vec<Value>,
    /// How many of those findings were open.
    pub open_findings: u64,
    /// Each control's coverage of the period (buckets covered and gaps).
    pub coverage: Vec<Value>,
}

/// How an item was produced, in the packet's `produced_by` shape.
fn produced_by(r: &Value) -> Value {
    let op = evidence::Operation::of_record(r);
    let what = op
        .query
        .clone()
        .or_else(|| op.command())
        .or_else(|| op.url.as_ref().map(|u| format!("GET {u}")))
        .or_else(|| op.glob.as_ref().map(|g| format!("files matching {g}")))
        .or_else(|| op.upload.as_ref().map(|u| format!("uploaded {u}")))
        .unwrap_or_default();
    let source = &r["source"];
    json!({
        "kind": source["kind"],
        "source": format!("{} {}", source["name"].as_str().unwrap_or(""), source["fingerprint"]),
        "query": what,
        "parameters": {"params": op.params, "period": r["period"]},
        "generator": format!("{} {}", r["collector"]["name"].as_str().unwrap_or(""), r["collector"]["version"].as_str().unwrap_or("")),
    })
}

/// The organisation's section for `period`, as of `generated_at` (whole seconds).
pub fn section(
    config: &Config,
    store: &Store,
    period: &Period,
    generated_at: &DateTime<Utc>,
) -> Result<Section, CheckError> {
    // generated_at is written in whole seconds; everything stored within that second
    // (before generation, in practice) belongs to the packet.
    use chrono::SubsecRound;
    let at = ts(&(generated_at.trunc_subsecs(0) + chrono::Duration::microseconds(999_999)));
    let statuses = controls::evaluate(config, store, period, *generated_at, Some(&at))?;
    let mut coverage = Vec::new();
    let controls: Vec<Value> = statuses
        .into_iter()
        .map(|mut c| {
            coverage.push(json!({"control": c["id"], "unit": c["coverage"]["unit"], "buckets": c["coverage"]["buckets"], "covered": c["coverage"]["covered"], "gaps": c["coverage"]["gaps"]}));
            if let Some(o) = c.as_object_mut() {
                o.remove("coverage");
                if o.get("owner").is_some_and(Value::is_null) {
                    o.remove("owner");
                }
            }
            c
        })
        .collect();
    let items = evidence::list(
        store,
        &ListFilter {
            evidence_id: None,
            period: Some(period.clone()),
            limit: None,
        },
    )?;
    let mut evidence: Vec<Value> = items
        .iter()
        .filter(|i| i.ok() && i.record["finished_at"].as_str().unwrap_or("") <= at.as_str())
        .map(|i| {
            let r = &i.record;
            json!({
                "id": i.id(),
                "evidence_id": r["evidence_id"],
                "title": r["title"],
                "criteria": r["criteria"],
                "produced_by": produced_by(r),
                "collected_at": r["finished_at"],
                "effective_at": r["effective_at"],
                "count": r["count"].as_u64().unwrap_or(1),
                "media_type": r["media_type"],
                "sha256": r["sha256"],
                "ledger_seq": i.ledger_seq,
            })
        })
        .collect();
    evidence.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut controls = controls;
    access_reviews(store, period, &at, &mut evidence, &mut controls)?;
    let start = ts(&period.start);
    let end = ts(&period.end);
    let in_period = |v: &Value| {
        v.as_str()
            .is_some_and(|t| t >= start.as_str() && t < end.as_str())
    };
    let findings: Vec<Value> = findings::as_of(store, &at)?
        .into_iter()
        .filter(|f| f["status"] != "resolved" || in_period(&f["resolved_at"]) || in_period(&f["last_seen"]))
        .map(|f| json!({
            "id": f["id"], "title": f["title"], "severity": f["severity"], "status": f["status"],
            "source": f["source"], "check_id": f["check_id"], "controls": f["controls"],
            "first_seen": f["first_seen"], "last_seen": f["last_seen"], "occurrences": f["occurrences"],
            "failing_count": f["failing_count"], "resolved_at": f["resolved_at"],
        }))
        .collect();
    let open_findings = findings
        .iter()
        .filter(|f| f["status"] != "resolved")
        .count() as u64;
    Ok(Section {
        controls,
        evidence,
        findings,
        open_findings,
        coverage,
    })
}

/// The packet's incidents: those detected in the period as they stood at generation
/// time, each with its SLA outcome, and the SLA performance per severity (`None` when
/// the period has no incidents).
pub struct Incidents {
    /// One entry per incident.
    pub incidents: Vec<Value>,
    /// SLA performance per severity, when there are incidents.
    pub sla: Option<Value>,
}

/// The period's incidents as of `generated_at` (the end of its second, like the rest
/// of the organisation's section).
pub fn incidents(
    config: &Config,
    store: &Store,
    period: &Period,
    generated_at: &DateTime<Utc>,
) -> Result<Incidents, vouch_incidents::IncidentError> {
    use chrono::SubsecRound;
    let at = generated_at.trunc_subsecs(0) + chrono::Duration::microseconds(999_999);
    let r = vouch_incidents::period_report(store, config, period, at)?;
    if r.incidents.is_empty() {
        return Ok(Incidents {
            incidents: Vec::new(),
            sla: None,
        });
    }
    let incidents = r
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i["id"], "title": i["title"], "severity": i["severity"], "status": i["status"],
                "source": i["source"], "detected_at": i["detected_at"], "detected_by": i["detected_by"],
                "affected_systems": i["affected_systems"], "assignee": i["assignee"],
                "response_deadline": i["response_deadline"], "responded_at": i["sla"]["responded_at"],
                "response_secs": i["sla"]["response_secs"], "breached": i["breached"],
                "finding_id": i["sla"]["finding_id"], "ended_at": i["ended_at"],
                "lessons_learned": i["lessons_learned"], "dismissal_reason": i["dismissal_reason"],
                "timeline_entries": i["timeline"].as_array().map_or(0, Vec::len),
            })
        })
        .collect();
    Ok(Incidents {
        incidents,
        sla: Some(serde_json::to_value(&r.by_severity).unwrap_or_default()),
    })
}

/// Access-review campaigns completed in the period (as of `at`) are evidence for CC6.2 /
/// CC6.3: one entry each (the signed document's SHA-256, its signature and key id in
/// `parameters`), listed under every control that addresses those criteria or names
/// one of the campaign's populations as its evidence. Nothing is added when there are
/// none, so packets made before reproduce byte for byte.
fn access_reviews(
    store: &Store,
    period: &Period,
    at: &str,
    evidence: &mut Vec<Value>,
    controls: &mut [Value],
) -> Result<(), CheckError> {
    use vouch_signoff::review;
    let done = review::completed_in(store, period, at)
        .map_err(|e| CheckError::Corrupt(format!("access reviews: {e}")))?;
    for v in done {
        let c = &v.campaign;
        let id = format!("access-review-{}", c.id);
        let doc: Value = v
            .document
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let mut parameters = json!({
            "scope": c.scope,
            "snapshot_sha256": c.snapshot_sha256,
            "decisions": v.summary.decisions,
            "signature": v.signature,
            "signing_key_id": doc["signing_key"]["id"],
            "populations": c.populations.iter().map(|p| json!({"evidence_id": p.evidence_id, "items": p.items.iter().map(|i| &i.id).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        });
        // The signed document set's files and the completer's own signature, for
        // campaigns completed since they exist (earlier packets reproduce unchanged).
        if !c.files.is_empty() {
            parameters["files"] = json!(c.files);
        }
        if let Some(p) = &c.personal_signature {
            parameters["personal_signature"] = json!({"kind": doc["access_review"]["personal_signature"], "key_fingerprint": p.key_fingerprint()});
        }
        evidence.push(json!({
            "id": id,
            "evidence_id": "access-review",
            "title": format!("Access review: {}", c.title),
            "criteria": review::CRITERIA,
            "produced_by": {
                "kind": "access_review",
                "source": format!("vouch access review {} ({})", c.id, c.scope),
                "query": format!("{} accounts decided by {} reviewer(s); signed canonical JSON (`vouch review show {} --out DIR` writes it and its .sig)", v.summary.to_decide, c.populations.iter().map(|p| p.reviewers.len()).sum::<usize>(), c.id),
                "parameters": parameters,
                "generator": format!("vouch {}", vouch_core::VERSION),
            },
            "collected_at": c.ended_at,
            "effective_at": c.ended_at,
            "count": v.summary.to_decide,
            "media_type": "application/json",
            "sha256": c.document_sha256,
        }));
        let pops: Vec<&str> = c
            .populations
            .iter()
            .map(|p| p.evidence_id.as_str())
            .collect();
        for ctl in controls.iter_mut() {
            let by_criteria = ctl["criteria"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|x| review::CRITERIA.contains(&x)))
            });
            let by_population = ctl["evidence"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|x| pops.contains(&x)))
            });
            if by_criteria || by_population {
                if let Some(a) = ctl["evidence"].as_array_mut() {
                    a.push(json!(id));
                }
            }
        }
    }
    Ok(())
}

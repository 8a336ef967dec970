//! Building a packet's data: one verification pass over the ledger up to the period-end
//! checkpoint, observing the period's entries for counts and exports.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use vouch_core::event::format_timestamp;
use vouch_core::period::Period;
use vouch_ledger::{Ledger, LedgerError, VerifyOptions, VerifyReport};

/// Identifies the packet format; bump on incompatible changes. v2 added the
/// `no_evidence` status, `period.series`, `summary.controls.no_evidence` and
/// `ledger.late_arrivals`, and chains packets per series.
pub const SCHEMA: &str = "vouch.soc2-packet/v2";

/// The earlier packet format, still verified by `vouch verify`.
pub const SCHEMA_V1: &str = "vouch.soc2-packet/v1";

/// The control vouch itself provides: the ledger's integrity is evidence.
pub const LEDGER_CONTROL: &str = "VOUCH-LEDGER-INTEGRITY";

/// Everything that determines a packet's bytes besides the stored data.
#[derive(Debug, Clone)]
pub struct Params {
    /// The period the packet covers.
    pub period: Period,
    /// The generation time written in the packet; records stored after it are left out.
    pub generated_at: DateTime<Utc>,
    /// Tree size of the previous packet's checkpoint (`None`: no previous packet).
    pub previous_size: Option<u64>,
    /// Label of the previous packet's period.
    pub previous_label: Option<String>,
    /// The tree size the packet covers; `None`: the checkpoint at period end (the
    /// tree up to the last entry timestamped before it). Reproduction passes the size
    /// the packet records, so later (late) arrivals do not change it.
    pub size: Option<u64>,
    /// Periods with packets before this one: entries of theirs in
    /// `[previous_size, size)` past their packet are listed as late arrivals.
    pub closed: Vec<super::series::Closed>,
    /// A packet of the same series for a later period that existed before this one
    /// (this one is a backfill): its tree size and label; the packet then proves that
    /// tree extends its own.
    pub following_size: Option<u64>,
    /// Label of that later packet's period.
    pub following_label: Option<String>,
}

/// An export produced alongside a packet, streamed to a writer if one is given.
pub struct ExportSpec<'a> {
    /// The export's name (its file name).
    pub name: String,
    /// Keep this entry? Receives the leaf.
    #[allow(clippy::type_complexity)] // a predicate on a leaf; an alias would only hide it
    pub filter: Box<dyn Fn(&[u8]) -> bool + 'a>,
    /// Where the kept entries are written as NDJSON; `None` only hashes and counts them.
    pub out: Option<Box<dyn Write + 'a>>,
}

/// What an export contained.
pub struct ExportResult {
    /// The export's name.
    pub name: String,
    /// Hex SHA-256 of the export's bytes.
    pub sha256: String,
    /// Entries kept.
    pub count: u64,
}

/// The packet data and what building it found.
pub struct Built {
    /// The packet's JSON document, unsigned.
    pub value: Value,
    /// The ledger verification up to the packet's checkpoint.
    pub verification: VerifyReport,
}

/// A file-name-safe slug of a period (`2026-10`, `2026-Q3`, `20261001-20261015`).
pub fn period_slug(p: &Period) -> String {
    if p.label.contains("..") {
        format!(
            "{}-{}",
            p.start.format("%Y%m%dT%H%M%SZ"),
            p.end.format("%Y%m%dT%H%M%SZ")
        )
    } else {
        p.label.clone()
    }
}

fn category_of(leaf: &[u8]) -> &[u8] {
    vouch_core::canonical::top_level_str(leaf, "category").unwrap_or(b"")
}

/// The standard exports of a period: the whole audit log, and authentication events.
pub fn standard_exports<'a>(
    slug: &str,
    mut open: impl FnMut(&str) -> Option<Box<dyn Write + 'a>>,
) -> Vec<ExportSpec<'a>> {
    let audit = format!("audit-log-{slug}.ndjson");
    let auth = format!("auth-events-{slug}.ndjson");
    vec![
        ExportSpec {
            out: open(&audit),
            name: audit,
            filter: Box::new(|_| true),
        },
        ExportSpec {
            out: open(&auth),
            name: auth,
            filter: Box::new(|leaf| category_of(leaf) == b"authentication"),
        },
    ]
}

/// The packet's links to its series: the consistency proof from the previous packet's
/// tree to this one (`ledger.previous`), and, for a backfill, from this tree to the
/// later packet's (`ledger.following`); null where there is none.
fn chain_links(ledger: &Ledger, params: &Params, size: u64) -> Result<(Value, Value), LedgerError> {
    let previous = match params.previous_size {
        Some(prev) if prev <= size => {
            let p = ledger.consistency_proof(prev, size)?;
            json!({
                "period": params.previous_label,
                "checkpoint": {"size": prev, "root": p.from_root, "note": p.from_checkpoint},
                "consistency_proof": p.proof,
            })
        }
        Some(prev) => json!({
            "period": params.previous_label,
            "checkpoint": {"size": prev},
            "consistency_proof": null,
            "note": format!("the previous packet's tree ({prev}) is larger than this one's ({size}); no consistency proof"),
        }),
        None => Value::Null,
    };
    let following = match params.following_size {
        Some(next) if next >= size && size > 0 => {
            let p = ledger.consistency_proof(size, next)?;
            json!({
                "period": params.following_label,
                "checkpoint": {"size": next, "root": p.to_root, "note": p.to_checkpoint},
                "consistency_proof": p.proof,
            })
        }
        _ => Value::Null,
    };
    Ok((previous, following))
}

/// Per Trust Services Criterion: controls passed / mapped and the rolled-up status; the
/// built-in ledger control alone never makes a criterion pass.
fn criteria_summary(controls: &Value) -> Vec<Value> {
    let mut criteria: BTreeMap<&str, (u64, u64, Vec<&str>)> = BTreeMap::new();
    let mut org_passed: BTreeMap<&str, bool> = BTreeMap::new();
    for c in controls.as_array().into_iter().flatten() {
        for id in c["criteria"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let e = criteria.entry(id).or_default();
            e.1 += 1;
            e.2.push(c["status"].as_str().unwrap_or("error"));
            if c["status"] == "pass" {
                e.0 += 1;
                if c["id"] != LEDGER_CONTROL {
                    org_passed.insert(id, true);
                }
            }
        }
    }
    criteria
        .iter()
        .map(|(id, (passed, total, statuses))| {
            let topic = vouch_core::tsc::criterion(id)
                .map(|c| c.topic)
                .unwrap_or_default();
            let mut status = overall_status(statuses.iter().copied());
            // The built-in ledger control alone never makes a criterion pass.
            if status == "pass" && !org_passed.contains_key(id) {
                status = "no_evidence";
            }
            json!({"id": id, "topic": topic, "passed": passed, "total": total, "status": status})
        })
        .collect()
}

/// Build a packet's data: verify the ledger up to the packet's checkpoint, count the period's
/// entries, stream the exports, and gather the organisation's section. `org` is (name, id),
/// `signing` is (key id, public key PEM).
pub fn build(
    ledger: &Ledger,
    config: &vouch_config::Config,
    org: (&str, &str),
    signing: (&str, &str),
    params: &Params,
    exports: &mut [ExportSpec<'_>],
) -> Result<Built, LedgerError> {
    let store = ledger.store();
    let period = &params.period;
    let start = format_timestamp(&period.start);
    let end = format_timestamp(&period.end);

    // The tree that covers every event of the period: the checkpoint "at period end".
    let size = match params.size {
        Some(s) => s,
        None => store.size_covering_before(&end)?,
    };
    let mut late =
        super::series::LateCounter::new(params.previous_size.unwrap_or(0), params.closed.clone());
    let checkpoint = ledger.checkpoint_at(size)?;

    // One pass: verify [0, size) and observe the period's entries.
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_result: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_day: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    // vouch's own events of the period (jobs, checks, packets, API self-audit): in the
    // exports and the tree, but not evidence that the period had events.
    let mut own = 0u64;
    let mut first_seq: Option<u64> = None;
    let mut last_seq: Option<u64> = None;
    let mut hashers: Vec<(Sha256, u64)> = exports.iter().map(|_| (Sha256::new(), 0)).collect();
    let mut write_error: Option<std::io::Error> = None;
    let (start_b, end_b) = (start.as_bytes(), end.as_bytes());
    let verification = ledger.verify_observed(
        &VerifyOptions {
            trusted_checkpoint: None,
            up_to: Some(size),
        },
        &mut |seq, ts, leaf| {
            late.observe(seq, ts);
            if ts < start_b || ts >= end_b {
                return;
            }
            total += 1;
            if vouch_ledger::audit::is_own(leaf) {
                own += 1;
            }
            first_seq.get_or_insert(seq);
            last_seq = Some(seq);
            *by_day
                .entry(String::from_utf8_lossy(&ts[..10.min(ts.len())]).into_owned())
                .or_default() += 1;
            *by_category
                .entry(String::from_utf8_lossy(category_of(leaf)).into_owned())
                .or_default() += 1;
            let result = vouch_core::canonical::top_level_str(leaf, "result").unwrap_or(b"");
            *by_result
                .entry(String::from_utf8_lossy(result).into_owned())
                .or_default() += 1;
            for (spec, (h, n)) in exports.iter_mut().zip(hashers.iter_mut()) {
                if (spec.filter)(leaf) {
                    h.update(leaf);
                    h.update(b"\n");
                    *n += 1;
                    if let Some(w) = spec.out.as_mut() {
                        if let Err(e) = w.write_all(leaf).and_then(|_| w.write_all(b"\n")) {
                            write_error.get_or_insert(e);
                        }
                    }
                }
            }
        },
    )?;
    if let Some(e) = write_error {
        return Err(LedgerError::Invalid(format!("cannot write an export: {e}")));
    }
    for spec in exports.iter_mut() {
        if let Some(w) = spec.out.as_mut() {
            w.flush()
                .map_err(|e| LedgerError::Invalid(format!("cannot write {}: {e}", spec.name)))?;
        }
    }
    let export_results: Vec<ExportResult> = exports
        .iter()
        .zip(hashers)
        .map(|(spec, (h, count))| ExportResult {
            name: spec.name.clone(),
            sha256: hex::encode(h.finalize()),
            count,
        })
        .collect();

    // Consistency with the previous packet's checkpoint, and (a backfill) the later one's.
    let (previous, following) = chain_links(ledger, params, size)?;

    let late_arrivals: Vec<Value> = late
        .finish()
        .iter()
        .map(super::series::Late::to_json)
        .collect();
    let generated_at = format_timestamp(&params.generated_at);
    let ledger_ok = verification.valid;
    let status =
        vouch_checks::controls::ledger_status(ledger_ok, verification.checked, total - own);
    // Nothing in the period: the ledger vouches for nothing, whatever it verified.
    let check_detail = if status == "no_evidence" && own > 0 {
        format!("no events of audited systems are timestamped in {}, only {own} of vouch's own (jobs, checks, packets, API self-audit), so there is nothing to vouch for ({} entries verified; root {})", period.label, verification.checked, verification.root)
    } else if status == "no_evidence" {
        format!("no ledger events are timestamped in {}, so there is nothing to vouch for ({} entries verified; root {})", period.label, verification.checked, verification.root)
    } else if ledger_ok {
        format!("{} entries verified (leaf hashes, HMAC chain, Merkle tree, signed checkpoints); root {}", verification.checked, verification.root)
    } else {
        format!(
            "broken at entry {}: {}",
            verification.broken_at.unwrap_or(0),
            verification.reason.clone().unwrap_or_default()
        )
    };
    let slug = period_slug(period);
    let mut controls = json!([{
        "id": LEDGER_CONTROL,
        "title": "Audit trail integrity",
        "description": "Security-relevant events are recorded in an append-only ledger (RFC 6962 Merkle tree, HMAC-SHA-256 chain, Ed25519-signed checkpoints) that is verified in full at packet generation.",
        "criteria": ["CC7.2", "CC8.1"],
        "status": status,
        "checks": [{
            "id": "ledger.verify",
            "title": "The whole ledger up to the period-end checkpoint verifies",
            "status": status,
            "evaluated_at": generated_at,
            "detail": check_detail,
            "evidence": [format!("ledger-audit-log-{slug}")],
        }],
        "evidence": [format!("ledger-audit-log-{slug}"), format!("ledger-auth-events-{slug}")],
    }]);
    let rules = super::rules::section(config, store, period, &params.generated_at)
        .map_err(|e| LedgerError::Invalid(format!("packet controls: {e}")))?;
    if let Some(a) = controls.as_array_mut() {
        a.extend(rules.controls.iter().cloned());
    }
    let incidents = super::rules::incidents(config, store, period, &params.generated_at)
        .map_err(|e| LedgerError::Invalid(format!("packet incidents: {e}")))?;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for c in controls.as_array().into_iter().flatten() {
        *counts
            .entry(c["status"].as_str().unwrap_or("error"))
            .or_default() += 1;
    }
    let count = |s: &str| counts.get(s).copied().unwrap_or(0);
    let status = organisation_judged(
        overall_status(
            controls
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["status"].as_str().unwrap_or("error")),
        ),
        controls.as_array().into_iter().flatten(),
    );
    let summary_criteria = criteria_summary(&controls);
    let origin = ledger.origin().to_string();
    let mut evidence: Vec<Value> = export_results
        .iter()
        .map(|e| {
            let what = if e.name.starts_with("auth-events") { "authentication events" } else { "all audit events" };
            let id = if e.name.starts_with("auth-events") { format!("ledger-auth-events-{slug}") } else { format!("ledger-audit-log-{slug}") };
            json!({
                "id": id,
                "title": format!("Audit ledger: {what} of {}", period.label),
                "produced_by": {
                    "kind": "ledger",
                    "source": origin,
                    "query": format!("ledger entries with timestamp in [period.start, period.end){}, in seq order, one canonical leaf per line", if e.name.starts_with("auth-events") { " and category = authentication" } else { "" }),
                    "parameters": {"period.start": start, "period.end": end, "tree_size": size},
                    "generator": format!("vouch {}", vouch_core::VERSION),
                },
                "collected_at": generated_at,
                "effective_at": end,
                "count": e.count,
                "media_type": "application/x-ndjson",
                "file": e.name,
                "sha256": e.sha256,
            })
        })
        .collect();
    evidence.extend(rules.evidence.iter().cloned());
    let exports_json: Vec<Value> = export_results.iter().map(|e| json!({"name": e.name, "sha256": e.sha256, "count": e.count, "media_type": "application/x-ndjson"})).collect();
    let map_json = |m: &BTreeMap<String, u64>| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<Map<String, Value>>(),
        )
    };
    let checkpoint_root = checkpoint.root.clone();

    let mut control_counts = json!({"total": controls.as_array().map_or(0, Vec::len), "pass": count("pass"), "fail": count("fail"), "error": count("error"), "not_tested": count("not_tested"), "no_evidence": count("no_evidence")});
    // Controls switched off by configuration; only present when there are some, so the
    // packets made before reproduce byte for byte.
    if count("not_applicable") > 0 {
        control_counts["not_applicable"] = json!(count("not_applicable"));
    }
    let mut value = json!({
        "schema": SCHEMA,
        "organization": {"name": org.0, "id": org.1},
        "period": {"label": period.label, "start": start, "end": end, "series": super::series::series_of(&period.label)},
        "generated_at": generated_at,
        "generator": {"name": "vouch", "version": vouch_core::VERSION},
        "signing_key": {"id": signing.0, "public_key_pem": signing.1},
        "summary": {
            "overall_status": status,
            "controls": control_counts,
            "criteria": summary_criteria,
            "open_findings": rules.open_findings,
            "events": total,
        },
        "controls": controls,
        "evidence": evidence,
        "findings": rules.findings,
        "incidents": incidents.incidents,
        "coverage": rules.coverage,
        "ledger": {
            "origin": origin,
            "log_key": ledger.verifier().to_vkey(),
            "checkpoint": {"size": size, "root": checkpoint_root, "note": checkpoint.note},
            "previous": previous,
            "following": following,
            "late_arrivals": late_arrivals,
            "verification": {
                "valid": verification.valid,
                "broken_at": verification.broken_at,
                "checked": verification.checked,
                "tree_size": verification.tree_size,
                "root": verification.root,
                "reason": verification.reason,
            },
            "period_events": {
                "total": total,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "by_category": map_json(&by_category),
                "by_result": map_json(&by_result),
                "by_day": map_json(&by_day),
            },
        },
        "exports": exports_json,
    });
    // Only when the period has incidents, so packets made before reproduce byte for byte.
    if let Some(sla) = incidents.sla {
        value["summary"]["incident_sla"] = sla;
    }
    // Sign-offs signed in the period and the period's own attestation (issue 15); only
    // present when there are some, so packets made before reproduce byte for byte.
    if let Some(a) = super::attestation::for_packet(store, period, &generated_at)
        .map_err(|e| LedgerError::Invalid(format!("attestations: {e}")))?
    {
        value["attestations"] = a;
    }
    // A checkpoint at or after this one cosigned by witnesses (issue 18), with the
    // consistency proof to it; only when there is one, so packets made before (and
    // logs without witnesses) reproduce byte for byte. generated_at is written in whole
    // seconds and cosignatures are stored with microseconds: everything stored within
    // the second of generation counts (as for rules and incidents).
    let cosigned_by = {
        use chrono::SubsecRound;
        format_timestamp(
            &(params.generated_at.trunc_subsecs(0) + chrono::Duration::microseconds(999_999)),
        )
    };
    if let Some((wsize, note, proof)) =
        vouch_witness::client::witnessed_after(ledger, size, &cosigned_by)
            .map_err(|e| LedgerError::Invalid(format!("witness cosignatures: {e}")))?
    {
        value["ledger"]["witnessed"] =
            json!({"size": wsize, "note": note, "consistency_proof": proof});
    }
    Ok(Built {
        value,
        verification,
    })
}

/// A packet is `pass` only when an organisation control (one other than the built-in
/// ledger control) passed: a verified ledger alone vouches for no control of the
/// organisation, so `pass` becomes `no_evidence` (issue 12).
pub fn organisation_judged<'v>(
    status: &'static str,
    controls: impl IntoIterator<Item = &'v Value>,
) -> &'static str {
    let org_pass = controls
        .into_iter()
        .any(|c| c["id"] != LEDGER_CONTROL && c["status"] == "pass");
    if status == "pass" && !org_pass {
        "no_evidence"
    } else {
        status
    }
}

/// The packet's overall status: the controls' rollup, except that it is never `pass`
/// while a control has no evidence (an empty period included), and a set of controls
/// that all lack evidence is `no_evidence`.
pub fn overall_status<'s>(statuses: impl IntoIterator<Item = &'s str>) -> &'static str {
    let seen: Vec<&str> = statuses.into_iter().collect();
    let rolled = vouch_checks::controls::rollup(seen.iter().copied());
    let none = seen.contains(&"no_evidence");
    if none && (rolled == "pass" || seen.iter().all(|s| *s == "no_evidence")) {
        "no_evidence"
    } else {
        rolled
    }
}

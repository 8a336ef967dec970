//! Evaluating every check for a period, storing each result, logging it to the ledger,
//! and opening or resolving findings.

use super::defs::CheckDef;
use super::results::{CheckResult, EvidenceRef, ResultPeriod};
use super::{controls, findings, CheckError};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_core::checks::Verdict;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_evidence::{self as evidence, Item, ListFilter};
use vouch_ledger::Ledger;
use vouch_store::blobs::BlobStore;
use vouch_store::Store;

/// Failing rows kept in a result (the count is always exact).
const MAX_FAILING: usize = 100;

/// Everything a check run needs.
pub struct Checker<'a> {
    /// The configuration holding the checks and controls.
    pub config: &'a Config,
    /// Where results and findings are stored.
    pub store: Store,
    /// The ledger results and finding changes are recorded in.
    pub ledger: &'a Ledger,
    /// Where the evidence content is read from.
    pub blobs: BlobStore,
}

/// What `vouch check` reports.
pub struct Report {
    /// The period checked.
    pub period: Period,
    /// One result per check.
    pub results: Vec<CheckResult>,
    /// The status of each control, from its checks' results.
    pub controls: Vec<Value>,
    /// Findings opened, updated or resolved by the run.
    pub findings: Vec<findings::Change>,
}

/// The evidence a check read: the items of the latest collection of one definition.
struct Input {
    items: Vec<Item>,
    rows: Vec<Value>,
}

enum Gathered {
    Ok(Input),
    /// Nothing collected for the period: the check cannot say anything.
    Missing(String),
    /// The latest collection failed.
    Failed(String, Vec<Item>),
}

impl<'a> Checker<'a> {
    /// A checker reading evidence from a configuration's blob store.
    pub fn new(config: &'a Config, store: Store, ledger: &'a Ledger) -> Checker<'a> {
        Checker {
            config,
            store,
            ledger,
            blobs: vouch_evidence::blob_store(config),
        }
    }

    /// Evaluate every check (or those named) for `period`.
    pub fn run(
        &self,
        period: &Period,
        only: &[String],
        now: DateTime<Utc>,
    ) -> Result<Report, CheckError> {
        for id in only {
            if !self.config.checks.iter().any(|c| &c.id == id) {
                return Err(CheckError::Invalid(format!("no check `{id}` is defined")));
            }
        }
        let mut results = Vec::new();
        let mut changes = Vec::new();
        for def in self
            .config
            .checks
            .iter()
            .filter(|c| only.is_empty() || only.contains(&c.id))
        {
            let record = self.evaluate(def, period, now)?;
            let record = self.store_result(record)?;
            if let Some(change) = findings::apply(&self.store, self.ledger, self.config, &record)? {
                changes.push(change);
            }
            results.push(record);
        }
        let controls = controls::evaluate(self.config, &self.store, period, now, None)?;
        Ok(Report {
            period: period.clone(),
            results,
            controls,
            findings: changes,
        })
    }

    fn gather(&self, evidence_id: &str, period: &Period) -> Result<Gathered, CheckError> {
        let items = evidence::list(
            &self.store,
            &ListFilter {
                evidence_id: Some(evidence_id.to_string()),
                period: Some(period.clone()),
                limit: None,
            },
        )?;
        let Some(latest) = items
            .iter()
            .map(|i| i.record["started_at"].as_str().unwrap_or("").to_string())
            .max()
        else {
            return Ok(Gathered::Missing(format!(
                "no evidence `{evidence_id}` was collected for {}",
                period.label
            )));
        };
        let run: Vec<Item> = items
            .into_iter()
            .filter(|i| i.record["started_at"].as_str() == Some(latest.as_str()))
            .collect();
        if let Some(bad) = run.iter().find(|i| !i.ok()) {
            let e = bad.record["error"].as_str().unwrap_or("").to_string();
            return Ok(Gathered::Failed(
                format!("the latest collection of `{evidence_id}` failed: {e}"),
                run,
            ));
        }
        let rows_path = self
            .config
            .evidence_def(evidence_id)
            .and_then(|d| d.rows.clone());
        let mut rows = Vec::new();
        for item in &run {
            let Some(sha) = item.sha256() else { continue };
            let bytes = self.blobs.get(sha).map_err(evidence::EvidenceError::from)?;
            let media = item.record["media_type"].as_str().unwrap_or("");
            let path = if media == "application/json" {
                rows_path.as_deref()
            } else {
                None
            };
            rows.extend(
                evidence::rows::parse(&bytes, media, path).map_err(|e| {
                    CheckError::Invalid(format!("evidence item {}: {e}", item.id()))
                })?,
            );
        }
        Ok(Gathered::Ok(Input { items: run, rows }))
    }

    fn evaluate(
        &self,
        def: &CheckDef,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<CheckResult, CheckError> {
        let reference = now.min(period.end);
        let mut used: Vec<Item> = Vec::new();
        let mut inputs = Vec::new();
        let mut blocked: Option<(&str, String)> = None;
        for id in def.inputs() {
            match self.gather(id, period)? {
                Gathered::Ok(i) => {
                    used.extend(i.items.iter().cloned());
                    inputs.push((id.to_string(), i));
                }
                Gathered::Missing(m) => {
                    blocked.get_or_insert(("no_evidence", m));
                }
                Gathered::Failed(m, items) => {
                    used.extend(items);
                    blocked = Some(("error", m));
                }
            }
        }
        // Guards run even when evidence is missing or failed: a check switched off by
        // configuration is `not_applicable` whatever was (not) collected for it.
        if !def.guards.is_empty() {
            let mut guard_items = Vec::new();
            let guarded = self.guards(def, period, &mut guard_items)?;
            match (&blocked, &guarded) {
                (_, Some(("not_applicable", _))) => {
                    used = guard_items;
                    blocked = guarded;
                }
                (None, _) => {
                    used.extend(guard_items);
                    blocked = guarded;
                }
                _ => {}
            }
        }
        let (status, message, failing, failing_count) = match blocked {
            Some((status, m)) => (status, m, Vec::new(), 0),
            None => match self.verdict(def, period, reference, &inputs) {
                Ok(o) => {
                    let n = o.failing.len();
                    let status = match o.verdict {
                        Verdict::Pass => "pass",
                        Verdict::Fail => "fail",
                        Verdict::NoEvidence => "no_evidence",
                    };
                    (
                        status,
                        o.message,
                        o.failing.into_iter().take(MAX_FAILING).collect(),
                        n,
                    )
                }
                Err(e) => ("error", e, Vec::new(), 0),
            },
        };
        let control_ids: Vec<&str> = self
            .config
            .controls
            .iter()
            .filter(|c| c.checks.contains(&def.id))
            .map(|c| c.id.as_str())
            .collect();
        Ok(CheckResult {
            check_id: def.id.clone(),
            title: def.title.clone(),
            kind: def.kind.clone(),
            severity: def.severity().to_string(),
            controls: control_ids.iter().map(|c| c.to_string()).collect(),
            period: ResultPeriod {
                label: period.label.clone(),
                start: ts(&period.start),
                end: ts(&period.end),
            },
            status: status.to_string(),
            message,
            failing,
            failing_count: failing_count as u64,
            evaluated_at: ts(&now),
            reference_time: ts(&reference),
            evidence: used
                .iter()
                .map(|i| EvidenceRef {
                    item_id: i.id().to_string(),
                    evidence_id: i.record["evidence_id"].clone(),
                    sha256: i.record["sha256"].clone(),
                    ledger_seq: i.ledger_seq,
                })
                .collect(),
            definition_sha256: def.definition_sha256(),
            vouch_version: vouch_core::VERSION.to_string(),
            // Switched off by configuration (the message says why); not "nothing collected".
            switched_off: status == "not_applicable",
            // Set when stored.
            id: String::new(),
            ledger_seq: None,
        })
    }

    /// The first guard that does not hold (see `GuardDef`); guard items count as read.
    fn guards(
        &self,
        def: &CheckDef,
        period: &Period,
        used: &mut Vec<Item>,
    ) -> Result<Option<(&'static str, String)>, CheckError> {
        for g in &def.guards {
            let (items, rows, failed) = match self.gather(&g.evidence, period)? {
                Gathered::Ok(i) => (i.items, i.rows, None),
                Gathered::Missing(m) => (Vec::new(), Vec::new(), Some(m)),
                Gathered::Failed(m, items) => (items, Vec::new(), Some(m)),
            };
            let records: Vec<&Value> = items.iter().map(|i| &i.record).collect();
            let value = g.value(&records, self.config.evidence_def(&g.evidence));
            used.extend(items.iter().cloned());
            let judged = match failed {
                Some(m) if value.as_deref() != Some("") || !g.optional => Some((
                    "error",
                    format!("guard for parameter `{}`: {m}", g.parameter),
                )),
                _ => g.judge(value.as_deref(), &rows),
            };
            if judged.is_some() {
                return Ok(judged);
            }
        }
        Ok(None)
    }

    fn verdict(
        &self,
        def: &CheckDef,
        period: &Period,
        reference: DateTime<Utc>,
        inputs: &[(String, Input)],
    ) -> Result<vouch_core::checks::Outcome, String> {
        let main: &[Value] = inputs
            .first()
            .map(|(_, i)| i.rows.as_slice())
            .unwrap_or(&[]);
        let right: &[Value] = inputs.get(1).map(|(_, i)| i.rows.as_slice()).unwrap_or(&[]);
        match def.build(period.start, period.end).map_err(|p| p.message)? {
            Some(check) => vouch_core::checks::evaluate(&check, main, right, reference),
            None => {
                let policy = def.policy_text()?.unwrap_or_default();
                let mut evidence = serde_json::Map::new();
                for (id, i) in inputs {
                    evidence.insert(id.clone(), json!({"rows": i.rows, "items": i.items.iter().map(|x| &x.record).collect::<Vec<_>>()}));
                }
                let input = json!({
                    "period": {"label": period.label, "start": ts(&period.start), "end": ts(&period.end)},
                    "reference_time": ts(&reference),
                    "params": def.params,
                    "rows": main,
                    "evidence": evidence,
                });
                let name = def
                    .policy
                    .clone()
                    .unwrap_or_else(|| format!("{}.rego", def.id));
                let j = super::rego::judge(&name, &policy, &input)?;
                let n = j.denied.len();
                let of = j
                    .judged
                    .map_or(String::new(), |k| format!(" of {k} row(s) judged"));
                Ok(vouch_core::checks::Outcome {
                    verdict: match (n, j.judged) {
                        (0, Some(0)) => Verdict::NoEvidence,
                        (0, _) => Verdict::Pass,
                        _ => Verdict::Fail,
                    },
                    message: match (n, j.judged) {
                        (0, Some(0)) => "0 rows judged: the policy had nothing to check".into(),
                        (0, _) => format!("the policy denies nothing{of}"),
                        _ => format!("the policy denies {n} item(s){of}"),
                    },
                    failing: j.denied,
                })
            }
        }
    }

    fn store_result(&self, mut record: CheckResult) -> Result<CheckResult, CheckError> {
        let id = uuid::Uuid::now_v7().to_string();
        record.id = id.clone();
        let canonical = vouch_core::canonical::to_string(&record.stored());
        let status = record.status.clone();
        let appended = vouch_ledger::audit::record(
            self.ledger,
            json!({
                "action": "check.evaluated", "category": "system",
                "result": if status == "pass" || status == "not_applicable" { "success" } else { "failure" },
                "resource": {"type": "check", "id": record.check_id, "name": record.title},
                "details": {"description": format!("Check `{}` for {}: {status} — {}", record.check_id, record.period.label, record.message)},
                "metadata": {"result_id": id, "status": status, "record_sha256": vouch_store::blobs::sha256_hex(canonical.as_bytes()), "definition_sha256": record.definition_sha256, "period": record.period.label},
            }),
        )?;
        let seq = appended.seqs.first().map(|s| *s as i64);
        self.store.write(&mut |sql| {
            sql.execute(
                "INSERT INTO check_results (id, check_id, period_start, period_end, status, evaluated_at, record, ledger_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    id.clone().into(),
                    record.check_id.clone().into(),
                    record.period.start.clone().into(),
                    record.period.end.clone().into(),
                    status.clone().into(),
                    record.evaluated_at.clone().into(),
                    canonical.clone().into(),
                    seq.into(),
                ],
            )?;
            Ok(())
        })?;
        record.ledger_seq = seq;
        Ok(record)
    }
}

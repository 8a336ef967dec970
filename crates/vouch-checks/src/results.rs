//! Stored check results, read back: what controls roll up and packets report. Kept
//! apart from running checks so that `controls` (which reads results) and `run` (which
//! writes them, then evaluates controls) do not import each other.

use crate::CheckError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_store::Store;

/// One evaluated check: what `vouch check` stores (canonical JSON in `check_results`,
/// its SHA-256 in the ledger's `check.evaluated` event) and reports.
///
/// Fields are declared in alphabetical order so that serializing the struct directly
/// gives the same bytes as the sorted-key `serde_json::Value` it replaces. The stored
/// (hashed) canonical form has every field except `ledger_seq` (see [`CheckResult::stored`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id (`access-review-quarterly`).
    pub check_id: String,
    /// The ids of the controls that list this check.
    pub controls: Vec<String>,
    /// The SHA-256 of the check's definition (see `CheckDef::definition_sha256`).
    pub definition_sha256: String,
    /// When it was evaluated (RFC 3339).
    pub evaluated_at: String,
    /// The evidence items it read.
    pub evidence: Vec<EvidenceRef>,
    /// The failing rows (at most `MAX_FAILING`; open-ended: a row as the evidence has it,
    /// or a synthetic row describing a gap or a missing period).
    pub failing: Vec<Value>,
    /// How many rows failed (may exceed `failing.len()`).
    pub failing_count: u64,
    /// The result's id (a UUIDv7).
    pub id: String,
    /// The check's kind (`max_age`, `rego`, …).
    pub kind: String,
    /// The ledger sequence number of the `check.evaluated` event; not part of the stored,
    /// hashed record (`null` when unknown).
    #[serde(default)]
    pub ledger_seq: Option<i64>,
    /// One sentence for people.
    pub message: String,
    /// The period evaluated.
    pub period: ResultPeriod,
    /// The time judged against (`min(evaluated_at, period end)`, RFC 3339).
    pub reference_time: String,
    /// The check's severity.
    pub severity: String,
    /// `pass`, `fail`, `no_evidence`, `error` or `not_applicable`.
    pub status: String,
    /// Switched off by configuration (the message says why), not "nothing collected".
    pub switched_off: bool,
    /// The check's title.
    pub title: String,
    /// The vouch version that evaluated it.
    pub vouch_version: String,
}

impl std::fmt::Display for CheckResult {
    /// The result as compact JSON (what `{result}` printed when a result was a `Value`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// The period of a check result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultPeriod {
    /// Its end (exclusive, RFC 3339).
    pub end: String,
    /// Its label (`2026-10`).
    pub label: String,
    /// Its start (RFC 3339).
    pub start: String,
}

/// An evidence item a check read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// The evidence definition's id, as the item's record has it.
    pub evidence_id: Value,
    /// The item's id.
    pub item_id: String,
    /// The ledger sequence number of the item's collection event, if any.
    pub ledger_seq: Option<u64>,
    /// The item's SHA-256, as its record has it.
    pub sha256: Value,
}

impl CheckResult {
    /// The record as stored and hashed: every field but `ledger_seq`.
    pub fn stored(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("ledger_seq");
        }
        v
    }

    /// The status this result contributes to its controls (see
    /// [`crate::controls::result_status`]).
    pub fn rollup_status(&self) -> &'static str {
        match self.status.as_str() {
            "not_applicable" if !self.switched_off => "no_evidence",
            s => crate::controls::normalize(s),
        }
    }
}

/// The latest stored result of each check for exactly this period, evaluated no later
/// than `as_of` (None: now).
pub fn latest_results(
    store: &Store,
    period: &Period,
    as_of: Option<&str>,
) -> Result<Vec<Value>, CheckError> {
    let rows = store.query(
        "SELECT r.record, r.ledger_seq FROM check_results r WHERE r.period_start = $1 AND r.period_end = $2 AND r.evaluated_at <= $3 \
         AND r.id = (SELECT x.id FROM check_results x WHERE x.check_id = r.check_id AND x.period_start = $1 AND x.period_end = $2 AND x.evaluated_at <= $3 ORDER BY x.evaluated_at DESC, x.id DESC LIMIT 1) \
         ORDER BY r.check_id",
        &[ts(&period.start).into(), ts(&period.end).into(), as_of.unwrap_or("9999").into()],
    )?;
    rows.iter()
        .map(|r| {
            let mut v: Value = serde_json::from_str(&r.text(0))
                .map_err(|e| CheckError::Corrupt(format!("stored check result: {e}")))?;
            v["ledger_seq"] = json!(r.opt_int(1));
            Ok(v)
        })
        .collect()
}

//! Stored check results, read back: what controls roll up and packets report. Kept
//! apart from running checks so that `controls` (which reads results) and `run` (which
//! writes them, then evaluates controls) do not import each other.

use crate::CheckError;
use serde_json::{json, Value};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_store::Store;

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

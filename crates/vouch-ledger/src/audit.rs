//! vouch's own actions as ledger events: its use is SOC 2 evidence too.
//!
//! They are kept in the ledger, its exports and its tree like any event, but they are
//! not evidence that the *audited systems* produced anything: a ledger holding only
//! vouch's own events (jobs, checks, collections, packets, findings, the API's
//! self-audit) has received no events, and its period has nothing to vouch for.

use crate::{Appended, Ledger, LedgerError};
use serde_json::Value;

/// Append one event describing something vouch did; `timestamp` is set to now.
pub fn record(ledger: &Ledger, mut event: Value) -> Result<Appended, LedgerError> {
    if let Value::Object(m) = &mut event {
        m.entry("timestamp").or_insert_with(|| {
            Value::String(vouch_core::event::format_timestamp(&chrono::Utc::now()))
        });
        m.entry("actor")
            .or_insert_with(|| serde_json::json!({"id": "vouch", "email": null, "ip": null}));
    }
    let ev = vouch_core::event::Event::from_own_clock(event)
        .map_err(|e| LedgerError::Invalid(format!("internal event: {e}")))?;
    ledger.append(vec![ev])
}

/// The canonical bytes that mark an event as vouch's own: the actor [`record`] gives
/// (`{"id":"vouch"}`, nothing else) and the API's self-audit metadata (`source` is
/// `vouch-serve`). Canonical JSON sorts keys and drops nulls, so these are exact.
pub const OWN_MARKERS: [&str; 2] = [
    r#""actor":{"id":"vouch"}"#,
    r#""metadata":{"source":"vouch-serve","#,
];

/// Whether a stored event (its leaf or canonical JSON) is vouch's own record of what it
/// did rather than an event of an audited system.
pub fn is_own(leaf: &[u8]) -> bool {
    OWN_MARKERS.iter().any(|m| {
        let m = m.as_bytes();
        leaf.windows(m.len()).any(|w| w == m)
    })
}

/// The action of a retention run's ledger event (`vouch-seal`'s retention).
pub const RETENTION_ACTION: &str = "retention.archived";

/// A `retention.archived` event's run id and the digest of its pruned entries' index
/// rows ([`crate::index::PrunedIndexDigest`]); `None` for other events and for runs
/// recorded before the digest was.
pub fn retention_index_digest(leaf: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(leaf).ok()?;
    if v["action"] != RETENTION_ACTION || v["resource"]["type"] != "retention_run" {
        return None;
    }
    let run = v["resource"]["id"].as_str()?;
    let digest = v["metadata"][crate::index::PRUNED_INDEX_KEY].as_str()?;
    Some((run.to_string(), digest.to_string()))
}

//! vouch's own actions as ledger events: its use is SOC 2 evidence too.

use crate::ledger::{Appended, Ledger, LedgerError};
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

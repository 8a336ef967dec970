//! The auditor's side (issue 18): populations, samples nobody can steer, and the
//! requests an auditor makes of the company about sampled items (the PBC list).
//!
//! * [`population`] — a population is the complete set of occurrences of a control in
//!   a period, from an evidence definition's collected rows or from the ledger's events
//!   matching a filter. Taking one writes its items in canonical JSON (RFC 8785), commits
//!   to them with an RFC 6962 Merkle root and records `population.taken` in the ledger.
//! * [`sample`] — the auditor commits to a secret nonce (`sample.nonce_committed`, the
//!   nonce's SHA-256 only); the population is taken after; once the auditor reveals the
//!   nonce the seed is `SHA-256(nonce ‖ root)` of the first checkpoint after both
//!   commitments, and the indices follow from the seed ([`sampling`], docs/sampling.md).
//!   A sample's export carries every proof an offline verifier needs.
//! * [`pbc`] — requests on sampled items, answered with evidence items, accepted or
//!   returned; every step is a ledger event.
//!
//! Writes follow one pattern: a conditional database write, the ledger event only when a
//! row changed, and the write undone when the event cannot be appended.

pub mod pbc;
pub mod population;
pub mod sample;
pub mod sampling;
pub mod tree;

use serde_json::{json, Value};
use vouch_config::Config;
use vouch_ledger::Ledger;
use vouch_store::Store;

/// What the operations need.
pub struct Ctx<'a> {
    /// The configuration (population definitions, the blob store's place).
    pub config: &'a Config,
    /// Where records are stored.
    pub store: &'a Store,
    /// The ledger every change is recorded in.
    pub ledger: &'a Ledger,
}

/// Errors of populations, samples and requests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A value is wrong; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (or parameter) at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No population, commitment, sample or request has this id.
    #[error("no {0}")]
    NotFound(String),
    /// The operation conflicts with the current state (a commitment already made, a
    /// request already accepted, a concurrent change); nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// A stored record cannot be read back, or stored content does not match its hash.
    #[error("{0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// The blob store failed or holds altered content.
    #[error(transparent)]
    Blob(#[from] vouch_store::blobs::BlobError),
    /// Appending to the ledger (or reading a proof from it) failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// Reading evidence failed.
    #[error(transparent)]
    Evidence(#[from] vouch_evidence::EvidenceError),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AuditError {
    AuditError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

pub(crate) fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    vouch_core::event::format_timestamp(t)
}

pub(crate) fn canonical<T: serde::Serialize>(v: &T) -> String {
    vouch_core::canonical::to_string(&serde_json::to_value(v).unwrap_or_default())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    vouch_store::blobs::sha256_hex(bytes)
}

/// Append one of this crate's events. `by` becomes the actor (vouch's own actor for
/// `vouch`); returns the event's sequence number.
pub(crate) fn record_event(
    ledger: &Ledger,
    action: &str,
    resource: Value,
    description: String,
    metadata: Value,
    by: &str,
) -> Result<u64, AuditError> {
    let mut ev = json!({
        "action": action, "category": "administrative", "result": "success",
        "resource": resource,
        "details": {"description": description},
        "metadata": metadata,
    });
    if by != "vouch" {
        ev["actor"] = json!({"id": by, "email": null, "ip": null});
    }
    let a = vouch_ledger::audit::record(ledger, ev)?;
    a.seqs
        .first()
        .copied()
        .ok_or_else(|| AuditError::Corrupt("the ledger returned no sequence number".into()))
}

/// An id given by a caller: a UUID or a unique prefix of at least 8 characters.
pub(crate) fn check_id(field: &str, id: &str) -> Result<String, AuditError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(invalid(
            field,
            format!("`{id}` is not an id (give at least 8 characters of it)"),
        ));
    }
    Ok(id.to_ascii_lowercase())
}

/// The one row of `table` whose id starts with `id` (`what` names it in errors).
pub(crate) fn find_one(
    store: &Store,
    table: &str,
    columns: &str,
    field: &str,
    what: &str,
    id: &str,
) -> Result<vouch_store::Row, AuditError> {
    let id = check_id(field, id)?;
    let rows = store.query(
        &format!("SELECT {columns} FROM {table} WHERE id LIKE $1 ORDER BY id LIMIT 2"),
        &[format!("{id}%").into()],
    )?;
    match rows.len() {
        0 => Err(AuditError::NotFound(format!("{what} {id}"))),
        1 => Ok(rows.into_iter().next().expect("one row")),
        _ => Err(invalid(
            field,
            format!("`{id}` matches more than one {what}; give more of the id"),
        )),
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, AuditError> {
    serde_json::from_str(text).map_err(|e| AuditError::Corrupt(format!("stored {what}: {e}")))
}

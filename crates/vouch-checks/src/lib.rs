//! Checks, controls and findings: evidence becomes a verdict. A check reads the latest
//! collection of its evidence for a period, evaluates (a built-in kind from
//! `vouch_core::checks`, or a Rego policy), and its result — bound to the SHA-256 of the
//! check's definition and to the evidence hashes it read — is stored and appended to the
//! ledger. Failing checks open findings; passing ones resolve them. Controls roll check
//! results and evidence freshness up to a status per period.

pub mod controls;
/// Check and control definitions are part of the configuration schema.
pub use vouch_config::checks as defs;
pub mod findings;
pub mod rego;
pub mod results;
pub mod run;

pub use run::{Checker, Report};

/// Errors of checks, controls and findings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A check, control or finding request is wrong (unknown id, bad status or period).
    #[error("{0}")]
    Invalid(String),
    /// No finding has this id.
    #[error("no finding {0}")]
    NotFound(String),
    /// A stored record (a check result, a finding) cannot be read back.
    #[error("{0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// Reading the evidence a check judges failed.
    #[error(transparent)]
    Evidence(#[from] vouch_evidence::EvidenceError),
    /// Appending a result or finding to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
}

//! Checks, controls and findings: evidence becomes a verdict. A check reads the latest
//! collection of its evidence for a period, evaluates (a built-in kind from
//! `vouch_core::checks`, or a Rego policy), and its result — bound to the SHA-256 of the
//! check's definition and to the evidence hashes it read — is stored and appended to the
//! ledger. Failing checks open findings; passing ones resolve them. Controls roll check
//! results and evidence freshness up to a status per period.

pub mod controls;
pub mod defs;
pub mod findings;
pub mod rego;
pub mod run;

pub use run::{Checker, Report};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Invalid(String),
    #[error("no finding {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

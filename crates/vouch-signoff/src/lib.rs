//! Sign-offs: the layer where a person puts their name to what vouch collected and
//! judged. Attestations (seed 002's quarterly operator attestation, seed 001's
//! collection sign-off and quarterly review) and access-review campaigns (seed 003).
//! Every step is a ledger event; signed documents are canonical JSON signed with vouch's
//! key (and optionally the signer's SSH or OpenPGP key): see [`signature`].

pub mod attest;
pub mod collection;
pub mod markdown;
pub mod pins;
pub mod quarterly;
pub mod review;
pub mod schedule;
pub mod signature;
pub mod timestamps;

/// Errors of sign-offs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad request: an unknown step in a note, an opinion that is not allowed, a
    /// malformed period (the message names the field).
    #[error("{0}")]
    Invalid(String),
    /// No attestation or sign-off has this id.
    #[error("{0}")]
    NotFound(String),
    /// The document is frozen (already signed), or its window is in a state that
    /// refuses the operation.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not sign this document.
    #[error("{0}")]
    Forbidden(String),
    /// A signature could not be made or does not verify (the tool's message, no secret).
    #[error("{0}")]
    Signature(String),
    /// Stored data could not be read back.
    #[error("{0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// The ledger refused an append.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// Reading check results or findings failed.
    #[error(transparent)]
    Checks(#[from] vouch_checks::CheckError),
}

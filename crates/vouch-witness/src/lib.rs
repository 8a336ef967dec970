//! Checkpoints the operator cannot rewrite or backdate.
//!
//! - [`cosig`]: C2SP tlog-cosignature (Ed25519 `cosignature/v1`, type 0x04) keys,
//!   cosignature lines and their verification.
//! - [`server`]: `vouch witness serve`, an independent C2SP tlog-witness: it cosigns a
//!   log's checkpoint only when it is consistent with the last one it cosigned, keeping
//!   its own small state file (no vouch data directory).
//! - [`client`]: submitting the ledger's latest checkpoint to the configured witnesses
//!   (`add-checkpoint`, 409 handled) and storing the cosignatures (`witness_cosignatures`).
//! - [`verify`]: k-of-n verification of a cosigned checkpoint.
//! - [`tsa`]: RFC 3161 timestamps with the real `openssl ts`.

pub mod client;
pub mod cosig;
pub mod server;
pub mod tsa;
pub mod verify;

pub use cosig::{CosignerKey, CosignerVerifier};

/// Why a witness operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// A key or vkey is invalid.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A note or request does not have the expected shape.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A cosignature by a configured witness key does not verify.
    #[error("the cosignature by {0} does not verify")]
    BadCosignature(String),
    /// A request or setting is invalid (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// A witness refused or could not be reached; the message names it.
    #[error("{0}")]
    Witness(String),
    /// Too few cosignatures; the message names the missing witnesses.
    #[error("{0}")]
    Quorum(String),
    /// A timestamp authority or `openssl ts` failed.
    #[error("{0}")]
    Timestamp(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl WitnessError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> WitnessError {
        WitnessError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

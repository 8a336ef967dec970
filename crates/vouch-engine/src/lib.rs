//! vouch's services: configuration, keys, and the ledger (sequencer, checkpoints,
//! verification, proofs), plus the demo and the benchmarks. The CLI and (later) the
//! HTTP server are thin layers over this crate.

pub mod audit;
pub mod checks;
pub mod config;
pub mod demo;
pub mod demo_evidence;
pub mod evidence;
pub mod init;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod packet;
pub mod seal;

pub use config::Config;
pub use keys::Keys;
pub use ledger::Ledger;

/// vouch's version, stamped into everything it produces.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Open the store, keys and ledger a configuration describes.
pub fn open(config: &Config) -> Result<(vouch_store::Store, Keys, Ledger), Error> {
    let keys = Keys::load(config)?;
    init::check_database(config)?;
    let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())?;
    // Data directories made before the record existed get one from the first open of a
    // ledger that holds entries (and whose keys are here): from then on a forgotten
    // URL is refused as it is for directories `init` recorded.
    init::record_if_missing(config, &store)?;
    let ledger = Ledger::open(store.clone(), &keys, config.ledger_options());
    Ok((store, keys, ledger))
}

/// Errors of the engine; every message names what is wrong and never a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Keys(String),
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Evidence(#[from] evidence::EvidenceError),
    #[error(transparent)]
    Checks(#[from] checks::CheckError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

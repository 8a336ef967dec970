//! vouch's orchestration layer: opening a data directory (configuration, keys, store,
//! ledger), `init`, the durable job scheduler, and the demo. The domain crates below it
//! are re-exported under their short names so the server and the CLI have one way in:
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`config`] | `vouch-config` | the typed schema of `vouch.toml`, packs, validation |
//! | [`ledger`], [`keys`], [`audit`] | `vouch-ledger` | sequencer, checkpoints, proofs, verification, keys |
//! | [`evidence`] | `vouch-evidence` | collectors, IPE records, the blob store |
//! | [`checks`] | `vouch-checks` | checks, controls, findings |
//! | [`incidents`] | `vouch-incidents` | incidents, response SLAs, automatic incidents |
//! | [`signoff`] | `vouch-signoff` | sign-offs: attestations, collection sign-offs, access-review campaigns, signatures |
//! | [`packet`] | `vouch-packet` | signed JSON + PDF evidence packets |
//! | [`seal`] | `vouch-seal` | encrypted archives, WORM storage, retention |
//! | [`oscal`] | `vouch-oscal` | OSCAL assessment results and component definitions |
//! | [`reports`] | `vouch-reports` | soc2, access-review, vulnerability and incident reports |
//! | [`auditor`] | `vouch-audit` | populations, unsteerable samples, PBC requests (the auditor's side) |
//! | [`witness`] | `vouch-witness` | witness cosignatures (C2SP tlog-witness), RFC 3161 timestamps |

pub mod demo;
pub mod init;
pub mod jobs;
pub mod kit;
pub mod report_sources;

pub use vouch_audit as auditor;
pub use vouch_checks as checks;
pub use vouch_config as config;
pub use vouch_config::Config;
pub use vouch_evidence as evidence;
pub use vouch_incidents as incidents;
pub use vouch_ledger as ledger;
pub use vouch_ledger::{audit, keys, Keys, Ledger};
pub use vouch_oscal as oscal;
pub use vouch_packet as packet;
pub use vouch_reports as reports;
pub use vouch_seal as seal;
pub use vouch_signoff as signoff;
pub use vouch_witness as witness;

/// vouch's version, stamped into everything it produces.
pub const VERSION: &str = vouch_core::VERSION;

/// Open the store, keys and ledger a configuration describes.
pub fn open(config: &Config) -> Result<(vouch_store::Store, Keys, Ledger), Error> {
    let keys = Keys::load(config)?;
    init::check_database(config)?;
    let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())?;
    // Data directories made before the record existed get one from the first open of a
    // ledger that holds entries (and whose keys are here): from then on a forgotten
    // URL is refused as it is for directories `init` recorded.
    init::record_if_missing(config, &store)?;
    let ledger = Ledger::open(
        store.clone(),
        &keys,
        ledger::LedgerOptions::from_config(config),
    );
    Ok((store, keys, ledger))
}

/// What runs where an evidence collection completes (the `generate-soc2-evidence` job,
/// `vouch collect`, the demo): access-review `revoke`s whose account is gone from a
/// population just collected get their remediation finding resolved. Returns the
/// entries remediated.
pub fn after_collection(
    config: &Config,
    store: &vouch_store::Store,
    ledger: &Ledger,
    items: &[evidence::Item],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<signoff::review::Entry>, Error> {
    let ctx = signoff::review::Ctx {
        config,
        store,
        ledger,
    };
    Ok(signoff::review::after_collection(&ctx, items, now)?)
}

/// Every error vouch reports, by the domain it comes from. Messages name what is wrong
/// and never a secret. The server maps these to HTTP statuses and the CLI to exit codes,
/// each in one place (`vouch-server`'s `error.rs`, `vouch-cli`'s `main.rs`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration, a flag or a request parameter is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A key is missing, malformed or does not match the configuration.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The store failed (or refused, e.g. a full disk).
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// The ledger refused an append or failed.
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    /// Evidence collection or lookup failed.
    #[error(transparent)]
    Evidence(#[from] evidence::EvidenceError),
    /// A check, control or finding operation failed.
    #[error(transparent)]
    Checks(#[from] checks::CheckError),
    /// An incident operation failed (a bad value, an unknown id, a lifecycle conflict).
    #[error(transparent)]
    Incidents(#[from] incidents::IncidentError),
    /// Making, reading or reproducing a packet failed.
    #[error(transparent)]
    Packet(#[from] packet::Error),
    /// Archiving, restoring or retention failed.
    #[error(transparent)]
    Seal(#[from] seal::Error),
    /// An access-review request or operation failed.
    #[error(transparent)]
    Review(#[from] signoff::review::ReviewError),
    /// An attestation or sign-off operation failed (bad request, unknown id, already
    /// signed, wrong role, a signature that does not verify).
    #[error(transparent)]
    Signoff(#[from] signoff::Error),
    /// Requesting, generating or reading a report failed.
    #[error(transparent)]
    Reports(#[from] reports::Error),
    /// A job is unknown, already running, or failed.
    #[error(transparent)]
    Jobs(#[from] jobs::JobError),
    /// A witness refused or was unreachable, cosignatures fall short, or a timestamp
    /// authority failed.
    #[error(transparent)]
    Witness(#[from] witness::WitnessError),
    /// The demo could not build its sample data.
    #[error("{0}")]
    Demo(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
    /// A configuration (or usage) error with this message.
    pub fn config(message: impl Into<String>) -> Error {
        Error::Config(config::ConfigError::Invalid(message.into()))
    }
}

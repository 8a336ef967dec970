//! The tamper-evident ledger: one sequencer with group commit, signed checkpoints,
//! whole-log verification, inclusion and consistency proofs, and exports.

pub mod audit;
mod checkpoint;
pub mod index;
pub mod keys;
mod proof;
pub mod query;
mod sequencer;
pub mod sign;
mod verify;

pub use keys::{KeyError, Keys};

pub use checkpoint::SignedCheckpoint;
pub use proof::{root_at, ConsistencyProof, StoreNodes};
pub use verify::{verify_proof_file, BreakReason, Observer, VerifyOptions, VerifyReport};

use crossbeam_channel::Sender;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::chain::Chain;
use vouch_core::event::{Event, Sealed};
use vouch_core::note::NoteSigner;
use vouch_store::{Store, StoreError};

/// How the sequencer batches and checkpoints.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Least time between two automatic checkpoints.
    pub checkpoint_interval: Duration,
    /// Most events one commit gathers.
    pub max_batch: usize,
    /// How far ahead of this machine's clock an incoming event's timestamp may be
    /// (`ledger.max_clock_skew`); applied by event validation, process-wide.
    pub max_clock_skew: Duration,
}

impl LedgerOptions {
    /// The options `[ledger]` of vouch.toml sets.
    pub fn from_config(config: &vouch_config::Config) -> LedgerOptions {
        let l = &config.settings.ledger;
        LedgerOptions {
            checkpoint_interval: Duration::from_secs(l.checkpoint_interval_secs),
            max_batch: l.max_batch,
            max_clock_skew: vouch_core::checks::parse_duration(&l.max_clock_skew)
                .ok()
                .and_then(|d| d.to_std().ok())
                .unwrap_or(Duration::from_secs(300)),
        }
    }
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            checkpoint_interval: Duration::from_secs(10),
            max_batch: 10_000,
            max_clock_skew: Duration::from_secs(
                vouch_core::event::DEFAULT_MAX_CLOCK_SKEW_SECS as u64,
            ),
        }
    }
}

/// Why an append, proof or verification request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The same id was appended before with different content.
    #[error("event id {id} already exists as entry {seq} with different content")]
    Conflict {
        /// The event id.
        id: String,
        /// Where the first event with that id is.
        seq: u64,
    },
    /// An event or a request (a proof's range, a verification bound) is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sequencer thread is gone; nothing more can be appended.
    #[error("the ledger's sequencer has stopped")]
    Stopped,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Sequence number of each event, in input order.
    pub seqs: Vec<u64>,
    /// How many were new (the rest were already there, identical).
    pub new: usize,
    /// Tree size after the commit that carried them.
    pub tree_size: u64,
}

pub(crate) struct Inner {
    pub store: Store,
    pub signer: NoteSigner,
    pub chain: Chain,
}

/// A handle on the ledger; cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
    tx: Sender<sequencer::Request>,
}

impl Ledger {
    /// Open the ledger over a store and start its sequencer thread.
    pub fn open(store: Store, keys: &Keys, options: LedgerOptions) -> Ledger {
        vouch_core::event::set_max_clock_skew(
            chrono::Duration::from_std(options.max_clock_skew).unwrap_or(
                chrono::Duration::seconds(vouch_core::event::DEFAULT_MAX_CLOCK_SKEW_SECS),
            ),
        );
        let inner = Arc::new(Inner {
            store,
            signer: keys.log.clone(),
            chain: Chain::new(&keys.hmac),
        });
        let tx = sequencer::start(inner.clone(), options);
        Ledger { inner, tx }
    }

    /// The store the ledger lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The log's origin (and log key name).
    pub fn origin(&self) -> &str {
        self.inner.signer.name()
    }

    /// Append validated events as one all-or-nothing batch; returns once durable.
    pub fn append(&self, events: Vec<Event>) -> Result<Appended, LedgerError> {
        self.submit(events)?
            .blocking_recv()
            .map_err(|_| LedgerError::Stopped)?
    }

    /// Queue a batch; the receiver resolves once the batch is durable (for async callers).
    pub fn submit(
        &self,
        events: Vec<Event>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Appended, LedgerError>>, LedgerError> {
        self.submit_sealed(events.into_iter().map(Event::seal).collect())
    }

    /// Append events already reduced to their canonical form.
    pub fn append_sealed(&self, events: Vec<Sealed>) -> Result<Appended, LedgerError> {
        self.submit_sealed(events)?
            .blocking_recv()
            .map_err(|_| LedgerError::Stopped)?
    }

    /// Queue a batch already reduced to canonical form; the receiver resolves once durable.
    pub fn submit_sealed(
        &self,
        events: Vec<Sealed>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Appended, LedgerError>>, LedgerError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(sequencer::Request { events, reply })
            .map_err(|_| LedgerError::Stopped)?;
        Ok(rx)
    }

    /// Sign and store a checkpoint of the current tree (or return the one that exists).
    pub fn checkpoint(&self) -> Result<SignedCheckpoint, LedgerError> {
        checkpoint::make(&self.inner)
    }

    /// A signed checkpoint at an earlier size, made on demand when none is stored.
    pub fn checkpoint_at(&self, size: u64) -> Result<SignedCheckpoint, LedgerError> {
        checkpoint::at_size(&self.inner, size)
    }

    /// The stored checkpoint of the greatest size, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, LedgerError> {
        Ok(self
            .inner
            .store
            .latest_checkpoint()?
            .map(SignedCheckpoint::from_row))
    }

    /// Verify the whole ledger.
    pub fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, LedgerError> {
        verify::run(&self.inner, options)
    }

    /// Verify, handing every verified entry `(seq, ts, leaf)` to `observe`.
    pub fn verify_observed(
        &self,
        options: &VerifyOptions,
        observe: Observer<'_>,
    ) -> Result<VerifyReport, LedgerError> {
        verify::run_observed(&self.inner, options, observe)
    }

    /// The log's public key.
    pub fn verifier(&self) -> vouch_core::note::NoteVerifier {
        self.inner.signer.verifier()
    }

    /// A C2SP tlog-proof of entry `index` in the tree of `size` (default: latest checkpoint).
    pub fn inclusion_proof(&self, index: u64, size: Option<u64>) -> Result<String, LedgerError> {
        proof::inclusion(self, index, size)
    }

    /// A consistency proof between two tree sizes, with both checkpoints.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, LedgerError> {
        proof::consistency(self, from, to)
    }

    /// Stream the leaves whose timestamp is in `period`, in sequence order, one per line.
    pub fn export(
        &self,
        period: &vouch_core::period::Period,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, LedgerError> {
        let start = vouch_core::event::format_timestamp(&period.start);
        let end = vouch_core::event::format_timestamp(&period.end);
        let mut n = 0u64;
        self.inner.store.scan_period(&start, &end, &mut |_, leaf| {
            if leaf.is_empty() {
                return Ok(true); // pruned by retention: the leaf is in its WORM archive
            }
            out.write_all(leaf.as_bytes())
                .and_then(|_| out.write_all(b"\n"))
                .map_err(|e| StoreError::Aborted(format!("cannot write export: {e}")))?;
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }
}

//! Whole-ledger verification. Streams every row once, in seq order, with memory flat in
//! the number of entries: recompute each leaf hash, the HMAC chain and the Merkle tree,
//! and check them against the stored hashes, the stored tree nodes, the head row and
//! every signed checkpoint (plus, optionally, a checkpoint the caller trusts).
//!
//! `broken_at` is the first seq whose integrity cannot be established: a missing,
//! altered, inserted or reordered row; the first missing seq of a truncated tail; for a
//! bad checkpoint, the last seq it covers.

use super::{Inner, LedgerError};
use serde::Serialize;
use vouch_core::merkle::{leaf_hash, Frontier, TILE_HEIGHT};
use vouch_core::note::{Checkpoint, NoteVerifier};
use vouch_core::{b64, Hash};
use vouch_store::{IndexRef, Store, StoreError, Value};

/// What to verify against, and how far.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A signed checkpoint obtained earlier (e.g. from a packet): the ledger must
    /// still contain exactly the tree it commits to.
    pub trusted_checkpoint: Option<String>,
    /// Verify only the first `n` entries (the tree a given checkpoint covers); entries,
    /// checkpoints and the head beyond it are not considered.
    pub up_to: Option<u64>,
}

/// Called for every entry once it is verified: `(seq, ts, leaf)`.
pub type Observer<'a> = &'a mut dyn FnMut(u64, &[u8], &[u8]);

/// The seeds' `{valid, broken_at}` result, with what was checked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Whether the whole range verified.
    pub valid: bool,
    /// The first sequence number no longer trusted, when not valid.
    pub broken_at: Option<u64>,
    /// Entries whose leaf hash and chain were verified.
    pub checked: u64,
    /// Tree size recorded in the ledger head.
    pub tree_size: u64,
    /// Base64 root of the verified entries.
    pub root: String,
    /// Stored checkpoints verified against the entries.
    pub checkpoints_checked: u64,
    /// Why the ledger is broken, as text; absent when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the ledger is broken at `broken_at`, as a value (`reason` is its text).
    #[serde(skip)]
    pub break_reason: Option<BreakReason>,
}

/// Why verification stopped trusting the ledger at `broken_at`: each case of
/// docs/verification.md. The text (`reason` in reports) is the [`std::fmt::Display`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakReason {
    /// A checkpoint's signed note does not verify with the log key.
    CheckpointSignature {
        /// Tree size of the checkpoint.
        size: u64,
        /// Why the signature does not verify.
        error: String,
    },
    /// A checkpoint was signed for another log.
    CheckpointOrigin {
        /// Tree size of the checkpoint.
        size: u64,
        /// The origin the checkpoint names.
        origin: String,
    },
    /// A checkpoint's stored size/root columns differ from its signed note.
    CheckpointColumns {
        /// Tree size of the checkpoint.
        size: u64,
    },
    /// A (trusted, when given with `--trusted-checkpoint`) checkpoint's root is not the
    /// root of the entries up to its size.
    CheckpointRoot {
        /// Tree size of the checkpoint.
        size: u64,
        /// Whether it is the checkpoint given as trusted.
        trusted: bool,
    },
    /// A sequence number is absent: `seq` is missing, `next` is the next stored one.
    Missing {
        /// The missing sequence number.
        seq: u64,
        /// The next sequence number stored.
        next: u64,
    },
    /// A leaf was deleted without a retention run recording it.
    LeafRemoved {
        /// The entry.
        seq: u64,
    },
    /// The stored leaf hash is not a hash.
    LeafHashMalformed {
        /// The entry.
        seq: u64,
    },
    /// The leaf's content does not hash to its stored leaf hash.
    LeafAltered {
        /// The entry.
        seq: u64,
    },
    /// The HMAC chain does not continue at this entry.
    ChainBroken {
        /// The entry.
        seq: u64,
    },
    /// The `id`/`ts` lookup columns differ from the leaf's fields.
    LookupColumns {
        /// The entry.
        seq: u64,
    },
    /// Fewer entries than the head, a checkpoint or the requested prefix cover.
    Truncated {
        /// Entries present.
        entries: u64,
        /// Entries the head, a checkpoint or the request says there are.
        claimed: u64,
        /// Whether `claimed` is the requested prefix (`up_to`) rather than the head or a checkpoint.
        prefix: bool,
    },
    /// Entries beyond the head's tree size.
    Inserted {
        /// The tree size the head records.
        head_size: u64,
    },
    /// The head's chain value or frontier does not match the entries.
    HeadMismatch,
    /// A stored Merkle node (used for proofs) is missing.
    NodeMissing {
        /// Height of the node's subtree.
        level: u32,
        /// Index of the node at its level.
        index: u64,
    },
    /// A stored Merkle node differs from the recomputed one.
    NodeWrong {
        /// Height of the node's subtree.
        level: u32,
        /// Index of the node at its level.
        index: u64,
    },
    /// A stored Merkle node covers entries that do not exist.
    NodeUnexpected {
        /// Height of the node's subtree.
        level: u32,
        /// Index of the node at its level.
        index: u64,
    },
    /// The entry's audit-log index row (`audit_index`) is missing or differs from its
    /// leaf (organization, actor, action, resource type, category, result, timestamp).
    IndexRow {
        /// The entry.
        seq: u64,
        /// Whether the row is missing (rather than different).
        missing: bool,
    },
    /// An audit-log index row exists for a seq that has no ledger entry.
    IndexExtra {
        /// The row's seq.
        seq: u64,
    },
    /// A daily counter (`audit_daily`) differs from the count of index rows of that
    /// day, category and result.
    DailyCount {
        /// The day (`YYYY-MM-DD`).
        day: String,
        /// The category.
        category: String,
        /// The result.
        result: String,
        /// The stored counter (0 when there is none).
        stored: u64,
        /// The index rows counted.
        counted: u64,
    },
    /// A daily counter's first/last seq differ from those of the index rows it counts
    /// (the audit-log query bounds date ranges with them).
    DailySeqRange {
        /// The day (`YYYY-MM-DD`).
        day: String,
        /// The category.
        category: String,
        /// The result.
        result: String,
    },
    /// An audit-log index row names no combination (`audit_combo`) or one whose fields
    /// differ from the row's.
    IndexCombo {
        /// The row's seq.
        seq: u64,
    },
    /// An audit-log combination's count differs from the number of index rows naming
    /// it (the query answers "no events" from a zero count).
    ComboCount {
        /// The combination's id.
        combo: u64,
        /// The stored count (0 when there is no combination row).
        stored: u64,
        /// The index rows counted.
        counted: u64,
    },
    /// An actor's count of events in an audit-log combination (`audit_actor_combo`)
    /// differs from the number of that actor's index rows naming it (the query answers
    /// "no events" for an actor and filters from a zero count).
    ActorComboCount {
        /// The actor.
        actor: String,
        /// The combination's id.
        combo: u64,
        /// The stored count (0 when there is no row).
        stored: u64,
        /// The index rows counted.
        counted: u64,
    },
    /// The audit-log index rows of the entries a retention run pruned are not those the
    /// run recorded (`index_sha256` in its `retention.archived` event): a row of a
    /// pruned entry was altered, deleted or added, or the index floor was moved.
    PrunedIndex {
        /// The retention run.
        run_id: String,
        /// The seq of the run's `retention.archived` event.
        event_seq: u64,
    },
    /// A negative sequence number is stored.
    NegativeSeq {
        /// The stored value.
        seq: i64,
    },
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use BreakReason::*;
        match self {
            CheckpointSignature { size, error } => write!(f, "checkpoint at tree size {size}: {error}"),
            CheckpointOrigin { size, origin } => write!(f, "checkpoint at tree size {size} has origin `{origin}`"),
            CheckpointColumns { size } => write!(f, "checkpoint at tree size {size}: stored size/root differ from the signed note"),
            CheckpointRoot { size, trusted } => write!(f, "{}checkpoint at tree size {size}: its root does not match the entries", if *trusted { "trusted " } else { "" }),
            Missing { seq, next } => write!(f, "entry {seq} is missing (next stored entry is {next})"),
            LeafRemoved { seq } => write!(f, "entry {seq}: the leaf was removed outside a retention run"),
            LeafHashMalformed { seq } => write!(f, "entry {seq}: stored leaf hash is malformed"),
            LeafAltered { seq } => write!(f, "entry {seq}: leaf hash does not match the leaf (entry altered)"),
            ChainBroken { seq } => write!(f, "entry {seq}: HMAC chain broken (entry altered, inserted, reordered, or rewritten without the key)"),
            LookupColumns { seq } => write!(f, "entry {seq}: the id/ts lookup columns differ from the leaf"),
            Truncated { entries, claimed, prefix: true } => write!(f, "the log ends at {entries} entries but {claimed} were to be verified (truncated)"),
            Truncated { entries, claimed, prefix: false } => write!(f, "the log ends at {entries} entries but the head/checkpoints cover {claimed} (truncated)"),
            Inserted { head_size } => write!(f, "entries beyond the head's tree size {head_size} (inserted)"),
            HeadMismatch => write!(f, "the ledger head does not match the entries"),
            NodeMissing { level, index } => write!(f, "stored tree node (level {level}, index {index}) is missing"),
            NodeWrong { level, index } => write!(f, "stored tree node (level {level}, index {index}) is wrong"),
            NodeUnexpected { level, index } => write!(f, "unexpected stored tree node (level {level}, index {index})"),
            IndexRow { seq, missing: true } => write!(f, "entry {seq}: its audit-log index row is missing"),
            IndexRow { seq, missing: false } => write!(f, "entry {seq}: its audit-log index row differs from the leaf"),
            IndexExtra { seq } => write!(f, "audit-log index row {seq} has no ledger entry (inserted)"),
            DailyCount { day, category, result, stored, counted } => write!(f, "daily count {day}/{category}/{result} is {stored} but the index has {counted} events"),
            DailySeqRange { day, category, result } => write!(f, "daily counter {day}/{category}/{result}: its first/last seq differ from the index"),
            IndexCombo { seq } => write!(f, "audit-log index row {seq} names a combination that is missing or differs from the row"),
            ComboCount { combo, stored, counted } => write!(f, "audit-log combination {combo} counts {stored} events but the index has {counted}"),
            ActorComboCount { actor, combo, stored, counted } => write!(f, "audit-log combination {combo} counts {stored} events of actor {actor} but the index has {counted}"),
            PrunedIndex { run_id, event_seq } => write!(f, "retention run {run_id}: the audit-log index rows of the entries it pruned differ from those it recorded (event {event_seq})"),
            NegativeSeq { seq } => write!(f, "negative seq {seq}"),
        }
    }
}

struct Break {
    at: u64,
    reason: BreakReason,
}

fn worst(current: &mut Option<Break>, at: u64, reason: BreakReason) {
    if current.as_ref().is_none_or(|b| at < b.at) {
        *current = Some(Break { at, reason });
    }
}

/// A chunk of rows passed from the reader thread to the hashing thread.
#[derive(Default)]
struct Chunk {
    seqs: Vec<i64>,
    /// id, ts, leaf and encoded index row of each row, concatenated; `ends` marks each
    /// row's four ends.
    bytes: Vec<u8>,
    ends: Vec<[usize; 4]>,
    /// Whether each row has an audit-log index row.
    indexed: Vec<bool>,
    leaf_hashes: Vec<Option<Hash>>,
    chains: Vec<Option<Hash>>,
    /// Leaf hashes recomputed by the reader thread for the first part of the chunk
    /// (it has the bytes in cache); the checker hashes the rest, balancing the two.
    computed: Vec<Hash>,
}

impl Chunk {
    fn clear(&mut self) {
        self.seqs.clear();
        self.bytes.clear();
        self.ends.clear();
        self.indexed.clear();
        self.leaf_hashes.clear();
        self.chains.clear();
        self.computed.clear();
    }
}

const CHUNK_ROWS: usize = 8192;
/// Rows per chunk whose leaf hash the reader computes (measured to balance the threads).
const READER_HASHES: usize = CHUNK_ROWS / 3;

/// A row at the head's size exists only if someone wrote it outside the sequencer (the
/// head moves in the same transaction as every append). A row found there is legitimate
/// if the head has moved past it when read again (an append committed in between).
fn inserted_beyond_head(store: &Store) -> Result<Option<u64>, LedgerError> {
    let mut size = store.head()?.size;
    for _ in 0..8 {
        if store.leaf(size)?.is_none() {
            return Ok(None);
        }
        let again = store.head()?.size;
        if again <= size {
            return Ok(Some(size));
        }
        size = again;
    }
    // Appends keep racing ahead: every row seen so far was covered by the head.
    Ok(None)
}

pub fn run(inner: &Inner, options: &VerifyOptions) -> Result<VerifyReport, LedgerError> {
    run_observed(inner, options, &mut |_, _, _| {})
}

/// What the checkpoint scan yields: the (size, root, trusted) targets the entries must
/// match, how many checkpoints were checked, and the largest size among them.
type Checkpoints = (Vec<(u64, Hash, bool)>, u64, u64);

/// Every stored checkpoint up to `limit`: its signature, origin and columns (breaks go
/// to `broken`). Returns the (size, root, trusted) targets the entries must match, how
/// many checkpoints were checked, and the largest size among them.
fn scan_checkpoints(
    store: &Store,
    verifier: &NoteVerifier,
    limit: u64,
    broken: &mut Option<Break>,
) -> Result<Checkpoints, LedgerError> {
    let mut targets: Vec<(u64, Hash, bool)> = Vec::new();
    let mut checkpoints_checked = 0u64;
    let mut latest_size = 0u64;
    store.scan_checkpoints(&mut |row| {
        if row.size > limit {
            return Ok(false);
        }
        checkpoints_checked += 1;
        latest_size = latest_size.max(row.size);
        let at = row.size.saturating_sub(1);
        match Checkpoint::open(&row.note, verifier) {
            Err(e) => worst(
                broken,
                at,
                BreakReason::CheckpointSignature {
                    size: row.size,
                    error: e.to_string(),
                },
            ),
            Ok(cp) if cp.origin != verifier.name() => worst(
                broken,
                at,
                BreakReason::CheckpointOrigin {
                    size: row.size,
                    origin: cp.origin.clone(),
                },
            ),
            Ok(cp) if cp.size != row.size || cp.root[..] != row.root[..] => worst(
                broken,
                at,
                BreakReason::CheckpointColumns { size: row.size },
            ),
            Ok(cp) => targets.push((cp.size, cp.root, false)),
        }
        Ok(true)
    })?;
    Ok((targets, checkpoints_checked, latest_size))
}

/// Stored tree nodes (used for proofs) against the recomputed ones: a missing, wrong or
/// unexpected node breaks at its first leaf. `covered` is how many leaves were checked.
fn check_nodes(
    store: &Store,
    computed_nodes: &mut [(u32, u64, Hash)],
    covered: u64,
    broken: &mut Option<Break>,
) -> Result<(), LedgerError> {
    computed_nodes.sort_by_key(|n| (n.0, n.1));
    let mut i = 0usize;
    store.scan_nodes(&mut |level, idx, hash| {
        while i < computed_nodes.len() && (computed_nodes[i].0, computed_nodes[i].1) < (level, idx)
        {
            let (l, x, _) = computed_nodes[i];
            worst(
                broken,
                x << l,
                BreakReason::NodeMissing { level: l, index: x },
            );
            i += 1;
        }
        if i < computed_nodes.len() && (computed_nodes[i].0, computed_nodes[i].1) == (level, idx) {
            if computed_nodes[i].2[..] != *hash {
                worst(
                    broken,
                    idx << level,
                    BreakReason::NodeWrong { level, index: idx },
                );
            }
            i += 1;
        } else if (idx + 1) << level <= covered {
            worst(
                broken,
                idx << level,
                BreakReason::NodeUnexpected { level, index: idx },
            );
        }
        Ok(true)
    })?;
    while i < computed_nodes.len() {
        let (l, x, _) = computed_nodes[i];
        worst(
            broken,
            x << l,
            BreakReason::NodeMissing { level: l, index: x },
        );
        i += 1;
    }
    Ok(())
}

/// Verify, handing each verified entry to `observe` (one pass for reports and exports).
pub fn run_observed(
    inner: &Inner,
    options: &VerifyOptions,
    observe: Observer<'_>,
) -> Result<VerifyReport, LedgerError> {
    let store = &inner.store;
    let limit = options.up_to.unwrap_or(u64::MAX);
    let verifier = inner.signer.verifier();
    let mut broken: Option<Break> = None;

    // Checkpoints: signature, origin, and that the stored columns match the note.
    let (mut targets, checkpoints_checked, mut latest_size) =
        scan_checkpoints(store, &verifier, limit, &mut broken)?;
    if let Some(note) = &options.trusted_checkpoint {
        match Checkpoint::open(note, &verifier) {
            Ok(cp) if cp.size > limit => {
                return Err(LedgerError::Invalid(format!(
                    "the trusted checkpoint (size {}) is beyond the verified range ({limit})",
                    cp.size
                )));
            }
            Ok(cp) => {
                latest_size = latest_size.max(cp.size);
                targets.push((cp.size, cp.root, true));
            }
            Err(e) => {
                return Err(LedgerError::Invalid(format!(
                    "the trusted checkpoint does not verify with this log's key: {e}"
                )))
            }
        }
    }
    targets.sort_by_key(|t| t.0);

    let mut head = store.head()?;
    if let Some(n) = options.up_to {
        if n > head.size {
            return Err(LedgerError::Invalid(format!(
                "cannot verify {n} entries: the ledger holds {}",
                head.size
            )));
        }
        // Judge the prefix on its own: it must be complete, nothing more.
        latest_size = latest_size.max(n);
        head.size = n;
    }
    let mut frontier = Frontier::new();
    let mut chain = vouch_core::chain::GENESIS;
    let mut computed_nodes: Vec<(u32, u64, Hash)> = Vec::new();
    let mut next_target = 0usize;
    // A checkpoint of the empty tree is checked before any entry.
    check_targets(&targets, &mut next_target, &frontier, &mut broken);

    // Stream exactly the entries the head covered when verification began: appends that
    // commit meanwhile are not part of this verification (and must not look inserted).
    let stream_limit = limit.min(head.size.max(latest_size));
    // Leaves removed by retention runs (their content is in a WORM archive); a leaf
    // missing anywhere else was removed by someone else.
    // Each pruned seq maps to its run (an index into `runs`: run ids are kept once).
    let mut runs: Vec<String> = Vec::new();
    let mut pruned: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    {
        let mut run_index: std::collections::HashMap<String, u32> = Default::default();
        for r in store.query("SELECT seq, run_id FROM ledger_pruned", &[])? {
            let run = r.text(1);
            let i = *run_index.entry(run.clone()).or_insert_with(|| {
                runs.push(run);
                (runs.len() - 1) as u32
            });
            pruned.insert(r.int(0) as u64, i);
        }
    }
    // Entries below the floor existed when the index was created (migration 0018).
    let index_floor = store
        .query("SELECT below FROM audit_index_floor", &[])?
        .first()
        .map_or(0, |r| r.int(0) as u64);
    // Per run: the digest of its pruned entries' index rows as stored now, and the
    // first seq it pruned; and the digest each run recorded in its ledger event.
    let mut pruned_rows: Vec<Option<(crate::index::PrunedIndexDigest, u64)>> =
        runs.iter().map(|_| None).collect();
    let mut recorded: std::collections::HashMap<String, (String, u64)> = Default::default();
    let mut indexed_seen = 0u64;
    let entry_break = stream(inner, stream_limit, &mut |seq: u64,
                                                        id: &[u8],
                                                        ts: &[u8],
                                                        leaf: &[u8],
                                                        index: Option<&IndexRef<'_>>,
                                                        lh: Hash,
                                                        stored_lh: Option<Hash>,
                                                        stored_chain: Option<Hash>|
     -> Option<Break> {
        let expected = frontier.size();
        if seq != expected {
            return Some(Break {
                at: expected,
                reason: BreakReason::Missing {
                    seq: expected,
                    next: seq,
                },
            });
        }
        let is_pruned = leaf.is_empty();
        let lh = if is_pruned {
            let Some(&run) = pruned.get(&seq) else {
                return Some(Break {
                    at: seq,
                    reason: BreakReason::LeafRemoved { seq },
                });
            };
            let (digest, _) = pruned_rows[run as usize]
                .get_or_insert_with(|| (crate::index::PrunedIndexDigest::new(index_floor), seq));
            if let Some(ix) = index {
                digest.add(seq, ix);
            }
            match stored_lh {
                Some(h) => h,
                None => {
                    return Some(Break {
                        at: seq,
                        reason: BreakReason::LeafHashMalformed { seq },
                    })
                }
            }
        } else {
            lh
        };
        if !is_pruned && stored_lh != Some(lh) {
            return Some(Break {
                at: seq,
                reason: BreakReason::LeafAltered { seq },
            });
        }
        let t = inner.chain.next(&chain, &lh, seq);
        if stored_chain != Some(t) {
            return Some(Break {
                at: seq,
                reason: BreakReason::ChainBroken { seq },
            });
        }
        chain = t;
        frontier.push(lh, |n| {
            if n.level % TILE_HEIGHT == 0 {
                computed_nodes.push((n.level, n.index, n.hash));
            }
        });
        check_targets(&targets, &mut next_target, &frontier, &mut broken);
        if index.is_some() {
            indexed_seen += 1;
        }
        if is_pruned {
            // Chain and tree verified from the stored hash; the content is archived, so
            // its index row cannot be compared here (see docs/verification.md). Leaves
            // pruned before the index existed (below the floor) have no row.
            if index.is_none() && seq >= index_floor {
                return Some(Break {
                    at: seq,
                    reason: BreakReason::IndexRow { seq, missing: true },
                });
            }
            return None;
        }
        // The lookup columns must still say what the (now verified) leaf says.
        // `timestamp` is the last key of a canonical leaf; `id` needs a scan.
        let ts_ok = leaf.len() > ts.len() + 2
            && &leaf[leaf.len() - 2 - ts.len()..leaf.len() - 2] == ts
            && leaf[..leaf.len() - 2 - ts.len()].ends_with(b"\"timestamp\":\"");
        if !ts_ok || vouch_core::canonical::top_level_str(leaf, "id") != Some(id) {
            return Some(Break {
                at: seq,
                reason: BreakReason::LookupColumns { seq },
            });
        }
        // The audit-log index row must say what the leaf says (ts is verified above).
        match index {
            None => {
                return Some(Break {
                    at: seq,
                    reason: BreakReason::IndexRow { seq, missing: true },
                })
            }
            Some(ix) if !crate::index::row_matches(ix, leaf, ts) => {
                return Some(Break {
                    at: seq,
                    reason: BreakReason::IndexRow {
                        seq,
                        missing: false,
                    },
                })
            }
            Some(ix) => {
                // A retention run's record of its pruned entries' index rows (the
                // action is read from the verified index row: no leaf is scanned).
                if ix.fields[2] == Some(crate::audit::RETENTION_ACTION.as_bytes()) {
                    if let Some((run, digest)) = crate::audit::retention_index_digest(leaf) {
                        // The first event naming a run is the run's own (its id is not
                        // known before): a later one cannot replace it.
                        recorded.entry(run).or_insert((digest, seq));
                    }
                }
            }
        }
        observe(seq, ts, leaf);
        None
    })?;
    let checked = frontier.size();
    // Each run's recorded digest against the rows of its pruned entries now (runs from
    // before digests were recorded, or whose event is not in the verified range, have
    // nothing to compare). A run whose entries all lost their ledger_pruned rows broke
    // above already (LeafRemoved).
    for (i, run) in runs.iter().enumerate() {
        let Some((want, event_seq)) = recorded.remove(run) else {
            continue;
        };
        let (got, first) = match pruned_rows[i].take() {
            Some((d, first)) => (d.finish(), first),
            None => continue,
        };
        if got != want {
            worst(
                &mut broken,
                first,
                BreakReason::PrunedIndex {
                    run_id: run.clone(),
                    event_seq,
                },
            );
        }
    }
    if let Some(b) = entry_break {
        worst(&mut broken, b.at, b.reason);
    } else {
        // A shorter log than the head or a checkpoint says: the tail was cut.
        let claimed = head.size.max(latest_size);
        if options.up_to.is_some() && checked < claimed {
            worst(
                &mut broken,
                checked,
                BreakReason::Truncated {
                    entries: checked,
                    claimed,
                    prefix: true,
                },
            );
        } else if options.up_to.is_some() {
            // A prefix: the head describes a larger tree, nothing to compare.
        } else if checked < claimed {
            worst(
                &mut broken,
                checked,
                BreakReason::Truncated {
                    entries: checked,
                    claimed,
                    prefix: false,
                },
            );
        } else if checked > head.size {
            worst(
                &mut broken,
                head.size,
                BreakReason::Inserted {
                    head_size: head.size,
                },
            );
        } else if let Some(beyond) = inserted_beyond_head(store)? {
            worst(
                &mut broken,
                beyond,
                BreakReason::Inserted { head_size: beyond },
            );
        } else if head.chain != chain || head.frontier != frontier.to_bytes() {
            worst(
                &mut broken,
                checked.saturating_sub(1),
                BreakReason::HeadMismatch,
            );
        }
    }

    // Stored tree nodes (used for proofs) must equal the recomputed ones.
    check_nodes(store, &mut computed_nodes, checked.min(limit), &mut broken)?;
    check_index(
        store,
        checked,
        indexed_seen,
        options.up_to.is_none(),
        &mut broken,
    )?;

    Ok(VerifyReport {
        valid: broken.is_none(),
        broken_at: broken.as_ref().map(|b| b.at),
        checked,
        tree_size: head.size,
        root: b64(&frontier.root()),
        checkpoints_checked,
        reason: broken.as_ref().map(|b| b.reason.to_string()),
        break_reason: broken.map(|b| b.reason),
    })
}

/// Index rows without an entry, and (for a whole-ledger verification) the daily
/// counters recounted from the index rows.
fn check_index(
    store: &Store,
    checked: u64,
    indexed_seen: u64,
    whole: bool,
    broken: &mut Option<Break>,
) -> Result<(), LedgerError> {
    let below = Value::Int(checked as i64);
    let rows = store.query(
        "SELECT count(*) FROM audit_index WHERE seq < $1",
        std::slice::from_ref(&below),
    )?;
    let in_range = rows.first().map_or(0, |r| r.int(0) as u64);
    // Rows past the verified entries: an append commits its entries and rows together,
    // so a row without an entry was written by someone else.
    let orphan_sql = if in_range > indexed_seen {
        "SELECT min(i.seq) FROM audit_index i WHERE i.seq < $1 AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.seq = i.seq)"
    } else {
        "SELECT min(i.seq) FROM audit_index i WHERE i.seq >= $1 AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.seq = i.seq)"
    };
    let orphan = store.query(orphan_sql, std::slice::from_ref(&below))?;
    if let Some(seq) = orphan.first().and_then(|r| r.opt_int(0)) {
        worst(
            broken,
            seq.max(0) as u64,
            BreakReason::IndexExtra {
                seq: seq.max(0) as u64,
            },
        );
    }
    if !whole || broken.is_some() {
        return Ok(());
    }
    // One statement, so the counters and the rows are read from one snapshot even
    // while appends continue.
    let rows = store.query(
        "SELECT 'd', day, category, result, count, first_seq, last_seq FROM audit_daily \
         UNION ALL SELECT 'i', substr(ts, 1, 10), category, result, count(*), min(seq), max(seq) FROM audit_index GROUP BY substr(ts, 1, 10), category, result",
        &[],
    )?;
    type Counts = ([i64; 3], [i64; 3]);
    let mut counts: std::collections::BTreeMap<(String, String, String), Counts> =
        Default::default();
    for r in &rows {
        let key = (r.text(1), r.text(2), r.text(3));
        let v = [r.int(4), r.int(5), r.int(6)];
        let e = counts.entry(key).or_insert(([0, -1, -1], [0, -1, -1]));
        if r.text(0) == "d" {
            e.0 = v;
        } else {
            e.1 = v;
        }
    }
    if let Some(((day, category, result), (stored, counted))) =
        counts.into_iter().find(|(_, (s, c))| s != c)
    {
        let first = store.query(
            "SELECT min(seq) FROM audit_index WHERE ts >= $1 AND ts < $2 AND category = $3 AND result = $4",
            &[
                day.clone().into(),
                format!("{day}\u{7f}").into(),
                category.clone().into(),
                result.clone().into(),
            ],
        )?;
        let at = first
            .first()
            .and_then(|r| r.opt_int(0))
            .map_or(checked.saturating_sub(1), |s| s as u64);
        let reason = if stored[0] != counted[0] {
            BreakReason::DailyCount {
                day,
                category,
                result,
                stored: stored[0].max(0) as u64,
                counted: counted[0].max(0) as u64,
            }
        } else {
            BreakReason::DailySeqRange {
                day,
                category,
                result,
            }
        };
        worst(broken, at, reason);
        return Ok(());
    }
    check_combos(store, broken)
}

/// The audit-log combinations (`audit_combo`, migration 0027): every index row names a
/// combination holding its own five fields, and each combination's count is the number
/// of rows naming it. The query trusts both (a count of zero answers "no events").
fn check_combos(store: &Store, broken: &mut Option<Break>) -> Result<(), LedgerError> {
    let differs = if store.kind() == "postgres" {
        "IS DISTINCT FROM"
    } else {
        "IS NOT"
    };
    let wrong = store.query(
        &format!(
            "SELECT min(i.seq) FROM audit_index i LEFT JOIN audit_combo c ON c.id = i.combo \
             WHERE c.id IS NULL OR c.organization_id {differs} i.organization_id OR c.action <> i.action \
             OR c.resource_type {differs} i.resource_type OR c.category <> i.category OR c.result <> i.result"
        ),
        &[],
    )?;
    if let Some(seq) = wrong.first().and_then(|r| r.opt_int(0)) {
        let seq = seq.max(0) as u64;
        worst(broken, seq, BreakReason::IndexCombo { seq });
        return Ok(());
    }
    // One statement: the counts and the rows from one snapshot, even while appending.
    let rows = store.query(
        "SELECT 'c', id, count FROM audit_combo UNION ALL SELECT 'i', combo, count(*) FROM audit_index GROUP BY combo",
        &[],
    )?;
    let mut counts: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    for r in &rows {
        let e = counts.entry(r.int(1)).or_default();
        if r.text(0) == "c" {
            e.0 = r.int(2);
        } else {
            e.1 = r.int(2);
        }
    }
    if let Some((combo, (stored, counted))) = counts.into_iter().find(|(_, (s, c))| s != c) {
        // Where the first row of that combination is (or the ledger's end, none left).
        let first = store.query(
            "SELECT min(seq) FROM audit_index WHERE combo = $1",
            &[Value::Int(combo)],
        )?;
        let at = first.first().and_then(|r| r.opt_int(0)).unwrap_or(0).max(0) as u64;
        worst(
            broken,
            at,
            BreakReason::ComboCount {
                combo: combo.max(0) as u64,
                stored: stored.max(0) as u64,
                counted: counted.max(0) as u64,
            },
        );
        return Ok(());
    }
    // Each actor's counts (migration 0028), the same way.
    let rows = store.query(
        "SELECT 'c', actor_id, combo, count FROM audit_actor_combo UNION ALL \
         SELECT 'i', actor_id, combo, count(*) FROM audit_index WHERE actor_id IS NOT NULL GROUP BY actor_id, combo",
        &[],
    )?;
    let mut counts: std::collections::BTreeMap<(String, i64), (i64, i64)> = Default::default();
    for r in &rows {
        let e = counts.entry((r.text(1), r.int(2))).or_default();
        if r.text(0) == "c" {
            e.0 = r.int(3);
        } else {
            e.1 = r.int(3);
        }
    }
    if let Some(((actor, combo), (stored, counted))) = counts.into_iter().find(|(_, (s, c))| s != c)
    {
        let first = store.query(
            "SELECT min(seq) FROM audit_index WHERE actor_id = $1 AND combo = $2",
            &[Value::Text(actor.clone()), Value::Int(combo)],
        )?;
        let at = first.first().and_then(|r| r.opt_int(0)).unwrap_or(0).max(0) as u64;
        worst(
            broken,
            at,
            BreakReason::ActorComboCount {
                actor,
                combo: combo.max(0) as u64,
                stored: stored.max(0) as u64,
                counted: counted.max(0) as u64,
            },
        );
    }
    Ok(())
}

fn check_targets(
    targets: &[(u64, Hash, bool)],
    next: &mut usize,
    frontier: &Frontier,
    broken: &mut Option<Break>,
) {
    while *next < targets.len() && targets[*next].0 == frontier.size() {
        let (size, root, what) = &targets[*next];
        if frontier.root() != *root {
            worst(
                broken,
                size.saturating_sub(1),
                BreakReason::CheckpointRoot {
                    size: *size,
                    trusted: *what,
                },
            );
        }
        *next += 1;
    }
}

/// Read rows on one thread and check them on this one; returns the first break.
type Check<'a> = &'a mut dyn FnMut(
    u64,
    &[u8],
    &[u8],
    &[u8],
    Option<&IndexRef<'_>>,
    Hash,
    Option<Hash>,
    Option<Hash>,
) -> Option<Break>;

/// An index row in a chunk's bytes: per field, 0xFF for NULL or 0x00, a u32 length and
/// the text.
fn encode_index(out: &mut Vec<u8>, ix: &IndexRef<'_>) {
    for f in ix.fields {
        match f {
            None => out.push(0xFF),
            Some(b) => {
                out.push(0);
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }
        }
    }
}

fn decode_index(mut b: &[u8]) -> IndexRef<'_> {
    let mut fields: [Option<&[u8]>; 7] = [None; 7];
    for f in fields.iter_mut() {
        if b.first() == Some(&0) && b.len() >= 5 {
            let n = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
            *f = Some(&b[5..5 + n]);
            b = &b[5 + n..];
        } else {
            b = b.get(1..).unwrap_or_default();
        }
    }
    IndexRef { fields }
}

fn stream(inner: &Inner, limit: u64, check: Check<'_>) -> Result<Option<Break>, LedgerError> {
    let (full_tx, full_rx) = crossbeam_channel::bounded::<Chunk>(4);
    let (empty_tx, empty_rx) = crossbeam_channel::bounded::<Chunk>(6);
    for _ in 0..6 {
        let _ = empty_tx.send(Chunk::default());
    }
    let store = inner.store.clone();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), StoreError> {
            let mut chunk = empty_rx.recv().unwrap_or_default();
            store.scan_entries_indexed(0, &mut |e| {
                if e.seq as u64 >= limit && e.seq >= 0 {
                    return Ok(false);
                }
                chunk.seqs.push(e.seq);
                chunk.bytes.extend_from_slice(e.id);
                let a = chunk.bytes.len();
                chunk.bytes.extend_from_slice(e.ts);
                let b = chunk.bytes.len();
                chunk.bytes.extend_from_slice(e.leaf);
                let c = chunk.bytes.len();
                if let Some(ix) = &e.index {
                    encode_index(&mut chunk.bytes, ix);
                }
                chunk.indexed.push(e.index.is_some());
                chunk.ends.push([a, b, c, chunk.bytes.len()]);
                if chunk.computed.len() < READER_HASHES {
                    chunk.computed.push(leaf_hash(e.leaf));
                }
                chunk.leaf_hashes.push(e.leaf_hash.try_into().ok());
                chunk.chains.push(e.chain.try_into().ok());
                if chunk.seqs.len() == CHUNK_ROWS {
                    let next = match empty_rx.recv() {
                        Ok(c) => c,
                        Err(_) => return Ok(false), // the checker stopped
                    };
                    if full_tx.send(std::mem::replace(&mut chunk, next)).is_err() {
                        return Ok(false);
                    }
                }
                Ok(true)
            })?;
            if !chunk.seqs.is_empty() {
                let _ = full_tx.send(chunk);
            }
            Ok(())
        });
        let mut found = None;
        'outer: for mut chunk in full_rx.iter() {
            let mut start = 0;
            for i in 0..chunk.seqs.len() {
                let [a, b, c, d] = chunk.ends[i];
                let (id, ts, leaf) = (
                    &chunk.bytes[start..a],
                    &chunk.bytes[a..b],
                    &chunk.bytes[b..c],
                );
                let index = chunk.indexed[i].then(|| decode_index(&chunk.bytes[c..d]));
                start = d;
                let seq = chunk.seqs[i];
                if seq < 0 {
                    found = Some(Break {
                        at: 0,
                        reason: BreakReason::NegativeSeq { seq },
                    });
                    break 'outer;
                }
                let lh = chunk
                    .computed
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| leaf_hash(leaf));
                if let Some(b) = check(
                    seq as u64,
                    id,
                    ts,
                    leaf,
                    index.as_ref(),
                    lh,
                    chunk.leaf_hashes[i],
                    chunk.chains[i],
                ) {
                    found = Some(b);
                    break 'outer;
                }
            }
            chunk.clear();
            let _ = empty_tx.send(chunk);
        }
        drop(full_rx);
        drop(empty_tx);
        let read = reader
            .join()
            .map_err(|_| LedgerError::Invalid("verification reader panicked".into()))?;
        if found.is_none() {
            read?;
        }
        Ok(found)
    })
}

/// Verify a C2SP tlog-proof file offline: the checkpoint's signature, and that the
/// leaf in `extra` (or given) is included at `index`. Returns (index, checkpoint).
pub fn verify_proof_file(
    text: &str,
    verifier: &NoteVerifier,
    leaf: Option<&[u8]>,
) -> Result<(u64, Checkpoint), String> {
    let mut lines = text.split_inclusive('\n');
    if lines.next() != Some("c2sp.org/tlog-proof@v1\n") {
        return Err("not a c2sp.org/tlog-proof@v1 file".into());
    }
    let mut extra = None;
    let mut index = None;
    let mut hashes = Vec::new();
    let mut consumed = "c2sp.org/tlog-proof@v1\n".len();
    for line in lines.by_ref() {
        consumed += line.len();
        let l = line.trim_end_matches('\n');
        if l.is_empty() {
            break;
        }
        if let Some(e) = l.strip_prefix("extra ") {
            extra = Some(vouch_core::unb64(e).ok_or("extra is not base64")?);
        } else if let Some(i) = l.strip_prefix("index ") {
            index = Some(i.parse::<u64>().map_err(|_| "bad index line")?);
        } else {
            hashes.push(vouch_core::unb64_hash(l).ok_or("bad proof hash line")?);
        }
    }
    let index = index.ok_or("missing index line")?;
    let note = &text[consumed..];
    let cp = Checkpoint::open(note, verifier).map_err(|e| e.to_string())?;
    let leaf = leaf
        .map(<[u8]>::to_vec)
        .or(extra)
        .ok_or("no leaf given and no extra line")?;
    if !vouch_core::merkle::verify_inclusion(index, cp.size, &leaf_hash(&leaf), &hashes, &cp.root) {
        return Err(format!(
            "entry {index} is not included in the tree of size {} (proof does not verify)",
            cp.size
        ));
    }
    Ok((index, cp))
}

//! Inclusion and consistency proofs read from the store: a perfect subtree of height h
//! is folded from at most 256 stored hashes at height ⌊h/8⌋·8 (leaf hashes or stored
//! nodes), so a proof costs O(log n) range reads however large the log is.

use super::{Ledger, LedgerError};
use serde::Serialize;
use vouch_core::merkle::{self, fold_perfect, NodeSource, TILE_HEIGHT};
use vouch_core::{b64, Hash};
use vouch_store::{Store, StoreError};

/// Reads perfect-subtree hashes from the store, counting range reads.
pub struct StoreNodes<'a> {
    /// The store read from.
    pub store: &'a Store,
    /// Range reads made so far.
    pub reads: usize,
}

impl NodeSource for StoreNodes<'_> {
    type Error = StoreError;
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let base = level - level % TILE_HEIGHT;
        let span = 1u64 << (level - base);
        let start = index << (level - base);
        self.reads += 1;
        let hashes = if base == 0 {
            self.store.leaf_hashes(start, start + span)?
        } else {
            self.store.nodes(base, start, start + span)?
        };
        if hashes.len() as u64 != span {
            return Err(StoreError::Corrupt(format!(
                "missing hashes at level {base} [{start}, {})",
                start + span
            )));
        }
        Ok(fold_perfect(&hashes))
    }
}

/// The root of the tree of the first `size` entries.
pub fn root_at(store: &Store, size: u64) -> Result<Hash, StoreError> {
    if size == 0 {
        return Ok(merkle::empty_root());
    }
    merkle::range_hash(&mut StoreNodes { store, reads: 0 }, 0, size)
}

pub fn inclusion(ledger: &Ledger, index: u64, size: Option<u64>) -> Result<String, LedgerError> {
    let size = match size {
        Some(s) => s,
        None => ledger
            .latest_checkpoint()?
            .map(|c| c.size)
            .ok_or_else(|| LedgerError::Invalid("the ledger has no checkpoint yet".into()))?,
    };
    if index >= size {
        return Err(LedgerError::Invalid(format!(
            "index {index} is not below tree size {size}"
        )));
    }
    let checkpoint = ledger.checkpoint_at(size)?;
    let store = ledger.store();
    let leaf = store
        .leaf(index)?
        .ok_or_else(|| LedgerError::Invalid(format!("entry {index} does not exist")))?;
    let proof = merkle::inclusion_proof(&mut StoreNodes { store, reads: 0 }, index, size)?;
    // C2SP tlog-proof; `extra` carries the leaf itself, so the file is self-contained.
    let mut out = String::from("c2sp.org/tlog-proof@v1\n");
    out.push_str(&format!("extra {}\n", b64(leaf.as_bytes())));
    out.push_str(&format!("index {index}\n"));
    for h in &proof {
        out.push_str(&b64(h));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&checkpoint.note);
    Ok(out)
}

/// A consistency proof between two signed checkpoints.
#[derive(Debug, Clone, Serialize)]
pub struct ConsistencyProof {
    /// Tree size of the older checkpoint.
    pub from: u64,
    /// Tree size of the newer checkpoint.
    pub to: u64,
    /// Base64 root at `from`.
    pub from_root: String,
    /// Base64 root at `to`.
    pub to_root: String,
    /// Base64 hashes, RFC 6962 §2.1.2 order.
    pub proof: Vec<String>,
    /// Signed checkpoint note at `from`.
    pub from_checkpoint: String,
    /// Signed checkpoint note at `to`.
    pub to_checkpoint: String,
}

pub fn consistency(ledger: &Ledger, from: u64, to: u64) -> Result<ConsistencyProof, LedgerError> {
    if from > to {
        return Err(LedgerError::Invalid(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let a = ledger.checkpoint_at(from)?;
    let b = ledger.checkpoint_at(to)?;
    let store = ledger.store();
    let proof = merkle::consistency_proof(&mut StoreNodes { store, reads: 0 }, from, to)?;
    Ok(ConsistencyProof {
        from,
        to,
        from_root: a.root,
        to_root: b.root,
        proof: proof.iter().map(|h| b64(h)).collect(),
        from_checkpoint: a.note,
        to_checkpoint: b.note,
    })
}

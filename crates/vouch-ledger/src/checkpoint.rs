//! Signed checkpoints (C2SP tlog-checkpoint, Ed25519 signed note).

use super::{Inner, LedgerError};
use serde::Serialize;
use vouch_core::merkle::Frontier;
use vouch_core::note::Checkpoint;
use vouch_core::{b64, Hash};
use vouch_store::{CheckpointRow, StoreError};

/// A checkpoint as stored: the note text is the authority; size and root are parsed.
#[derive(Debug, Clone, Serialize)]
pub struct SignedCheckpoint {
    /// Tree size the checkpoint commits to.
    pub size: u64,
    /// Base64 root hash.
    pub root: String,
    /// The full signed note text.
    pub note: String,
    /// When the checkpoint was made (RFC 3339, UTC).
    pub created_at: String,
}

impl SignedCheckpoint {
    /// The checkpoint a stored row holds.
    pub fn from_row(r: CheckpointRow) -> Self {
        SignedCheckpoint {
            size: r.size,
            root: b64(&r.root),
            note: r.note,
            created_at: r.created_at,
        }
    }
}

fn now_text() -> String {
    vouch_core::event::format_timestamp(&chrono::Utc::now())
}

fn sign(inner: &Inner, size: u64, root: Hash) -> Result<SignedCheckpoint, LedgerError> {
    let body = Checkpoint {
        origin: inner.signer.name().to_string(),
        size,
        root,
    }
    .body();
    let row = CheckpointRow {
        size,
        root: root.to_vec(),
        note: inner.signer.sign(&body),
        created_at: now_text(),
    };
    inner.store.insert_checkpoint(&row)?;
    // Another process may have stored one for this size first; return what is stored.
    let stored = inner
        .store
        .checkpoint_at(size)?
        .ok_or_else(|| StoreError::Corrupt(format!("checkpoint {size} vanished")))?;
    Ok(SignedCheckpoint::from_row(stored))
}

/// Checkpoint the current head.
pub fn make(inner: &Inner) -> Result<SignedCheckpoint, LedgerError> {
    let head = inner.store.head()?;
    if let Some(existing) = inner.store.checkpoint_at(head.size)? {
        return Ok(SignedCheckpoint::from_row(existing));
    }
    let frontier = Frontier::from_bytes(head.size, &head.frontier).ok_or_else(|| {
        StoreError::Corrupt("ledger head frontier does not match its size".into())
    })?;
    sign(inner, head.size, frontier.root())
}

/// A checkpoint at `size` ≤ the current size.
pub fn at_size(inner: &Inner, size: u64) -> Result<SignedCheckpoint, LedgerError> {
    if let Some(existing) = inner.store.checkpoint_at(size)? {
        return Ok(SignedCheckpoint::from_row(existing));
    }
    let head = inner.store.head()?;
    if size > head.size {
        return Err(LedgerError::Invalid(format!(
            "tree size {size} is beyond the ledger's size {}",
            head.size
        )));
    }
    if size == head.size {
        return make(inner);
    }
    let root = super::proof::root_at(&inner.store, size)?;
    sign(inner, size, root)
}

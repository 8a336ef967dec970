//! The HMAC-SHA-256 chain stored beside every ledger row:
//! `t_i = HMAC(K, t_{i-1} ‖ leaf_hash_i ‖ be64(seq_i))`, with `t_{-1}` all zeros.
//! The Merkle tree proves what was logged to anyone; the chain proves, to whoever
//! holds the key, that rows were not rewritten by someone who lacked it.

use crate::Hash;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The chain value before the first entry.
pub const GENESIS: Hash = [0u8; 32];

/// A keyed chain; cloning the prepared key state avoids re-hashing the key per entry.
#[derive(Clone)]
pub struct Chain {
    keyed: Hmac<Sha256>,
}

impl Chain {
    /// A chain keyed with `key` (any length).
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac key of any length");
        Chain { keyed }
    }

    /// The next chain value.
    pub fn next(&self, prev: &Hash, leaf_hash: &Hash, seq: u64) -> Hash {
        let mut mac = self.keyed.clone();
        mac.update(prev);
        mac.update(leaf_hash);
        mac.update(&seq.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

//! Merkle hashing (vouch_core::merkle, RFC 6962) against plain SHA-256 of the same bytes:
//! leaf hash, node hash, the root of N leaves, and an inclusion proof (built and verified).

mod common;

use common::{bench, events, ratios};
use sha2::{Digest, Sha256};
use vouch_core::merkle::{self, Frontier, NodeSource};
use vouch_core::Hash;

/// Leaves: the canonical bytes of typical events.
const N: usize = 1000;

/// Every perfect subtree of a tree held in memory.
struct Levels(Vec<Vec<Hash>>);

impl Levels {
    fn new(leaves: &[Hash]) -> Levels {
        let mut levels = vec![leaves.to_vec()];
        while levels.last().expect("one level").len() > 1 {
            let up = levels
                .last()
                .expect("one level")
                .chunks_exact(2)
                .map(|p| merkle::node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        Levels(levels)
    }
}

impl NodeSource for Levels {
    type Error = ();
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ()> {
        self.0
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(())
    }
}

fn main() {
    let mut c = common::criterion();
    let leaves: Vec<Vec<u8>> = events(N).iter().map(|e| e.canonical().to_vec()).collect();
    let leaf = &leaves[0];
    let hashes: Vec<Hash> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();

    {
        let mut g = c.benchmark_group("leaf_hash");
        bench(&mut g, "leaf_hash", "vouch", || merkle::leaf_hash(leaf));
        bench(&mut g, "leaf_hash", "sha256", || Sha256::digest(leaf));
        g.finish();
    }
    {
        let (l, r) = (hashes[0], hashes[1]);
        // The same 65 bytes, 0x01 ‖ left ‖ right, in one call.
        let mut both = [1u8; 65];
        both[1..33].copy_from_slice(&l);
        both[33..].copy_from_slice(&r);
        let mut g = c.benchmark_group("node_hash");
        bench(&mut g, "node_hash", "vouch", || merkle::node_hash(&l, &r));
        bench(&mut g, "node_hash", "sha256", || Sha256::digest(both));
        g.finish();
    }
    {
        let mut g = c.benchmark_group("root_1000");
        bench(&mut g, "root_1000", "vouch", || {
            let mut f = Frontier::new();
            for l in &leaves {
                f.push(merkle::leaf_hash(l), |_| {});
            }
            f.root()
        });
        // The same bytes through one SHA-256 (a flat checksum of the batch).
        bench(&mut g, "root_1000", "sha256", || {
            let mut h = Sha256::new();
            for l in &leaves {
                h.update(l);
            }
            h.finalize()
        });
        g.finish();
    }
    {
        let mut levels = Levels::new(&hashes);
        let size = N as u64;
        let root = {
            let mut f = Frontier::new();
            for h in &hashes {
                f.push(*h, |_| {});
            }
            f.root()
        };
        let index = 617u64;
        let proof = merkle::inclusion_proof(&mut levels, index, size).expect("in range");
        assert!(merkle::verify_inclusion(
            index,
            size,
            &hashes[index as usize],
            &proof,
            &root
        ));
        let depth = proof.len();
        let mut g = c.benchmark_group("inclusion_proof_1000");
        bench(&mut g, "inclusion_proof_1000", "vouch", || {
            let p = merkle::inclusion_proof(&mut levels, index, size).expect("in range");
            merkle::verify_inclusion(index, size, &hashes[index as usize], &p, &root)
        });
        // The hashing a verification does: one SHA-256 of 0x01 ‖ left ‖ right per step.
        bench(&mut g, "inclusion_proof_1000", "sha256", || {
            let mut acc = hashes[index as usize];
            for sibling in &proof[..depth] {
                let mut h = Sha256::new();
                h.update([1u8]);
                h.update(acc);
                h.update(sibling);
                acc = h.finalize().into();
            }
            acc
        });
        g.finish();
    }
    c.final_summary();
    ratios(&[
        ("leaf_hash", "vouch", "sha256"),
        ("node_hash", "vouch", "sha256"),
        ("root_1000", "vouch", "sha256"),
        ("inclusion_proof_1000", "vouch", "sha256"),
    ]);
}

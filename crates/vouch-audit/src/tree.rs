//! The population's RFC 6962 Merkle tree, held in memory: every perfect subtree is
//! computed once, so the root and any number of inclusion proofs cost O(n) in all.

use vouch_core::merkle::{self, NodeSource};
use vouch_core::Hash;

/// The perfect subtrees of a list of leaves, level by level (level 0: leaf hashes).
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over these leaves (each the canonical bytes of one item).
    pub fn new<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Tree {
        let mut levels = vec![leaves
            .into_iter()
            .map(merkle::leaf_hash)
            .collect::<Vec<Hash>>()];
        while levels.last().is_some_and(|l| l.len() >= 2) {
            let below = levels.last().expect("a level");
            let up = below
                .chunks_exact(2)
                .map(|p| merkle::node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        Tree { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// The root (RFC 6962 MTH; `SHA-256("")` for no leaves).
    pub fn root(&self) -> Hash {
        match self.size() {
            0 => merkle::empty_root(),
            n => merkle::range_hash(&mut &*self, 0, n).unwrap_or_else(|e| match e {}),
        }
    }

    /// The inclusion proof of leaf `index` (RFC 6962 PATH, leaf side first).
    pub fn proof(&self, index: u64) -> Vec<Hash> {
        merkle::inclusion_proof(&mut &*self, index, self.size()).unwrap_or_else(|e| match e {})
    }
}

impl NodeSource for &Tree {
    type Error = std::convert::Infallible;
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.levels[level as usize][index as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_6962_vectors_and_proofs_verify() {
        let leaves: Vec<Vec<u8>> = ["", "00", "10", "2021", "3031", "40414243"]
            .iter()
            .map(|h| hex::decode(h).unwrap())
            .collect();
        let t = Tree::new(leaves.iter().map(|l| l.as_slice()));
        assert_eq!(
            hex::encode(t.root()),
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"
        );
        for (i, l) in leaves.iter().enumerate() {
            let p = t.proof(i as u64);
            assert!(merkle::verify_inclusion(
                i as u64,
                6,
                &merkle::leaf_hash(l),
                &p,
                &t.root()
            ));
        }
        assert_eq!(Tree::new(std::iter::empty()).root(), merkle::empty_root());
    }
}

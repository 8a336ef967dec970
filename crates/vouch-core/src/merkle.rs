//! RFC 6962 / RFC 9162 Merkle tree math: hashing, the compact range (frontier) the
//! sequencer keeps, proof construction over any node source, and proof verification.

use crate::Hash;
use sha2::{Digest, Sha256};

/// Node levels that are stored (0 = leaves, in the entries table; multiples of
/// `TILE_HEIGHT` above that, in a nodes table). These are the C2SP tlog-tiles rows.
pub const TILE_HEIGHT: u32 = 8;

/// `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Hash of a perfect subtree from its `2^k` leftmost-first children hashes.
pub fn fold_perfect(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// A node completed by an append: the perfect subtree at `level` (height) and `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height of the subtree (1 for a node over two leaves).
    pub level: u32,
    /// Position of the subtree among those of its height, from the left.
    pub index: u64,
    /// The subtree's hash.
    pub hash: Hash,
}

/// The compact range `[0, size)`: one hash per set bit of `size`, biggest subtree first.
/// Enough to extend the tree and compute its root; O(log n) memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from a stored size and hashes; `None` when they do not fit together.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (size.count_ones() as usize == hashes.len()).then_some(Frontier { size, hashes })
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree hashes, biggest subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Serialise as the concatenated hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// Inverse of `to_bytes`.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(32) {
            return None;
        }
        let hashes = bytes
            .chunks(32)
            .map(|c| c.try_into().expect("32-byte chunk"))
            .collect();
        Frontier::from_parts(size, hashes)
    }

    /// Append a leaf hash; `completed` receives every perfect subtree of height ≥ 1
    /// that this append completes.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(Node)) {
        let mut hash = leaf;
        let mut level = 0u32;
        let mut size = self.size;
        // Each trailing one bit of the old size is a subtree this leaf completes.
        while size & 1 == 1 {
            let left = self.hashes.pop().expect("frontier matches size");
            hash = node_hash(&left, &hash);
            level += 1;
            size >>= 1;
            let index = ((self.size + 1) >> level) - 1;
            completed(Node { level, index, hash });
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// The tree root (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(first) = iter.next() else {
            return empty_root();
        };
        iter.fold(*first, |acc, left| node_hash(left, &acc))
    }
}

/// Where proof construction reads hashes of perfect subtrees.
pub trait NodeSource {
    /// Failure to read a stored hash.
    type Error;
    /// Hash of the perfect subtree of height `level` at `index` (covering leaves
    /// `[index << level, (index + 1) << level)`).
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// MTH of leaves `[start, end)`, where the recursion of RFC 6962 only ever asks for
/// ranges whose left part is a perfect, aligned subtree.
pub fn range_hash<S: NodeSource>(src: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.perfect(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = largest_pow2_below(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn largest_pow2_below(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// RFC 6962 §2.1.1 PATH(m, D[n]): the inclusion proof of leaf `index` in a tree of
/// `size` leaves, leaf-side first.
pub fn inclusion_proof<S: NodeSource>(
    src: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: NodeSource>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = largest_pow2_below(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 6962 §2.1.2 PROOF(m, D[n]): the consistency proof between sizes `m` ≤ `n`.
pub fn consistency_proof<S: NodeSource>(
    src: &mut S,
    m: u64,
    n: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if m == 0 || m == n {
        return Ok(proof);
    }
    subproof(src, m, 0, n, true, &mut proof)?;
    Ok(proof)
}

fn subproof<S: NodeSource>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = largest_pow2_below(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: verify an inclusion proof.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && &r == root
}

/// RFC 9162 §2.1.4.2: verify a consistency proof between `(m, old)` and `(n, new)`.
pub fn verify_consistency(m: u64, n: u64, proof: &[Hash], old: &Hash, new: &Hash) -> bool {
    if m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old == new;
    }
    if m == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if m.is_power_of_two() {
        path.insert(0, *old);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (m - 1, n - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    &fr == old && &sr == new && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of the RFC 6962 reference test vectors (certificate-transparency).
    fn vector_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect()
    }

    struct Mem(Vec<Hash>);
    impl NodeSource for Mem {
        type Error = ();
        fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ()> {
            let lo = (index << level) as usize;
            let hi = ((index + 1) << level) as usize;
            Ok(fold_perfect(&self.0[lo..hi]))
        }
    }

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn roots_match_rfc6962_vectors() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut f = Frontier::new();
        assert_eq!(
            hex::encode(f.root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (i, leaf) in vector_leaves().iter().enumerate() {
            f.push(leaf_hash(leaf), |_| {});
            assert_eq!(hex::encode(f.root()), roots[i], "size {}", i + 1);
        }
    }

    #[test]
    fn inclusion_and_consistency_match_vectors() {
        let mut mem = Mem(vector_leaves().iter().map(|l| leaf_hash(l)).collect());
        let p = inclusion_proof(&mut mem, 0, 8).unwrap();
        assert_eq!(
            p,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let c = consistency_proof(&mut mem, 6, 8).unwrap();
        assert_eq!(
            c,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
        let c = consistency_proof(&mut mem, 2, 5).unwrap();
        assert_eq!(
            c,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ]
        );
        assert!(consistency_proof(&mut mem, 1, 1).unwrap().is_empty());
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        let hashes: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut mem = Mem(hashes.clone());
        let mut roots = vec![empty_root()];
        let mut f = Frontier::new();
        for h in &hashes {
            f.push(*h, |_| {});
            roots.push(f.root());
        }
        for n in 1..=70u64 {
            for i in 0..n {
                let p = inclusion_proof(&mut mem, i, n).unwrap();
                assert!(verify_inclusion(
                    i,
                    n,
                    &hashes[i as usize],
                    &p,
                    &roots[n as usize]
                ));
                assert!(!verify_inclusion(
                    i,
                    n,
                    &hashes[(i as usize + 1) % 70],
                    &p,
                    &roots[n as usize]
                ));
            }
            for m in 1..=n {
                let p = consistency_proof(&mut mem, m, n).unwrap();
                assert!(
                    verify_consistency(m, n, &p, &roots[m as usize], &roots[n as usize]),
                    "{m} {n}"
                );
                if m < n {
                    assert!(!verify_consistency(
                        m,
                        n,
                        &p,
                        &roots[m as usize - 1],
                        &roots[n as usize]
                    ));
                }
            }
        }
    }

    #[test]
    fn frontier_reports_completed_nodes() {
        let mut f = Frontier::new();
        let mut nodes = Vec::new();
        for i in 0..8u32 {
            f.push(leaf_hash(&i.to_be_bytes()), |n| {
                nodes.push((n.level, n.index))
            });
        }
        assert_eq!(
            nodes,
            vec![(1, 0), (1, 1), (2, 0), (1, 2), (1, 3), (2, 1), (3, 0)]
        );
        let g = Frontier::from_bytes(f.size(), &f.to_bytes()).unwrap();
        assert_eq!(g, f);
    }
}

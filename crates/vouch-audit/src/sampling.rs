//! The pure part of sampling (docs/sampling.md is its specification): sample sizes,
//! the nonce commitment, the seed and the index-drawing algorithm. Nothing here does
//! I/O; `tests/independent/verify_sample.py` re-implements it.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_config::population::PopulationDef;
use vouch_core::Hash;

/// Bytes of a nonce (256 bits of randomness).
pub const NONCE_BYTES: usize = 32;

/// The practitioners' table: (frequency, lower bound, upper bound).
pub const FREQUENCY_TABLE: &[(&str, u64, u64)] = &[
    ("annual", 1, 1),
    ("quarterly", 2, 2),
    ("monthly", 2, 5),
    ("weekly", 5, 15),
    ("daily", 20, 40),
    ("multiple-daily", 25, 60),
];

/// A fresh random nonce, as lower-case hex.
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A nonce given as hex: exactly 32 bytes.
pub fn parse_nonce(text: &str) -> Result<Vec<u8>, String> {
    let b = hex::decode(text.trim())
        .map_err(|_| "the nonce must be 64 hexadecimal characters".to_string())?;
    if b.len() != NONCE_BYTES {
        return Err(format!(
            "the nonce must be {NONCE_BYTES} bytes (64 hexadecimal characters), not {}",
            b.len()
        ));
    }
    Ok(b)
}

/// The commitment to a nonce: lower-case hex of `SHA-256(nonce bytes)`.
pub fn commitment_of(nonce: &[u8]) -> String {
    hex::encode(Sha256::digest(nonce))
}

/// The seed: `SHA-256(nonce ‖ root)`, `root` the 32 raw bytes of the seed checkpoint's root.
pub fn seed_of(nonce: &[u8], root: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(root);
    h.finalize().into()
}

/// Draw `k` distinct indices in `[0, n)` from `seed` (docs/sampling.md §4): for
/// counter = 0, 1, 2, …, `x` = the first 8 bytes (big-endian) of
/// `SHA-256(seed ‖ be64(counter))`; `x` is rejected when `x ≥ 2⁶⁴ − (2⁶⁴ mod n)` (no
/// modulo bias), else `i = x mod n` is taken unless already taken. `k ≥ n` takes every
/// index, ascending. The indices are returned in the order drawn.
pub fn draw_indices(seed: &Hash, n: u64, k: u64) -> Vec<u64> {
    if n == 0 || k == 0 {
        return Vec::new();
    }
    if k >= n {
        return (0..n).collect();
    }
    // 2^64 mod n, computed in u128 to avoid overflow.
    let limit = (1u128 << 64) - ((1u128 << 64) % n as u128);
    let mut out: Vec<u64> = Vec::with_capacity(k as usize);
    let mut counter: u64 = 0;
    while (out.len() as u64) < k {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(counter.to_be_bytes());
        let d = h.finalize();
        counter += 1;
        let x = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
        if (x as u128) >= limit {
            continue;
        }
        let i = x % n;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The sample size for a population of `n` items and the basis, recorded in the sample:
/// a configured `sample_size`, else the frequency table (risk low → lower bound, high →
/// upper), else the population-size table (≤ 5: all; 6–50: 5; 51–250: 10 %, rounded
/// up; > 250: 25). Never more than `n`.
pub fn sample_size(def: &PopulationDef, n: u64) -> (u64, Value) {
    let risk = def.risk.clone().unwrap_or_else(|| "low".into());
    let (k, mut basis) = if let Some(s) = def.sample_size {
        (s, json!({"method": "configured", "configured": s}))
    } else if let Some((f, lo, hi)) = def
        .frequency
        .as_deref()
        .and_then(|f| FREQUENCY_TABLE.iter().find(|(name, _, _)| *name == f))
    {
        let k = if risk == "high" { *hi } else { *lo };
        (
            k,
            json!({"method": "frequency", "frequency": f, "risk": risk, "range": [lo, hi]}),
        )
    } else {
        let (k, rule) = match n {
            0..=5 => (n, "population of 5 or fewer: every item"),
            6..=50 => (5, "population of 6 to 50: 5 items"),
            51..=250 => (n.div_ceil(10), "population of 51 to 250: 10%, rounded up"),
            _ => (25, "population over 250: 25 items"),
        };
        (k, json!({"method": "population_size", "rule": rule}))
    };
    let size = k.min(n);
    basis["population_size"] = json!(n);
    basis["size"] = json!(size);
    if k > n {
        basis["capped_at_population"] = json!(true);
    }
    (size, basis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_distinct_in_range_and_deterministic() {
        let seed = [7u8; 32];
        for n in [1u64, 2, 3, 10, 97, 1000] {
            for k in [1u64, 2, 5, 25] {
                let a = draw_indices(&seed, n, k);
                assert_eq!(a, draw_indices(&seed, n, k));
                assert_eq!(a.len() as u64, k.min(n));
                let mut s = a.clone();
                s.sort();
                s.dedup();
                assert_eq!(s.len(), a.len());
                assert!(a.iter().all(|i| *i < n));
            }
        }
        assert_ne!(
            draw_indices(&[1; 32], 1000, 5),
            draw_indices(&[2; 32], 1000, 5)
        );
    }

    #[test]
    fn sizes_follow_the_tables() {
        let d = |f: Option<&str>, r: Option<&str>| PopulationDef {
            frequency: f.map(Into::into),
            risk: r.map(Into::into),
            ..Default::default()
        };
        assert_eq!(sample_size(&d(Some("daily"), None), 365).0, 20);
        assert_eq!(sample_size(&d(Some("daily"), Some("high")), 365).0, 40);
        assert_eq!(sample_size(&d(Some("monthly"), Some("high")), 3).0, 3);
        assert_eq!(sample_size(&d(None, None), 4).0, 4);
        assert_eq!(sample_size(&d(None, None), 30).0, 5);
        assert_eq!(sample_size(&d(None, None), 101).0, 11);
        assert_eq!(sample_size(&d(None, None), 5000).0, 25);
        let fixed = PopulationDef {
            sample_size: Some(3),
            ..Default::default()
        };
        assert_eq!(sample_size(&fixed, 100).1["method"], "configured");
    }

    /// The worked example of docs/sampling.md §6.
    #[test]
    fn the_documented_worked_example() {
        let nonce: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            commitment_of(&nonce),
            "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
        );
        let root: Hash = Sha256::digest(b"example checkpoint root").into();
        let seed = seed_of(&nonce, &root);
        assert_eq!(
            hex::encode(seed),
            "202107900be4640501c9d34960aaa5c0f32b1583651942c96d0f7de04b288bf7"
        );
        assert_eq!(draw_indices(&seed, 30, 5), vec![11, 19, 13, 21, 4]);
    }

    #[test]
    fn commitment_and_seed_vectors() {
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            commitment_of(&[0u8; 32]),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert!(parse_nonce("00").is_err());
        assert_eq!(parse_nonce(&"ab".repeat(32)).unwrap().len(), 32);
    }
}

//! k-of-n verification of a cosigned checkpoint: the log's signature, then at least
//! `k` distinct witnesses among the trusted ones; a failure names the missing ones.

use crate::cosig::{self, CosignerVerifier};
use crate::WitnessError;
use vouch_core::note::{Checkpoint, NoteVerifier};

/// A checkpoint that verified with enough cosignatures.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The checkpoint (signed by the log key).
    pub checkpoint: Checkpoint,
    /// The trusted witnesses whose cosignatures verified, with their timestamps.
    pub cosigned_by: Vec<(String, u64)>,
}

impl Witnessed {
    /// `w1 (2026-11-29T09:00:00Z), w2 (…)`.
    pub fn describe(&self) -> String {
        self.cosigned_by
            .iter()
            .map(|(w, t)| {
                let when = chrono::DateTime::from_timestamp(*t as i64, 0)
                    .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_else(|| t.to_string());
                format!("{w} ({when})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Verify `note` against the log key and require `k` cosignatures from `witnesses`.
pub fn verify_cosigned(
    note: &str,
    log: &NoteVerifier,
    witnesses: &[CosignerVerifier],
    k: usize,
) -> Result<Witnessed, WitnessError> {
    let checkpoint = Checkpoint::open(note, log)
        .map_err(|e| WitnessError::Invalid(format!("checkpoint: {e}")))?;
    let found = cosig::cosignatures(note, witnesses)?;
    if found.len() < k {
        let missing: Vec<&str> = witnesses
            .iter()
            .map(|w| w.name())
            .filter(|n| !found.iter().any(|c| c.witness == *n))
            .collect();
        return Err(WitnessError::Quorum(format!(
            "{} of the required {k} cosignatures on tree size {}; missing: {}",
            found.len(),
            checkpoint.size,
            missing.join(", ")
        )));
    }
    Ok(Witnessed {
        checkpoint,
        cosigned_by: found
            .into_iter()
            .map(|c| (c.witness, c.timestamp))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CosignerKey;
    use vouch_core::note::NoteSigner;

    #[test]
    fn k_of_n_names_the_missing_witness() {
        let log = NoteSigner::generate("acme.example/log").unwrap();
        let cp = Checkpoint {
            origin: "acme.example/log".into(),
            size: 3,
            root: [1; 32],
        };
        let w1 = CosignerKey::generate("w1.example").unwrap();
        let w2 = CosignerKey::generate("w2.example").unwrap();
        let note = log.sign(&cp.body()) + &w1.cosign(&cp.body(), 10);
        let trusted = [w1.verifier(), w2.verifier()];
        assert_eq!(
            verify_cosigned(&note, &log.verifier(), &trusted, 1)
                .unwrap()
                .cosigned_by
                .len(),
            1
        );
        let e = verify_cosigned(&note, &log.verifier(), &trusted, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing: w2.example"), "{e}");
        let both = note.clone() + &w2.cosign(&cp.body(), 11);
        assert_eq!(
            verify_cosigned(&both, &log.verifier(), &trusted, 2)
                .unwrap()
                .cosigned_by
                .len(),
            2
        );
        // A duplicated line counts once.
        let dup = note.clone() + &w1.cosign(&cp.body(), 12);
        assert!(verify_cosigned(&dup, &log.verifier(), &trusted, 2).is_err());
        // A tampered cosignature by a trusted key fails the note.
        let bad = log.sign(&cp.body())
            + &w1.cosign(
                &Checkpoint {
                    size: 4,
                    ..cp.clone()
                }
                .body(),
                10,
            );
        assert!(matches!(
            verify_cosigned(&bad, &log.verifier(), &trusted, 1),
            Err(WitnessError::BadCosignature(_))
        ));
    }
}

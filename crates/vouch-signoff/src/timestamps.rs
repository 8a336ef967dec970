//! RFC 3161 timestamps of signed documents after the fact (issue 18): a document signed
//! while the `[timestamp]` authority was down carries `timestamp.error` (the failure is
//! in its `attestation.signed` event); [`Signoffs::timestamp_pending`] asks again for
//! every signed document without a token, stores the token with the document and
//! records an `attestation.timestamped` event with the token's SHA-256.

use crate::attest::{decode, Attestation, Signoffs};
use crate::signature::{DocumentTimestamp, SignedDocument};
use crate::Error;
use chrono::{DateTime, Utc};
use serde_json::json;

/// One document [`Signoffs::timestamp_pending`] tried.
#[derive(Debug, Clone)]
pub struct Retimestamped {
    /// The document (its record).
    pub attestation: Attestation,
    /// The signed document, with the new token when it was obtained.
    pub document: SignedDocument,
    /// What the authority answered (a token, or the error).
    pub timestamp: DocumentTimestamp,
    /// The ledger seq of the `attestation.timestamped` event (none on failure).
    pub ledger_seq: Option<u64>,
}

impl Signoffs<'_> {
    /// Timestamp at `url` every signed document that has no token (never asked, or the
    /// authority failed). Each token is stored with its document (a guarded update: the
    /// stored document must be the one read) and recorded in the ledger; a failure
    /// changes nothing and is returned in the list, so the caller can report it.
    pub fn timestamp_pending(
        &self,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Retimestamped>, Error> {
        let rows = self.store.query(
            "SELECT record, document FROM attestations WHERE document IS NOT NULL ORDER BY signed_at, id",
            &[],
        )?;
        let mut out = Vec::new();
        for r in rows {
            let a = decode(&r.text(0))?;
            let old = r.text(1);
            let mut doc: SignedDocument = serde_json::from_str(&old)
                .map_err(|e| Error::Corrupt(format!("stored signed document: {e}")))?;
            if doc.is_timestamped() {
                continue;
            }
            let previous = doc.timestamp.clone();
            doc.timestamp(url, now);
            let t = doc.timestamp.clone().expect("just set");
            if t.error.is_some() {
                doc.timestamp = previous;
                out.push(Retimestamped {
                    attestation: a,
                    document: doc,
                    timestamp: t,
                    ledger_seq: None,
                });
                continue;
            }
            let text = serde_json::to_string(&doc).map_err(|e| Error::Corrupt(e.to_string()))?;
            let mut n = 0;
            self.store.write(&mut |sql| {
                n = sql.execute(
                    "UPDATE attestations SET document = $2 WHERE id = $1 AND document = $3",
                    &[a.id.clone().into(), text.clone().into(), old.clone().into()],
                )?;
                Ok(())
            })?;
            if n != 1 {
                // Another run stored a token first.
                continue;
            }
            let recorded = self.event(
                &a,
                "attestation.timestamped",
                None,
                now,
                json!({"document_sha256": doc.sha256, "timestamp": t.summary()}),
            );
            let seq = match recorded {
                Ok(seq) => seq,
                Err(e) => {
                    // Not recorded, so not stored: put the document back.
                    let _ = self.store.write(&mut |sql| {
                        sql.execute(
                            "UPDATE attestations SET document = $3 WHERE id = $1 AND document = $2",
                            &[a.id.clone().into(), text.clone().into(), old.clone().into()],
                        )?;
                        Ok(())
                    });
                    return Err(e);
                }
            };
            out.push(Retimestamped {
                attestation: a,
                document: doc,
                timestamp: t,
                ledger_seq: Some(seq),
            });
        }
        Ok(out)
    }
}

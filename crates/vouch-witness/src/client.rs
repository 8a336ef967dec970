//! Submitting the ledger's latest checkpoint to the configured witnesses
//! (c2sp.org/tlog-witness `add-checkpoint`) and storing their cosignatures.
//!
//! The old size sent is the largest size this witness has cosigned for us (stored), or
//! 0; a 409 tells the witness's size, and the request is made again once with the
//! consistency proof from that size. Each returned cosignature is verified against the
//! configured witness key before it is stored (one row per size and witness); the rows
//! written are then recorded in one `witness.cosigned` ledger event.

use crate::cosig::{self, CosignerVerifier};
use crate::WitnessError;
use serde::Serialize;
use std::time::Duration;
use vouch_core::merkle;
use vouch_core::{b64, Hash};
use vouch_ledger::{Ledger, SignedCheckpoint, StoreNodes};
use vouch_store::Store;

/// A configured witness.
#[derive(Debug, Clone)]
pub struct Target {
    /// The `[[witness]] name` label.
    pub label: String,
    /// Submission prefix.
    pub url: String,
    /// Its key (the key's name is the witness's identity in cosignatures).
    pub verifier: CosignerVerifier,
}

/// The `[[witness]]` entries of a configuration.
pub fn targets(config: &vouch_config::Config) -> Result<Vec<Target>, WitnessError> {
    config
        .settings
        .witness
        .iter()
        .enumerate()
        .map(|(i, w)| {
            Ok(Target {
                label: w.name.clone(),
                url: w.url.trim_end_matches('/').to_string(),
                verifier: CosignerVerifier::parse(&w.vkey)
                    .map_err(|e| WitnessError::Invalid(format!("witness[{i}].vkey: {e}")))?,
            })
        })
        .collect()
}

/// What one witness did with the checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The witness (its key name).
    pub witness: String,
    /// Whether a verified cosignature is stored for the checkpoint.
    pub cosigned: bool,
    /// The cosignature's timestamp (POSIX seconds).
    pub timestamp: Option<u64>,
    /// What happened, for people.
    pub detail: String,
}

/// One submission round.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Tree size submitted.
    pub size: u64,
    /// Its base64 root.
    pub root: String,
    /// Per witness.
    pub witnesses: Vec<Outcome>,
}

impl Report {
    /// The witnesses that did not cosign, with why.
    pub fn failures(&self) -> Vec<String> {
        self.witnesses
            .iter()
            .filter(|o| !o.cosigned)
            .map(|o| format!("{}: {}", o.witness, o.detail))
            .collect()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The largest size `witness` has cosigned for this log, per our store.
pub fn last_cosigned_size(store: &Store, witness: &str) -> Result<u64, WitnessError> {
    let rows = store.query(
        "SELECT MAX(size) FROM witness_cosignatures WHERE witness = $1",
        &[witness.into()],
    )?;
    Ok(rows.first().and_then(|r| r.opt_int(0)).unwrap_or(0) as u64)
}

fn proof_lines(store: &Store, old: u64, size: u64) -> Result<String, WitnessError> {
    let proof = merkle::consistency_proof(&mut StoreNodes { store, reads: 0 }, old, size)?;
    Ok(proof.iter().map(|h| format!("{}\n", b64(h))).collect())
}

/// POST one add-checkpoint; `Ok(Ok(lines))` on 200, `Ok(Err(size))` on 409.
fn post(agent: &ureq::Agent, t: &Target, body: &str) -> Result<Result<String, u64>, String> {
    let url = format!("{}/add-checkpoint", t.url);
    let mut resp = agent
        .post(&url)
        .header("Content-Type", "text/plain; charset=utf-8")
        .send(body)
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| format!("{url}: cannot read the response: {e}"))?;
    match status {
        200 => Ok(Ok(text)),
        409 => text
            .trim_end_matches('\n')
            .parse::<u64>()
            .map(Err)
            .map_err(|_| format!("{url}: 409 without a tree size line")),
        s => {
            let why: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            Err(format!("{url} refused the checkpoint: HTTP {s} {why}"))
        }
    }
}

/// Submit `cp` to one witness: its verified cosignature, or why not.
fn submit_one(
    store: &Store,
    agent: &ureq::Agent,
    t: &Target,
    cp: &SignedCheckpoint,
) -> Result<cosig::Cosignature, String> {
    let name = t.verifier.name();
    let mut old = last_cosigned_size(store, name).map_err(|e| e.to_string())?;
    let mut retried = false;
    let lines = loop {
        if old > cp.size {
            return Err(format!(
                "the witness has cosigned tree size {old}, larger than ours ({}): the log was rolled back or forked",
                cp.size
            ));
        }
        let proof = proof_lines(store, old, cp.size).map_err(|e| e.to_string())?;
        let body = format!("old {old}\n{proof}\n{}", cp.note);
        match post(agent, t, &body)? {
            Ok(lines) => break lines,
            Err(size) if !retried => {
                retried = true;
                old = size;
            }
            Err(size) => {
                return Err(format!(
                    "the witness answered 409 twice (its size is now {size})"
                ))
            }
        }
    };
    // Verify what came back against the configured key (lines by other keys ignored).
    let (body, _) = cosig::split_note(&cp.note).map_err(|e| e.to_string())?;
    let mut found = None;
    for l in lines.lines() {
        if let Some(c) = t
            .verifier
            .verify_line(body, l)
            .map_err(|e| format!("the witness answered: {e}"))?
        {
            found.get_or_insert(c);
        }
    }
    found.ok_or_else(|| "the witness answered without a cosignature by its configured key".into())
}

/// Store a verified cosignature; whether a row was written.
pub fn store_cosignature(
    store: &Store,
    size: u64,
    root: &Hash,
    key_id: &[u8; 4],
    c: &cosig::Cosignature,
) -> Result<bool, WitnessError> {
    let mut changed = 0;
    store.write(&mut |sql| {
        changed = sql.execute(
            "INSERT INTO witness_cosignatures (size, witness, key_id, root, timestamp, line, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (size, witness) DO NOTHING",
            &[
                (size as i64).into(),
                c.witness.as_str().into(),
                hex::encode(key_id).into(),
                b64(root).into(),
                (c.timestamp as i64).into(),
                c.line.as_str().into(),
                vouch_core::event::format_timestamp(&chrono::Utc::now()).into(),
            ],
        )?;
        Ok(())
    })?;
    Ok(changed > 0)
}

/// Submit the latest checkpoint (made now if the head has none) to every target.
/// Witnesses that fail do not stop the others; see [`Report::failures`].
pub fn submit(ledger: &Ledger, targets: &[Target]) -> Result<Report, WitnessError> {
    if targets.is_empty() {
        return Err(WitnessError::Invalid(
            "no [[witness]] is configured in vouch.toml".into(),
        ));
    }
    let cp = ledger.checkpoint()?;
    let root = vouch_core::unb64_hash(&cp.root)
        .ok_or_else(|| WitnessError::Malformed("stored checkpoint root".into()))?;
    let store = ledger.store();
    let agent = agent();
    let mut report = Report {
        size: cp.size,
        root: cp.root.clone(),
        witnesses: Vec::new(),
    };
    let mut written = Vec::new();
    for t in targets {
        let name = t.verifier.name().to_string();
        match submit_one(store, &agent, t, &cp) {
            Ok(c) => {
                if store_cosignature(store, cp.size, &root, &t.verifier.key_id(), &c)? {
                    written.push(serde_json::json!({"witness": name, "timestamp": c.timestamp}));
                }
                report.witnesses.push(Outcome {
                    witness: name,
                    cosigned: true,
                    timestamp: Some(c.timestamp),
                    detail: format!("cosigned tree size {}", cp.size),
                });
            }
            Err(why) => {
                tracing::warn!(witness = %name, "{why}");
                report.witnesses.push(Outcome {
                    witness: name,
                    cosigned: false,
                    timestamp: None,
                    detail: why,
                })
            }
        }
    }
    // The rows first, then one ledger event for what was new.
    if !written.is_empty() {
        vouch_ledger::audit::record(
            ledger,
            serde_json::json!({
                "action": "witness.cosigned", "category": "security", "result": "success",
                "resource": {"type": "checkpoint", "id": cp.size.to_string(), "name": cp.root},
                "details": {"description": format!("Checkpoint {} cosigned by {} witness(es)", cp.size, written.len())},
                "metadata": {"size": cp.size, "root": cp.root, "cosignatures": written},
            }),
        )?;
    }
    Ok(report)
}

/// The checkpoint of `size` with every stored cosignature line appended: a C2SP note
/// any tlog client can check for a quorum of witnesses.
pub fn cosigned_note(ledger: &Ledger, size: u64) -> Result<Option<String>, WitnessError> {
    cosigned_note_before(ledger, size, "9999")
}

/// [`cosigned_note`] with only the cosignatures stored before `before` (RFC 3339).
pub fn cosigned_note_before(
    ledger: &Ledger,
    size: u64,
    before: &str,
) -> Result<Option<String>, WitnessError> {
    let rows = ledger.store().query(
        "SELECT line FROM witness_cosignatures WHERE size = $1 AND created_at <= $2 ORDER BY witness",
        &[(size as i64).into(), before.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let cp = ledger.checkpoint_at(size)?;
    let mut note = cp.note;
    for r in rows {
        note.push_str(&r.text(0));
        note.push('\n');
    }
    Ok(Some(note))
}

/// The cosigned checkpoint that best anchors a tree of `size`: the size ≥ `size` with
/// the most witnesses (the smallest such), its cosigned note and the consistency proof
/// from `size` to it. Only cosignatures stored at or before `before` (RFC 3339, the
/// packet's generation time) count, so a packet reproduces byte for byte. `None` when
/// no checkpoint at or after `size` was cosigned by then.
pub fn witnessed_after(
    ledger: &Ledger,
    size: u64,
    before: &str,
) -> Result<Option<(u64, String, Vec<String>)>, WitnessError> {
    let rows = ledger.store().query(
        "SELECT size, COUNT(*) FROM witness_cosignatures WHERE size >= $1 AND created_at <= $2 GROUP BY size ORDER BY COUNT(*) DESC, size ASC LIMIT 1",
        &[(size as i64).into(), before.into()],
    )?;
    let Some(best) = rows.first().map(|r| r.int(0) as u64) else {
        return Ok(None);
    };
    let note = cosigned_note_before(ledger, best, before)?
        .ok_or_else(|| WitnessError::Malformed("cosignatures vanished".into()))?;
    let store = ledger.store();
    let proof = merkle::consistency_proof(&mut StoreNodes { store, reads: 0 }, size, best)?;
    Ok(Some((best, note, proof.iter().map(|h| b64(h)).collect())))
}

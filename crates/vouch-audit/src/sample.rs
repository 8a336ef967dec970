//! Samples nobody can steer (docs/sampling.md): the auditor's nonce commitment, the
//! draw once the nonce is revealed, and the export an offline verifier checks.

use crate::population::{self, PeriodRef, Population};
use crate::sampling;
use crate::tree::Tree;
use crate::{canonical, find_one, invalid, parse, record_event, sha256_hex, ts, AuditError, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vouch_core::b64;
use vouch_core::period::Period;
use vouch_store::Store;

/// An auditor's commitment to a secret nonce, for one population definition and period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The population definition to be sampled.
    pub population: String,
    /// The period.
    pub period: PeriodRef,
    /// Hex SHA-256 of the nonce.
    pub commitment: String,
    /// Who committed (the auditor).
    pub committed_by: String,
    /// When it was recorded.
    pub committed_at: String,
    /// `open` until a sample is drawn with it, then `drawn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Sequence number of its `sample.nonce_committed` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_seq: Option<u64>,
}

/// The seed checkpoint: the first checkpoint after both commitments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCheckpoint {
    /// Its tree size: one more than the later commitment's sequence number.
    pub size: u64,
    /// Its base64 root.
    pub root: String,
    /// The signed note.
    pub note: String,
}

/// A drawn sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The commitment it used.
    pub commitment_id: String,
    /// The population sampled (its id).
    pub population_id: String,
    /// The population's definition id.
    pub population: String,
    /// The population's root and size, copied for readers.
    pub population_root: String,
    /// Number of items in the population.
    pub population_size: u64,
    /// Sequence numbers of the commitment's and the population's events.
    pub commitment_seq: u64,
    /// See `commitment_seq`.
    pub population_seq: u64,
    /// The revealed nonce (hex).
    pub nonce: String,
    /// The seed checkpoint.
    pub checkpoint: SeedCheckpoint,
    /// Hex `SHA-256(nonce ‖ checkpoint root)`.
    pub seed: String,
    /// How many items and why (the table used, risk, frequency or population size).
    pub basis: Value,
    /// The drawn indices, in the order drawn.
    pub indices: Vec<u64>,
    /// Who drew it (revealed the nonce).
    pub drawn_by: String,
    /// When.
    pub drawn_at: String,
    /// Sequence number of its `sample.drawn` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_seq: Option<u64>,
}

fn hashed<T: Serialize + Clone>(v: &T, strip: &[&str]) -> String {
    let mut j = serde_json::to_value(v).unwrap_or_default();
    if let Value::Object(m) = &mut j {
        for k in strip {
            m.remove(*k);
        }
    }
    vouch_core::canonical::to_string(&j)
}

/// Record the auditor's commitment (hex SHA-256 of the nonce, computed on the auditor's
/// side) for population `def_id` in `period`. One per definition and period.
pub fn commit(
    ctx: &Ctx<'_>,
    def_id: &str,
    period: &Period,
    commitment: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Commitment, AuditError> {
    population::definition(ctx.config, def_id, "population")?;
    let c = commitment.trim().to_ascii_lowercase();
    if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "commitment",
            "must be the SHA-256 of the nonce, 64 hexadecimal characters",
        ));
    }
    let mut rec = Commitment {
        id: uuid::Uuid::now_v7().to_string(),
        population: def_id.to_string(),
        period: PeriodRef::of(period),
        commitment: c,
        committed_by: by.to_string(),
        committed_at: ts(&now),
        status: None,
        ledger_seq: None,
    };
    let text = canonical(&rec);
    // One commitment per definition for any instant: a commitment whose period overlaps
    // another (open or drawn) would let the auditor hold several nonces for nearly the
    // same population and keep the draw it likes (docs/sampling.md §2).
    let mut existing: Option<String> = None;
    ctx.store.write(&mut |sql| {
        // Serialise commitments of this population: the row lock (PostgreSQL; SQLite has
        // one writer) is held until commit, so a concurrent commitment's overlap check
        // below runs after this one's insert is visible, and sees it. Under SERIALIZABLE
        // the second one fails with a serialisation error and is retried, seeing it too.
        sql.execute(
            "INSERT INTO sample_commitment_locks (definition, claims) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            &[rec.population.clone().into()],
        )?;
        sql.execute(
            "UPDATE sample_commitment_locks SET claims = claims + 1 WHERE definition = $1",
            &[rec.population.clone().into()],
        )?;
        let rows = sql.query(
            "SELECT id FROM sample_commitments WHERE definition = $1 AND period_start < $3 AND period_end > $2 ORDER BY id LIMIT 1",
            &[rec.population.clone().into(), rec.period.start.clone().into(), rec.period.end.clone().into()],
        )?;
        existing = rows.first().map(|r| r.text(0));
        if existing.is_none() {
            // A concurrent commitment for the exact period loses here (UNIQUE).
            let n = sql.execute(
                "INSERT INTO sample_commitments (id, definition, period_start, period_end, commitment, status, ledger_seq, created_at, record) VALUES ($1, $2, $3, $4, $5, 'open', NULL, $6, $7) ON CONFLICT DO NOTHING",
                &[rec.id.clone().into(), rec.population.clone().into(), rec.period.start.clone().into(), rec.period.end.clone().into(), rec.commitment.clone().into(), rec.committed_at.clone().into(), text.clone().into()],
            )?;
            if n == 0 {
                existing = Some("(made concurrently)".into());
            }
        }
        Ok(())
    })?;
    if let Some(other) = existing {
        return Err(AuditError::Conflict(format!(
            "commitment {other} already covers population `{def_id}` in a period overlapping {}: one commitment per population and period, and periods may not overlap",
            period.label
        )));
    }
    let seq = record_event(
        ctx.ledger,
        "sample.nonce_committed",
        json!({"type": "sample_commitment", "id": rec.id, "name": def_id}),
        format!(
            "Auditor {by} committed to a sampling nonce for population `{def_id}` in {}",
            period.label
        ),
        json!({"commitment": rec.commitment, "population": def_id, "period_start": rec.period.start, "period_end": rec.period.end, "record_sha256": sha256_hex(text.as_bytes())}),
        by,
    );
    let seq = match seq {
        Ok(s) => s,
        Err(e) => {
            let _ = ctx.store.write(&mut |sql| {
                sql.execute(
                    "DELETE FROM sample_commitments WHERE id = $1",
                    &[rec.id.clone().into()],
                )?;
                Ok(())
            });
            return Err(e);
        }
    };
    // When this write fails the event is already in the ledger: `draw` (and a read of
    // the record) recovers the sequence number from it (`seq_from_ledger`).
    set_seq(ctx.store, "sample_commitments", &rec.id, seq)?;
    rec.status = Some("open".into());
    rec.ledger_seq = Some(seq);
    Ok(rec)
}

fn commitment_of_row(r: &vouch_store::Row) -> Result<Commitment, AuditError> {
    let mut c: Commitment = parse("commitment", &r.text(0))?;
    c.ledger_seq = r.opt_int(1).map(|s| s as u64);
    c.status = r.opt_text(2);
    Ok(c)
}

/// The commitment whose id starts with `id`.
pub fn get_commitment(store: &Store, id: &str) -> Result<Commitment, AuditError> {
    commitment_of_row(&find_one(
        store,
        "sample_commitments",
        "record, ledger_seq, status",
        "commitment",
        "commitment",
        id,
    )?)
}

/// Every commitment, newest first.
pub fn commitments(store: &Store) -> Result<Vec<Commitment>, AuditError> {
    store
        .query(
            "SELECT record, ledger_seq, status FROM sample_commitments ORDER BY id DESC",
            &[],
        )?
        .iter()
        .map(commitment_of_row)
        .collect()
}

/// Draw the sample of commitment `commitment_id` with the revealed nonce (hex): the
/// nonce must hash to the commitment; the population is the first of the committed
/// definition and period taken after the commitment; the seed checkpoint is the
/// checkpoint of size max(commitment seq, population seq) + 1.
pub fn draw(
    ctx: &Ctx<'_>,
    commitment_id: &str,
    nonce_hex: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Sample, AuditError> {
    // Everything that fixes the draw is settled BEFORE the nonce is read: the
    // commitment, the population (the first of the definition and period taken after
    // it) and the signed seed checkpoint holding both events. A nonce revealed earlier
    // would let whoever runs the server (re)take the population knowing it.
    let (c, cseq, pop, pseq, cp) = prepare(ctx, commitment_id, by)?;
    let size = cp.size;
    let nonce = sampling::parse_nonce(nonce_hex).map_err(|m| invalid("nonce", m))?;
    if sampling::commitment_of(&nonce) != c.commitment {
        return Err(invalid(
            "nonce",
            "does not match the commitment (its SHA-256 differs); give the nonce that was committed",
        ));
    }
    let root = vouch_core::unb64_hash(&cp.root)
        .ok_or_else(|| AuditError::Corrupt(format!("checkpoint {size}: bad root")))?;
    let seed = sampling::seed_of(&nonce, &root);
    let (k, basis) = sampling::sample_size(&pop.definition, pop.size);
    let indices = sampling::draw_indices(&seed, pop.size, k);
    let mut s = Sample {
        id: uuid::Uuid::now_v7().to_string(),
        commitment_id: c.id.clone(),
        population_id: pop.id.clone(),
        population: c.population.clone(),
        population_root: pop.root.clone(),
        population_size: pop.size,
        commitment_seq: cseq,
        population_seq: pseq,
        nonce: hex::encode(&nonce),
        checkpoint: SeedCheckpoint {
            size,
            root: cp.root.clone(),
            note: cp.note.clone(),
        },
        seed: hex::encode(seed),
        basis,
        indices,
        drawn_by: by.to_string(),
        drawn_at: ts(&now),
        ledger_seq: None,
    };
    let text = hashed(&s, &["ledger_seq"]);
    let mut claimed = false;
    ctx.store.write(&mut |sql| {
        let n = sql.execute(
            "UPDATE sample_commitments SET status = 'drawn' WHERE id = $1 AND status = 'open'",
            &[c.id.clone().into()],
        )?;
        claimed = n == 1;
        if claimed {
            sql.execute(
                "INSERT INTO samples (id, commitment_id, population_id, ledger_seq, drawn_at, record) VALUES ($1, $2, $3, NULL, $4, $5)",
                &[s.id.clone().into(), c.id.clone().into(), pop.id.clone().into(), s.drawn_at.clone().into(), text.clone().into()],
            )?;
        }
        Ok(())
    })?;
    if !claimed {
        return Err(AuditError::Conflict(format!(
            "commitment {} was already used to draw a sample",
            c.id
        )));
    }
    let seq = record_event(
        ctx.ledger,
        "sample.drawn",
        json!({"type": "sample", "id": s.id, "name": c.population}),
        format!(
            "Sample of {} items drawn from population `{}` ({} items) with the revealed nonce and checkpoint {size}",
            s.indices.len(), c.population, pop.size
        ),
        json!({"seed": s.seed, "indices": s.indices, "nonce": s.nonce, "population_id": pop.id, "population_root": pop.root, "commitment_id": c.id, "checkpoint_size": size, "basis": s.basis, "record_sha256": sha256_hex(text.as_bytes())}),
        by,
    );
    let seq = match seq {
        Ok(q) => q,
        Err(e) => {
            let _ = ctx.store.write(&mut |sql| {
                sql.execute("DELETE FROM samples WHERE id = $1", &[s.id.clone().into()])?;
                sql.execute(
                    "UPDATE sample_commitments SET status = 'open' WHERE id = $1",
                    &[c.id.clone().into()],
                )?;
                Ok(())
            });
            return Err(e);
        }
    };
    // Recoverable as for commitments: `get` fills it in from the ledger when missing.
    set_seq(ctx.store, "samples", &s.id, seq)?;
    s.ledger_seq = Some(seq);
    Ok(s)
}

/// What a draw needs before the nonce may be revealed, in the order it is checked: the
/// open commitment (its ledger sequence number), the first population of its definition
/// and period taken after it, taken by someone other than the committer and the drawer,
/// and the signed seed checkpoint of size max(commitment seq, population seq) + 1,
/// which holds both events. `sample draw` (CLI) calls it before reading the nonce file;
/// [`draw`] calls it before reading the nonce.
pub fn prepare(
    ctx: &Ctx<'_>,
    commitment_id: &str,
    by: &str,
) -> Result<
    (
        Commitment,
        u64,
        Population,
        u64,
        vouch_ledger::SignedCheckpoint,
    ),
    AuditError,
> {
    let c = get_commitment(ctx.store, commitment_id)?;
    if c.status.as_deref() != Some("open") {
        return Err(AuditError::Conflict(format!(
            "commitment {} was already used to draw a sample",
            c.id
        )));
    }
    let cseq = match c.ledger_seq {
        Some(q) => q,
        None => seq_from_ledger(
            ctx.store,
            "sample_commitments",
            "sample.nonce_committed",
            &c.id,
        )?
        .ok_or_else(|| {
            AuditError::Conflict(format!(
                "commitment {} is not recorded in the ledger yet",
                c.id
            ))
        })?,
    };
    // Populations of this definition and period whose final write failed are found in
    // the ledger first, so that none is skipped for a later one.
    let stuck = ctx.store.query(
        "SELECT id FROM populations WHERE definition = $1 AND period_start = $2 AND period_end = $3 AND ledger_seq IS NULL",
        &[c.population.clone().into(), c.period.start.clone().into(), c.period.end.clone().into()],
    )?;
    for r in &stuck {
        seq_from_ledger(ctx.store, "populations", "population.taken", &r.text(0))?;
    }
    let rows = ctx.store.query(
        "SELECT record, ledger_seq FROM populations WHERE definition = $1 AND period_start = $2 AND period_end = $3 AND ledger_seq > $4 ORDER BY ledger_seq LIMIT 1",
        &[c.population.clone().into(), c.period.start.clone().into(), c.period.end.clone().into(), (cseq as i64).into()],
    )?;
    let Some(row) = rows.first() else {
        return Err(AuditError::Conflict(format!(
            "no population `{}` for {} was taken after the commitment: take it now (`vouch population take {} --period {}`), then draw; do not reveal the nonce before",
            c.population, c.period.label, c.population, c.period.label
        )));
    };
    let mut pop: Population = parse("population", &row.text(0))?;
    pop.ledger_seq = row.opt_int(1).map(|s| s as u64);
    let pseq = pop.ledger_seq.unwrap_or(0);
    if pop.size == 0 {
        return Err(AuditError::Conflict(format!(
            "population {} is empty: there is nothing to sample (the empty population is itself the evidence)",
            pop.id
        )));
    }
    // Separation of duties: the one who took the population neither commits nor draws.
    if pop.taken_by == c.committed_by || pop.taken_by == by {
        return Err(AuditError::Conflict(format!(
            "population {} was taken by {}, who may not also commit or draw its sample (the company takes, the auditor commits and draws)",
            pop.id, pop.taken_by
        )));
    }
    let cp = ctx.ledger.checkpoint_at(cseq.max(pseq) + 1)?;
    Ok((c, cseq, pop, pseq, cp))
}

fn set_seq(store: &Store, table: &str, id: &str, seq: u64) -> Result<(), AuditError> {
    store.write(&mut |sql| {
        sql.execute(
            &format!("UPDATE {table} SET ledger_seq = $2 WHERE id = $1 AND ledger_seq IS NULL"),
            &[id.into(), (seq as i64).into()],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// The sequence number of record `id`'s `action` event, read from the ledger when the
/// write that should have stored it failed after the event was appended; stored back.
pub(crate) fn seq_from_ledger(
    store: &Store,
    table: &str,
    action: &str,
    id: &str,
) -> Result<Option<u64>, AuditError> {
    let rows = store.query(
        "SELECT seq, leaf FROM ledger_entries WHERE leaf LIKE $1 ORDER BY seq",
        &[format!("%{id}%").into()],
    )?;
    for r in &rows {
        let v: Value = serde_json::from_str(&r.text(1)).unwrap_or(Value::Null);
        if v["action"] == action && v["resource"]["id"] == id {
            let seq = r.int(0) as u64;
            set_seq(store, table, id, seq)?;
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

fn sample_of_row(r: &vouch_store::Row) -> Result<Sample, AuditError> {
    let mut s: Sample = parse("sample", &r.text(0))?;
    s.ledger_seq = r.opt_int(1).map(|q| q as u64);
    Ok(s)
}

/// The sample whose id starts with `id`.
pub fn get(store: &Store, id: &str) -> Result<Sample, AuditError> {
    let mut s = sample_of_row(&find_one(
        store,
        "samples",
        "record, ledger_seq",
        "sample",
        "sample",
        id,
    )?)?;
    if s.ledger_seq.is_none() {
        s.ledger_seq = seq_from_ledger(store, "samples", "sample.drawn", &s.id)?;
    }
    Ok(s)
}

/// Every sample, newest first.
pub fn list(store: &Store) -> Result<Vec<Sample>, AuditError> {
    store
        .query(
            "SELECT record, ledger_seq FROM samples ORDER BY id DESC",
            &[],
        )?
        .iter()
        .map(sample_of_row)
        .collect()
}

/// Format of a sample's export.
pub const EXPORT_FORMAT: &str = "vouch-sample@v1";

/// Everything an offline verifier needs (docs/sampling.md §5): the sample, the
/// population and commitment records, the seed checkpoint, both events' inclusion
/// proofs in it, every entry between the two events with its proof, and each sampled item with its inclusion proof in the population root.
pub fn export(ctx: &Ctx<'_>, id: &str) -> Result<Value, AuditError> {
    let s = get(ctx.store, id)?;
    let pop = population::get(ctx.store, &s.population_id)?;
    let c = get_commitment(ctx.store, &s.commitment_id)?;
    let items = population::items(ctx.config, &pop)?;
    let tree = Tree::new(items.iter().map(|x| x.as_bytes()));
    let sampled: Vec<Value> = s
        .indices
        .iter()
        .map(|&i| {
            json!({
                "index": i,
                "item": items[i as usize],
                "proof": tree.proof(i).iter().map(|h| b64(h)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let size = s.checkpoint.size;
    let commitment_proof = ctx.ledger.inclusion_proof(s.commitment_seq, Some(size))?;
    let population_proof = ctx.ledger.inclusion_proof(s.population_seq, Some(size))?;
    // Every ledger entry strictly between the commitment and the population, each with
    // its inclusion proof in the seed checkpoint: the verifier checks that none is an
    // earlier `population.taken` of the same definition and period (the draw must use
    // the first population taken after the commitment).
    let between = (s.commitment_seq + 1..s.population_seq)
        .map(|q| ctx.ledger.inclusion_proof(q, Some(size)))
        .collect::<Result<Vec<_>, _>>()?;
    // The draw's own event, in the latest checkpoint that holds it (when there is one).
    let drawn_proof = match (s.ledger_seq, ctx.ledger.latest_checkpoint()?) {
        (Some(q), Some(cp)) if q < cp.size => Some(ctx.ledger.inclusion_proof(q, Some(cp.size))?),
        _ => None,
    };
    Ok(json!({
        "format": EXPORT_FORMAT,
        "origin": ctx.ledger.origin(),
        "verifier_key": ctx.ledger.verifier().to_vkey(),
        "sample": s,
        "commitment": c,
        "population": pop,
        "checkpoint": s.checkpoint.note,
        "commitment_event_proof": commitment_proof,
        "population_event_proof": population_proof,
        "between_event_proofs": between,
        "drawn_event_proof": drawn_proof,
        "items": sampled,
    }))
}

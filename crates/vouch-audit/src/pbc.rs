//! Requests to the company about sampled items ("provided by client", the PBC list):
//! the auditor requests, the company answers with an evidence item (an upload or a
//! collected item), the auditor accepts or returns it with a comment. States:
//! `open` → `answered` → `accepted`, or → `returned` → `answered` again. Every step
//! is a ledger event; records are versioned (optimistic locking).

use crate::sample;
use crate::{canonical, find_one, invalid, parse, record_event, sha256_hex, ts, AuditError, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use vouch_store::Store;

/// Every status.
pub const STATUSES: &[&str] = &["open", "answered", "accepted", "returned"];

/// An answer: the evidence item given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The evidence item's id.
    pub evidence_item: String,
    /// Its content's hex SHA-256 (`None` for a failed collection, which is refused).
    pub sha256: String,
    /// Sequence number of the item's `evidence.collected` event.
    pub evidence_seq: Option<u64>,
    /// A note from the company.
    pub note: Option<String>,
    /// Who answered.
    pub by: String,
    /// When.
    pub at: String,
}

/// One step in a request's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `requested`, `answered`, `accepted` or `returned`.
    pub action: String,
    /// Who.
    pub by: String,
    /// When.
    pub at: String,
    /// The comment (requests, returns, acceptances).
    pub comment: Option<String>,
}

/// A request as stored (canonical JSON in `pbc_requests.record`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The sample.
    pub sample_id: String,
    /// The population.
    pub population_id: String,
    /// The sampled item's index in the population.
    pub item_index: u64,
    /// What is asked for ("the approval for this change").
    pub text: String,
    /// One of [`STATUSES`].
    pub status: String,
    /// Every answer, in order.
    pub answers: Vec<Answer>,
    /// Every step, in order.
    pub history: Vec<Step>,
    /// Version, from 1.
    pub version: i64,
    /// Who asked.
    pub requested_by: String,
    /// Last change.
    pub updated_at: String,
}

fn event(ctx: &Ctx<'_>, r: &Request, action: &str, by: &str) -> Result<u64, AuditError> {
    let text = canonical(r);
    record_event(
        ctx.ledger,
        &format!("pbc.{action}"),
        json!({"type": "pbc_request", "id": r.id, "name": format!("sample {} item {}", r.sample_id, r.item_index)}),
        format!(
            "PBC request {action}: item {} of sample {}: {}",
            r.item_index, r.sample_id, r.text
        ),
        json!({"status": r.status, "version": r.version, "sample_id": r.sample_id, "item_index": r.item_index,
               "evidence_item": r.answers.last().map(|a| a.evidence_item.clone()),
               "evidence_sha256": r.answers.last().map(|a| a.sha256.clone()),
               "record_sha256": sha256_hex(text.as_bytes())}),
        by,
    )
}

/// Attach a request to sampled item `item_index` (an index the sample drew).
pub fn request(
    ctx: &Ctx<'_>,
    sample_id: &str,
    item_index: u64,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Request, AuditError> {
    let s = sample::get(ctx.store, sample_id)?;
    if !s.indices.contains(&item_index) {
        return Err(invalid(
            "item",
            format!(
                "item {item_index} is not in sample {} (its items: {:?})",
                s.id, s.indices
            ),
        ));
    }
    if text.trim().is_empty() {
        return Err(invalid("text", "must say what is requested"));
    }
    let at = ts(&now);
    let r = Request {
        id: uuid::Uuid::now_v7().to_string(),
        sample_id: s.id.clone(),
        population_id: s.population_id.clone(),
        item_index,
        text: text.to_string(),
        status: "open".into(),
        answers: Vec::new(),
        history: vec![Step {
            action: "requested".into(),
            by: by.into(),
            at: at.clone(),
            comment: None,
        }],
        version: 1,
        requested_by: by.into(),
        updated_at: at,
    };
    let c = canonical(&r);
    ctx.store.write(&mut |sql| {
        sql.execute(
            "INSERT INTO pbc_requests (id, sample_id, item_index, status, version, updated_at, record) VALUES ($1, $2, $3, $4, 1, $5, $6)",
            &[r.id.clone().into(), r.sample_id.clone().into(), (item_index as i64).into(), r.status.clone().into(), r.updated_at.clone().into(), c.clone().into()],
        )?;
        Ok(())
    })?;
    if let Err(e) = event(ctx, &r, "requested", by) {
        let _ = ctx.store.write(&mut |sql| {
            sql.execute(
                "DELETE FROM pbc_requests WHERE id = $1",
                &[r.id.clone().into()],
            )?;
            Ok(())
        });
        return Err(e);
    }
    Ok(r)
}

/// The request whose id starts with `id`.
pub fn get(store: &Store, id: &str) -> Result<Request, AuditError> {
    parse(
        "request",
        &find_one(store, "pbc_requests", "record", "id", "request", id)?.text(0),
    )
}

/// Requests (of one sample, when given), oldest first.
pub fn list(store: &Store, sample_id: Option<&str>) -> Result<Vec<Request>, AuditError> {
    let rows = match sample_id {
        Some(s) => {
            let s = sample::get(store, s)?;
            store.query(
                "SELECT record FROM pbc_requests WHERE sample_id = $1 ORDER BY id",
                &[s.id.into()],
            )?
        }
        None => store.query("SELECT record FROM pbc_requests ORDER BY id", &[])?,
    };
    rows.iter().map(|r| parse("request", &r.text(0))).collect()
}

/// Store the next version (`next.version` = stored + 1) if the stored one is still
/// `prev`, then the ledger event; the previous version is restored if the event fails.
fn save(
    ctx: &Ctx<'_>,
    prev: &Request,
    next: &Request,
    action: &str,
    by: &str,
) -> Result<(), AuditError> {
    let write = |rec: &Request, expect: i64| -> Result<u64, AuditError> {
        let c = canonical(rec);
        let mut n = 0;
        ctx.store.write(&mut |sql| {
            n = sql.execute(
                "UPDATE pbc_requests SET status = $2, version = $3, updated_at = $4, record = $5 WHERE id = $1 AND version = $6",
                &[rec.id.clone().into(), rec.status.clone().into(), rec.version.into(), rec.updated_at.clone().into(), c.clone().into(), expect.into()],
            )?;
            Ok(())
        })?;
        Ok(n)
    };
    if write(next, prev.version)? == 0 {
        return Err(AuditError::Conflict(format!(
            "request {} changed while this change was made; nothing was written, retry",
            prev.id
        )));
    }
    if let Err(e) = event(ctx, next, action, by) {
        let _ = write(prev, next.version);
        return Err(e);
    }
    Ok(())
}

fn transition(r: &Request, allowed_from: &[&str], to: &str) -> Result<(), AuditError> {
    if allowed_from.contains(&r.status.as_str()) {
        Ok(())
    } else {
        Err(AuditError::Conflict(format!(
            "request {} is {}: it cannot become {to} (only from {})",
            r.id,
            r.status,
            allowed_from.join(" or ")
        )))
    }
}

/// The company answers with evidence item `evidence_item` (an upload or a collected item).
pub fn answer(
    ctx: &Ctx<'_>,
    id: &str,
    evidence_item: &str,
    note: Option<&str>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Request, AuditError> {
    let prev = get(ctx.store, id)?;
    transition(&prev, &["open", "returned"], "answered")?;
    let item = vouch_evidence::get(ctx.store, evidence_item).map_err(|e| match e {
        vouch_evidence::EvidenceError::NotFound(_) | vouch_evidence::EvidenceError::Invalid(_) => {
            invalid("evidence_item", e.to_string())
        }
        other => other.into(),
    })?;
    let Some(sha) = item.sha256().filter(|_| item.ok()) else {
        return Err(invalid(
            "evidence_item",
            format!(
                "evidence item {} is a failed collection: it holds nothing",
                item.id()
            ),
        ));
    };
    let at = ts(&now);
    let mut next = prev.clone();
    next.answers.push(Answer {
        evidence_item: item.id().to_string(),
        sha256: sha.to_string(),
        evidence_seq: item.ledger_seq,
        note: note.map(str::to_string),
        by: by.into(),
        at: at.clone(),
    });
    next.history.push(Step {
        action: "answered".into(),
        by: by.into(),
        at: at.clone(),
        comment: note.map(str::to_string),
    });
    next.status = "answered".into();
    next.version += 1;
    next.updated_at = at;
    save(ctx, &prev, &next, "answered", by)?;
    Ok(next)
}

/// The auditor accepts the latest answer, or returns it with a comment (`accept` false).
pub fn decide(
    ctx: &Ctx<'_>,
    id: &str,
    accept: bool,
    comment: Option<&str>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Request, AuditError> {
    let prev = get(ctx.store, id)?;
    let to = if accept { "accepted" } else { "returned" };
    if !accept && comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(invalid("comment", "say why it is returned"));
    }
    transition(&prev, &["answered"], to)?;
    let at = ts(&now);
    let mut next = prev.clone();
    next.history.push(Step {
        action: to.into(),
        by: by.into(),
        at: at.clone(),
        comment: comment.map(str::to_string),
    });
    next.status = to.into();
    next.version += 1;
    next.updated_at = at;
    save(ctx, &prev, &next, to, by)?;
    Ok(next)
}

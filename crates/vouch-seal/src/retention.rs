//! Retention (seed 003's classes: security 7 years, access 2, application 90 days, debug
//! 30): entries past their class's hot retention are written to WORM storage (NDJSON of
//! the leaves, a signed manifest), then their leaves are removed from the database. The
//! tree stays whole — seq, leaf hash and HMAC chain remain — so the ledger still
//! verifies (as C2SP tlog-tiles pruning keeps the tree and drops entries); the removed
//! leaves are verified from the archive against the stored hashes.

use crate::Error;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_ledger::{Keys, Ledger};

/// Name of the NDJSON file of archived leaves in a retention archive.
pub const ARCHIVE_FILE: &str = "audit-archive.ndjson";

/// Archive and prune what is past retention at `now`.
pub fn run(
    config: &Config,
    keys: &Keys,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let store = ledger.store().clone();
    let started = now;
    let mut seqs = Vec::new();
    let mut body = Vec::new();
    let mut by_class: BTreeMap<String, u64> = BTreeMap::new();
    // The pruned entries' audit-log index rows stay (the query still finds the events)
    // but can no longer be checked against their leaves: the run records their digest
    // in its ledger event, which verification recomputes.
    let floor = store
        .query("SELECT below FROM audit_index_floor", &[])?
        .first()
        .map_or(0, |r| r.int(0) as u64);
    let mut index_digest = vouch_ledger::index::PrunedIndexDigest::new(floor);
    store.scan_entries_indexed(0, &mut |e| {
        if e.leaf.is_empty() {
            return Ok(true);
        }
        let class = vouch_core::canonical::top_level_str(e.leaf, "retention").unwrap_or(b"");
        let class = String::from_utf8_lossy(class).into_owned();
        let Some(days) = vouch_core::event::retention_days(&class) else {
            return Ok(true);
        };
        let cutoff = ts(&(now - chrono::Duration::days(i64::from(days))));
        if e.ts < cutoff.as_bytes() {
            seqs.push(e.seq as u64);
            if let Some(ix) = &e.index {
                index_digest.add(e.seq as u64, ix);
            }
            body.extend_from_slice(e.leaf);
            body.push(b'\n');
            *by_class.entry(class).or_default() += 1;
        }
        Ok(true)
    })?;
    if seqs.is_empty() {
        return Ok(json!({"rows_archived": 0}));
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let sha = hex::encode(Sha256::digest(&body));
    let head = store.head()?;
    let manifest = vouch_core::canonical::to_vec(&json!({
        "schema": "vouch.retention-manifest/v1",
        "run_id": run_id,
        "created_at": ts(&now),
        "files": [{"path": ARCHIVE_FILE, "size": body.len(), "sha256": sha}],
        "entries": seqs.len(),
        "first_seq": seqs.first(), "last_seq": seqs.last(),
        "classes": by_class,
        "tree_size": head.size,
        "signing_key_id": keys.signing_key_id(),
    }));
    let sig = vouch_ledger::sign::sign_b64(&keys.signing, &manifest);
    let worm = crate::worm::Worm::open(&config.settings.archive.storage, &config.data_dir)
        .map_err(Error::Invalid)?;
    let staging = worm.staging(&config.data_dir);
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let folder = format!("retention/{}/{run_id}", now.format("%Y-%m-%d"));
    let retain_until =
        now + chrono::Duration::days(i64::from(config.settings.archive.retention_days));
    let mut stored = Vec::new();
    for (name, bytes) in [
        (ARCHIVE_FILE, body.clone()),
        ("MANIFEST.json", manifest.clone()),
        ("MANIFEST.json.sig", sig.into_bytes()),
    ] {
        let local = staging.join(format!("{run_id}-{name}"));
        std::fs::write(&local, &bytes).map_err(|e| Error::io(&local, e))?;
        let s = worm
            .put(
                &format!("{folder}/{name}"),
                &local,
                &hex::encode(Sha256::digest(&bytes)),
                retain_until,
                config.settings.archive.legal_hold,
            )
            .map_err(|e| Error::Storage(format!("retention archive: {e}; nothing was pruned")))?;
        stored.push(s);
    }
    // Complete: the run's folder becomes read-only (0555 on directory storage), as a
    // period's evidence folder does.
    worm.seal_folder(&folder)
        .map_err(|e| Error::Storage(format!("retention archive: {e}; nothing was pruned")))?;
    // Only once the archive is stored: record the pruned entries and remove their leaves.
    let label = by_class.keys().cloned().collect::<Vec<_>>().join(",");
    let destination = worm.uri(&folder);
    let manifest_sha = hex::encode(Sha256::digest(&manifest));
    let index_sha = index_digest.finish();
    store.write(&mut |sql| {
        for chunk in seqs.chunks(500) {
            for s in chunk {
                sql.execute("INSERT INTO ledger_pruned (seq, run_id) VALUES ($1, $2)", &[(*s as i64).into(), run_id.clone().into()])?;
                sql.execute("UPDATE ledger_entries SET leaf = '' WHERE seq = $1", &[(*s as i64).into()])?;
            }
        }
        sql.execute(
            "INSERT INTO retention_runs (run_id, started_at, completed_at, rows_archived, destination, retention_policy_label, status, manifest_sha256) VALUES ($1, $2, $3, $4, $5, $6, 'complete', $7)",
            &[run_id.clone().into(), ts(&started).into(), ts(&Utc::now().max(now)).into(), (seqs.len() as i64).into(), destination.clone().into(), label.clone().into(), manifest_sha.clone().into()],
        )?;
        Ok(())
    })?;
    vouch_ledger::audit::record(
        ledger,
        json!({
            "timestamp": ts(&now),
            "action": vouch_ledger::audit::RETENTION_ACTION, "category": "system", "result": "success",
            "resource": {"type": "retention_run", "id": run_id, "name": destination},
            "details": {"description": format!("{} entries past retention ({label}) archived to {destination} and pruned", seqs.len())},
            "metadata": {"manifest_sha256": manifest_sha, "archive_sha256": sha, "entries": seqs.len(), "first_seq": seqs.first(), "last_seq": seqs.last(),
                vouch_ledger::index::PRUNED_INDEX_KEY: index_sha, "index_floor": floor},
        }),
    )?;
    Ok(
        json!({"run_id": run_id, "rows_archived": seqs.len(), "destination": destination, "classes": by_class, "files": stored}),
    )
}

/// Check an archive's leaves against the ledger's stored leaf hashes.
pub fn verify_archive(store: &vouch_store::Store, ndjson: &[u8]) -> Result<Value, Error> {
    let mut checked = 0u64;
    for (i, line) in ndjson.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| Error::Corrupt(format!("archive line {}: not JSON ({e})", i + 1)))?;
        let seq = v["seq"]
            .as_u64()
            .ok_or_else(|| Error::Corrupt(format!("archive line {}: no seq", i + 1)))?;
        let stored = store.leaf_hashes(seq, seq + 1)?;
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(line);
        let ok = stored.first().is_some_and(|s| s[..] == h.finalize()[..]);
        if !ok {
            return Ok(
                json!({"valid": false, "checked": checked, "broken_at": seq, "reason": format!("archived entry {seq} does not hash to the ledger's leaf hash")}),
            );
        }
        checked += 1;
    }
    Ok(json!({"valid": true, "checked": checked, "broken_at": null}))
}

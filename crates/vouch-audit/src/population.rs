//! Populations: taking one (items in canonical JSON, their Merkle root, the
//! `population.taken` event), reading them back, exporting them as NDJSON and CSV.

use crate::tree::Tree;
use crate::{canonical, find_one, invalid, parse, record_event, sha256_hex, ts, AuditError, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vouch_config::population::PopulationDef;
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_core::{b64, Hash};
use vouch_store::Store;

/// The period a population covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRef {
    /// First instant (RFC 3339, UTC).
    pub start: String,
    /// First instant after (exclusive).
    pub end: String,
    /// How it was written (`2026-Q3`).
    pub label: String,
}

impl PeriodRef {
    /// The period of a parsed period expression.
    pub fn of(p: &Period) -> PeriodRef {
        PeriodRef {
            start: ts(&p.start),
            end: ts(&p.end),
            label: p.label.clone(),
        }
    }
}

/// A population as stored (canonical JSON in `populations.record`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The definition it was taken by, as configured then.
    pub definition: PopulationDef,
    /// The period.
    pub period: PeriodRef,
    /// Number of items.
    pub size: u64,
    /// Base64 RFC 6962 root over the items (leaf = the item's canonical JSON bytes).
    pub root: String,
    /// Hex SHA-256 of the NDJSON of the items (the blob holding them).
    pub items_sha256: String,
    /// Where the items came from: the evidence items of the collection, or the ledger
    /// size the filter was applied up to.
    pub source: Value,
    /// Who took it.
    pub taken_by: String,
    /// When.
    pub taken_at: String,
    /// Sequence number of its `population.taken` event (not part of the hashed record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_seq: Option<u64>,
}

impl Population {
    /// The record without `ledger_seq`, as hashed into the event.
    fn hashed(&self) -> String {
        let mut p = self.clone();
        p.ledger_seq = None;
        canonical(&p)
    }
}

/// Every population definition: `[[population]]` (of vouch.toml and its packs), and each
/// evidence definition declared
/// `population = true` (id = the evidence id, sized by the population-size table).
pub fn definitions(config: &Config) -> Vec<PopulationDef> {
    let mut out = config.populations.clone();
    for e in &config.evidence {
        if e.population && !out.iter().any(|d| d.id == e.id) {
            out.push(PopulationDef {
                id: e.id.clone(),
                control: e.criteria.join(","),
                title: Some(e.title.clone()),
                evidence: Some(e.id.clone()),
                ..Default::default()
            });
        }
    }
    out
}

/// The definition with this id (`field` names the request field for errors).
pub fn definition(config: &Config, id: &str, field: &str) -> Result<PopulationDef, AuditError> {
    let all = definitions(config);
    all.iter().find(|d| d.id == id).cloned().ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
        invalid(
            field,
            format!(
                "no population `{id}` ({})",
                if known.is_empty() {
                    "none declared: add a [[population]] to vouch.toml".to_string()
                } else {
                    format!("populations: {}", known.join(", "))
                }
            ),
        )
    })
}

fn matches(filter: &Option<String>, value: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(f) => match f.strip_suffix('*') {
            Some(prefix) => value.is_some_and(|v| v.starts_with(prefix)),
            None => value == Some(f.as_str()),
        },
    }
}

/// The items of a ledger-filter population: the leaves of the period's events up to
/// the current size that match, in sequence order.
fn ledger_items(
    ctx: &Ctx<'_>,
    def: &PopulationDef,
    period: &Period,
) -> Result<(Vec<String>, Value), AuditError> {
    let size = ctx.store.head()?.size;
    let mut items = Vec::new();
    let mut pruned = None;
    ctx.store
        .scan_period(&ts(&period.start), &ts(&period.end), &mut |seq, leaf| {
            if seq >= size {
                return Ok(false);
            }
            if leaf.is_empty() {
                pruned = Some(seq);
                return Ok(false);
            }
            let v: Value = serde_json::from_str(leaf).unwrap_or(Value::Null);
            if matches(&def.action, v["action"].as_str())
                && matches(&def.category, v["category"].as_str())
                && matches(&def.resource_type, v["resource"]["type"].as_str())
            {
                items.push(leaf.to_string());
            }
            Ok(true)
        })?;
    if let Some(seq) = pruned {
        return Err(AuditError::Conflict(format!(
            "ledger entry {seq} of the period was pruned by retention: the population would be incomplete (restore the period's archive first)"
        )));
    }
    let filter =
        json!({"action": def.action, "category": def.category, "resource_type": def.resource_type});
    Ok((
        items,
        json!({"ledger": {"tree_size": size, "filter": filter}}),
    ))
}

/// The items of an evidence population: the rows of the latest successful collection of
/// the definition for the period, each as canonical JSON.
fn evidence_items(
    ctx: &Ctx<'_>,
    def: &PopulationDef,
    evidence_id: &str,
    period: &Period,
) -> Result<(Vec<String>, Value), AuditError> {
    let Some(edef) = ctx.config.evidence_def(evidence_id) else {
        return Err(invalid(
            "population",
            format!(
                "population `{}` names evidence `{evidence_id}`, which is not defined",
                def.id
            ),
        ));
    };
    let all = vouch_evidence::list(
        ctx.store,
        &vouch_evidence::ListFilter {
            evidence_id: Some(evidence_id.to_string()),
            period: Some(period.clone()),
            limit: None,
        },
    )?;
    let started =
        |i: &vouch_evidence::Item| i.record["started_at"].as_str().unwrap_or("").to_string();
    let Some(latest) = all.iter().map(started).max() else {
        return Err(invalid(
            "period",
            format!(
                "no evidence `{evidence_id}` was collected for {} (run `vouch collect {evidence_id} --period {}`)",
                period.label, period.label
            ),
        ));
    };
    let mut run: Vec<_> = all.into_iter().filter(|i| started(i) == latest).collect();
    run.sort_by(|a, b| a.id().cmp(b.id()));
    if let Some(bad) = run.iter().find(|i| !i.ok()) {
        return Err(invalid(
            "period",
            format!(
                "the latest collection of `{evidence_id}` for {} failed ({}); collect it again",
                period.label,
                bad.record["error"].as_str().unwrap_or("")
            ),
        ));
    }
    let blobs = vouch_evidence::blob_store(ctx.config);
    let mut items = Vec::new();
    let mut refs = Vec::new();
    for item in &run {
        refs.push(json!({"id": item.id(), "sha256": item.sha256(), "ledger_seq": item.ledger_seq}));
        let Some(sha) = item.sha256() else { continue };
        let bytes = blobs.get(sha)?;
        let media = item.record["media_type"].as_str().unwrap_or("");
        let path = (media == "application/json")
            .then_some(edef.rows.as_deref())
            .flatten();
        let rows = vouch_evidence::rows::parse(&bytes, media, path)
            .map_err(|e| AuditError::Corrupt(format!("evidence item {}: {e}", item.id())))?;
        items.extend(rows.iter().map(vouch_core::canonical::to_string));
    }
    Ok((
        items,
        json!({"evidence": {"id": evidence_id, "items": refs}}),
    ))
}

/// Take population `def_id` for `period`: gather its items, store them (blob), compute
/// the root, record `population.taken` (root, size, definition) in the ledger.
pub fn take(
    ctx: &Ctx<'_>,
    def_id: &str,
    period: &Period,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Population, AuditError> {
    let def = definition(ctx.config, def_id, "population")?;
    let (items, source) = match &def.evidence {
        Some(e) => evidence_items(ctx, &def, e, period)?,
        None => ledger_items(ctx, &def, period)?,
    };
    let tree = Tree::new(items.iter().map(|s| s.as_bytes()));
    let ndjson = ndjson(&items);
    let items_sha256 = vouch_evidence::blob_store(ctx.config).put(ndjson.as_bytes())?;
    let mut p = Population {
        id: uuid::Uuid::now_v7().to_string(),
        definition: def.clone(),
        period: PeriodRef::of(period),
        size: tree.size(),
        root: b64(&tree.root()),
        items_sha256,
        source,
        taken_by: by.to_string(),
        taken_at: ts(&now),
        ledger_seq: None,
    };
    let record = p.hashed();
    ctx.store.write(&mut |sql| {
        sql.execute(
            "INSERT INTO populations (id, definition, period_start, period_end, size, root, items_sha256, ledger_seq, taken_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)",
            &[p.id.clone().into(), def.id.clone().into(), p.period.start.clone().into(), p.period.end.clone().into(), (p.size as i64).into(), p.root.clone().into(), p.items_sha256.clone().into(), p.taken_at.clone().into(), record.clone().into()],
        )?;
        Ok(())
    })?;
    let event = record_event(
        ctx.ledger,
        "population.taken",
        json!({"type": "population", "id": p.id, "name": def.id}),
        format!(
            "Population `{}` of control {} for {} taken: {} items, root {}",
            def.id, def.control, period.label, p.size, p.root
        ),
        json!({
            "root": p.root, "size": p.size, "definition": serde_json::to_value(&def).unwrap_or_default(),
            "period_start": p.period.start, "period_end": p.period.end,
            "items_sha256": p.items_sha256, "record_sha256": sha256_hex(record.as_bytes()),
        }),
        by,
    );
    let seq = match event {
        Ok(seq) => seq,
        Err(e) => {
            let _ = ctx.store.write(&mut |sql| {
                sql.execute(
                    "DELETE FROM populations WHERE id = $1",
                    &[p.id.clone().into()],
                )?;
                Ok(())
            });
            return Err(e);
        }
    };
    ctx.store.write(&mut |sql| {
        sql.execute(
            "UPDATE populations SET ledger_seq = $2 WHERE id = $1",
            &[p.id.clone().into(), (seq as i64).into()],
        )?;
        Ok(())
    })?;
    p.ledger_seq = Some(seq);
    Ok(p)
}

fn ndjson(items: &[String]) -> String {
    let mut out = String::new();
    for i in items {
        out.push_str(i);
        out.push('\n');
    }
    out
}

fn of_row(r: &vouch_store::Row) -> Result<Population, AuditError> {
    let mut p: Population = parse("population", &r.text(0))?;
    p.ledger_seq = r.opt_int(1).map(|s| s as u64);
    Ok(p)
}

/// The population whose id starts with `id`.
pub fn get(store: &Store, id: &str) -> Result<Population, AuditError> {
    of_row(&find_one(
        store,
        "populations",
        "record, ledger_seq",
        "id",
        "population",
        id,
    )?)
}

/// Populations taken (of one definition, when given), newest first.
pub fn list(store: &Store, definition: Option<&str>) -> Result<Vec<Population>, AuditError> {
    let rows = match definition {
        Some(d) => store.query(
            "SELECT record, ledger_seq FROM populations WHERE definition = $1 ORDER BY id DESC",
            &[d.into()],
        )?,
        None => store.query(
            "SELECT record, ledger_seq FROM populations ORDER BY id DESC",
            &[],
        )?,
    };
    rows.iter().map(of_row).collect()
}

/// The population's items (canonical JSON text, in order), read from the blob store
/// and checked against the recorded hash, count and root.
pub fn items(config: &Config, p: &Population) -> Result<Vec<String>, AuditError> {
    let bytes = vouch_evidence::blob_store(config).get(&p.items_sha256)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| AuditError::Corrupt(format!("population {}: items are not UTF-8", p.id)))?;
    let items: Vec<String> = text.lines().map(str::to_string).collect();
    let tree = Tree::new(items.iter().map(|s| s.as_bytes()));
    if tree.size() != p.size || b64(&tree.root()) != p.root {
        return Err(AuditError::Corrupt(format!(
            "population {}: stored items do not match its root",
            p.id
        )));
    }
    Ok(items)
}

/// The items as NDJSON: each line exactly one Merkle leaf.
pub fn export_ndjson(config: &Config, p: &Population) -> Result<String, AuditError> {
    Ok(ndjson(&items(config, p)?))
}

/// The items as CSV: `index` then one column per top-level key (the union, sorted);
/// nested values as JSON. For people and spreadsheets; the NDJSON is what is hashed.
pub fn export_csv(config: &Config, p: &Population) -> Result<String, AuditError> {
    let items = items(config, p)?;
    let values: Vec<Value> = items
        .iter()
        .map(|s| serde_json::from_str(s).unwrap_or(Value::Null))
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for v in &values {
        if let Value::Object(m) = v {
            keys.extend(m.keys().cloned());
        }
    }
    let mut out = String::from("index");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_field(&Value::String(k.clone())));
    }
    out.push('\n');
    for (i, v) in values.iter().enumerate() {
        out.push_str(&i.to_string());
        for k in &keys {
            out.push(',');
            out.push_str(&csv_field(v.get(k).unwrap_or(&Value::Null)));
        }
        out.push('\n');
    }
    Ok(out)
}

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The root as raw bytes.
pub fn root_bytes(p: &Population) -> Result<Hash, AuditError> {
    vouch_core::unb64_hash(&p.root)
        .ok_or_else(|| AuditError::Corrupt(format!("population {}: bad root", p.id)))
}

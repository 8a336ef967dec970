//! Evidence: collectors run evidence definitions against their sources; each run yields
//! items recording what an auditor calls IPE (source, exact operation, times, count,
//! hash, collector version, status). Content goes to the blob store by SHA-256, the
//! item to the `evidence_items` table, and an `evidence.collected` event carrying both
//! hashes to the ledger.

pub mod collect;
pub mod operation;
pub use operation::Operation;
pub mod rows;
pub mod scanner;

/// The definitions (sources, evidence), secrets handling and `{{placeholder}}` templates
/// live with the configuration schema; re-exported where collection uses them.
pub use vouch_config::{evidence as defs, secrets, template};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_ledger::Ledger;
use vouch_store::blobs::BlobStore;
use vouch_store::{Store, Value as SqlValue};

/// The blob store of a configuration: `<data dir>/blobs`.
pub fn blob_store(config: &Config) -> BlobStore {
    BlobStore::new(config.data_dir.join("blobs"))
}

/// Errors of collection and of reading evidence back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A request or definition is wrong (unknown evidence id, bad upload, bad period).
    #[error("{0}")]
    Invalid(String),
    /// No evidence item has this id.
    #[error("no evidence item {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// The blob store (content by SHA-256) failed or holds altered content.
    #[error(transparent)]
    Blob(#[from] vouch_store::blobs::BlobError),
    /// Appending the collection's event to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
}

/// Everything a collection needs.
pub struct Collector<'a> {
    /// The configuration holding the sources and definitions.
    pub config: &'a Config,
    /// Where item records are stored.
    pub store: Store,
    /// The ledger each item is recorded in.
    pub ledger: &'a Ledger,
    /// Where item content is stored.
    pub blobs: BlobStore,
}

/// A stored evidence item: its record (the canonical JSON the ledger event hashes) and
/// the sequence number of that event.
#[derive(Debug, Clone)]
pub struct Item {
    /// The item's record.
    pub record: Value,
    /// Sequence number of the item's ledger event, once recorded.
    pub ledger_seq: Option<u64>,
}

impl Item {
    /// The item id.
    pub fn id(&self) -> &str {
        self.record["id"].as_str().unwrap_or_default()
    }
    /// Hex SHA-256 of the content (the blob's name); `None` for a failed run.
    pub fn sha256(&self) -> Option<&str> {
        self.record["sha256"].as_str()
    }
    /// Whether the collection succeeded (`status` is `ok`).
    pub fn ok(&self) -> bool {
        self.record["status"] == "ok"
    }
}

fn ts(t: &DateTime<Utc>) -> String {
    vouch_core::event::format_timestamp(t)
}

impl<'a> Collector<'a> {
    /// A collector over a configuration's blob store.
    pub fn new(config: &'a Config, store: Store, ledger: &'a Ledger) -> Collector<'a> {
        Collector {
            config,
            store,
            ledger,
            blobs: blob_store(config),
        }
    }

    /// Run evidence definitions (all, or those named) for a period. A failing run is
    /// recorded as an item with status `error` and does not stop the others.
    pub fn collect(
        &self,
        ids: &[String],
        period: &Period,
        on_item: &mut dyn FnMut(&Item),
    ) -> Result<Vec<Item>, EvidenceError> {
        for id in ids {
            if self.config.evidence_def(id).is_none() {
                let known: Vec<&str> = self.config.evidence.iter().map(|e| e.id.as_str()).collect();
                return Err(EvidenceError::Invalid(format!(
                    "no evidence definition `{id}` (defined: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        let defs: Vec<_> = self
            .config
            .evidence
            .iter()
            .filter(|d| ids.is_empty() || ids.contains(&d.id))
            .collect();
        let mut items = Vec::new();
        for def in defs {
            for item in self.collect_one(def, period)? {
                on_item(&item);
                items.push(item);
            }
        }
        Ok(items)
    }

    fn collect_one(
        &self,
        def: &defs::EvidenceDef,
        period: &Period,
    ) -> Result<Vec<Item>, EvidenceError> {
        let source = self
            .config
            .source(&def.source)
            .ok_or_else(|| EvidenceError::Invalid(format!("no source `{}`", def.source)))?;
        let started = Utc::now();
        let mut vars = template::period_vars(period, started);
        vars.insert("pack_dir".into(), def.origin.dir().display().to_string());
        let mut scrubber = secrets::Scrubber::new();
        let mut missing_param = register_secrets(source, &mut scrubber).err();
        for (k, v) in &def.params {
            vars.insert(k.clone(), v.clone());
        }
        for (k, var) in &def.params_env {
            match std::env::var(var) {
                Ok(v) => {
                    vars.insert(k.clone(), v);
                }
                Err(_) => {
                    missing_param.get_or_insert(format!(
                        "environment variable {var} (params_env.{k}) is not set"
                    ));
                }
            }
        }
        let mut outcome = match missing_param {
            Some(e) => collect::Outcome::failed(json!({}), json!({}), json!({}), e),
            None => collect::run(&collect::Run { source, def, vars }, &mut scrubber),
        };
        // Content too (SQL rows are not scrubbed by their collectors): every replacement
        // is counted, per item, and recorded in that item's `scrubbed`.
        let own = match &mut outcome.result {
            Ok(contents) => scrub_contents(&scrubber, contents),
            Err(_) => Vec::new(),
        };
        let single = own.len() <= 1;
        let finished = Utc::now();
        let base = json!({
            "evidence_id": def.id,
            "title": def.title,
            "criteria": def.criteria,
            "source": {"name": source.name, "kind": source.kind.as_str(), "fingerprint": outcome.fingerprint},
            "operation": outcome.operation,
            "details": outcome.details,
            "period": {"label": period.label, "start": ts(&period.start), "end": ts(&period.end)},
            "started_at": ts(&started),
            "finished_at": ts(&finished),
            "collector": collect::collector_id(source.kind.as_str()),
            "collected_by": "vouch",
        });
        // Belt and braces: nothing recorded may carry a secret the run met.
        let base: Value = serde_json::from_str(&scrubber.scrub(&base.to_string()))
            .map_err(|e| EvidenceError::Invalid(e.to_string()))?;
        match outcome.result {
            Err(e) => {
                let mut rec = base;
                fill(&mut rec, None, &finished, Some(scrubber.scrub(&e)));
                rec["scrubbed"] = scrubber.report();
                Ok(vec![self.store_item(rec, None)?])
            }
            Ok(contents) => contents
                .into_iter()
                .zip(own)
                .map(|(c, own)| {
                    let effective = effective_at(def, &c, &finished);
                    let mut rec = base.clone();
                    fill(&mut rec, Some(&c), &effective, None);
                    rec["scrubbed"] = scrubber.report_for(single, &own);
                    self.store_item(rec, Some(&c.bytes))
                })
                .collect(),
        }
    }

    /// Store an uploaded file as an item of `evidence_id`.
    pub fn upload(
        &self,
        path: &std::path::Path,
        evidence_id: &str,
        note: Option<&str>,
        uploaded_by: &str,
        period: &Period,
    ) -> Result<Item, EvidenceError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| EvidenceError::Invalid(format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(EvidenceError::Invalid(format!(
                "{} is not a file",
                path.display()
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| EvidenceError::Invalid(format!("{}: {e}", path.display())))?;
        let def = self.config.evidence_def(evidence_id);
        if !defs_valid_id(evidence_id) {
            return Err(EvidenceError::Invalid(format!(
                "`{evidence_id}` is not a valid evidence id (lower-case letters, digits, - _ .)"
            )));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let now = Utc::now();
        let content = collect::Content {
            media_type: collect::files::media_type(&name),
            bytes,
            count: None,
            name: Some(name.clone()),
        };
        let mut rec = json!({
            "evidence_id": evidence_id,
            "title": def.map(|d| d.title.clone()).unwrap_or_else(|| name.clone()),
            "criteria": def.map(|d| d.criteria.clone()).unwrap_or_default(),
            "source": {"name": "upload", "kind": "upload", "fingerprint": {"collected_on": collect::hostname()}},
            "operation": {"upload": name, "collector": collect::collector_id("upload")},
            "details": {"note": note},
            "period": {"label": period.label, "start": ts(&period.start), "end": ts(&period.end)},
            "started_at": ts(&now),
            "finished_at": ts(&now),
            "collector": collect::collector_id("upload"),
            "collected_by": uploaded_by,
        });
        fill(&mut rec, Some(&content), &now, None);
        self.store_item(rec, Some(&content.bytes))
    }

    fn store_item(&self, mut rec: Value, bytes: Option<&[u8]>) -> Result<Item, EvidenceError> {
        if let Some(b) = bytes {
            self.blobs.put(b)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        rec["id"] = json!(id);
        let canonical = vouch_core::canonical::to_string(&rec);
        let record_sha = vouch_store::blobs::sha256_hex(canonical.as_bytes());
        let ok = rec["status"] == "ok";
        let appended = vouch_ledger::audit::record(
            self.ledger,
            json!({
                "action": "evidence.collected", "category": "system",
                "result": if ok { "success" } else { "failure" },
                "actor": {"id": rec["collected_by"], "email": null, "ip": null},
                "resource": {"type": "evidence", "id": id, "name": rec["evidence_id"]},
                "details": {"description": if ok {
                    format!("Evidence `{}` collected: {} bytes", rec["evidence_id"].as_str().unwrap_or_default(), rec["size"])
                } else {
                    format!("Evidence `{}` failed: {}", rec["evidence_id"].as_str().unwrap_or_default(), rec["error"].as_str().unwrap_or_default())
                }},
                "metadata": {"sha256": rec["sha256"], "record_sha256": record_sha, "period": rec["period"]["label"], "count": rec["count"], "status": rec["status"]},
            }),
        )?;
        let seq = appended.seqs.first().copied();
        self.store.write(&mut |sql| {
            sql.execute(
                "INSERT INTO evidence_items (id, evidence_id, period_start, period_end, effective_at, status, sha256, record, ledger_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    id.clone().into(),
                    rec["evidence_id"].as_str().unwrap_or_default().into(),
                    rec["period"]["start"].as_str().unwrap_or_default().into(),
                    rec["period"]["end"].as_str().unwrap_or_default().into(),
                    rec["effective_at"].as_str().unwrap_or_default().into(),
                    rec["status"].as_str().unwrap_or_default().into(),
                    rec["sha256"].as_str().map(str::to_string).into(),
                    canonical.clone().into(),
                    seq.map(|s| s as i64).into(),
                ],
            )?;
            Ok(())
        })?;
        Ok(Item {
            record: rec,
            ledger_seq: seq,
        })
    }
}

/// Scrub each content of a run; the replacements made in each, in order (what that item,
/// and no other, records as scrubbed in its content).
fn scrub_contents(
    scrubber: &secrets::Scrubber,
    contents: &mut [collect::Content],
) -> Vec<Vec<(String, u64)>> {
    contents
        .iter_mut()
        .map(|c| {
            let (bytes, made) = scrubber.scrub_content(std::mem::take(&mut c.bytes));
            c.bytes = bytes;
            made
        })
        .collect()
}

/// The secrets a source will hand a collector, registered under the names the record
/// shows: the DSN's password (`VAR password`), the token, `secret_env` values. A secret
/// shorter than [`secrets::MIN_SECRET_LEN`] fails the run, naming the variable. Unset
/// variables are left to the collector, which reports them.
pub fn register_secrets(
    source: &defs::SourceDef,
    scrubber: &mut secrets::Scrubber,
) -> Result<(), String> {
    let get = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    if source.kind.is_sql() {
        if let Some(var) = &source.url_env {
            if let Some(dsn) = get(var) {
                let name = format!("{var} password");
                for pw in secrets::dsn_password(&dsn) {
                    secrets::check_secret(&format!("the DSN in {var}"), &pw)?;
                    scrubber.add_named(&name, pw);
                }
            }
        }
    }
    for var in source.token_env.iter().chain(&source.secret_env) {
        if let Some(v) = get(var) {
            secrets::check_secret(var, &v)?;
            scrubber.add_named(var, v);
        }
    }
    Ok(())
}

fn defs_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn fill(
    rec: &mut Value,
    c: Option<&collect::Content>,
    effective: &DateTime<Utc>,
    error: Option<String>,
) {
    rec["effective_at"] = json!(ts(effective));
    rec["status"] = json!(if error.is_some() { "error" } else { "ok" });
    rec["error"] = json!(error);
    match c {
        Some(c) => {
            rec["count"] = json!(c.count);
            rec["media_type"] = json!(c.media_type);
            rec["size"] = json!(c.bytes.len());
            rec["sha256"] = json!(vouch_store::blobs::sha256_hex(&c.bytes));
            rec["name"] = json!(c.name);
        }
        None => {
            for k in ["count", "media_type", "size", "sha256", "name"] {
                rec[k] = Value::Null;
            }
        }
    }
}

/// `effective_at`: the collection time, or the latest value of a field over the rows.
fn effective_at(
    def: &defs::EvidenceDef,
    c: &collect::Content,
    collected: &DateTime<Utc>,
) -> DateTime<Utc> {
    let defs::Effective::Field(f) = def.effective() else {
        return *collected;
    };
    let rows_path = if c.media_type == "application/json" {
        def.rows.as_deref()
    } else {
        None
    };
    rows::parse(&c.bytes, c.media_type, rows_path)
        .ok()
        .and_then(|rows| {
            rows.iter()
                .filter_map(|r| rows::field(r, &f).and_then(rows::parse_time))
                .max()
        })
        .unwrap_or(*collected)
}

fn item_of(row: &vouch_store::Row) -> Result<Item, EvidenceError> {
    let record: Value = serde_json::from_str(&row.text(0))
        .map_err(|e| EvidenceError::Invalid(format!("stored evidence record: {e}")))?;
    Ok(Item {
        record,
        ledger_seq: row.opt_int(1).map(|s| s as u64),
    })
}

/// Filters for listing items.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Only items of this evidence definition.
    pub evidence_id: Option<String>,
    /// Items whose period lies inside this one.
    pub period: Option<Period>,
    /// At most this many items.
    pub limit: Option<u64>,
}

/// Items, newest first.
pub fn list(store: &Store, f: &ListFilter) -> Result<Vec<Item>, EvidenceError> {
    let mut sql = String::from("SELECT record, ledger_seq FROM evidence_items WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(id) = &f.evidence_id {
        params.push(id.into());
        sql.push_str(&format!(" AND evidence_id = ${}", params.len()));
    }
    if let Some(p) = &f.period {
        params.push(ts(&p.start).into());
        sql.push_str(&format!(" AND period_start >= ${}", params.len()));
        params.push(ts(&p.end).into());
        sql.push_str(&format!(" AND period_end <= ${}", params.len()));
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    store.query(&sql, &params)?.iter().map(item_of).collect()
}

/// One item by id (or a unique prefix of it).
pub fn get(store: &Store, id: &str) -> Result<Item, EvidenceError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(EvidenceError::Invalid(format!(
            "`{id}` is not an evidence item id (give at least 8 characters of it)"
        )));
    }
    let rows = store.query(
        "SELECT record, ledger_seq FROM evidence_items WHERE id LIKE $1 ORDER BY id LIMIT 2",
        &[format!("{id}%").into()],
    )?;
    match rows.len() {
        0 => Err(EvidenceError::NotFound(id.to_string())),
        1 => item_of(&rows[0]),
        _ => Err(EvidenceError::Invalid(format!(
            "`{id}` matches more than one item; give more of the id"
        ))),
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    fn content(text: &str) -> collect::Content {
        collect::Content {
            media_type: "text/plain",
            bytes: text.as_bytes().to_vec(),
            count: None,
            name: None,
        }
    }

    /// Issue 12 review: every item of a run was given the run-wide `scrubbed` counts, so
    /// an item could claim replacements that never happened in it.
    #[test]
    fn each_item_records_only_its_own_content_replacements() {
        let mut s = secrets::Scrubber::new();
        s.add_named("VOUCH_T_TOKEN", "tok-3f9a81c2");
        // Shared by every item: the run's operation held the secret once.
        assert_eq!(
            s.scrub_in("operation.argv", "--token tok-3f9a81c2"),
            "--token ***"
        );
        let mut contents = vec![
            content("a tok-3f9a81c2 b tok-3f9a81c2"),
            content("nothing secret here"),
        ];
        let own = scrub_contents(&s, &mut contents);
        assert_eq!(contents[0].bytes, b"a *** b ***");
        assert_eq!(contents[1].bytes, b"nothing secret here");
        let first = s.report_for(false, &own[0]);
        let second = s.report_for(false, &own[1]);
        assert_eq!(
            first,
            serde_json::json!([
                {"secret": "VOUCH_T_TOKEN", "where": "content", "replacements": 2},
                {"secret": "VOUCH_T_TOKEN", "where": "operation.argv", "replacements": 1},
            ])
        );
        assert_eq!(
            second,
            serde_json::json!([{"secret": "VOUCH_T_TOKEN", "where": "operation.argv", "replacements": 1}]),
            "the clean item claims no content replacement"
        );
    }
}

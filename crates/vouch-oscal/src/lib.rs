//! OSCAL export (docs/oscal.md): a period's assessment results — one result with a
//! finding per Trust Services Criterion the organisation's controls address, a finding
//! per vouch finding, an observation per evidence item and per check result, each
//! linking its artifact with its SHA-256 and ledger sequence number — and, per pack in
//! use, a component definition describing its controls and checks against the TSC.
//!
//! Everything is read "as of" a time, like packets (`vouch-packet/src/rules.rs`): the
//! latest stored check result of each check, the items collected, the findings as they
//! stood then; nothing is re-evaluated. Identifiers are UUIDv5 of stable names and every
//! timestamp comes from the data, so exporting the same data twice gives the same bytes.

mod components;
pub mod ids;
mod results;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use vouch_checks::{controls, findings, results::latest_results, CheckError};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_evidence::{self as evidence, EvidenceError, ListFilter};
use vouch_store::{Store, StoreError};

/// The OSCAL version the documents are written against (the 1.1 line's latest).
pub const OSCAL_VERSION: &str = "1.1.3";
/// The namespace of vouch's own properties (`ns` of every `prop`), and the name from
/// which the UUIDv5 namespace of every identifier is derived. A name, not a web page.
pub const NS: &str = "https://vouch.invalid/ns/oscal";
/// The `source` of every control implementation: the AICPA Trust Services Criteria are
/// not published as an OSCAL catalog, so this is the AICPA's publication of the 2017
/// criteria with the 2022 points of focus, whose criterion ids (`CC6.1`) are the
/// control ids.
pub const TSC_SOURCE: &str = "https://www.aicpa-cima.com/resources/download/2017-trust-services-criteria-with-revised-points-of-focus-2022";
/// The assessment-results file in the output directory.
pub const AR_FILE: &str = "assessment-results.json";
/// The directory of the component definitions (one `<pack>.json` each).
pub const CD_DIR: &str = "component-definitions";
/// The directory of evidence contents, named by their SHA-256.
pub const EVIDENCE_DIR: &str = "evidence";
/// The directory of stored check results (`<result id>.json`, the hashed record).
pub const RESULTS_DIR: &str = "check-results";

/// Errors of the export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be met: no data for the period, no controls configured, an
    /// output directory that holds something else.
    #[error("{0}")]
    Invalid(String),
    /// Writing the output failed.
    #[error("cannot write {}: {cause}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause (in the message, not a `source`: the CLI prints the chain).
        cause: std::io::Error,
    },
    /// An evidence item's content cannot be read back (missing or altered blob).
    #[error("evidence item {item}: {message}")]
    Blob {
        /// The item id.
        item: String,
        /// Why.
        message: String,
    },
    /// Reading check results, controls or findings failed.
    #[error(transparent)]
    Checks(#[from] CheckError),
    /// Reading evidence items failed.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Request {
    /// The period assessed.
    pub period: Period,
    /// Read the data as it stood then (whole seconds; default: everything stored).
    pub as_of: Option<DateTime<Utc>>,
    /// The output directory (created; an earlier export in it is replaced).
    pub out: PathBuf,
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    /// Its path relative to the output directory.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The output directory.
    pub dir: PathBuf,
    /// The period's label.
    pub period: String,
    /// The time the data was read as of (RFC 3339).
    pub as_of: String,
    /// The overall status of the organisation's controls (`vouch status`'s vocabulary).
    pub overall_status: String,
    /// Trust Services Criteria reviewed.
    pub criteria: usize,
    /// How many of them are `satisfied` (every control on them passed).
    pub satisfied: usize,
    /// Observations (evidence items and check results).
    pub observations: usize,
    /// vouch findings exported as OSCAL findings.
    pub findings: usize,
    /// Component definitions written (one per pack, plus vouch.toml's own controls).
    pub component_definitions: usize,
    /// Every file, sorted by name.
    pub files: Vec<WrittenFile>,
}

/// The organisation's data for the period, as of the export's time.
pub(crate) struct Data {
    /// Each control with its status (`controls::evaluate`).
    pub controls: Vec<Value>,
    /// The latest stored result of each check.
    pub results: Vec<Value>,
    /// The period's successful evidence items, by id.
    pub items: Vec<evidence::Item>,
    /// vouch findings as they stood, for the period.
    pub findings: Vec<Value>,
    /// The time the data is read as of.
    pub at: DateTime<Utc>,
}

/// The newest of some RFC 3339 timestamps.
fn newest<'a>(times: impl Iterator<Item = &'a Value>) -> Option<DateTime<Utc>> {
    times
        .filter_map(|v| v.as_str())
        .filter_map(vouch_core::period::parse_instant)
        .max()
}

/// Read the period's data as of `req.as_of` (or everything stored, dated by its newest
/// record): the same selection as a packet's organisation section.
fn gather(config: &Config, store: &Store, req: &Request) -> Result<Data, Error> {
    let p = &req.period;
    // Like packets: a time in whole seconds covers everything stored within that second.
    let limit = req
        .as_of
        .map(|t| ts(&(t.trunc_subsecs(0) + Duration::microseconds(999_999))));
    let lim = limit.as_deref();
    let results = latest_results(store, p, lim)?;
    let mut items: Vec<evidence::Item> = evidence::list(
        store,
        &ListFilter {
            evidence_id: None,
            period: Some(p.clone()),
            limit: None,
        },
    )?
    .into_iter()
    .filter(|i| i.ok() && lim.is_none_or(|a| i.record["finished_at"].as_str().unwrap_or("") <= a))
    .collect();
    items.sort_by(|a, b| a.id().cmp(b.id()));
    if results.is_empty() && items.is_empty() {
        let when = match &limit {
            Some(_) => format!(
                " as of {}",
                ts(&req.as_of.unwrap_or_default().trunc_subsecs(0))
            ),
            None => String::new(),
        };
        return Err(Error::Invalid(format!(
            "no data for period {l}{when}: no evidence collected and no check evaluated for it (run `vouch collect --period {l}` and `vouch check --period {l}` first)",
            l = p.label
        )));
    }
    if config.controls.is_empty() {
        return Err(Error::Invalid(
            "the configuration has no [[control]]: nothing to assess against the Trust Services Criteria (include a pack or add controls to vouch.toml)".into(),
        ));
    }
    let start = ts(&p.start);
    let end = ts(&p.end);
    let in_period = |v: &Value| {
        v.as_str()
            .is_some_and(|t| t >= start.as_str() && t < end.as_str())
    };
    let findings: Vec<Value> = findings::as_of(store, lim.unwrap_or("9999"))?
        .into_iter()
        .filter(|f| {
            f["status"] != "resolved" || in_period(&f["resolved_at"]) || in_period(&f["last_seen"])
        })
        .collect();
    let at = match req.as_of {
        Some(t) => t.trunc_subsecs(0),
        None => newest(
            results
                .iter()
                .map(|r| &r["evaluated_at"])
                .chain(items.iter().map(|i| &i.record["finished_at"]))
                .chain(findings.iter().map(|f| &f["updated_at"])),
        )
        .unwrap_or(p.start),
    };
    // Staleness is judged at `at` (capped at the period's end by `evaluate`), not at the
    // wall clock, so the same data gives the same statuses later.
    let controls = controls::evaluate(config, store, p, at, lim)?;
    Ok(Data {
        controls,
        results,
        items,
        findings,
        at,
    })
}

/// The documents and artifacts of an export, before anything is written.
struct Output {
    /// Relative path → bytes.
    files: Vec<(String, Vec<u8>)>,
    summary: results::Summary,
    component_definitions: usize,
}

/// Without nulls and empty arrays: OSCAL arrays, where present, hold at least one item.
fn prune(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for x in o.values_mut() {
                prune(x);
            }
            o.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(Vec::is_empty)));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

/// Pretty JSON with a final newline, pruned.
pub(crate) fn json_bytes(v: &Value) -> Vec<u8> {
    let mut v = v.clone();
    prune(&mut v);
    let mut b = serde_json::to_vec_pretty(&v).unwrap_or_default();
    b.push(b'\n');
    b
}

fn build(config: &Config, store: &Store, req: &Request) -> Result<Output, Error> {
    let data = gather(config, store, req)?;
    let mut files = Vec::new();
    // Component definitions first: the assessment results' back matter names them with
    // their hashes.
    let cds = components::definitions(config, &data.at);
    let mut cd_refs = Vec::new();
    for (name, doc) in &cds {
        let path = format!("{CD_DIR}/{name}.json");
        let bytes = json_bytes(doc);
        cd_refs.push((path.clone(), vouch_store::blobs::sha256_hex(&bytes)));
        files.push((path, bytes));
    }
    // The stored check results, byte for byte: their SHA-256 is what the ledger recorded.
    let mut result_shas = std::collections::BTreeMap::new();
    for r in &data.results {
        let id = r["id"].as_str().unwrap_or_default();
        let bytes = stored_result(store, id)?;
        result_shas.insert(id.to_string(), vouch_store::blobs::sha256_hex(&bytes));
        files.push((format!("{RESULTS_DIR}/{id}.json"), bytes));
    }
    let (doc, summary) = results::document(config, &data, &cd_refs, &result_shas, &req.period);
    files.push((AR_FILE.to_string(), json_bytes(&doc)));
    // The artifacts the observations link: evidence contents and stored check results.
    let blobs = evidence::blob_store(config);
    let mut shas: Vec<(String, String)> = Vec::new();
    for i in &data.items {
        if let Some(s) = i.sha256() {
            shas.push((s.to_string(), i.id().to_string()));
        }
    }
    for r in &data.results {
        for e in r["evidence"].as_array().into_iter().flatten() {
            if let (Some(s), Some(id)) = (e["sha256"].as_str(), e["item_id"].as_str()) {
                shas.push((s.to_string(), id.to_string()));
            }
        }
    }
    shas.sort();
    shas.dedup_by(|a, b| a.0 == b.0);
    for (sha, item) in shas {
        // `get` checks the content against its hash.
        let bytes = blobs.get(&sha).map_err(|e| Error::Blob {
            item: item.clone(),
            message: e.to_string(),
        })?;
        files.push((format!("{EVIDENCE_DIR}/{sha}"), bytes));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Output {
        files,
        summary,
        component_definitions: cds.len(),
    })
}

/// A check result's stored record: the canonical JSON whose SHA-256 is the
/// `record_sha256` of its `check.evaluated` ledger event.
fn stored_result(store: &Store, id: &str) -> Result<Vec<u8>, Error> {
    let rows = store.query(
        "SELECT record FROM check_results WHERE id = $1",
        &[id.into()],
    )?;
    rows.first()
        .map(|r| r.text(0).into_bytes())
        .ok_or_else(|| Error::Invalid(format!("check result {id} disappeared during the export")))
}

/// Export the period's assessment results and the packs' component definitions into
/// `req.out`.
pub fn export(config: &Config, store: &Store, req: &Request) -> Result<Written, Error> {
    let out = build(config, store, req)?;
    prepare(&req.out)?;
    let mut written = Vec::new();
    for (name, bytes) in &out.files {
        let path = req.out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        write_file(&path, bytes)?;
        written.push(WrittenFile {
            name: name.clone(),
            bytes: bytes.len() as u64,
            sha256: vouch_store::blobs::sha256_hex(bytes),
        });
    }
    let s = out.summary;
    Ok(Written {
        dir: req.out.clone(),
        period: req.period.label.clone(),
        as_of: s.as_of,
        overall_status: s.overall_status,
        criteria: s.criteria,
        satisfied: s.satisfied,
        observations: s.observations,
        findings: s.findings,
        component_definitions: out.component_definitions,
        files: written,
    })
}

fn io(path: &Path, cause: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// Make `dir` ready: created when missing; an earlier export in it is removed (only the
/// names an export writes); anything else in it is refused rather than mixed in.
fn prepare(dir: &Path) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let ours = [AR_FILE, CD_DIR, EVIDENCE_DIR, RESULTS_DIR];
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    if let Some(other) = entries
        .iter()
        .find(|n| !ours.iter().any(|o| n.to_str() == Some(*o)))
    {
        return Err(Error::Invalid(format!(
            "{} is not empty ({} is not part of an OSCAL export): choose an empty or new directory",
            dir.display(),
            other.to_string_lossy()
        )));
    }
    for n in &entries {
        let p = dir.join(n);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| io(&p, e))?;
    }
    Ok(())
}

/// Write through a temporary file renamed into place, so a reader never sees half a
/// document.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp-oscal");
    std::fs::write(&tmp, bytes).map_err(|e| io(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

//! Evidence packets (seed 000): for a period, one canonical JSON document and its PDF
//! rendering, each with a detached base64 ECDSA signature, bound to the ledger by the
//! signed checkpoint at period end and a consistency proof from the previous packet.
//! The same stored data and generation time give the same bytes (`reproduce`).

pub mod attestation;
pub mod build;
pub mod pdf;
pub mod rules;
pub mod series;
pub use vouch_ledger::sign;
pub mod verify;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_ledger::{Keys, Ledger};

/// Errors of making, reproducing and reading packets. Messages name the period or the
/// file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The period is not closed yet (it starts or ends after the generation time).
    #[error("{0}")]
    PeriodOpen(String),
    /// A packet is already there and may not be replaced (without `--force`, or because
    /// a later packet of its series chains to it).
    #[error("{0}")]
    Conflict(String),
    /// A file given as a packet is not one this version can read.
    #[error("{0}")]
    Malformed(String),
    /// The PDF could not be rendered.
    #[error("{0}")]
    Render(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// Reading or appending to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// Reading evidence failed.
    #[error(transparent)]
    Evidence(#[from] vouch_evidence::EvidenceError),
    /// Reading check results failed.
    #[error(transparent)]
    Checks(#[from] vouch_checks::CheckError),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// The packet's JSON document's file name (seed 000).
pub const JSON_FILE: &str = "SOC2_Evidence.json";
/// The packet's PDF file name.
pub const PDF_FILE: &str = "SOC2_Evidence.pdf";

/// Which files a packet is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The signed JSON document only.
    Json,
    /// The PDF only.
    Pdf,
    /// The JSON document and the PDF.
    Both,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "pdf" => Ok(Format::Pdf),
            "both" => Ok(Format::Both),
            other => Err(format!(
                "unknown format `{other}`; expected json, pdf or both"
            )),
        }
    }
}

/// What `vouch packet` is asked to generate.
pub struct Request {
    /// The period to cover.
    pub period: Period,
    /// Defaults to now (whole seconds).
    pub generated_at: Option<DateTime<Utc>>,
    /// Which files to write.
    pub format: Format,
    /// The directory to write into.
    pub out: PathBuf,
    /// Replace a packet already in `out`.
    pub force: bool,
}

/// One file of a written packet.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    /// The file name.
    pub name: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What generating a packet wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The directory written into.
    pub dir: PathBuf,
    /// The period's label.
    pub period: String,
    /// The packet summary's overall status.
    pub overall_status: String,
    /// Tree size of the checkpoint the packet is anchored to.
    pub checkpoint_size: u64,
    /// Ledger entries of the period.
    pub events: u64,
    /// The files written.
    pub files: Vec<WrittenFile>,
    /// Id of the signing key (hex SHA-256 of its SPKI DER).
    pub signing_key_id: String,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The organization (name, id) as the packet names it.
fn org(config: &Config) -> (String, String) {
    (
        config.settings.organization.name.clone(),
        config.settings.organization.id.clone(),
    )
}

/// Check a period can be packeted at `now`.
fn check_period(period: &Period, now: DateTime<Utc>) -> Result<(), Error> {
    let fmt = vouch_core::event::format_timestamp;
    if period.start > now {
        return Err(Error::PeriodOpen(format!(
            "period {} starts in the future ({})",
            period.label,
            fmt(&period.start)
        )));
    }
    if period.end > now {
        return Err(Error::PeriodOpen(format!(
            "period {} has not ended yet (it ends {}); packets cover closed periods",
            period.label,
            fmt(&period.end)
        )));
    }
    Ok(())
}

/// A period that already has a packet is not made again once a later packet of its
/// series exists: the new packet would hold a larger tree than the one the later packet
/// chained to (and no `following` proof), so `vouch verify` of both would fail. Events
/// that arrived late are listed in the next packet instead. A first packet for an earlier
/// period (a backfill) is fine: it proves the later tree extends its own.
fn refuse_rebuild_under_later(recorded: &[series::Recorded], period: &Period) -> Result<(), Error> {
    let fmt = vouch_core::event::format_timestamp;
    let (start, end) = (fmt(&period.start), fmt(&period.end));
    let series = series::series_of(&period.label);
    if !recorded.iter().any(|p| p.start == start && p.end == end) {
        return Ok(());
    }
    let later: Vec<&str> = recorded
        .iter()
        .filter(|p| series::series_of(&p.label) == series && p.start >= end)
        .map(|p| p.label.as_str())
        .collect();
    match later.first() {
        None => Ok(()),
        Some(l) => Err(Error::Conflict(format!(
            "a packet for {} exists and a later packet of its {series} series ({l}) chains to it: rebuilding {} would break the chain `vouch verify` checks. The existing packet stands; events that arrived late are listed in the next packet (`vouch packet --reproduce` shows them)",
            period.label, period.label
        ))),
    }
}

/// Generate a packet into `req.out`. Nothing is left behind on failure; an existing
/// packet there is replaced only with `force`.
pub fn generate(
    config: &Config,
    keys: &Keys,
    ledger: &Ledger,
    req: &Request,
) -> Result<Written, Error> {
    let now = Utc::now();
    let generated_at = req.generated_at.unwrap_or(now).trunc_subsecs(0);
    check_period(&req.period, generated_at)?;
    for f in [JSON_FILE, PDF_FILE] {
        if req.out.join(f).exists() && !req.force {
            return Err(Error::Conflict(format!(
                "{} already holds a packet ({f}); use --force to replace it",
                req.out.display()
            )));
        }
    }
    let store = ledger.store();
    let fmt = vouch_core::event::format_timestamp;
    // The tree at period end, and the chain of its series up to it.
    let size = store.size_covering_before(&fmt(&req.period.end))?;
    let recorded = series::recorded(store)?;
    refuse_rebuild_under_later(&recorded, &req.period)?;
    let previous = series::previous(&recorded, &req.period, size);
    let following = series::following(&recorded, &req.period, size);
    let params = build::Params {
        period: req.period.clone(),
        generated_at,
        previous_size: previous.map(|p| p.checkpoint_size),
        previous_label: previous.map(|p| p.label.clone()),
        size: Some(size),
        closed: series::closed(&recorded, None, &req.period.label),
        following_size: following.map(|p| p.checkpoint_size),
        following_label: following.map(|p| p.label.clone()),
    };

    std::fs::create_dir_all(&req.out).map_err(|e| Error::io(&req.out, e))?;
    let tmp = req
        .out
        .join(format!(".vouch-packet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let result = write_into(config, keys, ledger, req, &params, &tmp);
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // Everything is written: move it into place.
    for f in &files.0 {
        let to = req.out.join(&f.name);
        std::fs::rename(tmp.join(&f.name), &to).map_err(|e| Error::io(&to, e))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let (written_files, value, json_sha, pdf_sha) = files;

    store.insert_packet(&vouch_store::PacketRow {
        period_label: req.period.label.clone(),
        period_start: fmt(&req.period.start),
        period_end: fmt(&req.period.end),
        generated_at: fmt(&generated_at),
        checkpoint_size: value["ledger"]["checkpoint"]["size"].as_u64().unwrap_or(0),
        json_sha256: json_sha.clone(),
        pdf_sha256: pdf_sha,
        signing_key_id: keys.signing_key_id(),
    })?;
    let status = value["summary"]["overall_status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    vouch_ledger::audit::record(
        ledger,
        serde_json::json!({
            "action": "packet.generated", "category": "system", "result": "success",
            "resource": {"type": "packet", "id": json_sha, "name": JSON_FILE},
            "details": {"description": format!("Evidence packet for {} generated ({status})", req.period.label)},
            "metadata": {"period": req.period.label, "checkpoint_size": value["ledger"]["checkpoint"]["size"], "signing_key_id": keys.signing_key_id()},
        }),
    )?;
    Ok(Written {
        dir: req.out.clone(),
        period: req.period.label.clone(),
        overall_status: status,
        checkpoint_size: value["ledger"]["checkpoint"]["size"].as_u64().unwrap_or(0),
        events: value["ledger"]["period_events"]["total"]
            .as_u64()
            .unwrap_or(0),
        files: written_files,
        signing_key_id: keys.signing_key_id(),
    })
}

type Files = (Vec<WrittenFile>, Value, String, Option<String>);

fn write_into(
    config: &Config,
    keys: &Keys,
    ledger: &Ledger,
    req: &Request,
    params: &build::Params,
    dir: &Path,
) -> Result<Files, Error> {
    let slug = build::period_slug(&req.period);
    let mut open_error = None;
    let mut exports =
        build::standard_exports(&slug, |name| match std::fs::File::create(dir.join(name)) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f)) as Box<dyn std::io::Write>),
            Err(e) => {
                open_error.get_or_insert(Error::io(dir.join(name), e));
                None
            }
        });
    if let Some(e) = open_error {
        return Err(e);
    }
    let (name, id) = org(config);
    let public_pem = keys.signing_public_pem();
    let key_id = keys.signing_key_id();
    let built = build::build(
        ledger,
        config,
        (&name, &id),
        (&key_id, &public_pem),
        params,
        &mut exports,
    )?;
    drop(exports);
    let mut files = Vec::new();
    let mut put = |fname: &str, bytes: &[u8]| -> Result<(), Error> {
        let p = dir.join(fname);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        files.push(WrittenFile {
            name: fname.to_string(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        });
        Ok(())
    };
    let json = vouch_core::canonical::to_vec(&built.value);
    let json_sha = sha256_hex(&json);
    if req.format != Format::Pdf {
        put(JSON_FILE, &json)?;
        put(
            &format!("{JSON_FILE}.sig"),
            sign::sign_b64(&keys.signing, &json).as_bytes(),
        )?;
    }
    let mut pdf_sha = None;
    if req.format != Format::Json {
        let pdf = pdf::render(&json, params.generated_at).map_err(Error::Render)?;
        pdf_sha = Some(sha256_hex(&pdf));
        put(PDF_FILE, &pdf)?;
        put(
            &format!("{PDF_FILE}.sig"),
            sign::sign_b64(&keys.signing, &pdf).as_bytes(),
        )?;
    }
    for e in built.value["exports"].as_array().into_iter().flatten() {
        let fname = e["name"].as_str().unwrap_or_default();
        let p = dir.join(fname);
        let bytes = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        files.push(WrittenFile {
            name: fname.to_string(),
            sha256: e["sha256"].as_str().unwrap_or_default().to_string(),
            bytes,
        });
    }
    Ok((files, built.value, json_sha, pdf_sha))
}

/// What `reproduce` found for each artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Reproduced {
    /// The artifact's file name.
    pub artifact: String,
    /// Whether regenerating gave the same bytes.
    pub identical: bool,
    /// The first difference, when not identical.
    pub difference: Option<String>,
}

/// Regenerate a packet from the store with the parameters it records and compare.
pub fn reproduce(
    config: &Config,
    ledger: &Ledger,
    packet: &Path,
) -> Result<Vec<Reproduced>, Error> {
    let stored = std::fs::read(packet).map_err(|e| Error::io(packet, e))?;
    let v: Value = serde_json::from_slice(&stored).map_err(|e| {
        Error::Malformed(format!(
            "{}: not a packet (invalid JSON: {e})",
            packet.display()
        ))
    })?;
    if v["schema"] == build::SCHEMA_V1 {
        return Err(Error::Malformed(format!(
            "{}: a {} packet, made by an earlier vouch; this version reproduces {} packets only (`vouch verify` still checks it)",
            packet.display(),
            build::SCHEMA_V1,
            build::SCHEMA
        )));
    }
    if v["schema"] != build::SCHEMA {
        return Err(Error::Malformed(format!(
            "{}: not a vouch packet (schema {})",
            packet.display(),
            v["schema"]
        )));
    }
    let inst = |k: &str| {
        vouch_core::period::parse_instant(v["period"][k].as_str().unwrap_or_default())
            .ok_or_else(|| Error::Malformed(format!("{}: bad period.{k}", packet.display())))
    };
    let period = Period {
        start: inst("start")?,
        end: inst("end")?,
        label: v["period"]["label"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let generated_at =
        vouch_core::period::parse_instant(v["generated_at"].as_str().unwrap_or_default())
            .ok_or_else(|| Error::Malformed(format!("{}: bad generated_at", packet.display())))?;
    let prev = &v["ledger"]["previous"];
    // The closed periods as they stood when this packet was recorded.
    let recorded = series::recorded(ledger.store())?;
    let sha = sha256_hex(&stored);
    let own = recorded.iter().find(|r| r.json_sha256 == sha).map(|r| r.id);
    let at = v["generated_at"].as_str().unwrap_or_default();
    let before: Vec<series::Recorded> = recorded
        .iter()
        .filter(|r| match own {
            Some(id) => r.id < id,
            None => r.generated_at.as_str() <= at,
        })
        .cloned()
        .collect();
    let size = v["ledger"]["checkpoint"]["size"].as_u64();
    let following = series::following(&before, &period, size.unwrap_or(0));
    let params = build::Params {
        period: period.clone(),
        generated_at,
        previous_size: prev["checkpoint"]["size"].as_u64(),
        previous_label: prev["period"].as_str().map(str::to_string),
        size,
        closed: series::closed(&before, None, &period.label),
        following_size: following.map(|p| p.checkpoint_size),
        following_label: following.map(|p| p.label.clone()),
    };
    let slug = build::period_slug(&period);
    let mut exports = build::standard_exports(&slug, |_| None);
    let (name, id) = org(config);
    let public_pem = v["signing_key"]["public_key_pem"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key_id = v["signing_key"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let built = build::build(
        ledger,
        config,
        (&name, &id),
        (&key_id, &public_pem),
        &params,
        &mut exports,
    )?;
    let json = vouch_core::canonical::to_vec(&built.value);
    let mut out = vec![compare(JSON_FILE, &stored, &json, Some((&v, &built.value)))];
    let pdf_path = packet.with_file_name(PDF_FILE);
    if pdf_path.exists() {
        let stored_pdf = std::fs::read(&pdf_path).map_err(|e| Error::io(&pdf_path, e))?;
        let pdf = pdf::render(&json, generated_at).map_err(Error::Render)?;
        out.push(compare(PDF_FILE, &stored_pdf, &pdf, None));
    }
    Ok(out)
}

/// Events timestamped in a packet's period that were appended after it (at or past its
/// checkpoint): what `vouch packet --reproduce` reports beside the comparison.
pub fn late_after(ledger: &Ledger, packet: &Path) -> Result<Option<series::Late>, Error> {
    let stored = std::fs::read(packet).map_err(|e| Error::io(packet, e))?;
    let v: Value = serde_json::from_slice(&stored)
        .map_err(|e| Error::Malformed(format!("{}: invalid JSON: {e}", packet.display())))?;
    let (Some(start), Some(end), Some(size)) = (
        v["period"]["start"].as_str(),
        v["period"]["end"].as_str(),
        v["ledger"]["checkpoint"]["size"].as_u64(),
    ) else {
        return Err(Error::Malformed(format!(
            "{}: not a packet (no period or checkpoint)",
            packet.display()
        )));
    };
    series::late_for(
        ledger.store(),
        v["period"]["label"].as_str().unwrap_or_default(),
        start,
        end,
        size,
    )
}

fn compare(
    artifact: &str,
    stored: &[u8],
    fresh: &[u8],
    values: Option<(&Value, &Value)>,
) -> Reproduced {
    if stored == fresh {
        return Reproduced {
            artifact: artifact.into(),
            identical: true,
            difference: None,
        };
    }
    let difference = values
        .and_then(|(a, b)| first_difference("$", a, b))
        .unwrap_or_else(|| {
            let at = stored
                .iter()
                .zip(fresh)
                .position(|(a, b)| a != b)
                .unwrap_or(stored.len().min(fresh.len()));
            format!(
                "bytes differ from offset {at} (stored {} bytes, regenerated {} bytes)",
                stored.len(),
                fresh.len()
            )
        });
    Reproduced {
        artifact: artifact.into(),
        identical: false,
        difference: Some(difference),
    }
}

/// The JSON path of the first difference between two values, with both sides.
pub fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort_by(|p, q| vouch_core::canonical::cmp_utf16(p, q));
            keys.dedup();
            keys.into_iter().find_map(|k| {
                first_difference(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!(
                    "{path}: stored has {} items, regenerated has {}",
                    x.len(),
                    y.len()
                ));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(&format!("{path}[{i}]"), p, q))
        }
        _ if a == b => None,
        _ => Some(format!(
            "{path}: stored {}, regenerated {}",
            short(a),
            short(b)
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

//! Report archives (issue 16: reports are "archived like packets"): a generated report's
//! signed files (`report.json`, `report.pdf`, `report.csv` and their `.sig`) with a signed
//! MANIFEST, tarred deterministically, compressed, encrypted to the `[archive]`
//! recipients and written once to the same WORM storage as period archives, under
//! `reports/<type>/<report id>/`. The signed files and the manifest are stored beside the
//! bundle in the clear too (as a period archive stores its packet), so an auditor can
//! check them with `openssl` without the decryption key.
//!
//! This writes to WORM storage only; recording the archive (the report's row and the
//! `report.archived` ledger event) is the caller's (`vouch-reports`).

use super::bundle::{self, Entry};
use super::encrypt::Compression;
use super::worm::{Stored, Worm};
use super::{hash_file, put_all, sealings_for, stage, ArchiveRequest, Error, Staging};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use vouch_config::Config;
use vouch_ledger::Keys;
use vouch_packet::sign;

/// A generated report's files to archive.
pub struct ReportFiles<'a> {
    /// The report's id (a UUIDv7).
    pub id: &'a str,
    /// `soc2`, `access_review`, `vulnerability` or `incident`.
    pub report_type: &'a str,
    /// The report's period (`{"label", "start", "end"}`), written in the manifest.
    pub period: Value,
    /// When the report was generated (RFC 3339): the manifest's `created_at`, and the
    /// tar's fixed mtime, so the bundle depends only on the report.
    pub generated_at: chrono::DateTime<chrono::Utc>,
    /// (name in the bundle, local file) for each file: `report.json`, `report.json.sig`, …
    pub files: Vec<(String, PathBuf)>,
}

/// What archiving a report wrote.
pub struct ReportArchived {
    /// The archive record (kept with the report, hashed into `report.archived`).
    pub record: Value,
    /// The objects written to WORM storage.
    pub stored: Vec<Stored>,
}

/// Whether `[archive]` names recipients, i.e. whether reports are archived at all
/// (vouch never writes an unencrypted archive unless asked per run).
pub fn configured(config: &Config) -> bool {
    !config.settings.archive.recipients.is_empty()
}

fn report_plain(path: &str) -> bool {
    path.starts_with("report.") || path.starts_with("MANIFEST.")
}

/// Seal a report's files into WORM storage (`[archive] storage`, recipients,
/// compression, retention). The folder is `reports/<type>/<id>`; if something is
/// already stored there (an earlier attempt that failed half-way), the next free
/// `…-rN` folder is used, since WORM objects are never overwritten.
pub fn archive_report(
    config: &Config,
    keys: &Keys,
    r: &ReportFiles<'_>,
) -> Result<ReportArchived, Error> {
    let settings = &config.settings.archive;
    let compression = Compression::parse(&settings.compression).map_err(Error::Invalid)?;
    let worm = Worm::open(&settings.storage, &config.data_dir).map_err(Error::Invalid)?;
    let sealings = sealings_for(config, &ArchiveRequest::default())?;
    let bundle_name = format!("report-{}-{}", r.report_type, r.id);
    let names: Vec<String> = sealings
        .iter()
        .map(|(s, _)| format!("{bundle_name}.{}{}", compression.ext(), s.ext()))
        .collect();
    let base = format!("reports/{}/{}", r.report_type, r.id);
    let taken = |folder: &str| -> Result<bool, Error> {
        for n in names.iter().map(String::as_str).chain([bundle::MANIFEST]) {
            if worm
                .exists(&format!("{folder}/{n}"))
                .map_err(Error::Storage)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let mut folder = base.clone();
    let mut n = 2;
    while taken(&folder)? {
        folder = format!("{base}-r{n}");
        n += 1;
    }
    worm.check_folder(&folder).map_err(Error::Invalid)?;

    let mut entries = Vec::new();
    for (name, path) in &r.files {
        let (size, sha) = hash_file(path)?;
        entries.push(Entry::file(name.clone(), path.clone(), size, sha));
    }
    let created_at = vouch_core::event::format_timestamp(&r.generated_at);
    let manifest = bundle::manifest(&entries, &r.period, &created_at, &keys.signing_key_id());
    let manifest_sig = sign::sign_b64(&keys.signing, &manifest).into_bytes();
    entries.push(Entry::bytes(bundle::MANIFEST, manifest.clone()));
    entries.push(Entry::bytes(bundle::MANIFEST_SIG, manifest_sig));
    let staging = worm.staging(&config.data_dir);
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let (staged, encryption) = stage(
        &entries,
        &sealings,
        &Staging {
            dir: &staging,
            folder: &folder,
            bundle: &bundle_name,
            plain: report_plain,
            compression,
            mtime: r.generated_at.timestamp().max(0) as u64,
        },
    )?;
    let retain_until = chrono::Utc::now() + chrono::Duration::days(settings.retention_days as i64);
    let stored = put_all(&worm, &folder, &staged, retain_until, settings.legal_hold)?;
    let record = json!({
        "type": "report-archive",
        "report": r.id,
        "report_type": r.report_type,
        "period": r.period,
        "archived_at": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "storage": worm.describe(),
        "retention": if worm.retention_enforced() { "enforced (S3 Object Lock, COMPLIANCE)" } else { "advisory (local directory: read-only files and folder; retain-until is not enforced)" },
        "folder": folder,
        "uri": worm.uri(&folder),
        "compression": if compression == Compression::Zstd { "zstd" } else { "gzip" },
        "encryption": encryption,
        "files": stored,
        "manifest_sha256": hex::encode(Sha256::digest(&manifest)),
        "bundle_files": entries.len(),
        "signer_key_id": keys.signing_key_id(),
    });
    Ok(ReportArchived { record, stored })
}

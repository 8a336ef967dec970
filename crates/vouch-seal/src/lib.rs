//! Sealed archives (seed 001 step 6 as one streamed step): for a period, the packet's
//! artifacts, every evidence item's content, the ledger exports, checkpoint and
//! consistency proof, and a signed MANIFEST, tarred deterministically, compressed,
//! encrypted to age and/or OpenPGP recipients and written once to WORM storage. The
//! plaintext tar exists only as a stream. Each archive is logged in the ledger as a
//! collection (seed 001 step 7).

pub mod bundle;
pub mod encrypt;
pub mod report;
pub mod retention;
pub mod s3;
pub mod worm;

use bundle::{Entry, HashingWriter};
use encrypt::{Compression, Sealing};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_ledger::{Keys, Ledger};
use vouch_packet::{self as packet, build::period_slug, sign};
use vouch_store::Store;
use worm::{Stored, Worm};

/// Errors of archiving, restoring and retention. Messages name the period, the file or
/// the storage key, never a key or passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request or the `[archive]` settings are wrong (no period, no recipients,
    /// a bad storage URL or compression, a non-empty output directory).
    #[error("{0}")]
    Invalid(String),
    /// The period is archived already (archiving again needs `--supersede`).
    #[error("{0}")]
    Conflict(String),
    /// The WORM storage refused or failed a read or write.
    #[error("{0}")]
    Storage(String),
    /// Stored data (a collection record, a packet, an archive) cannot be read back.
    #[error("{0}")]
    Corrupt(String),
    /// A local file could not be read or written.
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
    /// Making the period's packet failed.
    #[error(transparent)]
    Packet(#[from] vouch_packet::Error),
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

/// What to archive, and how.
#[derive(Debug, Clone, Default)]
pub struct ArchiveRequest {
    /// The period to archive (required).
    pub period: Option<Period>,
    /// `age1…` recipients or OpenPGP public key files; empty: `[archive] recipients`.
    pub recipients: Vec<String>,
    /// Write the archive unencrypted.
    pub no_encrypt: bool,
    /// Archive a period archived before, under a new key.
    pub supersede: bool,
    /// `zstd` or `gzip`; None: config.
    pub compression: Option<String>,
    /// None: `[archive] storage`.
    pub storage: Option<String>,
}

/// What an archive run did.
pub struct Archived {
    /// The archive's collection record, as logged in the ledger.
    pub record: Value,
    /// The objects written to WORM storage.
    pub stored: Vec<Stored>,
}

fn hash_file(p: &Path) -> Result<(u64, String), Error> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(|e| Error::io(p, e))?;
    Ok((n, hex::encode(h.finalize())))
}

fn ext_of(media_type: &str) -> &'static str {
    match media_type {
        "application/json" => ".json",
        "application/x-ndjson" => ".ndjson",
        "text/csv" => ".csv",
        "text/plain" => ".txt",
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        _ => ".bin",
    }
}

/// Everything that goes into the archive of `period`, read from the packet directory,
/// the blob store and the evidence table; plus the packet JSON.
pub fn entries(
    config: &Config,
    store: &Store,
    packet_dir: &Path,
    period: &Period,
) -> Result<(Vec<Entry>, Value), Error> {
    let json_path = packet_dir.join(packet::JSON_FILE);
    let pj: Value =
        serde_json::from_slice(&std::fs::read(&json_path).map_err(|e| Error::io(&json_path, e))?)
            .map_err(|e| Error::Corrupt(format!("{}: {e}", json_path.display())))?;
    let mut out = Vec::new();
    let slug = period_slug(period);
    for name in [
        packet::JSON_FILE.to_string(),
        format!("{}.sig", packet::JSON_FILE),
        packet::PDF_FILE.to_string(),
        format!("{}.sig", packet::PDF_FILE),
    ] {
        let p = packet_dir.join(&name);
        if p.exists() {
            let (size, sha) = hash_file(&p)?;
            out.push(Entry::file(name, p, size, sha));
        }
    }
    for name in [
        format!("audit-log-{slug}.ndjson"),
        format!("auth-events-{slug}.ndjson"),
    ] {
        let p = packet_dir.join(&name);
        if p.exists() {
            let (size, sha) = hash_file(&p)?;
            out.push(Entry::file(format!("exports/{name}"), p, size, sha));
        }
    }
    out.push(Entry::bytes(
        "ledger/checkpoint.txt",
        pj["ledger"]["checkpoint"]["note"]
            .as_str()
            .unwrap_or("")
            .as_bytes()
            .to_vec(),
    ));
    out.push(Entry::bytes(
        "ledger/consistency-proof.json",
        vouch_core::canonical::to_vec(&pj["ledger"]["previous"]),
    ));
    let blobs = vouch_evidence::blob_store(config);
    let items = vouch_evidence::list(
        store,
        &vouch_evidence::ListFilter {
            evidence_id: None,
            period: Some(period.clone()),
            limit: None,
        },
    )?;
    let mut records = Vec::new();
    for i in items.iter().filter(|i| i.ok()) {
        let Some(sha) = i.sha256() else { continue };
        let path = blobs
            .path(sha)
            .map_err(vouch_evidence::EvidenceError::from)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        let ext = ext_of(i.record["media_type"].as_str().unwrap_or(""));
        out.push(Entry::file(
            format!(
                "evidence/{}/{}{ext}",
                i.record["evidence_id"].as_str().unwrap_or("unknown"),
                i.id()
            ),
            path,
            size,
            sha.to_string(),
        ));
        records.push(i.record.clone());
    }
    records.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out.push(Entry::bytes(
        "evidence/items.json",
        vouch_core::canonical::to_vec(&Value::Array(records)),
    ));
    Ok((out, pj))
}

/// Collections recorded for a period label (oldest first).
pub fn collections(store: &Store, period_label: Option<&str>) -> Result<Vec<Value>, Error> {
    let rows = match period_label {
        Some(p) => store.query(
            "SELECT record FROM collections WHERE period_label = $1 ORDER BY id",
            &[p.into()],
        )?,
        None => store.query("SELECT record FROM collections ORDER BY id", &[])?,
    };
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.text(0))
                .map_err(|e| Error::Corrupt(format!("stored collection: {e}")))
        })
        .collect()
}

/// Archive a period: bundle, compress, encrypt, write once to WORM storage and log it.
pub fn archive(
    config: &Config,
    keys: &Keys,
    ledger: &Ledger,
    store: &Store,
    req: &ArchiveRequest,
) -> Result<Archived, Error> {
    let period = req
        .period
        .clone()
        .ok_or_else(|| Error::Invalid("--period is required".into()))?;
    let settings = &config.settings.archive;
    let compression =
        Compression::parse(req.compression.as_deref().unwrap_or(&settings.compression))
            .map_err(Error::Invalid)?;
    let spec = req
        .storage
        .clone()
        .unwrap_or_else(|| settings.storage.clone());
    let worm = Worm::open(&spec, &config.data_dir).map_err(Error::Invalid)?;
    let sealings = sealings_for(config, req)?;

    // Archiving a period twice needs --supersede, and then goes to a new folder.
    let slug = period_slug(&period);
    let earlier = collections(store, Some(&period.label))?;
    let folder = target_folder(&worm, &earlier, &slug, &period.label, req.supersede)?;

    // The packet of the period, made now if it does not exist yet.
    let packet_dir = config.data_dir.join("packets").join(&slug);
    if !packet_dir.join(packet::JSON_FILE).exists() {
        packet::generate(
            config,
            keys,
            ledger,
            &packet::Request {
                period: period.clone(),
                generated_at: None,
                format: packet::Format::Both,
                out: packet_dir.clone(),
                force: false,
            },
        )?;
    }
    let (mut entries, pj) = entries(config, store, &packet_dir, &period)?;
    let created_at = pj["generated_at"].as_str().unwrap_or("").to_string();
    let manifest = bundle::manifest(&entries, &pj["period"], &created_at, &keys.signing_key_id());
    let manifest_sig = sign::sign_b64(&keys.signing, &manifest).into_bytes();
    entries.push(Entry::bytes(bundle::MANIFEST, manifest.clone()));
    entries.push(Entry::bytes(bundle::MANIFEST_SIG, manifest_sig.clone()));
    // Fixed mtime: the period's end, so the tar depends only on the content.
    let mtime = period.end.timestamp().max(0) as u64;

    let staging = worm.staging(&config.data_dir);
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let (staged, recipients_json) = stage(
        &entries,
        &sealings,
        &Staging {
            dir: &staging,
            folder: &folder,
            bundle: &format!("soc2-evidence-{slug}"),
            plain: packet_plain,
            compression,
            mtime,
        },
    )?;
    let retain_until = chrono::Utc::now() + chrono::Duration::days(settings.retention_days as i64);
    let stored = put_all(&worm, &folder, &staged, retain_until, settings.legal_hold)?;

    let id = uuid::Uuid::now_v7().to_string();
    let supersedes = if folder != worm.folder_for(&slug) {
        earlier
            .last()
            .and_then(|c| c["id"].as_str().map(str::to_string))
    } else {
        None
    };
    let record = json!({
        "id": id,
        "type": "soc2-evidence-collection",
        "period": {"label": period.label, "start": ts(&period.start), "end": ts(&period.end)},
        "created_at": ts(&chrono::Utc::now()),
        "storage": worm.describe(),
        "retention": if worm.retention_enforced() { "enforced (S3 Object Lock, COMPLIANCE)" } else { "advisory (local directory: read-only files and folder; retain-until is not enforced)" },
        "folder": folder,
        "compression": if compression == Compression::Zstd { "zstd" } else { "gzip" },
        "encryption": recipients_json,
        "files": stored,
        "manifest_sha256": hex::encode(Sha256::digest(&manifest)),
        "bundle_files": entries.len(),
        "signer_key_id": keys.signing_key_id(),
        "supersedes": supersedes,
    });
    log_collection(ledger, store, keys, &worm, &record, &stored)?;
    Ok(Archived { record, stored })
}

/// The sealings (age, OpenPGP, or plain with `--no-encrypt`) of an archive request, each
/// with the recipient names it encrypts to.
fn sealings_for(
    config: &Config,
    req: &ArchiveRequest,
) -> Result<Vec<(Sealing, Vec<String>)>, Error> {
    let names = if req.recipients.is_empty() {
        config.settings.archive.recipients.clone()
    } else {
        req.recipients.clone()
    };
    let base = config
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let recipients = names
        .iter()
        .map(|r| encrypt::parse_recipient(r, &base))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Invalid)?;
    let mut sealings = encrypt::sealings(recipients);
    match (sealings.is_empty(), req.no_encrypt) {
        (true, false) => return Err(Error::Invalid("no recipients: give --recipient (an age1… recipient or an OpenPGP public key file) or set [archive] recipients; an unencrypted archive needs --no-encrypt".into())),
        (false, true) => return Err(Error::Invalid("--no-encrypt and recipients were both given; choose one".into())),
        (true, true) => sealings.push((Sealing::Plain, Vec::new())),
        _ => {}
    }
    Ok(sealings)
}

/// The WORM folder a period's archive goes to: `soc2/<slug>` the first time; with
/// `--supersede`, the first `<slug>-rN` neither recorded nor present in the storage.
fn target_folder(
    worm: &Worm,
    earlier: &[Value],
    slug: &str,
    label: &str,
    supersede: bool,
) -> Result<String, Error> {
    let folder = worm.folder_for(slug);
    worm.check_folder(&folder).map_err(Error::Invalid)?;
    let taken = |folder: &str| -> Result<bool, Error> {
        Ok(earlier.iter().any(|c| c["folder"] == folder)
            || worm
                .exists(&format!("{folder}/{}", packet::JSON_FILE))
                .map_err(Error::Storage)?)
    };
    if earlier.is_empty() && !taken(&folder)? {
        return Ok(folder);
    }
    if !supersede {
        return Err(Error::Conflict(format!(
            "{label} is already archived ({}); use --supersede to archive it again under a new key",
            earlier
                .last()
                .and_then(|c| c["folder"].as_str())
                .unwrap_or(&folder)
        )));
    }
    let mut n = 2;
    while taken(&worm.folder_for(&format!("{slug}-r{n}")))? {
        n += 1;
    }
    let folder = worm.folder_for(&format!("{slug}-r{n}"));
    worm.check_folder(&folder).map_err(Error::Invalid)?;
    Ok(folder)
}

/// Where and how [`stage`] writes.
struct Staging<'a> {
    dir: &'a Path,
    folder: &'a str,
    /// The bundle's file name before its extensions (`soc2-evidence-2026-10`).
    bundle: &'a str,
    /// Which bundle entries are also stored as plain files beside the bundle.
    plain: fn(&str) -> bool,
    compression: Compression,
    mtime: u64,
}

/// A period archive stores the packet's signed artifacts and the manifest in the clear.
fn packet_plain(path: &str) -> bool {
    path.starts_with("SOC2_Evidence.") || path.starts_with("MANIFEST.")
}

/// A file staged for WORM storage: its key, the local path, its SHA-256.
type Staged = (String, PathBuf, String);

/// Seal the bundle once per sealing into the staging directory, and stage the packet's
/// signed artifacts and the manifest beside it (seed 001 layout). Nothing is left staged
/// on failure. Returns the staged files and the `encryption` part of the record.
fn stage(
    entries: &[Entry],
    sealings: &[(Sealing, Vec<String>)],
    at: &Staging<'_>,
) -> Result<(Vec<Staged>, Vec<Value>), Error> {
    let mut staged: Vec<Staged> = Vec::new();
    let mut recipients_json = Vec::new();
    for (sealing, ids) in sealings {
        let name = format!("{}.{}{}", at.bundle, at.compression.ext(), sealing.ext());
        let path = at.dir.join(format!("{}.{}", name, std::process::id()));
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                cleanup(&staged);
                return Err(Error::io(&path, e));
            }
        };
        let w = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
        let result = encrypt::seal(entries, at.mtime, at.compression, sealing, w).and_then(|w| {
            let (mut inner, sha, _) = w.finish();
            inner.flush()?;
            inner.get_ref().sync_all()?;
            Ok(sha)
        });
        match result {
            Ok(sha) => staged.push((format!("{}/{name}", at.folder), path, sha)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                cleanup(&staged);
                return Err(Error::Storage(format!("sealing {name}: {e}")));
            }
        }
        recipients_json.push(json!({"format": sealing.name(), "recipients": ids}));
    }
    for e in entries {
        if !(at.plain)(&e.path) {
            continue;
        }
        let path = at.dir.join(format!("{}.{}", e.path, std::process::id()));
        let bytes = match &e.source {
            bundle::Source::Bytes(b) => b.clone(),
            bundle::Source::File(p) => std::fs::read(p).map_err(|err| {
                cleanup(&staged);
                Error::io(p, err)
            })?,
        };
        std::fs::write(&path, &bytes).map_err(|err| {
            cleanup(&staged);
            Error::io(&path, err)
        })?;
        staged.push((format!("{}/{}", at.folder, e.path), path, e.sha256.clone()));
    }
    Ok((staged, recipients_json))
}

/// Remove staged files (best effort).
fn cleanup(staged: &[Staged]) {
    for (_, p, _) in staged {
        let _ = std::fs::remove_file(p);
    }
}

/// Write every staged file to WORM storage, then make the folder read-only. On a
/// failure the rest of the staging is removed and the error says what was already
/// written (immutable) and that nothing was recorded as collected.
fn put_all(
    worm: &Worm,
    folder: &str,
    staged: &[Staged],
    retain_until: chrono::DateTime<chrono::Utc>,
    legal_hold: bool,
) -> Result<Vec<Stored>, Error> {
    let mut stored = Vec::new();
    for (i, (key, path, sha)) in staged.iter().enumerate() {
        match worm.put(key, path, sha, retain_until, legal_hold) {
            Ok(s) => stored.push(s),
            Err(e) => {
                cleanup(&staged[i..]);
                let done: Vec<&str> = stored.iter().map(|s| s.uri.as_str()).collect();
                return Err(Error::Storage(format!(
                    "storing {key} failed: {e}; nothing was recorded as collected{}",
                    if done.is_empty() {
                        String::new()
                    } else {
                        format!(" (already written, immutable: {})", done.join(", "))
                    }
                )));
            }
        }
    }
    // Complete: the folder itself becomes read-only (directory storage).
    worm.seal_folder(folder).map_err(|e| {
        Error::Storage(format!(
            "storing {folder} failed: {e}; nothing was recorded as collected"
        ))
    })?;
    Ok(stored)
}

/// Log the archive as a collection (seed 001 step 7): a `collection.archived` ledger
/// event carrying the record's hash, then the record in `collections`.
fn log_collection(
    ledger: &Ledger,
    store: &Store,
    keys: &Keys,
    worm: &Worm,
    record: &Value,
    stored: &[Stored],
) -> Result<(), Error> {
    let canonical = vouch_core::canonical::to_string(record);
    let (id, folder, label) = (
        record["id"].as_str().unwrap_or(""),
        record["folder"].as_str().unwrap_or(""),
        record["period"]["label"].as_str().unwrap_or(""),
    );
    let appended = vouch_ledger::audit::record(
        ledger,
        json!({
            "action": "collection.archived", "category": "system", "result": "success",
            "resource": {"type": "collection", "id": id, "name": folder},
            "details": {"description": format!("SOC 2 evidence for {} archived to {} ({} files)", label, worm.uri(folder), stored.len())},
            "metadata": {"record_sha256": vouch_store::blobs::sha256_hex(canonical.as_bytes()), "period": label, "files": stored.iter().map(|s| json!({"uri": s.uri, "sha256": s.sha256})).collect::<Vec<_>>(), "signer_key_id": keys.signing_key_id()},
        }),
    )?;
    let seq = appended.seqs.first().map(|s| *s as i64);
    store.write(&mut |sql| {
        sql.execute(
            "INSERT INTO collections (id, period_label, created_at, record, ledger_seq) VALUES ($1, $2, $3, $4, $5)",
            &[id.into(), label.into(), record["created_at"].as_str().unwrap_or("").into(), canonical.clone().into(), seq.into()],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// What `archive verify` found.
#[derive(Debug, serde::Serialize)]
pub struct Checked {
    /// Whether no problem was found.
    pub valid: bool,
    /// Files in the archive.
    pub files: usize,
    /// Bytes of the archive's files.
    pub bytes: u64,
    /// Each problem found, one sentence each.
    pub problems: Vec<String>,
    /// Key id of the key whose signature on the manifest verified.
    pub manifest_signed_by: Option<String>,
    /// The period the manifest names.
    pub period: Value,
}

/// Decrypt in memory, check every file against the manifest, the manifest's signature
/// and the packet's; with `out`, also restore the files there.
pub fn verify(
    source: &str,
    identity: Option<&Path>,
    public_keys: &[String],
    out: Option<&Path>,
) -> Result<Checked, Error> {
    let id = identity
        .map(encrypt::read_identity)
        .transpose()
        .map_err(Error::Invalid)?;
    let raw = Worm::read(source).map_err(Error::Storage)?;
    let input = std::io::BufReader::with_capacity(1 << 20, ReadDebug(raw));
    let plain = encrypt::open(input, id.as_ref()).map_err(Error::Invalid)?;
    if let Some(o) = out {
        if o.exists()
            && std::fs::read_dir(o)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            return Err(Error::Invalid(format!(
                "{} is not empty; restore into a new directory",
                o.display()
            )));
        }
        std::fs::create_dir_all(o).map_err(|e| Error::io(o, e))?;
    }
    let mut ar = tar::Archive::new(plain);
    let mut seen: std::collections::BTreeMap<String, (u64, String)> = Default::default();
    let mut small: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut problems = Vec::new();
    let mut bytes = 0;
    for entry in ar
        .entries()
        .map_err(|e| Error::Corrupt(format!("reading the archive: {e}")))?
    {
        let mut entry = entry.map_err(|e| Error::Corrupt(format!("reading the archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| Error::Corrupt(e.to_string()))?
            .display()
            .to_string();
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            problems.push(format!("{path}: unsafe path, skipped"));
            continue;
        }
        let keep = path == bundle::MANIFEST
            || path == bundle::MANIFEST_SIG
            || path == packet::JSON_FILE
            || path == format!("{}.sig", packet::JSON_FILE);
        let mut h = Sha256::new();
        let mut writer: Option<std::fs::File> = match out {
            Some(o) => {
                let dest = o.join(&path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                Some(std::fs::File::create(&dest).map_err(|e| Error::io(&dest, e))?)
            }
            None => None,
        };
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = entry
                .read(&mut buf)
                .map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
            if keep {
                kept.extend_from_slice(&buf[..k]);
            }
            if let Some(w) = writer.as_mut() {
                w.write_all(&buf[..k])
                    .map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
            }
        }
        bytes += n;
        if keep {
            small.insert(path.clone(), kept);
        }
        seen.insert(path, (n, hex::encode(h.finalize())));
    }
    let manifest = small
        .get(bundle::MANIFEST)
        .ok_or_else(|| Error::Corrupt("the archive has no MANIFEST.json".into()))?;
    let m: Value = serde_json::from_slice(manifest)
        .map_err(|e| Error::Corrupt(format!("MANIFEST.json: {e}")))?;
    let sig = small
        .get(bundle::MANIFEST_SIG)
        .map(|s| String::from_utf8_lossy(s).trim().to_string())
        .unwrap_or_default();
    let signer = public_keys
        .iter()
        .find(|k| sign::verify_b64(k, manifest, &sig).is_ok());
    match signer {
        None => {
            problems.push("MANIFEST.json.sig does not verify with any known signing key".into())
        }
        Some(k) => {
            let id = sign::key_id_of_pem(k).unwrap_or_default();
            if let (Some(pj), Some(ps)) = (
                small.get(packet::JSON_FILE),
                small.get(&format!("{}.sig", packet::JSON_FILE)),
            ) {
                if sign::verify_b64(k, pj, String::from_utf8_lossy(ps).trim()).is_err() {
                    problems.push("SOC2_Evidence.json.sig does not verify".into());
                }
            }
            let _ = id;
        }
    }
    let listed: Vec<&Value> = m["files"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for f in &listed {
        let p = f["path"].as_str().unwrap_or("");
        match seen.get(p) {
            None => problems.push(format!("{p}: listed in the manifest but missing")),
            Some((n, sha)) => {
                if f["sha256"].as_str() != Some(sha.as_str()) || f["size"].as_u64() != Some(*n) {
                    problems.push(format!("{p}: sha256 {sha} does not match the manifest"));
                }
            }
        }
    }
    for p in seen.keys() {
        if p != bundle::MANIFEST
            && p != bundle::MANIFEST_SIG
            && !listed.iter().any(|f| f["path"] == p.as_str())
        {
            problems.push(format!("{p}: not in the manifest"));
        }
    }
    Ok(Checked {
        valid: problems.is_empty(),
        files: seen.len(),
        bytes,
        problems,
        manifest_signed_by: signer.and_then(|k| sign::key_id_of_pem(k).ok()),
        period: m["period"].clone(),
    })
}

/// `Debug` for readers (rPGP's parser wants it).
struct ReadDebug(Box<dyn Read + Send>);
impl Read for ReadDebug {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
impl std::fmt::Debug for ReadDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("archive")
    }
}

//! The auditor kit (issue 18, "a year, offline"): one directory holding everything an
//! auditor needs to check a whole audit period without vouch — the monthly packets as
//! they were generated (signatures, RFC 3161 tokens, cosigned checkpoints), the archives
//! as stored (still encrypted), the checkpoints and the consistency proofs that chain
//! each month into the next, the public keys, the period's populations and samples, a
//! signed manifest, `VERIFY.md` and `verify.sh` (bash + openssl + the Python verifiers,
//! which are embedded here so the kit carries the exact scripts).
//!
//! Nothing is half-written: the kit is built in a hidden sibling directory and renamed
//! into place at the end. A month without a packet is written down as missing (the
//! script then fails); a month that had not ended when the kit was made is "not yet".

use crate::{Config, Keys, Ledger};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_store::Store;

/// The Python verifier of the kit (hashlib + cryptography only).
pub const VERIFY_KIT_PY: &str = include_str!("../../../../tests/independent/verify_kit.py");
/// The transparency-log verifier it builds on.
pub const VERIFY_TLOG_PY: &str = include_str!("../../../../tests/independent/verify_tlog.py");
/// The sample verifier (docs/sampling.md).
pub const VERIFY_SAMPLE_PY: &str = include_str!("../../../../tests/independent/verify_sample.py");
/// The script the auditor runs.
pub const VERIFY_SH: &str = include_str!("verify.sh");
/// The instructions, with `{{…}}` placeholders filled in per kit.
const VERIFY_MD: &str = include_str!("VERIFY.md");

/// The kit's format tag (kit.json `format`).
pub const FORMAT: &str = "vouch-auditor-kit/v1";

/// Why a kit could not be made. Messages are one readable line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KitError {
    /// A flag is wrong (period, output directory, witness policy).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The ledger failed (a checkpoint or proof could not be made).
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// Reading populations or samples failed.
    #[error(transparent)]
    Audit(#[from] vouch_audit::AuditError),
    /// Reading the archive records failed.
    #[error(transparent)]
    Seal(#[from] vouch_seal::Error),
    /// Reading the recorded packets failed.
    #[error(transparent)]
    Packet(#[from] vouch_packet::Error),
}

fn io(path: impl AsRef<Path>, source: std::io::Error) -> KitError {
    KitError::Io {
        path: path.as_ref().display().to_string(),
        source,
    }
}

/// What `vouch auditor-kit` is asked to make.
pub struct Request {
    /// The audit period: whole months (a year, a quarter, a month).
    pub period: Period,
    /// The directory to create (new, or empty).
    pub out: PathBuf,
    /// Cosignatures each month must carry (default: every configured witness).
    pub min_cosignatures: Option<usize>,
    /// Where the monthly packets are (default: `<data dir>/packets`, the job's place).
    pub packets_dir: Option<PathBuf>,
    /// When the kit is made (months not ended by then are "not yet").
    pub made_at: DateTime<Utc>,
}

/// One month of the kit.
#[derive(Debug, Clone, Serialize)]
pub struct Month {
    /// `2026-01`.
    pub month: String,
    /// `present`, `missing` or `not_yet`.
    pub status: String,
    /// Why it is missing or not yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The packet's tree size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
    /// Where its consistency proof leads: the next present month, or `latest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Archive folders copied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<String>,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Kit {
    /// The kit's directory.
    pub dir: PathBuf,
    /// The period's label.
    pub period: String,
    /// Every month of the period.
    pub months: Vec<Month>,
    /// Populations and samples included.
    pub populations: usize,
    /// See `populations`.
    pub samples: usize,
    /// Files listed in the manifest.
    pub files: usize,
    /// What was left out or cut down (private keys next to public ones), one line each.
    pub warnings: Vec<String>,
}

/// The months of a period of whole months, in order.
pub fn months_of(period: &Period) -> Result<Vec<Period>, KitError> {
    let whole = |t: &DateTime<Utc>| t.day() == 1 && t.time() == chrono::NaiveTime::MIN;
    if !whole(&period.start) || !whole(&period.end) || period.end <= period.start {
        return Err(KitError::Invalid(format!(
            "--period: `{}` is not made of whole months; give a year (2026), a quarter (2026-Q3) or a month (2026-10)",
            period.label
        )));
    }
    let mut out = Vec::new();
    let mut start = period.start;
    while start < period.end {
        let (y, m) = if start.month() == 12 {
            (start.year() + 1, 1)
        } else {
            (start.year(), start.month() + 1)
        };
        let end = Utc
            .with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .ok_or_else(|| KitError::Invalid(format!("--period: no month after {start}")))?;
        out.push(Period {
            start,
            end,
            label: format!("{:04}-{:02}", start.year(), start.month()),
        });
        start = end;
    }
    Ok(out)
}

/// Files written so far, relative to the kit root.
struct Writer {
    root: PathBuf,
}

impl Writer {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), KitError> {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))
    }
}

/// Refuse an output that exists and is not an empty directory.
fn check_out(out: &Path) -> Result<(), KitError> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(KitError::Invalid(format!(
            "{} exists and is not a directory; the auditor kit is written into a new directory",
            out.display()
        )));
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| io(out, e))?;
    if entries.next().is_some() {
        return Err(KitError::Invalid(format!(
            "{} exists and is not empty; the auditor kit is written into a new directory",
            out.display()
        )));
    }
    Ok(())
}

/// Make the kit into `req.out`.
pub fn make(
    config: &Config,
    store: &Store,
    keys: &Keys,
    ledger: &Ledger,
    req: &Request,
) -> Result<Kit, KitError> {
    let months = months_of(&req.period)?;
    let n_witnesses = config.settings.witness.len();
    let min_cosignatures = req.min_cosignatures.unwrap_or(n_witnesses);
    if min_cosignatures > n_witnesses {
        return Err(KitError::Invalid(format!(
            "--min-cosignatures {min_cosignatures}: only {n_witnesses} witness(es) are configured ([[witness]] in vouch.toml)"
        )));
    }
    check_out(&req.out)?;
    let parent = match req.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    let name = req
        .out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "kit".into());
    let tmp = parent.join(format!(".{name}.vouch-kit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    let result = build(
        config,
        store,
        keys,
        ledger,
        req,
        &months,
        min_cosignatures,
        &tmp,
    );
    let mut kit = match result {
        Ok(k) => k,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // An empty directory given as --out is replaced; rename(2) allows that.
    if let Err(e) = std::fs::rename(&tmp, &req.out) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io(&req.out, e));
    }
    kit.dir = req.out.clone();
    Ok(kit)
}

/// The files of a packet directory the kit carries: only the names the monthly job
/// writes (anything else an operator left there, such as notes or keys, stays out).
const PACKET_FILES: &[&str] = &[
    "SOC2_Evidence.json",
    "SOC2_Evidence.json.sig",
    "SOC2_Evidence.json.tsr",
    "SOC2_Evidence.pdf",
    "SOC2_Evidence.pdf.sig",
    "SOC2_Evidence.pdf.tsr",
];

/// The packet's own files plus the exports it lists by name (`exports[].name`: the
/// month's audit-log exports, hashed inside the signed packet).
fn packet_files(dir: &Path, packet: &Value) -> Result<Vec<PathBuf>, KitError> {
    if !dir.is_dir() {
        return Err(io(dir, std::io::ErrorKind::NotFound.into()));
    }
    let exports = packet["exports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']) && !n.starts_with('.'));
    Ok(PACKET_FILES
        .iter()
        .copied()
        .chain(exports)
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect())
}

/// The public PEM blocks (`PUBLIC KEY`, `CERTIFICATE`) of `text`, nothing else: a key
/// or CA file that also holds a private key must not carry it into the kit. `None`
/// when there is none.
pub fn public_pem_blocks(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(b) = rest.find("-----BEGIN ") {
        let after = &rest[b + 11..];
        let Some(l) = after.find("-----") else { break };
        let label = &after[..l];
        let end_tag = format!("-----END {label}-----");
        let Some(e) = rest[b..].find(&end_tag) else {
            break;
        };
        let block = &rest[b..b + e + end_tag.len()];
        if matches!(label, "PUBLIC KEY" | "CERTIFICATE") {
            out.push_str(block);
            out.push('\n');
        }
        rest = &rest[b + e + end_tag.len()..];
    }
    (!out.is_empty()).then_some(out)
}

/// A URL as the kit may show it: no `user:password@`, query or fragment (tokens).
fn public_url(url: &str) -> String {
    let cut = url.find(['?', '#']).map_or(url, |i| &url[..i]);
    match cut.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => cut.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    config: &Config,
    store: &Store,
    keys: &Keys,
    ledger: &Ledger,
    req: &Request,
    months: &[Period],
    min_cosignatures: usize,
    root: &Path,
) -> Result<Kit, KitError> {
    let w = Writer {
        root: root.to_path_buf(),
    };
    let packets_dir = req
        .packets_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("packets"));
    let recorded = vouch_packet::series::recorded(store)?;
    let mut out_months = Vec::new();
    // (index into out_months, checkpoint size) of months with a packet.
    let mut present: Vec<(usize, u64)> = Vec::new();
    for m in months {
        let mut month = Month {
            month: m.label.clone(),
            status: "present".into(),
            reason: None,
            checkpoint_size: None,
            next: None,
            archives: Vec::new(),
        };
        let dir = packets_dir.join(&m.label);
        let json_path = dir.join(vouch_packet::JSON_FILE);
        if m.end > req.made_at {
            month.status = "not_yet".into();
            month.reason = Some(format!(
                "the month had not ended when the kit was made ({})",
                ts(&req.made_at)
            ));
        } else if !json_path.is_file() {
            month.status = "missing".into();
            let rec = recorded.iter().rev().find(|r| r.label == m.label);
            month.reason = Some(match rec {
                Some(r) => format!(
                    "a packet was recorded (generated {}, sha256 {}) but {} is not there",
                    r.generated_at,
                    r.json_sha256,
                    json_path.display()
                ),
                None => "no packet generated".into(),
            });
        } else {
            let base = format!("months/{}", m.label);
            let bytes = std::fs::read(&json_path).map_err(|e| io(&json_path, e))?;
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                KitError::Invalid(format!("{}: not JSON ({e})", json_path.display()))
            })?;
            for f in packet_files(&dir, &v)? {
                let bytes = std::fs::read(&f).map_err(|e| io(&f, e))?;
                let fname = f.file_name().unwrap_or_default().to_string_lossy();
                w.write(&format!("{base}/packet/{fname}"), &bytes)?;
            }
            let cp = &v["ledger"]["checkpoint"];
            let size = cp["size"].as_u64().ok_or_else(|| {
                KitError::Invalid(format!(
                    "{}: no ledger.checkpoint.size",
                    json_path.display()
                ))
            })?;
            w.write(
                &format!("{base}/checkpoint.txt"),
                cp["note"].as_str().unwrap_or_default().as_bytes(),
            )?;
            if let Some(note) = v["ledger"]["witnessed"]["note"].as_str() {
                w.write(&format!("{base}/cosigned-checkpoint.txt"), note.as_bytes())?;
            }
            month.checkpoint_size = Some(size);
            // The month's archives as stored (still encrypted), one folder per sealing.
            for c in vouch_seal::collections(store, Some(&m.label))? {
                let folder = c["folder"].as_str().unwrap_or_default();
                let leaf = folder
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or(&m.label)
                    .to_string();
                for f in c["files"].as_array().cloned().unwrap_or_default() {
                    let uri = f["uri"].as_str().unwrap_or_default();
                    let fname = f["key"]
                        .as_str()
                        .unwrap_or(uri)
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let mut r = vouch_seal::worm::Worm::read(uri)
                        .map_err(|e| KitError::Invalid(format!("archive {uri}: {e}")))?;
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut r, &mut bytes).map_err(|e| io(uri, e))?;
                    w.write(&format!("{base}/archive/{leaf}/{fname}"), &bytes)?;
                }
                w.write(
                    &format!("{base}/archive/{leaf}/collection.json"),
                    serde_json::to_string_pretty(&c)
                        .unwrap_or_default()
                        .as_bytes(),
                )?;
                month.archives.push(leaf);
            }
            present.push((out_months.len(), size));
        }
        out_months.push(month);
    }

    // The latest checkpoint (made now if the head has none): the last month's proof
    // leads to it, and the populations' and samples' proofs are in it.
    let latest = ledger.checkpoint()?;
    w.write("ledger/latest-checkpoint.txt", latest.note.as_bytes())?;
    for (i, &(idx, size)) in present.iter().enumerate() {
        let (to, next) = match present.get(i + 1) {
            Some(&(nidx, nsize)) => (nsize, out_months[nidx].month.clone()),
            None => (latest.size, "latest".to_string()),
        };
        if to < size {
            return Err(KitError::Invalid(format!(
                "the packet of {} holds a larger tree ({size}) than the one after it ({to}); the monthly chain is broken",
                out_months[idx].month
            )));
        }
        let proof = ledger.consistency_proof(size, to)?;
        w.write(
            &format!("months/{}/consistency-to-next.json", out_months[idx].month),
            serde_json::to_string_pretty(&proof)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        out_months[idx].next = Some(next);
    }

    // Keys: the packet-signing keys (current and retired), the log's verifier key, the
    // witnesses' verifier keys, the TSA's CA when configured.
    let mut signing_keys = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for (i, pem) in vouch_ledger::keys::known_signing_keys(config, Some(keys))
        .iter()
        .enumerate()
    {
        let rel = if i == 0 {
            "keys/signing.pub.pem".to_string()
        } else {
            format!("keys/signing-retired-{i}.pub.pem")
        };
        // Only the public key: a retired-key file holding a private key is cut down.
        let Some(public) = public_pem_blocks(pem) else {
            warnings.push(format!("{rel}: no public key in the file; left out"));
            continue;
        };
        if pem.contains("PRIVATE KEY") {
            warnings.push(format!(
                "{rel}: the key file also holds a private key; only the public key was copied"
            ));
        }
        w.write(&rel, public.as_bytes())?;
        signing_keys.push(rel);
    }
    let log_vkey = keys.log_verifier().to_vkey();
    w.write("keys/log.vkey", format!("{log_vkey}\n").as_bytes())?;
    let mut witnesses =
        String::from("# The witnesses this kit was made with, one verifier key per line.\n");
    for wd in &config.settings.witness {
        witnesses.push_str(&format!(
            "# {} ({})\n{}\n",
            wd.name,
            public_url(&wd.url),
            wd.vkey.trim()
        ));
    }
    w.write("keys/witnesses.txt", witnesses.as_bytes())?;
    let n_witnesses = config.settings.witness.len();
    let ts_cfg = &config.settings.timestamp;
    let tsa_ca = if ts_cfg.ca_file.trim().is_empty() {
        None
    } else {
        let p = config.path(&ts_cfg.ca_file);
        let text = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        // The certificates only: some operators keep the TSA's private key in the
        // same file.
        let Some(certs) = public_pem_blocks(&text) else {
            return Err(KitError::Invalid(format!(
                "{}: no certificate in the TSA CA file",
                p.display()
            )));
        };
        if text.contains("PRIVATE KEY") {
            warnings.push(format!(
                "{}: the TSA CA file also holds a private key; only its certificates were copied",
                p.display()
            ));
        }
        w.write("keys/tsa-ca.pem", certs.as_bytes())?;
        Some("keys/tsa-ca.pem")
    };

    // Populations of the period and their samples, in their export formats.
    let ctx = vouch_audit::Ctx {
        config,
        store,
        ledger,
    };
    let within = |start: &str, end: &str| {
        let s = vouch_core::period::parse_instant(start);
        let e = vouch_core::period::parse_instant(end);
        matches!((s, e), (Some(s), Some(e)) if s >= req.period.start && e <= req.period.end)
    };
    let mut pops = Vec::new();
    for p in vouch_audit::population::list(store, None)? {
        if !within(&p.period.start, &p.period.end) {
            continue;
        }
        let base = format!("populations/{}", p.id);
        w.write(
            &format!("{base}/population.ndjson"),
            vouch_audit::population::export_ndjson(config, &p)?.as_bytes(),
        )?;
        w.write(
            &format!("{base}/population.csv"),
            vouch_audit::population::export_csv(config, &p)?.as_bytes(),
        )?;
        w.write(
            &format!("{base}/population.json"),
            serde_json::to_string_pretty(&p)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        if let Some(seq) = p.ledger_seq {
            let proof = ledger.inclusion_proof(seq, Some(latest.size))?;
            w.write(
                &format!("{base}/population-event.tlog-proof"),
                proof.as_bytes(),
            )?;
        }
        pops.push(json!({"id": p.id, "definition": p.definition.id, "period": p.period.label, "dir": base}));
    }
    let mut samples = Vec::new();
    for s in vouch_audit::sample::list(store)? {
        if !pops.iter().any(|p| p["id"] == s.population_id) {
            continue;
        }
        let doc = vouch_audit::sample::export(&ctx, &s.id)?;
        let rel = format!("samples/{}.json", s.id);
        w.write(
            &rel,
            serde_json::to_string_pretty(&doc)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        samples.push(json!({"id": s.id, "file": rel, "population_dir": format!("populations/{}", s.population_id)}));
    }

    // The verifiers and the instructions.
    w.write("verifier/verify_kit.py", VERIFY_KIT_PY.as_bytes())?;
    w.write("verifier/verify_tlog.py", VERIFY_TLOG_PY.as_bytes())?;
    w.write("verifier/verify_sample.py", VERIFY_SAMPLE_PY.as_bytes())?;
    w.write("verify.sh", VERIFY_SH.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join("verify.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io(&p, e))?;
    }
    let org = &config.settings.organization.name;
    let present_n = out_months.iter().filter(|m| m.status == "present").count();
    let md = VERIFY_MD
        .replace("{{organization}}", org)
        .replace("{{period}}", &req.period.label)
        .replace("{{made_at}}", &ts(&req.made_at))
        .replace("{{log_vkey}}", &log_vkey)
        .replace("{{months}}", &out_months.len().to_string())
        .replace("{{present}}", &present_n.to_string())
        .replace("{{witnesses}}", &n_witnesses.to_string())
        .replace("{{min_cosignatures}}", &min_cosignatures.to_string())
        .replace("{{signing_key_id}}", &keys.signing_key_id());
    w.write("VERIFY.md", md.as_bytes())?;

    let kit_json = json!({
        "format": FORMAT,
        "organization": {"name": org, "id": config.settings.organization.id},
        "period": {"label": req.period.label, "start": ts(&req.period.start), "end": ts(&req.period.end)},
        "made_at": ts(&req.made_at),
        "generator": {"name": "vouch", "version": vouch_core::VERSION},
        "log": {"origin": ledger.origin(), "vkey_file": "keys/log.vkey"},
        "signing_keys": signing_keys,
        "witnesses": {"file": "keys/witnesses.txt", "count": n_witnesses, "min_cosignatures": min_cosignatures},
        "timestamps": {"required": !ts_cfg.url.trim().is_empty(), "ca_file": tsa_ca},
        "latest_checkpoint": "ledger/latest-checkpoint.txt",
        "months": out_months,
        "populations": pops,
        "samples": samples,
    });
    w.write(
        "kit.json",
        serde_json::to_string_pretty(&kit_json)
            .unwrap_or_default()
            .as_bytes(),
    )?;

    // The manifest: every file but itself and its signature, with its SHA-256.
    let mut files = Vec::new();
    list_files(root, root, &mut files)?;
    files.sort();
    let mut listed = Vec::new();
    for rel in &files {
        let p = root.join(rel);
        let bytes = std::fs::read(&p).map_err(|e| io(&p, e))?;
        listed.push(json!({"path": rel, "sha256": vouch_store::blobs::sha256_hex(&bytes), "bytes": bytes.len()}));
    }
    let manifest = serde_json::to_string_pretty(&json!({"format": FORMAT, "files": listed}))
        .unwrap_or_default()
        + "\n";
    w.write("manifest.json", manifest.as_bytes())?;
    w.write(
        "manifest.json.sig",
        vouch_ledger::sign::sign_b64(&keys.signing, manifest.as_bytes()).as_bytes(),
    )?;
    Ok(Kit {
        dir: req.out.clone(),
        period: req.period.label.clone(),
        populations: pops.len(),
        samples: samples.len(),
        months: out_months,
        files: files.len(),
        warnings,
    })
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), KitError> {
    for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let e = e.map_err(|e| io(dir, e))?;
        let p = e.path();
        if p.is_dir() {
            list_files(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_has_twelve_months_and_a_range_of_days_is_refused() {
        let now = Utc::now();
        let y = months_of(&Period::parse("2025", now).unwrap()).unwrap();
        assert_eq!(y.len(), 12);
        assert_eq!(y[0].label, "2025-01");
        assert_eq!(y[11].label, "2025-12");
        assert_eq!(
            y[11].end,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
        let q = months_of(&Period::parse("2025-Q3", now).unwrap()).unwrap();
        assert_eq!(
            q.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(),
            ["2025-07", "2025-08", "2025-09"]
        );
        let e = months_of(&Period::parse("2025-10-05", now).unwrap()).unwrap_err();
        assert!(e.to_string().contains("whole months"), "{e}");
    }

    #[test]
    fn only_public_pem_blocks_and_urls_without_secrets_reach_the_kit() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        let out = public_pem_blocks(text).unwrap();
        assert_eq!(out, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n");
        assert!(
            public_pem_blocks("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
                .is_none()
        );
        assert_eq!(
            public_url("https://user:tok@w.example:8443/witness?token=abc#f"),
            "https://w.example:8443/witness"
        );
        assert_eq!(public_url("http://127.0.0.1:80"), "http://127.0.0.1:80");
    }
}

//! RFC 3161 timestamps with the real `openssl ts`: the query is built by
//! `openssl ts -query` (SHA-256 of the file, a nonce, the TSA's certificate requested),
//! POSTed as `application/timestamp-query`, and the reply is stored beside the artifact
//! as `<file>.tsr`. Verification is exactly what an auditor runs:
//! `openssl ts -verify -data FILE -in FILE.tsr -CAfile CA`.

use crate::WitnessError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `<file>.tsr`.
pub fn token_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".tsr");
    PathBuf::from(s)
}

/// `openssl` with these arguments (strings or paths).
macro_rules! openssl {
    ($($a:expr),* $(,)?) => {
        openssl(&[$(AsRef::<std::ffi::OsStr>::as_ref(&$a)),*])
    };
}

fn openssl(args: &[&std::ffi::OsStr]) -> Result<String, WitnessError> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .map_err(|e| WitnessError::Timestamp(format!("cannot run openssl: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        // The telling line: the verdict or openssl's first error, not its banner.
        let first = text
            .lines()
            .find(|l| l.contains("FAILED") || l.contains("error"))
            .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("failed")
            .trim()
            .to_string();
        Err(WitnessError::Timestamp(format!("openssl ts: {first}")))
    }
}

/// Timestamp `file` at the TSA `url`; writes `<file>.tsr` (atomically) and returns its
/// path and the time the TSA certified.
pub fn timestamp(file: &Path, url: &str) -> Result<(PathBuf, String), WitnessError> {
    let dir = tempfile::tempdir().map_err(|e| WitnessError::io("temporary directory", e))?;
    let tsq = dir.path().join("request.tsq");
    openssl!("ts", "-query", "-data", file, "-sha256", "-cert", "-out", tsq)?;
    let query = std::fs::read(&tsq).map_err(|e| WitnessError::io(&tsq, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .send(&query[..])
        .map_err(|e| WitnessError::Timestamp(format!("timestamp authority {url}: {e}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(WitnessError::Timestamp(format!(
            "timestamp authority {url}: HTTP {status}"
        )));
    }
    let reply = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| WitnessError::Timestamp(format!("timestamp authority {url}: {e}")))?;
    let tsr_tmp = dir.path().join("reply.tsr");
    std::fs::write(&tsr_tmp, &reply).map_err(|e| WitnessError::io(&tsr_tmp, e))?;
    // The reply must answer this query (same digest and nonce) and be granted.
    let text = openssl!("ts", "-reply", "-in", tsr_tmp, "-text")?;
    if !text.contains("Status: Granted") {
        return Err(WitnessError::Timestamp(format!(
            "timestamp authority {url} did not grant the request"
        )));
    }
    let query_nonce = openssl!("ts", "-query", "-in", tsq, "-text")?;
    let nonce = |t: &str| {
        t.lines().find_map(|l| {
            l.trim()
                .strip_prefix("Nonce:")
                .map(|n| n.trim().to_string())
        })
    };
    let digest = |t: &str| -> String {
        // The message imprint's hex dump follows the "Message data:" line.
        t.split("Message data:")
            .nth(1)
            .unwrap_or("")
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    if nonce(&text) != nonce(&query_nonce) || digest(&text) != digest(&query_nonce) {
        return Err(WitnessError::Timestamp(format!(
            "the reply of {url} does not answer the request (nonce or digest differ)"
        )));
    }
    let when = gen_time(&text);
    let dest = token_path(file);
    let mut tmp = tempfile::NamedTempFile::new_in(dest.parent().unwrap_or(Path::new(".")))
        .map_err(|e| WitnessError::io(&dest, e))?;
    std::io::Write::write_all(&mut tmp, &reply).map_err(|e| WitnessError::io(&dest, e))?;
    tmp.persist(&dest)
        .map_err(|e| WitnessError::io(&dest, e.error))?;
    Ok((dest, when))
}

/// Timestamp `bytes` at the TSA `url` exactly as a file holding them would be (the
/// query is over their SHA-256): the DER reply (what `<file>.tsr` holds) and the time
/// the TSA certified. Nothing is written beside anything: the caller stores the token
/// (signed documents keep it with the document, checkpoints in the store).
pub fn timestamp_bytes(bytes: &[u8], url: &str) -> Result<(Vec<u8>, String), WitnessError> {
    let dir = tempfile::tempdir().map_err(|e| WitnessError::io("temporary directory", e))?;
    let file = dir.path().join("document");
    std::fs::write(&file, bytes).map_err(|e| WitnessError::io(&file, e))?;
    let (tsr, when) = timestamp(&file, url)?;
    let token = std::fs::read(&tsr).map_err(|e| WitnessError::io(&tsr, e))?;
    Ok((token, when))
}

fn gen_time(reply_text: &str) -> String {
    reply_text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Time stamp:")
                .map(|t| t.trim().to_string())
        })
        .unwrap_or_default()
}

/// `openssl ts -verify -data FILE -in FILE.tsr -CAfile CA`: the certified time.
pub fn verify(file: &Path, ca_file: &Path) -> Result<String, WitnessError> {
    let tsr = token_path(file);
    if !tsr.exists() {
        return Err(WitnessError::Timestamp(format!(
            "missing: no timestamp token {} (timestamp it with `vouch timestamp`)",
            tsr.display()
        )));
    }
    let out = openssl!("ts", "-verify", "-data", file, "-in", tsr, "-CAfile", ca_file)?;
    if !out.contains("Verification: OK") {
        return Err(WitnessError::Timestamp(format!(
            "{}: openssl ts -verify did not say OK",
            tsr.display()
        )));
    }
    let text = openssl!("ts", "-reply", "-in", tsr, "-text")?;
    Ok(gen_time(&text))
}

/// A stored timestamp of a ledger checkpoint (`checkpoint_timestamps`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointTimestamp {
    /// The checkpoint's tree size.
    pub size: u64,
    /// Hex SHA-256 of the checkpoint's signed note (the timestamped bytes).
    pub note_sha256: String,
    /// Hex SHA-256 of the DER token.
    pub token_sha256: String,
    /// The time the authority certified.
    pub time: String,
    /// The authority (its URL, credentials removed).
    pub tsa: String,
    /// When vouch stored it (RFC 3339).
    pub created_at: String,
    /// Whether this call made it (false: the size was timestamped already).
    #[serde(skip)]
    pub new: bool,
}

/// Timestamp the ledger's latest checkpoint (its signed note, exactly the bytes `vouch
/// witness checkpoint --signed-only` writes) at `url`, unless that size has a token
/// already; the token is stored in `checkpoint_timestamps` and a
/// `checkpoint.timestamped` event records its SHA-256. The daily `witness` job calls
/// this when `[timestamp] url` is set, with or without witnesses.
pub fn timestamp_checkpoint(
    ledger: &vouch_ledger::Ledger,
    url: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CheckpointTimestamp, WitnessError> {
    use base64::Engine;
    let cp = ledger.checkpoint()?;
    if let Some(t) = checkpoint_timestamp(ledger.store(), cp.size)? {
        return Ok(t);
    }
    let tsa = vouch_store::redact_url(url);
    let (token, time) = timestamp_bytes(cp.note.as_bytes(), url)
        .map_err(|e| WitnessError::Timestamp(e.to_string().replace(url, &tsa)))?;
    let t = CheckpointTimestamp {
        size: cp.size,
        note_sha256: vouch_store::blobs::sha256_hex(cp.note.as_bytes()),
        token_sha256: vouch_store::blobs::sha256_hex(&token),
        time,
        tsa,
        created_at: vouch_core::event::format_timestamp(&now),
        new: true,
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    let mut n = 0;
    ledger.store().write(&mut |sql| {
        n = sql.execute(
            "INSERT INTO checkpoint_timestamps (size, note_sha256, token, token_sha256, gen_time, tsa, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (size) DO NOTHING",
            &[(t.size as i64).into(), t.note_sha256.clone().into(), b64.clone().into(), t.token_sha256.clone().into(), t.time.clone().into(), t.tsa.clone().into(), t.created_at.clone().into()],
        )?;
        Ok(())
    })?;
    if n != 1 {
        // A concurrent run stored (and recorded) one first.
        return checkpoint_timestamp(ledger.store(), cp.size)?
            .ok_or_else(|| WitnessError::Timestamp("the checkpoint's timestamp vanished".into()));
    }
    let recorded = vouch_ledger::audit::record(
        ledger,
        serde_json::json!({
            "timestamp": t.created_at,
            "action": "checkpoint.timestamped", "category": "security", "result": "success",
            "resource": {"type": "checkpoint", "id": cp.size.to_string(), "name": cp.root},
            "details": {"description": format!("Checkpoint {} timestamped by the RFC 3161 authority at {}", cp.size, t.time)},
            "metadata": {"size": cp.size, "root": cp.root, "note_sha256": t.note_sha256, "token_sha256": t.token_sha256, "time": t.time, "tsa": t.tsa},
        }),
    );
    if let Err(e) = recorded {
        // Not recorded, so not kept.
        let _ = ledger.store().write(&mut |sql| {
            sql.execute(
                "DELETE FROM checkpoint_timestamps WHERE size = $1",
                &[(t.size as i64).into()],
            )?;
            Ok(())
        });
        return Err(e.into());
    }
    Ok(t)
}

/// The stored timestamp of the checkpoint of `size`, if any.
pub fn checkpoint_timestamp(
    store: &vouch_store::Store,
    size: u64,
) -> Result<Option<CheckpointTimestamp>, WitnessError> {
    let rows = store.query(
        "SELECT size, note_sha256, token_sha256, gen_time, tsa, created_at FROM checkpoint_timestamps WHERE size = $1",
        &[(size as i64).into()],
    )?;
    Ok(rows.first().map(|r| CheckpointTimestamp {
        size: r.int(0) as u64,
        note_sha256: r.text(1),
        token_sha256: r.text(2),
        time: r.text(3),
        tsa: r.text(4),
        created_at: r.text(5),
        new: false,
    }))
}

/// The DER token stored for the checkpoint of `size` (what `FILE.tsr` holds).
pub fn checkpoint_token(
    store: &vouch_store::Store,
    size: u64,
) -> Result<Option<Vec<u8>>, WitnessError> {
    use base64::Engine;
    let rows = store.query(
        "SELECT token FROM checkpoint_timestamps WHERE size = $1",
        &[(size as i64).into()],
    )?;
    rows.first()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r.text(0))
                .map_err(|e| WitnessError::Malformed(format!("stored checkpoint token: {e}")))
        })
        .transpose()
}

/// The largest timestamped checkpoint size, if any.
pub fn latest_timestamped_size(store: &vouch_store::Store) -> Result<Option<u64>, WitnessError> {
    Ok(store
        .query("SELECT MAX(size) FROM checkpoint_timestamps", &[])?
        .first()
        .and_then(|r| r.opt_int(0))
        .map(|n| n as u64))
}

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
            "no timestamp token {}",
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

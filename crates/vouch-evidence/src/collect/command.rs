//! The command collector: argv without a shell, a clean environment holding only the
//! allowlisted variables (plus PATH and HOME), a timeout, bounded output. stdout is the
//! content (validated as JSON, NDJSON, CSV or text); exit code and stderr are recorded.

use super::{collector_id, hostname, Content, Outcome, Run};
use crate::secrets::Scrubber;
use crate::template::{expand, Context};
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Variables every child gets, when set: without PATH nothing runs.
const ALWAYS: &[&str] = &["PATH", "HOME", "LANG", "TZ"];

/// Run the source's command for the definition; secrets met are added to `scrubber`.
pub fn run(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    let src = run.source;
    let argv: Result<Vec<String>, String> = run
        .def
        .argv
        .iter()
        .flatten()
        .map(|a| expand(a, &run.vars, Context::Raw))
        .collect();
    let fp = json!({"collected_on": hostname(), "program": run.def.argv.as_ref().and_then(|a| a.first())});
    let argv = match argv {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => return Outcome::failed(fp, json!({}), json!({}), "argv is empty"),
        Err(e) => return Outcome::failed(fp, json!({}), json!({}), e),
    };
    // Secret values are scrubbed from everything, including the child's output.
    for name in &src.secret_env {
        if let Ok(v) = std::env::var(name) {
            scrubber.add(v);
        }
    }
    let mut env_shown = serde_json::Map::new();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in ALWAYS
        .iter()
        .copied()
        .chain(src.env.iter().map(String::as_str))
    {
        if let Ok(v) = std::env::var(name) {
            cmd.env(name, &v);
            if !ALWAYS.contains(&name) {
                let shown = if src.secret_env.iter().any(|s| s == name) {
                    "***".to_string()
                } else {
                    scrubber.scrub_in("operation.env", &v)
                };
                env_shown.insert(name.to_string(), Value::String(shown));
            }
        }
    }
    let op = json!({
        "argv": argv.iter().map(|a| scrubber.scrub_in("operation.argv", a)).collect::<Vec<_>>(),
        "env": env_shown,
        "format": run.def.format(),
        "rows": run.def.rows,
        "params": run.def.params,
        "collector": collector_id("command"),
    });
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(fp, op, json!({}), format!("cannot run `{}`: {e}", argv[0]))
        }
    };
    let max = src.max_bytes();
    let out = child.stdout.take().map(|s| reader(s, max));
    let err = child.stderr.take().map(|s| reader(s, 64 * 1024));
    let timeout = src.timeout();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "timed out after {} s (timeout_secs)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let (stdout, over) = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let (stderr, _) = err.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = scrubber.scrub_in("details.stderr", &String::from_utf8_lossy(&stderr));
    let code = status.as_ref().ok().and_then(|s| s.code());
    let details = json!({
        "exit_code": code,
        "stderr": stderr.chars().take(4000).collect::<String>(),
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    let status = match status {
        Ok(s) => s,
        Err(e) => return Outcome::failed(fp, op, details, e),
    };
    if over {
        return Outcome::failed(
            fp,
            op,
            details,
            format!("output exceeded {max} bytes (max_bytes): the population would be incomplete"),
        );
    }
    if !status.success() {
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let how = code.map_or("was killed by a signal".to_string(), |c| {
            format!("exited with status {c}")
        });
        return Outcome::failed(fp, op, details, format!("`{}` {how}: {first}", argv[0]));
    }
    let bytes = scrubber.scrub_bytes(stdout);
    let content = parse_output(&bytes, run.def.format(), run.def.rows.as_deref());
    Outcome {
        fingerprint: fp,
        operation: op,
        details,
        result: content.map(|(media_type, count)| {
            vec![Content {
                bytes,
                media_type,
                count,
                name: None,
            }]
        }),
    }
}

/// Read a pipe to the end, keeping at most `max` bytes; the flag says more came.
fn reader<R: Read + Send + 'static>(
    mut r: R,
    max: u64,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        let mut over = false;
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if (buf.len() + n) as u64 > max {
                        over = true; // keep draining so the child is not blocked
                    } else {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        (buf, over)
    })
}

/// Check the output is what `format` says; its media type and row count.
pub fn parse_output(
    bytes: &[u8],
    format: &str,
    rows: Option<&str>,
) -> Result<(&'static str, Option<u64>), String> {
    match format {
        "json" => {
            let v: Value =
                serde_json::from_slice(bytes).map_err(|e| format!("stdout is not JSON ({e})"))?;
            let n = crate::rows::select(&v, rows)?.len() as u64;
            Ok(("application/json", Some(n)))
        }
        "ndjson" => {
            let mut n = 0;
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                serde_json::from_slice::<Value>(line)
                    .map_err(|e| format!("stdout line {} is not JSON ({e})", i + 1))?;
                n += 1;
            }
            Ok(("application/x-ndjson", Some(n)))
        }
        "csv" => {
            let mut r = csv::Reader::from_reader(bytes);
            let mut n = 0;
            for rec in r.records() {
                rec.map_err(|e| format!("stdout is not CSV ({e})"))?;
                n += 1;
            }
            Ok(("text/csv", Some(n)))
        }
        _ => Ok(("text/plain", None)),
    }
}

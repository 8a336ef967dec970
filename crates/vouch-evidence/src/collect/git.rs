//! The git collector: commits (or merges) committed inside the period on a branch of a
//! local repository, with author, committer, parents, signature status and message,
//! read with the `git` command (the argv is recorded).

use super::{collector_id, hostname, NdjsonSink, Outcome, Run};
use serde_json::{json, Value};
use std::process::Command;

const FIELDS: &[&str] = &[
    "%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%G?", "%GS", "%GK", "%s", "%b",
];

fn git(repo: &std::path::Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "git {}: {}",
            args.first().unwrap_or(&""),
            err.lines().next().unwrap_or("failed")
        ));
    }
    Ok(out.stdout)
}

fn signature(code: &str) -> &'static str {
    match code {
        "G" => "good",
        "B" => "bad",
        "U" => "good_untrusted",
        "X" => "expired_signature",
        "Y" => "expired_key",
        "R" => "revoked_key",
        "E" => "unverifiable",
        _ => "none",
    }
}

/// Collect the commits (or merges) of the period from the source's repository.
pub fn run(run: &Run<'_>) -> Outcome {
    let repo = match run.source.resolved_path() {
        Ok(p) => p,
        Err(e) => return Outcome::failed(json!({}), json!({}), json!({}), e),
    };
    let branch = run.def.branch.clone().unwrap_or_else(|| "HEAD".into());
    let start = &run.vars["period_start"];
    let end = &run.vars["period_end"];
    let format = format!("--format={}%x1e", FIELDS.join("%x1f"));
    let mut args = vec![
        "log".to_string(),
        branch.clone(),
        format,
        // git's --since/--until are inclusive; the exact half-open filter is below.
        format!("--since={start}"),
        format!("--until={end}"),
    ];
    if run.def.merges_only == Some(true) {
        args.push("--merges".into());
    }
    let head = git(&repo, &["rev-parse", &branch])
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .ok();
    let remote = git(&repo, &["remote", "get-url", "origin"])
        .map(|b| vouch_store::redact_url(String::from_utf8_lossy(&b).trim()))
        .ok();
    let fp = json!({"path": repo.display().to_string(), "head": head, "origin": remote, "collected_on": hostname()});
    let mut argv = vec!["git".to_string(), "-C".into(), repo.display().to_string()];
    argv.extend(args.iter().cloned());
    let op = json!({"argv": argv, "branch": branch, "merges_only": run.def.merges_only.unwrap_or(false), "collector": collector_id("git")});
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match git(&repo, &arg_refs) {
        Ok(o) => o,
        Err(e) => return Outcome::failed(fp, op, json!({}), e),
    };
    let (ps, pe) = (
        crate::rows::parse_time(&json!(start)),
        crate::rows::parse_time(&json!(end)),
    );
    let mut sink = NdjsonSink::new(run.source);
    let text = String::from_utf8_lossy(&out);
    for rec in text.split('\u{1e}') {
        let rec = rec.trim_start_matches('\n');
        if rec.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = rec.split('\u{1f}').collect();
        if f.len() < FIELDS.len() {
            continue;
        }
        let committed = crate::rows::parse_time(&json!(f[7]));
        if let (Some(c), Some(s), Some(e)) = (committed, ps, pe) {
            if c < s || c >= e {
                continue;
            }
        }
        let parents: Vec<&str> = f[1].split_whitespace().collect();
        let row: Value = json!({
            "sha": f[0],
            "parents": parents,
            "is_merge": parents.len() > 1,
            "author": {"name": f[2], "email": f[3], "date": f[4]},
            "committer": {"name": f[5], "email": f[6], "date": f[7]},
            "signature": {"status": signature(f[8]), "signer": f[9], "key": f[10]},
            "subject": f[11],
            "body": f[12].trim_end(),
        });
        if let Err(e) = sink.push(&row.to_string()) {
            return Outcome::failed(fp, op, json!({}), e);
        }
    }
    Outcome {
        fingerprint: fp,
        operation: op,
        details: json!({}),
        result: Ok(vec![sink.finish()]),
    }
}

//! The files collector: every file matching a glob under the source's directory is one
//! item, stored byte for byte. Uploads (`vouch evidence upload`) reuse [`media_type`].

use super::{collector_id, hostname, Content, Outcome, Run};
use crate::template::{expand, Context};
use serde_json::json;

/// Collect every file matching the definition's glob, one content per file.
pub fn run(run: &Run<'_>) -> Outcome {
    let dir = match run.source.resolved_path() {
        Ok(p) => p,
        Err(e) => return Outcome::failed(json!({}), json!({}), json!({}), e),
    };
    let fp = json!({"path": dir.display().to_string(), "collected_on": hostname()});
    let pattern = match expand(
        run.def.glob.as_deref().unwrap_or_default(),
        &run.vars,
        Context::Raw,
    ) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(fp, json!({}), json!({}), e),
    };
    let op = json!({"glob": pattern, "collector": collector_id("files")});
    let full = dir.join(&pattern);
    let paths = match glob::glob(&full.display().to_string()) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(fp, op, json!({}), format!("bad glob `{pattern}`: {e}")),
    };
    let mut out = Vec::new();
    let mut names = Vec::new();
    for p in paths {
        let p = match p {
            Ok(p) => p,
            Err(e) => return Outcome::failed(fp, op, json!({}), e.to_string()),
        };
        if !p.is_file() {
            continue;
        }
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) => return Outcome::failed(fp, op, json!({}), format!("{}: {e}", p.display())),
        };
        if meta.len() > run.source.max_bytes() {
            return Outcome::failed(
                fp,
                op,
                json!({}),
                format!(
                    "{} is larger than max_bytes ({})",
                    p.display(),
                    run.source.max_bytes()
                ),
            );
        }
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(fp, op, json!({}), format!("{}: {e}", p.display())),
        };
        let name = p.strip_prefix(&dir).unwrap_or(&p).display().to_string();
        names.push(name.clone());
        out.push(Content {
            media_type: media_type(&name),
            bytes,
            count: None,
            name: Some(name),
        });
    }
    if out.is_empty() {
        return Outcome::failed(
            fp,
            op,
            json!({}),
            format!("no file matches `{pattern}` under {}", dir.display()),
        );
    }
    Outcome {
        fingerprint: fp,
        operation: op,
        details: json!({"files": names}),
        result: Ok(out),
    }
}

/// A media type from a file name's extension.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "json" => "application/json",
        "ndjson" | "jsonl" => "application/x-ndjson",
        "csv" => "text/csv",
        "txt" | "log" | "md" => "text/plain",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

//! Collectors: one module per source kind. Each turns an evidence definition (with its
//! placeholders expanded) into content plus the record of exactly how it was produced.
//! A collector never writes anything; `evidence::collect` stores and logs the result.

pub mod command;
pub mod files;
pub mod git;
pub mod http;
pub mod sql;

use crate::defs::{EvidenceDef, SourceDef};
use crate::secrets::Scrubber;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What a collector is given.
pub struct Run<'a> {
    /// The source the definition reads from.
    pub source: &'a SourceDef,
    /// The evidence definition being collected.
    pub def: &'a EvidenceDef,
    /// Placeholder values (period, now, pack_dir, params).
    pub vars: BTreeMap<String, String>,
}

/// One piece of content a run produced (files produce one per matched file).
#[derive(Debug)]
pub struct Content {
    /// The content itself.
    pub bytes: Vec<u8>,
    /// Its media type (`application/x-ndjson`, `text/csv`, …).
    pub media_type: &'static str,
    /// Rows in the content, where rows make sense.
    pub count: Option<u64>,
    /// The file's path relative to the source, for files and uploads.
    pub name: Option<String>,
}

/// A finished run: content, or the reason there is none, and always the operation.
#[derive(Debug)]
pub struct Outcome {
    /// Where it ran: host, database, account, path. Never secrets.
    pub fingerprint: Value,
    /// The exact query/argv/URL/glob, with parameter values.
    pub operation: Value,
    /// Exit codes, stderr, pages fetched, and the like.
    pub details: Value,
    /// The content produced, or why the run failed.
    pub result: Result<Vec<Content>, String>,
}

impl Outcome {
    /// A run that failed with error `e`.
    pub fn failed(
        fingerprint: Value,
        operation: Value,
        details: Value,
        e: impl Into<String>,
    ) -> Self {
        Outcome {
            fingerprint,
            operation,
            details,
            result: Err(e.into()),
        }
    }
}

/// Run the collector for the source's kind. The scrubber collects the secrets it meets.
pub fn run(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    use crate::defs::SourceKind as K;
    match run.source.kind {
        K::Postgres => sql::postgres(run, scrubber),
        K::Mysql => sql::mysql(run, scrubber),
        K::Sqlite => sql::sqlite(run, scrubber),
        K::Command => command::run(run, scrubber),
        K::Http => http::run(run, scrubber),
        K::Git => git::run(run),
        K::Files => files::run(run),
    }
}

/// The collector's name and version, recorded in every item.
pub fn collector_id(kind: &str) -> Value {
    json!({"name": format!("vouch/{kind}"), "version": vouch_core::VERSION})
}

/// This machine's name, for fingerprints.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Read an environment variable a definition names, with an error naming it (not its value).
pub fn env_var(name: &str, what: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("environment variable {name} ({what}) is not set")),
    }
}

/// Writes rows as NDJSON, enforcing the source's row and byte limits.
pub struct NdjsonSink {
    /// The NDJSON written so far.
    pub bytes: Vec<u8>,
    /// Rows written so far.
    pub rows: u64,
    max_rows: u64,
    max_bytes: u64,
}

impl NdjsonSink {
    /// An empty sink with the source's `max_rows` and `max_bytes`.
    pub fn new(source: &SourceDef) -> Self {
        NdjsonSink {
            bytes: Vec::new(),
            rows: 0,
            max_rows: source.max_rows(),
            max_bytes: source.max_bytes(),
        }
    }

    /// Add one row (a JSON object's text). Errors when a limit is passed: an incomplete
    /// population must not pass for a complete one.
    pub fn push(&mut self, row_json: &str) -> Result<(), String> {
        self.rows += 1;
        if self.rows > self.max_rows {
            return Err(format!(
                "more than {} rows (max_rows): the population would be incomplete",
                self.max_rows
            ));
        }
        if (self.bytes.len() + row_json.len() + 1) as u64 > self.max_bytes {
            return Err(format!(
                "more than {} bytes (max_bytes): the population would be incomplete",
                self.max_bytes
            ));
        }
        self.bytes.extend_from_slice(row_json.as_bytes());
        self.bytes.push(b'\n');
        Ok(())
    }

    /// The NDJSON written, as content with its row count.
    pub fn finish(self) -> Content {
        Content {
            bytes: self.bytes,
            media_type: "application/x-ndjson",
            count: Some(self.rows),
            name: None,
        }
    }
}

/// A JSON object text with keys in the given order (serde_json's map would sort them).
pub fn ordered_object(pairs: &[(String, Value)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k).unwrap_or_default());
        s.push(':');
        s.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    s.push('}');
    s
}

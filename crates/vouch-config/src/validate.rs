//! Validation: values of the settings, and the definitions (sources, evidence, checks,
//! controls) across all files; errors name the file, the line and the key.

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, Problem, SourceDef};
use crate::spans::{Spans, Step};
use crate::{ConfigError, Settings};
use std::path::{Path, PathBuf};

/// Sources and evidence across all files: each valid, names unique, references known.
pub(crate) fn check_catalog(
    sources: &[SourceDef],
    evidence: &[EvidenceDef],
    texts: &[(PathBuf, String)],
) -> Result<(), ConfigError> {
    let locate = |file: &Path, p: Problem| locate(texts, file, p);
    for (i, s) in sources.iter().enumerate() {
        crate::evidence::check_source(s).map_err(|p| locate(&s.origin.file, p))?;
        if let Some(first) = sources[..i].iter().find(|o| o.name == s.name) {
            return Err(locate(
                &s.origin.file,
                Problem {
                    table: "source",
                    index: s.origin.index,
                    key: "name",
                    message: format!(
                        "source `{}` is already defined in {}",
                        s.name,
                        first.origin.file.display()
                    ),
                },
            ));
        }
    }
    for (i, e) in evidence.iter().enumerate() {
        let src = sources.iter().find(|s| s.name == e.source);
        crate::evidence::check_evidence(e, src).map_err(|p| locate(&e.origin.file, p))?;
        if let Some(first) = evidence[..i].iter().find(|o| o.id == e.id) {
            return Err(locate(
                &e.origin.file,
                Problem {
                    table: "evidence",
                    index: e.origin.index,
                    key: "id",
                    message: format!(
                        "evidence `{}` is already defined in {}",
                        e.id,
                        first.origin.file.display()
                    ),
                },
            ));
        }
    }
    Ok(())
}

fn locate(texts: &[(PathBuf, String)], file: &Path, p: Problem) -> ConfigError {
    let text = texts
        .iter()
        .find(|(f, _)| f == file)
        .map(|(_, t)| t.as_str())
        .unwrap_or("");
    ConfigError::Invalid(format!(
        "{}:{}: key `{}[{}].{}`: {}",
        file.display(),
        Spans::new(text).line_of(&[Step::Key(p.table), Step::Nth(p.index), Step::Key(p.key)]),
        p.table,
        p.index,
        p.key,
        p.message
    ))
}

/// Checks and controls: each valid, ids unique, references known.
pub(crate) fn check_rules(
    evidence: &[EvidenceDef],
    checks: &[CheckDef],
    controls: &[ControlDef],
    texts: &[(PathBuf, String)],
) -> Result<(), ConfigError> {
    let evidence_ids: Vec<&str> = evidence.iter().map(|e| e.id.as_str()).collect();
    let check_ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    let dup = |table, index, key, what: &str, id: &str, first: &Path| Problem {
        table,
        index,
        key,
        message: format!("{what} `{id}` is already defined in {}", first.display()),
    };
    for (i, c) in checks.iter().enumerate() {
        crate::checks::check_check(c, &evidence_ids)
            .map_err(|p| locate(texts, &c.origin.file, p))?;
        if let Some(first) = checks[..i].iter().find(|o| o.id == c.id) {
            let p = dup(
                "check",
                c.origin.index,
                "id",
                "check",
                &c.id,
                &first.origin.file,
            );
            return Err(locate(texts, &c.origin.file, p));
        }
    }
    for (i, c) in controls.iter().enumerate() {
        crate::checks::check_control(c, &check_ids, &evidence_ids)
            .map_err(|p| locate(texts, &c.origin.file, p))?;
        if let Some(first) = controls[..i].iter().find(|o| o.id == c.id) {
            let p = dup(
                "control",
                c.origin.index,
                "id",
                "control",
                &c.id,
                &first.origin.file,
            );
            return Err(locate(texts, &c.origin.file, p));
        }
    }
    Ok(())
}

/// A guard's parameter must be one its evidence has.
pub(crate) fn check_guards(
    evidence: &[EvidenceDef],
    checks: &[CheckDef],
    texts: &[(PathBuf, String)],
) -> Result<(), ConfigError> {
    for c in checks {
        for g in &c.guards {
            let Some(e) = evidence.iter().find(|e| e.id == g.evidence) else {
                continue;
            };
            if !e.params.contains_key(&g.parameter) && !e.params_env.contains_key(&g.parameter) {
                let p = Problem {
                    table: "check",
                    index: c.origin.index,
                    key: "guards",
                    message: format!(
                        "evidence `{}` has no parameter `{}` to guard",
                        g.evidence, g.parameter
                    ),
                };
                return Err(locate(texts, &c.origin.file, p));
            }
        }
    }
    Ok(())
}

/// Parse and validate configuration text; errors read `FILE:LINE:COL: key `K`: what is
/// wrong` (TOML syntax and types) or `FILE:LINE: key `K`: what is wrong` (values).
pub fn parse(text: &str, file: &Path) -> Result<Settings, ConfigError> {
    let settings: Settings = toml::from_str(text)
        .map_err(|e| ConfigError::Invalid(describe_toml_error(text, file, &e)))?;
    validate(&settings, text, file)?;
    Ok(settings)
}

fn validate(s: &Settings, text: &str, file: &Path) -> Result<(), ConfigError> {
    let fail = |section: &str, key: &str, msg: &str| {
        ConfigError::Invalid(format!(
            "{}:{}: key `{section}.{key}`: {msg}",
            file.display(),
            Spans::new(text).line_of_key(&[section], key)
        ))
    };
    if s.organization.name.trim().is_empty() {
        return Err(fail("organization", "name", "must not be empty"));
    }
    let origin = &s.ledger.origin;
    if origin.is_empty() || origin.contains('+') || origin.chars().any(|c| c.is_whitespace()) {
        return Err(fail(
            "ledger",
            "origin",
            "must be a non-empty name without spaces or `+`, e.g. example.com/vouch/audit",
        ));
    }
    if s.ledger.checkpoint_interval_secs == 0 {
        return Err(fail(
            "ledger",
            "checkpoint_interval_secs",
            "must be at least 1",
        ));
    }
    if !(1..=100_000).contains(&s.ledger.max_batch) {
        return Err(fail("ledger", "max_batch", "must be between 1 and 100000"));
    }
    if let Err(e) = vouch_core::checks::parse_duration(&s.ledger.max_clock_skew) {
        return Err(fail("ledger", "max_clock_skew", &e));
    }
    for (t, every) in &s.reports.schedule {
        use crate::settings::{REPORT_FREQUENCIES, REPORT_TYPES};
        if !REPORT_TYPES.contains(&t.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "{}:{}: key `reports.schedule.{t}`: not a report type ({})",
                file.display(),
                Spans::new(text).line_of_key(&["reports", "schedule"], t),
                REPORT_TYPES.join(", ")
            )));
        }
        if !REPORT_FREQUENCIES.contains(&every.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "{}:{}: key `reports.schedule.{t}`: must be {}",
                file.display(),
                Spans::new(text).line_of_key(&["reports", "schedule"], t),
                REPORT_FREQUENCIES.join(", ")
            )));
        }
    }
    crate::witness::validate(s, text, file)?;
    if !["zstd", "gzip"].contains(&s.archive.compression.as_str()) {
        return Err(fail("archive", "compression", "must be zstd or gzip"));
    }
    let st = &s.archive.storage;
    if !(st == "dir" || st.starts_with("dir:") || st.starts_with("s3://")) {
        return Err(fail(
            "archive",
            "storage",
            "must be dir, dir:/path or s3://bucket/prefix",
        ));
    }
    if !["", "HS256", "RS256", "ES256"].contains(&s.auth.jwt_algorithm.as_str()) {
        return Err(fail(
            "auth",
            "jwt_algorithm",
            "must be \"\" (off), HS256, RS256 or ES256",
        ));
    }
    if matches!(s.auth.jwt_algorithm.as_str(), "RS256" | "ES256")
        && s.auth.jwt_public_key.is_empty()
    {
        return Err(fail(
            "auth",
            "jwt_public_key",
            "is required for RS256/ES256 (a PEM file)",
        ));
    }
    if s.auth.max_sessions == 0
        || s.auth.failure_window_secs == 0
        || s.auth.failures_per_window == 0
    {
        return Err(fail(
            "auth",
            "max_sessions",
            "max_sessions, failure_window_secs and failures_per_window must be at least 1",
        ));
    }
    if s.auth.session_hours == 0 || s.auth.lockout_attempts == 0 {
        return Err(fail(
            "auth",
            "session_hours",
            "session_hours and lockout_attempts must be at least 1",
        ));
    }
    if s.archive.retention_days == 0 {
        return Err(fail("archive", "retention_days", "must be at least 1"));
    }
    crate::incidents::check(&s.incidents, text, file)?;
    crate::population::check(&s.population, text, file)?;
    let a = &s.attestations;
    if !["quarterly", "monthly"].contains(&a.cadence.as_str()) {
        return Err(fail(
            "attestations",
            "cadence",
            "must be quarterly or monthly",
        ));
    }
    if chrono::NaiveTime::parse_from_str(&a.target_time, "%H:%M").is_err() {
        return Err(fail(
            "attestations",
            "target_time",
            "must be a UTC time of day HH:MM such as 10:00",
        ));
    }
    if a.open_days_before > 60 || a.close_days_after > 60 {
        return Err(fail(
            "attestations",
            "open_days_before",
            "open_days_before and close_days_after must be at most 60",
        ));
    }
    if a.pr_sample_size == 0 || a.pr_sample_size > 1000 {
        return Err(fail(
            "attestations",
            "pr_sample_size",
            "must be between 1 and 1000 (a review of no sampled PR checks nothing)",
        ));
    }
    // A pinned signer key that names no key would refuse every personal signature of
    // that signer with a confusing 409; say so at load.
    for (signer, key) in &a.signer_keys {
        if !is_signer_key(key) {
            return Err(fail(
                "attestations",
                "signer_keys",
                &format!("the key of `{signer}` must be an SSH public key (ssh-ed25519 AAAA…) or a full OpenPGP fingerprint (40 or 64 hex digits)"),
            ));
        }
    }
    // The five roles vouch knows (vouch-server's roles.rs); a signer role no token can
    // hold would make every sign-off impossible.
    const ROLES: &[&str] = &[
        "admin",
        "compliance-officer",
        "team-lead",
        "auditor",
        "ingest",
    ];
    for (key, role) in [
        ("signer_role", &a.signer_role),
        ("collection_signer_role", &a.collection_signer_role),
    ] {
        if !ROLES.contains(&role.as_str()) || role == "ingest" || role == "auditor" {
            return Err(fail(
                "attestations",
                key,
                "must be admin, compliance-officer or team-lead (auditors and ingest tokens sign nothing)",
            ));
        }
    }
    if s.server.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(fail(
            "server",
            "listen",
            "must be an address:port such as 127.0.0.1:4000",
        ));
    }
    Ok(())
}

pub(crate) fn describe_toml_error(text: &str, file: &Path, e: &toml::de::Error) -> String {
    let message = plain_types(e.message().trim());
    let Some(span) = e.span() else {
        return format!("{}: {message}", file.display());
    };
    let spans = Spans::new(text);
    let (line, col) = spans.line_col(span.start);
    let named = spans.name_at(span.start);
    format!("{}:{line}:{col}: {named}{message}", file.display())
}

/// serde names Rust types ("expected usize"); a configuration's reader wants the kind
/// of value.
fn plain_types(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, plain) in [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u8", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        if let Some(rest) = m.strip_suffix(rust) {
            m = format!("{rest}{plain}");
        }
    }
    m
}

/// An SSH public key line (`TYPE BASE64 [comment]`) or a full OpenPGP fingerprint.
fn is_signer_key(key: &str) -> bool {
    let words: Vec<&str> = key.split_whitespace().collect();
    let ssh = words.len() >= 2
        && (words[0].starts_with("ssh-")
            || words[0].starts_with("ecdsa-sha2-")
            || words[0].starts_with("sk-"))
        && words[1].starts_with("AAAA");
    let hex: String = key
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    ssh || (matches!(hex.len(), 40 | 64) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template;

    #[test]
    fn signer_keys_must_name_a_key() {
        let with = |v: &str| {
            template("A", "a/vouch/log").replacen(
                "\nsigner_keys = {}",
                &format!("\nsigner_keys = {{ \"alice\" = \"{v}\" }}"),
                1,
            )
        };
        assert!(parse(
            &with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHYZ alice@x"),
            &file()
        )
        .is_ok());
        assert!(parse(
            &with("0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"),
            &file()
        )
        .is_ok());
        for bad in ["alice@example.com", "89ABCDEF01234567", "ssh-ed25519"] {
            let e = parse(&with(bad), &file()).unwrap_err().to_string();
            assert!(
                e.contains("attestations.signer_keys") && e.contains("`alice`"),
                "{e}"
            );
        }
    }

    #[test]
    fn type_errors_name_the_kind_of_value_not_a_rust_type() {
        let text = template("Acme", "acme.example/vouch/audit").replacen(
            "max_batch = 10000",
            "max_batch = \"lots\"",
            1,
        );
        assert!(
            text.contains("\"lots\""),
            "the template changed: update this test"
        );
        let e = parse(&text, &file()).unwrap_err().to_string();
        assert!(e.contains("expected a whole number"), "{e}");
        assert!(!e.contains("usize"), "{e}");
    }

    fn file() -> PathBuf {
        PathBuf::from("/d/vouch.toml")
    }

    #[test]
    fn template_parses() {
        let s = parse(
            &template("Acme \"Corp\"", "acme.example/vouch/audit"),
            &file(),
        )
        .unwrap();
        assert_eq!(s.organization.name, "Acme \"Corp\"");
        assert_eq!(s.ledger.checkpoint_interval_secs, 10);
    }

    #[test]
    fn unknown_key_names_file_line_key() {
        let text = template("A", "a/vouch/log")
            .replace("max_batch = 10000", "max_batch = 10000\nmax_btach = 5");
        let e = parse(&text, &file()).unwrap_err().to_string();
        let line = text
            .lines()
            .position(|l| l.starts_with("max_btach"))
            .unwrap()
            + 1;
        assert!(e.starts_with(&format!("/d/vouch.toml:{line}:")), "{e}");
        assert!(e.contains("max_btach"), "{e}");
    }

    #[test]
    fn wrong_type_and_bad_value_name_the_key() {
        let text = template("A", "a/vouch/log").replace(
            "checkpoint_interval_secs = 10",
            "checkpoint_interval_secs = \"ten\"",
        );
        let e = parse(&text, &file()).unwrap_err().to_string();
        assert!(e.contains("key `ledger.checkpoint_interval_secs`"), "{e}");
        let text = template("A", "a/vouch/log")
            .replace("listen = \"127.0.0.1:4000\"", "listen = \"nowhere\"");
        let e = parse(&text, &file()).unwrap_err().to_string();
        let line = text.lines().position(|l| l.starts_with("listen")).unwrap() + 1;
        assert_eq!(e, format!("/d/vouch.toml:{line}: key `server.listen`: must be an address:port such as 127.0.0.1:4000"));
    }
}

//! `[[source]]` and `[[evidence]]` definitions: where evidence comes from and what to
//! run. They live in `vouch.toml` and in the files it `include`s (packs). Validation
//! names the file, the line and the key, before anything runs.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A source's `kind`: how vouch reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A PostgreSQL database (DSN from `url_env`).
    Postgres,
    /// A MySQL/MariaDB database (DSN from `url_env`).
    Mysql,
    /// A SQLite file (`path` or `path_env`).
    Sqlite,
    /// An HTTP API under `base_url`.
    Http,
    /// A program run without a shell, its output parsed.
    Command,
    /// A git repository's commits (`path` or `path_env`).
    Git,
    /// Files under a directory, one item per file (`path` or `path_env`).
    Files,
}

impl SourceKind {
    /// The name as written in `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Mysql => "mysql",
            SourceKind::Sqlite => "sqlite",
            SourceKind::Http => "http",
            SourceKind::Command => "command",
            SourceKind::Git => "git",
            SourceKind::Files => "files",
        }
    }
    /// Postgres, MySQL or SQLite: evidence from it is a `query`.
    pub fn is_sql(self) -> bool {
        matches!(
            self,
            SourceKind::Postgres | SourceKind::Mysql | SourceKind::Sqlite
        )
    }
}

/// Where it was defined: for error messages and `{{pack_dir}}`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The file that defines it.
    pub file: PathBuf,
    /// Index among the file's tables of this kind.
    pub index: usize,
}

impl Origin {
    /// The defining file's directory: relative paths in the definition are relative to it.
    pub fn dir(&self) -> PathBuf {
        self.file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// A `[[source]]`: a system evidence is collected from (docs/evidence.md). Which keys
/// apply depends on `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// Unique name (`a-z 0-9 - _ .`), referred to by evidence's `source`.
    pub name: String,
    /// What kind of system it is.
    pub kind: SourceKind,
    /// postgres, mysql: the environment variable holding the DSN (never read from files).
    pub url_env: Option<String>,
    /// sqlite, git, files: a path, relative to the defining file.
    pub path: Option<String>,
    /// sqlite, git, files: the environment variable holding the path (when `path` is absent).
    pub path_env: Option<String>,
    /// Statement timeout (SQL) or overall timeout, in seconds; default
    /// [`DEFAULT_TIMEOUT_SECS`].
    pub timeout_secs: Option<u64>,
    /// SQL: more rows than this fails the run (an incomplete population must not pass for a
    /// complete one); default [`DEFAULT_MAX_ROWS`].
    pub max_rows: Option<u64>,
    /// More bytes than this fails the run; default [`DEFAULT_MAX_BYTES`].
    pub max_bytes: Option<u64>,
    /// http: requests go only under this URL (the token is never sent elsewhere).
    pub base_url: Option<String>,
    /// http: the environment variable holding the token.
    pub token_env: Option<String>,
    /// http: the header carrying the token; default `Authorization`.
    pub auth_header: Option<String>,
    /// http: the scheme before the token; default `Bearer`.
    pub auth_scheme: Option<String>,
    #[serde(default)]
    /// http: extra request headers.
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    /// command: environment variables passed to the child (besides PATH, HOME, LANG, TZ).
    pub env: Vec<String>,
    #[serde(default)]
    /// command: variables whose values are scrubbed from everything recorded.
    pub secret_env: Vec<String>,
    #[serde(skip)]
    /// Where it was defined (file and index).
    pub origin: Origin,
}

/// Default `timeout_secs`: five minutes.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// Default `max_rows`.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;
/// Default `max_bytes`: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

impl SourceDef {
    /// `timeout_secs`, or the default.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }
    /// `max_rows`, or the default.
    pub fn max_rows(&self) -> u64 {
        self.max_rows.unwrap_or(DEFAULT_MAX_ROWS)
    }
    /// `max_bytes`, or the default.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
    }
    /// The configured path (from `path`, relative to the defining file, or `path_env`).
    pub fn resolved_path(&self) -> Result<PathBuf, String> {
        let raw = match (&self.path, &self.path_env) {
            (Some(p), _) => p.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                format!(
                    "source `{}`: environment variable {var} (path_env) is not set",
                    self.name
                )
            })?,
            (None, None) => return Err(format!("source `{}` has no path", self.name)),
        };
        let p = PathBuf::from(raw);
        Ok(if p.is_absolute() {
            p
        } else {
            self.origin.dir().join(p)
        })
    }
}

/// http: cursor pagination (`cursor = { param = "after", field = "next" }`); without it
/// `Link: rel="next"` is followed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorDef {
    /// Query parameter that carries the cursor on the next request.
    pub param: String,
    /// Dotted path of the next cursor in the response body; absent/null/"" ends.
    pub field: String,
}

/// An `[[evidence]]`: what to collect from a source (docs/evidence.md). Which keys apply
/// depends on the source's kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDef {
    /// Unique id (`a-z 0-9 - _ .`), referred to by checks and controls.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// The `name` of the source it runs against.
    pub source: String,
    #[serde(default)]
    /// Trust Services Criteria it supports (`CC6.1`, …), checked against the catalog.
    pub criteria: Vec<String>,
    /// How often it is expected (one of [`SCHEDULES`]); decides when it is stale. None: never stale.
    pub schedule: Option<String>,
    /// `collected` (the default) or `field:<name>`: see [`Effective`].
    pub effective_at: Option<String>,
    #[serde(default)]
    /// Extra placeholders with literal values.
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    /// Extra placeholders whose values come from these environment variables.
    pub params_env: BTreeMap<String, String>,
    /// SQL sources: the statement.
    pub query: Option<String>,
    /// command sources: the program and its arguments (no shell).
    pub argv: Option<Vec<String>>,
    /// command sources: the output format, one of [`FORMATS`]; default `json`.
    pub format: Option<String>,
    /// command and http sources: dotted path of the rows in JSON output (`Volumes`).
    pub rows: Option<String>,
    /// http sources: the path under the source's `base_url`.
    pub url: Option<String>,
    /// http sources: cursor pagination.
    pub cursor: Option<CursorDef>,
    /// files sources: one item per matching file.
    pub glob: Option<String>,
    /// git sources: commits reachable from this branch (default HEAD).
    pub branch: Option<String>,
    /// git sources: only merge commits.
    pub merges_only: Option<bool>,
    #[serde(default)]
    /// The rows are a population of accounts (a group's members, IAM users, database
    /// roles…) that access-review campaigns can review; needs `account_key`.
    pub population: bool,
    /// population: the (dotted) field naming the account in each row.
    pub account_key: Option<String>,
    /// population: the field holding the account's last login; with it, an account
    /// without a login in `dormant_days` (or never) is flagged `dormant`.
    pub last_login_key: Option<String>,
    /// population: days without a login after which an account is `dormant`; default
    /// [`DEFAULT_DORMANT_DAYS`]. Needs `last_login_key`.
    pub dormant_days: Option<u32>,
    /// population: a field that is false (`false`, `f`, `0`, `no`, `disabled`, `inactive`)
    /// for a deactivated account; such accounts are flagged `deactivated`.
    pub active_key: Option<String>,
    /// population: the field that marks privileged accounts (flagged `privileged`).
    pub privileged_key: Option<String>,
    #[serde(default)]
    /// population: the values of `privileged_key` that mean privileged (compared without
    /// case); empty means any true value (`true`, `t`, `1`, `yes`).
    pub privileged_values: Vec<String>,
    #[serde(skip)]
    /// Where it was defined (file and index).
    pub origin: Origin,
}

/// Default `dormant_days`: 90.
pub const DEFAULT_DORMANT_DAYS: u32 = 90;

/// How an item's `effective_at` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective {
    /// The collection time.
    Collected,
    /// The latest value of this (possibly dotted) field over the rows.
    Field(String),
}

impl EvidenceDef {
    /// How `effective_at` is set (`collected` unless `field:<name>`).
    pub fn effective(&self) -> Effective {
        match self.effective_at.as_deref() {
            Some(s) if s.starts_with("field:") => Effective::Field(s[6..].to_string()),
            _ => Effective::Collected,
        }
    }
    /// The output format, `json` when none is set.
    pub fn format(&self) -> &str {
        self.format.as_deref().unwrap_or("json")
    }
}

/// The values `schedule` may take.
pub const SCHEDULES: &[&str] = &[
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
    "on-demand",
];
/// The values `format` may take.
pub const FORMATS: &[&str] = &["json", "ndjson", "csv", "text"];

/// Whether `s` may name a source, evidence, check or control: 1–128 characters of
/// `a-z 0-9 - _ .`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
}

fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// A validation failure at `key` of the `index`-th `[[table]]` in a file.
pub struct Problem {
    /// The table's name (`source`, `evidence`, `check`, `control`).
    pub table: &'static str,
    /// Index of the table among the file's tables of that name.
    pub index: usize,
    /// The offending key.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn problem(table: &'static str, index: usize, key: &'static str, m: impl Into<String>) -> Problem {
    Problem {
        table,
        index,
        key,
        message: m.into(),
    }
}

/// Checks one source on its own.
pub fn check_source(s: &SourceDef) -> Result<(), Problem> {
    let p = |key, m: String| problem("source", s.origin.index, key, m);
    if !valid_name(&s.name) {
        return Err(p(
            "name",
            "must be lower-case letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    let k = s.kind;
    let allowed: &[&str] = match k {
        SourceKind::Postgres | SourceKind::Mysql => &["url_env"],
        SourceKind::Sqlite | SourceKind::Git | SourceKind::Files => &["path", "path_env"],
        SourceKind::Http => &[
            "base_url",
            "token_env",
            "auth_header",
            "auth_scheme",
            "headers",
        ],
        SourceKind::Command => &["env", "secret_env"],
    };
    let set: [(&'static str, bool); 11] = [
        ("url_env", s.url_env.is_some()),
        ("path", s.path.is_some()),
        ("path_env", s.path_env.is_some()),
        ("base_url", s.base_url.is_some()),
        ("token_env", s.token_env.is_some()),
        ("auth_header", s.auth_header.is_some()),
        ("auth_scheme", s.auth_scheme.is_some()),
        ("headers", !s.headers.is_empty()),
        ("env", !s.env.is_empty()),
        ("secret_env", !s.secret_env.is_empty()),
        ("max_rows", s.max_rows.is_some() && !k.is_sql()),
    ];
    for (key, present) in set {
        if present && !allowed.contains(&key) && key != "max_rows" {
            return Err(p(
                key,
                format!("does not apply to a `{}` source", k.as_str()),
            ));
        }
        if present && key == "max_rows" {
            return Err(p(key, "applies to SQL sources only".into()));
        }
    }
    match k {
        SourceKind::Postgres | SourceKind::Mysql => match &s.url_env {
            None => {
                return Err(p(
                    "url_env",
                    "is required: the name of the environment variable that holds the DSN (never the DSN itself)".into(),
                ))
            }
            Some(v) if !valid_env_name(v) => {
                return Err(p(
                    "url_env",
                    format!("`{}` is not an environment variable name (A-Z, 0-9, _); put the DSN in the environment", crate::secrets::mask_if_url(v)),
                ))
            }
            _ => {}
        },
        SourceKind::Sqlite | SourceKind::Git | SourceKind::Files => {
            if s.path.is_some() == s.path_env.is_some() {
                return Err(p("path", "give exactly one of `path` or `path_env`".into()));
            }
        }
        SourceKind::Http => {
            let Some(base) = &s.base_url else {
                return Err(p("base_url", "is required for an http source".into()));
            };
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(p("base_url", "must start with http:// or https://".into()));
            }
            if base.contains('@') {
                return Err(p(
                    "base_url",
                    "must not carry credentials; use token_env".into(),
                ));
            }
        }
        SourceKind::Command => {}
    }
    for (key, v) in [("token_env", &s.token_env), ("path_env", &s.path_env)] {
        if let Some(v) = v {
            if !valid_env_name(v) {
                return Err(p(key, format!("`{v}` is not an environment variable name")));
            }
        }
    }
    for v in s.env.iter().chain(&s.secret_env) {
        if !valid_env_name(v) {
            return Err(p(
                "env",
                format!("`{v}` is not an environment variable name"),
            ));
        }
    }
    if s.timeout_secs == Some(0) {
        return Err(p("timeout_secs", "must be at least 1".into()));
    }
    Ok(())
}

/// Checks one evidence definition against its source.
pub fn check_evidence(e: &EvidenceDef, source: Option<&SourceDef>) -> Result<(), Problem> {
    let p = |key, m: String| problem("evidence", e.origin.index, key, m);
    if !valid_name(&e.id) {
        return Err(p(
            "id",
            "must be lower-case letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    if e.title.trim().is_empty() {
        return Err(p("title", "must not be empty".into()));
    }
    let Some(source) = source else {
        return Err(p(
            "source",
            format!("no [[source]] is named `{}`", e.source),
        ));
    };
    for c in &e.criteria {
        if vouch_core::tsc::criterion(c).is_none() {
            return Err(p(
                "criteria",
                format!("`{c}` is not a Trust Services Criterion (e.g. CC6.1, A1.2)"),
            ));
        }
    }
    if let Some(s) = &e.schedule {
        if !SCHEDULES.contains(&s.as_str()) {
            return Err(p(
                "schedule",
                format!("must be one of {}", SCHEDULES.join(", ")),
            ));
        }
    }
    if let Some(s) = &e.effective_at {
        let ok = s == "collected" || (s.starts_with("field:") && s.len() > 6);
        if !ok {
            return Err(p(
                "effective_at",
                "must be \"collected\" or \"field:<name>\"".into(),
            ));
        }
    }
    for (name, var) in &e.params_env {
        if !valid_env_name(var) {
            return Err(p(
                "params_env",
                format!("`{name}`: `{var}` is not an environment variable name"),
            ));
        }
    }
    let k = source.kind;
    let (need, allowed): (&'static str, &[&str]) = match k {
        SourceKind::Postgres | SourceKind::Mysql | SourceKind::Sqlite => ("query", &["query"]),
        SourceKind::Command => ("argv", &["argv", "format", "rows"]),
        SourceKind::Http => ("url", &["url", "rows", "cursor"]),
        SourceKind::Files => ("glob", &["glob"]),
        SourceKind::Git => ("", &["branch", "merges_only"]),
    };
    let set: [(&'static str, bool); 8] = [
        ("query", e.query.is_some()),
        ("argv", e.argv.is_some()),
        ("format", e.format.is_some()),
        ("rows", e.rows.is_some()),
        ("url", e.url.is_some()),
        ("cursor", e.cursor.is_some()),
        ("glob", e.glob.is_some()),
        ("branch", e.branch.is_some() || e.merges_only.is_some()),
    ];
    for (key, present) in set {
        if present && !allowed.contains(&key) {
            return Err(p(
                key,
                format!(
                    "does not apply to source `{}` of kind `{}`",
                    source.name,
                    k.as_str()
                ),
            ));
        }
    }
    let missing = match need {
        "query" => e.query.as_deref().is_none_or(|q| q.trim().is_empty()),
        "argv" => e
            .argv
            .as_ref()
            .is_none_or(|a| a.is_empty() || a[0].is_empty()),
        "url" => e.url.as_deref().is_none_or(str::is_empty),
        "glob" => e.glob.as_deref().is_none_or(str::is_empty),
        _ => false,
    };
    if missing {
        return Err(p(
            need,
            format!("is required for a `{}` source", k.as_str()),
        ));
    }
    if let Some(f) = &e.format {
        if !FORMATS.contains(&f.as_str()) {
            return Err(p(
                "format",
                format!("must be one of {}", FORMATS.join(", ")),
            ));
        }
    }
    if let Some(u) = &e.url {
        if (u.starts_with("http://") || u.starts_with("https://"))
            && !crate::url::under_base(u, source.base_url.as_deref().unwrap_or(""))
        {
            return Err(p(
                "url",
                "an absolute URL must start with the source's base_url (the token is only sent there)".into(),
            ));
        }
    }
    if let Some(g) = &e.glob {
        if g.starts_with('/') || g.split('/').any(|c| c == "..") {
            return Err(p(
                "glob",
                "must be relative to the source path, without `..`".into(),
            ));
        }
    }
    check_population(e).map_err(|(key, m)| p(key, m))?;
    // Placeholders must be known (a typo would otherwise reach the target system).
    let text: Vec<&str> = e
        .query
        .iter()
        .map(String::as_str)
        .chain(e.url.iter().map(String::as_str))
        .chain(e.glob.iter().map(String::as_str))
        .chain(e.argv.iter().flatten().map(String::as_str))
        .collect();
    for t in text {
        // `{period_end}` (single braces) is not a placeholder: it would reach the source
        // as written. In SQL or a URL a built-in's name in single braces is almost surely
        // that mistake (in a command's argv it may be jq or shell syntax: left alone).
        let sql_or_url = e.query.as_deref() == Some(t) || e.url.as_deref() == Some(t);
        if let Some(name) = crate::template::BUILTIN
            .iter()
            .filter(|_| sql_or_url)
            .find(|n| {
                let single = format!("{{{n}}}");
                t.match_indices(&single)
                    .any(|(i, _)| !t[..i].ends_with('{') && !t[i + single.len()..].starts_with('}'))
            })
        {
            let key = if e.query.as_deref() == Some(t) {
                "query"
            } else {
                "url"
            };
            return Err(p(
                key,
                format!("{{{name}}} is not a placeholder: write {{{{{name}}}}}"),
            ));
        }
        for name in crate::template::placeholders(t) {
            let known = crate::template::BUILTIN.contains(&name.as_str())
                || e.params.contains_key(&name)
                || e.params_env.contains_key(&name);
            if !known {
                let key = if e.query.is_some() {
                    "query"
                } else if e.url.is_some() {
                    "url"
                } else if e.glob.is_some() {
                    "glob"
                } else {
                    "argv"
                };
                return Err(p(
                    key,
                    format!(
                        "unknown placeholder {{{{{name}}}}} (built-ins: {}; or add it to params)",
                        crate::template::BUILTIN.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The population keys: `account_key` is required with `population = true`, and the
/// others mean nothing without it (a typo must not silently review nothing).
fn check_population(e: &EvidenceDef) -> Result<(), (&'static str, String)> {
    let others: [(&'static str, bool); 6] = [
        ("account_key", e.account_key.is_some()),
        ("last_login_key", e.last_login_key.is_some()),
        ("dormant_days", e.dormant_days.is_some()),
        ("active_key", e.active_key.is_some()),
        ("privileged_key", e.privileged_key.is_some()),
        ("privileged_values", !e.privileged_values.is_empty()),
    ];
    if !e.population {
        if let Some((key, _)) = others.iter().find(|(_, set)| *set) {
            return Err((
                key,
                "applies only to a population: add `population = true` (and `account_key`)".into(),
            ));
        }
        return Ok(());
    }
    match e.account_key.as_deref().map(str::trim) {
        None | Some("") => {
            return Err((
                "account_key",
                "is required with `population = true`: the field naming the account in each row"
                    .into(),
            ))
        }
        _ => {}
    }
    for (key, v) in [
        ("last_login_key", &e.last_login_key),
        ("active_key", &e.active_key),
        ("privileged_key", &e.privileged_key),
    ] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err((key, "must not be empty".into()));
        }
    }
    if e.dormant_days.is_some() && e.last_login_key.is_none() {
        return Err((
            "dormant_days",
            "needs `last_login_key` (the field holding the last login)".into(),
        ));
    }
    if e.dormant_days == Some(0) {
        return Err(("dormant_days", "must be at least 1".into()));
    }
    if !e.privileged_values.is_empty() && e.privileged_key.is_none() {
        return Err((
            "privileged_values",
            "needs `privileged_key` (the field the values are compared with)".into(),
        ));
    }
    Ok(())
}

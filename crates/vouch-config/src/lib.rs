//! `vouch.toml`: every setting, its default, and errors that name the file, the line
//! and the key. Unknown keys are errors (a typo must not silently fall back).

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, Origin, Problem, SourceDef};
use crate::spans::{Spans, Step};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod checks;
pub mod evidence;
mod init_template;
pub mod secrets;
mod spans;
pub mod template;
pub mod url;

pub use init_template::template;

/// Errors of loading and validating a configuration; every message names the file, the
/// line and the key where it can, and never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration (or a flag, or a value given on the command line) is wrong;
    /// the message says where and why.
    #[error("{0}")]
    Invalid(String),
    /// A configuration file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> ConfigError {
        ConfigError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// File name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "vouch.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Further files (packs) with sources and evidence, relative to this file.
    #[serde(default)]
    pub include: Vec<String>,
    pub organization: Organization,
    #[serde(default)]
    pub database: Database,
    pub ledger: LedgerSettings,
    #[serde(default)]
    pub keys: KeyFiles,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub archive: ArchiveSettings,
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub source: Vec<SourceDef>,
    #[serde(default)]
    pub evidence: Vec<EvidenceDef>,
    #[serde(default)]
    pub check: Vec<CheckDef>,
    #[serde(default)]
    pub control: Vec<ControlDef>,
    /// Per-pack settings: `[packs.postgres-rbac] params = { group = "…" }` overrides the
    /// pack's `[pack] params` without copying the pack.
    #[serde(default)]
    pub packs: BTreeMap<String, PackSettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSettings {
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// `[pack]` of an included file: its name (default: the file's directory name) and its
/// parameters. String parameters fill the `{{placeholders}}` of the pack's evidence that
/// use them; every parameter (lists and tables too: authorized people, maintenance
/// windows) is `input.params` of the pack's checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    name: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
}

/// An included file (a pack): sources, evidence, checks and controls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    pack: Option<PackMeta>,
    #[serde(default)]
    source: Vec<SourceDef>,
    #[serde(default)]
    evidence: Vec<EvidenceDef>,
    #[serde(default)]
    check: Vec<CheckDef>,
    #[serde(default)]
    control: Vec<ControlDef>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    #[serde(default)]
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: String,
    pub schema: String,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: "vouch.db".into(),
            schema: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    pub origin: String,
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How far in the future an incoming event's timestamp may be (`5m`, `30s`).
    #[serde(default = "default_max_clock_skew")]
    pub max_clock_skew: String,
}

impl LedgerSettings {
    /// The defaults, with the origin (which has none).
    pub fn with_origin(origin: &str) -> LedgerSettings {
        LedgerSettings {
            origin: origin.to_string(),
            checkpoint_interval_secs: default_checkpoint_interval(),
            max_batch: default_max_batch(),
            max_clock_skew: default_max_clock_skew(),
        }
    }
}

fn default_max_clock_skew() -> String {
    "5m".into()
}

fn default_checkpoint_interval() -> u64 {
    10
}

fn default_max_batch() -> usize {
    10_000
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyFiles {
    pub log_key: String,
    pub signing_key: String,
    pub hmac_key: String,
}

impl Default for KeyFiles {
    fn default() -> Self {
        KeyFiles {
            log_key: "keys/log.key".into(),
            signing_key: "keys/signing.pem".into(),
            hmac_key: "keys/hmac.key".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:4000".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSettings {
    pub recipients: Vec<String>,
    pub compression: String,
    pub storage: String,
    pub retention_days: u32,
    pub legal_hold: bool,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings {
            recipients: Vec::new(),
            compression: "zstd".into(),
            storage: "dir".into(),
            retention_days: 2555,
            legal_hold: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// "" (JWT off), "HS256", "RS256" or "ES256".
    pub jwt_algorithm: String,
    /// HS256: the environment variable holding the shared secret.
    pub jwt_secret_env: String,
    /// RS256/ES256: a PEM public key file.
    pub jwt_public_key: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// The claim holding the role.
    pub role_claim: String,
    /// Role names in tokens → vouch roles (seed 000's `ADMIN` and `compliance-officer`
    /// are mapped by default).
    pub role_map: std::collections::BTreeMap<String, String>,
    pub session_hours: u32,
    pub lockout_attempts: u32,
    pub lockout_minutes: u32,
    /// Concurrent sessions per local user; logging in beyond it ends the oldest.
    pub max_sessions: u32,
    /// How many previous passwords a user may not reuse.
    pub password_history: u32,
    /// Failed authentications from one client address are logged once per window
    /// (then one event with the count), and refused with 429 beyond the limit.
    pub failure_window_secs: u32,
    pub failures_per_window: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_algorithm: String::new(),
            jwt_secret_env: "VOUCH_JWT_SECRET".into(),
            jwt_public_key: String::new(),
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            role_claim: "role".into(),
            role_map: [
                ("ADMIN", "admin"),
                ("COMPLIANCE_OFFICER", "compliance-officer"),
                ("TEAM_LEAD", "team-lead"),
                ("AUDITOR", "auditor"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            session_hours: 8,
            lockout_attempts: 5,
            lockout_minutes: 15,
            max_sessions: 5,
            password_history: 10,
            failure_window_secs: 60,
            failures_per_window: 300,
        }
    }
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub file: PathBuf,
    pub settings: Settings,
    /// Every `[[source]]` of vouch.toml and its includes.
    pub sources: Vec<SourceDef>,
    /// Every `[[evidence]]` of vouch.toml and its includes.
    pub evidence: Vec<EvidenceDef>,
    /// Every `[[check]]` and `[[control]]` of vouch.toml and its includes.
    pub checks: Vec<CheckDef>,
    pub controls: Vec<ControlDef>,
    /// The files read, in order (vouch.toml first).
    pub files: Vec<PathBuf>,
}

impl Config {
    /// Load `vouch.toml` from a data directory.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let file = data_dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Invalid(format!(
                    "{} not found: run `vouch init --data-dir {}` first",
                    file.display(),
                    data_dir.display()
                ))
            } else {
                ConfigError::io(&file, e)
            }
        })?;
        let settings = parse(&text, &file)?;
        // Absolute, so `{{pack_dir}}` and relative source paths hold whatever the
        // working directory of a child process.
        let file = std::path::absolute(&file).unwrap_or(file);
        let mut texts = vec![(file.clone(), text)];
        let mut sources = tag(settings.source.clone(), &file, |s, o| s.origin = o);
        let mut evidence = tag(settings.evidence.clone(), &file, |e, o| e.origin = o);
        let mut checks = tag(settings.check.clone(), &file, |c, o| c.origin = o);
        let mut controls = tag(settings.control.clone(), &file, |c, o| c.origin = o);
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut pack_names = Vec::new();
        for (i, inc) in settings.include.iter().enumerate() {
            let path = base.join(inc);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "{}:{}: key `include[{i}]`: cannot read {}: {e} (include paths are relative to {})",
                    file.display(),
                    Spans::new(&texts[0].1).line_of_key(&[], "include"),
                    path.display(),
                    base.display()
                ))
            })?;
            let pack: PackFile = toml::from_str(&text)
                .map_err(|e| ConfigError::Invalid(describe_toml_error(&text, &path, &e)))?;
            let meta = pack.pack.unwrap_or_default();
            let name = meta.name.clone().unwrap_or_else(|| {
                path.parent()
                    .and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let params = pack_params(&name, meta.params, &settings, &texts[0].1, &file)?;
            let mut ev = tag(pack.evidence, &path, |e, o| e.origin = o);
            let mut ch = tag(pack.check, &path, |c, o| c.origin = o);
            apply_pack_params(&params, &mut ev, &mut ch).map_err(|(p, key)| {
                ConfigError::Invalid(format!(
                    "{}: pack `{name}`: parameter `{key}`: {p}",
                    path.display()
                ))
            })?;
            pack_names.push(name);
            sources.extend(tag(pack.source, &path, |s, o| s.origin = o));
            evidence.extend(ev);
            checks.extend(ch);
            controls.extend(tag(pack.control, &path, |c, o| c.origin = o));
            texts.push((path, text));
        }
        if let Some(unknown) = settings.packs.keys().find(|k| !pack_names.contains(k)) {
            return Err(ConfigError::Invalid(format!(
                "{}:{}: key `packs.{unknown}`: no included pack is named `{unknown}` (included: {})",
                file.display(),
                Spans::new(&texts[0].1).line_of_key(&["packs", unknown], "params"),
                if pack_names.is_empty() { "none".to_string() } else { pack_names.join(", ") }
            )));
        }
        check_catalog(&sources, &evidence, &texts)?;
        check_rules(&evidence, &checks, &controls, &texts)?;
        check_guards(&evidence, &checks, &texts)?;
        Ok(Config {
            data_dir: data_dir.to_path_buf(),
            file,
            settings,
            sources,
            evidence,
            checks,
            controls,
            files: texts.into_iter().map(|(p, _)| p).collect(),
        })
    }

    pub fn source(&self, name: &str) -> Option<&SourceDef> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The environment the sources and evidence need: variables they cannot run without
    /// (url_env, path_env, token_env, params_env), set or not, and secrets (the DSN's
    /// password, tokens, `secret_env` values) too short to scrub safely.
    pub fn environment(&self) -> Vec<EnvNeed> {
        let mut out: Vec<EnvNeed> = Vec::new();
        let get = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        for s in &self.sources {
            let by = |key: &str| format!("source `{}` ({key})", s.name);
            let needed = [
                ("url_env", &s.url_env),
                ("path_env", &s.path_env),
                ("token_env", &s.token_env),
            ];
            for (key, var) in needed {
                let Some(var) = var else { continue };
                if s.path.is_some() && key == "path_env" {
                    continue;
                }
                let value = get(var);
                let problem = value.as_deref().and_then(|v| match key {
                    "url_env" => crate::secrets::dsn_password(v).iter().find_map(|pw| {
                        crate::secrets::check_secret(&format!("the DSN in {var}"), pw).err()
                    }),
                    "token_env" => crate::secrets::check_secret(var, v).err(),
                    _ => None,
                });
                out.push(EnvNeed {
                    variable: var.clone(),
                    needed_by: by(key),
                    set: value.is_some(),
                    problem,
                });
            }
            for var in &s.secret_env {
                if let Some(v) = get(var) {
                    if let Err(p) = crate::secrets::check_secret(var, &v) {
                        out.push(EnvNeed {
                            variable: var.clone(),
                            needed_by: by("secret_env"),
                            set: true,
                            problem: Some(p),
                        });
                    }
                }
            }
        }
        for e in &self.evidence {
            for (k, var) in &e.params_env {
                out.push(EnvNeed {
                    variable: var.clone(),
                    needed_by: format!("evidence `{}` (params_env.{k})", e.id),
                    set: get(var).is_some(),
                    problem: None,
                });
            }
        }
        out
    }

    pub fn evidence_def(&self, id: &str) -> Option<&EvidenceDef> {
        self.evidence.iter().find(|e| e.id == id)
    }

    /// The database URL: `VOUCH_DATABASE_URL` wins over the file; a relative SQLite
    /// path is relative to the data directory.
    pub fn database_url(&self) -> String {
        let url = std::env::var("VOUCH_DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.settings.database.url.clone());
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return url;
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(&url);
        let p = Path::new(path);
        if p.is_absolute() {
            path.to_string()
        } else {
            self.data_dir.join(p).display().to_string()
        }
    }

    /// PostgreSQL schema: `VOUCH_DATABASE_SCHEMA` or `database.schema`.
    pub fn database_schema(&self) -> Option<String> {
        std::env::var("VOUCH_DATABASE_SCHEMA")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| Some(self.settings.database.schema.clone()).filter(|s| !s.is_empty()))
    }

    /// A path from the config, relative to the data directory.
    pub fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }
}

/// A pack's parameters with the `[packs.NAME] params` of vouch.toml applied: only known
/// parameters, each of the same type as the pack's default.
fn pack_params(
    name: &str,
    mut params: BTreeMap<String, serde_json::Value>,
    settings: &Settings,
    text: &str,
    file: &Path,
) -> Result<BTreeMap<String, serde_json::Value>, ConfigError> {
    let Some(o) = settings.packs.get(name) else {
        return Ok(params);
    };
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Null => "null",
    };
    for (k, v) in &o.params {
        let fail = |m: String| {
            let line = Spans::new(text).line_of_key(&["packs", name, "params"], k);
            ConfigError::Invalid(format!(
                "{}:{line}: key `packs.{name}.params.{k}`: {m}",
                file.display(),
            ))
        };
        match params.get(k) {
            None => {
                return Err(fail(format!(
                    "pack `{name}` has no parameter `{k}` (its parameters: {})",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
            Some(d) if kind(d) != kind(v) => {
                return Err(fail(format!(
                    "must be {}, like the pack's default",
                    kind(d)
                )))
            }
            _ => {}
        }
        params.insert(k.clone(), v.clone());
    }
    Ok(params)
}

/// Pack parameters into the pack's definitions: string values fill the placeholders an
/// evidence uses (its own `params` win), and checks get them all as `params`.
fn apply_pack_params(
    params: &BTreeMap<String, serde_json::Value>,
    evidence: &mut [EvidenceDef],
    checks: &mut [CheckDef],
) -> Result<(), (String, String)> {
    if params.is_empty() {
        return Ok(());
    }
    for e in evidence.iter_mut() {
        let texts = e
            .query
            .iter()
            .chain(e.url.iter())
            .chain(e.glob.iter())
            .chain(e.argv.iter().flatten());
        let used: Vec<String> = texts
            .flat_map(|t| crate::template::placeholders(t))
            .collect();
        for name in used {
            if e.params.contains_key(&name) || e.params_env.contains_key(&name) {
                continue;
            }
            let Some(v) = params.get(&name) else { continue };
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err((
                        format!(
                            "evidence `{}` uses it as a placeholder, but it is not a string",
                            e.id
                        ),
                        name,
                    ))
                }
            };
            e.params.insert(name, s);
        }
    }
    for c in checks.iter_mut() {
        for (k, v) in params {
            c.params.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(())
}

/// A guard's parameter must be one its evidence has.
fn check_guards(
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

/// An environment variable a source or evidence reads, as `vouch config check` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvNeed {
    pub variable: String,
    /// `source `rbac-db` (url_env)`, `evidence `change.merged-prs` (params_env.repo)`.
    pub needed_by: String,
    pub set: bool,
    /// Set but unusable (a secret too short to scrub); never shows the value.
    pub problem: Option<String>,
}

fn tag<T>(items: Vec<T>, file: &Path, set: impl Fn(&mut T, Origin)) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, mut item)| {
            set(
                &mut item,
                Origin {
                    file: file.to_path_buf(),
                    index,
                },
            );
            item
        })
        .collect()
}

/// Sources and evidence across all files: each valid, names unique, references known.
fn check_catalog(
    sources: &[SourceDef],
    evidence: &[EvidenceDef],
    texts: &[(PathBuf, String)],
) -> Result<(), ConfigError> {
    let locate = |file: &Path, p: Problem| {
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
    };
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
fn check_rules(
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

/// Parse configuration text; errors read `FILE:LINE:COL: key `K`: what is wrong`.
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
    if s.server.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(fail(
            "server",
            "listen",
            "must be an address:port such as 127.0.0.1:4000",
        ));
    }
    Ok(())
}

fn describe_toml_error(text: &str, file: &Path, e: &toml::de::Error) -> String {
    let message = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return format!("{}: {message}", file.display());
    };
    let spans = Spans::new(text);
    let (line, col) = spans.line_col(span.start);
    let named = spans.name_at(span.start);
    format!("{}:{line}:{col}: {named}{message}", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;

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

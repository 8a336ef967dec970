//! A loaded configuration: the settings with every file's definitions, and what they
//! need from the environment.

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, SourceDef};
use crate::Settings;
use std::path::{Path, PathBuf};

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory relative paths (database, keys, WORM storage) resolve against.
    pub data_dir: PathBuf,
    /// The main configuration file (vouch.toml).
    pub file: PathBuf,
    /// The main file's settings.
    pub settings: Settings,
    /// Every `[[source]]` of vouch.toml and its includes.
    pub sources: Vec<SourceDef>,
    /// Every `[[evidence]]` of vouch.toml and its includes.
    pub evidence: Vec<EvidenceDef>,
    /// Every `[[check]]` of vouch.toml and its includes.
    pub checks: Vec<CheckDef>,
    /// Every `[[control]]` of vouch.toml and its includes.
    pub controls: Vec<ControlDef>,
    /// Every `[[population]]` of vouch.toml and its includes (packs ship populations).
    pub populations: Vec<crate::population::PopulationDef>,
    /// The files read, in order (vouch.toml first).
    pub files: Vec<PathBuf>,
}

impl Config {
    /// The source named `name`.
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

    /// The evidence definition with this id.
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

/// An environment variable a source or evidence reads, as `vouch config check` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvNeed {
    /// The variable's name.
    pub variable: String,
    /// `source `rbac-db` (url_env)`, `evidence `change.merged-prs` (params_env.repo)`.
    pub needed_by: String,
    /// Whether it is set (non-empty) in this environment.
    pub set: bool,
    /// Set but unusable (a secret too short to scrub); never shows the value.
    pub problem: Option<String>,
}

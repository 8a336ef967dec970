//! The schema of `vouch.toml`: every section's settings and their defaults.

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, SourceDef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

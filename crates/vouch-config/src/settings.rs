//! The schema of `vouch.toml`: every section's settings and their defaults.

use crate::checks::{CheckDef, ControlDef};
use crate::evidence::{EvidenceDef, SourceDef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole `vouch.toml`, as written (before packs are merged in).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Further files (packs) with sources and evidence, relative to this file.
    #[serde(default)]
    pub include: Vec<String>,
    /// `[organization]`: whose evidence this is.
    pub organization: Organization,
    #[serde(default)]
    /// `[database]`: where the ledger and state are stored.
    pub database: Database,
    /// `[ledger]`: checkpoint origin, batching and clock skew.
    pub ledger: LedgerSettings,
    #[serde(default)]
    /// `[keys]`: paths of the log, signing and HMAC keys.
    pub keys: KeyFiles,
    #[serde(default)]
    /// `[server]`: the address `vouch serve` listens on.
    pub server: Server,
    #[serde(default)]
    /// `[archive]`: encryption, compression and WORM storage of sealed archives.
    pub archive: ArchiveSettings,
    #[serde(default)]
    /// `[auth]`: JWT bearer tokens, local sessions and lockout.
    pub auth: AuthSettings,
    #[serde(default)]
    /// `[incidents]`: response times per severity, automatic incidents.
    pub incidents: crate::incidents::IncidentSettings,
    #[serde(default)]
    /// `[attestations]`: when attestation windows open and close, who signs, and the
    /// monthly collection sign-off.
    pub attestations: AttestationSettings,
    #[serde(default)]
    /// `[reports]`: scheduled compliance reports.
    pub reports: ReportSettings,
    #[serde(default)]
    /// `[[witness]]`: witnesses that cosign the ledger's checkpoints.
    pub witness: Vec<crate::witness::WitnessDef>,
    #[serde(default)]
    /// `[timestamp]`: an RFC 3161 timestamp authority for packets and checkpoints.
    pub timestamp: crate::witness::TimestampSettings,
    #[serde(default)]
    /// `[[source]]`: systems evidence is collected from.
    pub source: Vec<SourceDef>,
    #[serde(default)]
    /// `[[evidence]]`: what to collect from each source.
    pub evidence: Vec<EvidenceDef>,
    #[serde(default)]
    /// `[[check]]`: assertions over collected evidence.
    pub check: Vec<CheckDef>,
    #[serde(default)]
    /// `[[control]]`: controls, with the checks and evidence that support them.
    pub control: Vec<ControlDef>,
    #[serde(default)]
    /// `[[population]]`: populations auditors sample (`vouch population take`).
    pub population: Vec<crate::population::PopulationDef>,
    /// Per-pack settings: `[packs.postgres-rbac] params = { group = "…" }` overrides the
    /// pack's `[pack] params` without copying the pack.
    #[serde(default)]
    pub packs: BTreeMap<String, PackSettings>,
}

/// `[packs.<name>]`: settings for one included pack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSettings {
    #[serde(default)]
    /// Values overriding the pack's `[pack] params` defaults, by parameter name.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// `[organization]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Name printed on evidence packets and reports (required).
    pub name: String,
    #[serde(default)]
    /// Optional identifier, for example the `organization_id` applications send. Default empty.
    pub id: String,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// A SQLite file path or a `postgres://` URL; default `vouch.db`.
    /// `VOUCH_DATABASE_URL` overrides it.
    pub url: String,
    /// PostgreSQL only: the schema to use, created if missing; default empty (the
    /// connection's default). `VOUCH_DATABASE_SCHEMA` overrides it.
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

/// `[ledger]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// Checkpoint origin, `<host or org>/vouch/<log>` (required); also the log key's name.
    pub origin: String,
    #[serde(default = "default_checkpoint_interval")]
    /// Sign a checkpoint at most this often while new events arrive, in seconds; default 10.
    pub checkpoint_interval_secs: u64,
    #[serde(default = "default_max_batch")]
    /// Most events the sequencer gathers into one commit; default 10 000.
    pub max_batch: usize,
    /// How far in the future an incoming event's timestamp may be (`5m`, `30s`); default `5m`.
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

/// `[keys]`: key file paths, relative to the config file's directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyFiles {
    /// Ed25519 key signing checkpoints (C2SP signed-note private key); default `keys/log.key`.
    pub log_key: String,
    /// ECDSA P-256 key (PKCS#8 PEM) signing packets and artifacts; default
    /// `keys/signing.pem`. `VOUCH_SIGNING_KEY` may supply the PEM instead.
    pub signing_key: String,
    /// HMAC-SHA-256 key of the ledger's chain; default `keys/hmac.key`.
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

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address `vouch serve` listens on; default `127.0.0.1:4000`.
    pub listen: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:4000".into(),
        }
    }
}

/// `[archive]`: how `vouch archive` seals and stores archives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSettings {
    /// age recipients (`age1…`) and/or OpenPGP public key file paths; default none
    /// (then `vouch archive` needs `--no-encrypt`).
    pub recipients: Vec<String>,
    /// `zstd` (default) or `gzip`.
    pub compression: String,
    /// WORM storage: `dir` (default, `<data dir>/worm`), `dir:/path` or `s3://bucket/prefix`.
    pub storage: String,
    /// Object Lock COMPLIANCE retention, in days; default 2555 (seven years).
    pub retention_days: u32,
    /// Also place a legal hold on S3 objects; default false.
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

/// `[attestations]`: the attestation schedule (seed 002 §2) and the collection sign-off
/// (seed 001). Windows: the target is the first day of the period after the attested one
/// at `target_time` UTC; the window opens at 00:00 UTC `open_days_before` days earlier
/// and closes at the end (24:00 UTC) of the day `close_days_after` days later.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttestationSettings {
    /// Attestations on or off; default on.
    pub enabled: bool,
    /// `quarterly` (default, seed 002) or `monthly`.
    pub cadence: String,
    /// Time of day (UTC, `HH:MM`) of the target on the first day of the next period;
    /// default `10:00`.
    pub target_time: String,
    /// Days before the target date the window opens; default 5.
    pub open_days_before: u32,
    /// Days after the target date the window's last day is (hard close); default 5.
    pub close_days_after: u32,
    /// Business-day rule: an opening day on a weekend moves back to the Friday before, a
    /// hard-close day on a weekend moves on to the Monday after; default off.
    pub business_days: bool,
    /// The role that signs attestations; default `compliance-officer`.
    pub signer_role: String,
    /// Controls in scope (ids); default empty: every configured control.
    pub controls: Vec<String>,
    /// Request a collection sign-off after each monthly collection (seed 001); default on.
    pub collection_signoff: bool,
    /// The role that signs collection sign-offs; default `team-lead`.
    pub collection_signer_role: String,
    /// Days after the period's end within which collection and sign-off are on time;
    /// default 7.
    pub collection_days: u32,
    /// The evidence ids that make up seed 001's five exports (audit, auth, backups, prs,
    /// dr-drill), by export name; default empty: matched by evidence id containing the
    /// export's name.
    pub collection_exports: BTreeMap<String, String>,
    /// Request seed 001's quarterly review automatically once the third month of a
    /// quarter has been collected (`generate-soc2-evidence`); default on.
    pub quarterly_review: bool,
    /// How many merged PRs the quarterly review samples from the quarter's PR evidence
    /// (all of them when there are fewer); default 5.
    pub pr_sample_size: u32,
    /// Personal signing keys pinned per signer name (the API caller's actor, or the
    /// CLI's `--signer`): an SSH public key (`ssh-ed25519 AAAA…`) or an OpenPGP
    /// fingerprint. A personal signature by any other key is refused. A signer not
    /// listed is pinned on first use (the key of their first personally signed
    /// document); listing them here replaces that pin (rotation). Default empty.
    pub signer_keys: BTreeMap<String, String>,
}

impl Default for AttestationSettings {
    fn default() -> Self {
        AttestationSettings {
            enabled: true,
            cadence: "quarterly".into(),
            target_time: "10:00".into(),
            open_days_before: 5,
            close_days_after: 5,
            business_days: false,
            signer_role: "compliance-officer".into(),
            controls: Vec::new(),
            collection_signoff: true,
            collection_signer_role: "team-lead".into(),
            collection_days: 7,
            collection_exports: BTreeMap::new(),
            quarterly_review: true,
            pr_sample_size: 5,
            signer_keys: BTreeMap::new(),
        }
    }
}
/// `[reports]`: compliance reports generated on a schedule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// Report type → frequency (`quarterly`, `monthly`, `weekly`): after each period
    /// ends, that period's report is generated once (seed 003: `soc2 = "quarterly"`,
    /// `access_review = "monthly"`, `vulnerability = "weekly"`). Default: none.
    pub schedule: BTreeMap<String, String>,
}

/// The report types a schedule may name (vouch-reports' `TYPES`).
pub const REPORT_TYPES: &[&str] = &["soc2", "access_review", "vulnerability", "incident"];

/// The frequencies a report schedule may use.
pub const REPORT_FREQUENCIES: &[&str] = &["quarterly", "monthly", "weekly"];

/// `[auth]`: bearer tokens, dashboard sessions and failed-login limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// "" (JWT off, the default), "HS256", "RS256" or "ES256".
    pub jwt_algorithm: String,
    /// HS256: the environment variable holding the shared secret; default `VOUCH_JWT_SECRET`.
    pub jwt_secret_env: String,
    /// RS256/ES256: a PEM public key file.
    pub jwt_public_key: String,
    /// Required `iss` of tokens, checked when set; default empty.
    pub jwt_issuer: String,
    /// Required `aud` of tokens, checked when set; default empty.
    pub jwt_audience: String,
    /// The claim holding the role; default `role`.
    pub role_claim: String,
    /// Role names in tokens → vouch roles (seed 000's `ADMIN` and `compliance-officer`
    /// are mapped by default).
    pub role_map: BTreeMap<String, String>,
    /// Lifetime of a local user's dashboard session, in hours; default 8.
    pub session_hours: u32,
    /// Failed logins after which a local user is locked out; default 5.
    pub lockout_attempts: u32,
    /// How long a lockout lasts, in minutes; default 15.
    pub lockout_minutes: u32,
    /// Concurrent sessions per local user; logging in beyond it ends the oldest. Default 5.
    pub max_sessions: u32,
    /// How many previous passwords a user may not reuse; default 10.
    pub password_history: u32,
    /// Failed authentications from one client address are logged once per window
    /// (then one event with the count), and refused with 429 beyond the limit.
    /// The window, in seconds; default 60.
    pub failure_window_secs: u32,
    /// Failed authentications per address and window beyond which it gets 429; default 300.
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

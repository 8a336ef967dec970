//! `vouch init`: the configuration file, the keys and the database of a data directory.
//! Idempotent: existing files, above all keys, are never overwritten.

use crate::config::{self, Config, CONFIG_FILE};
use crate::keys::{self, Generated};
use crate::Error;
use std::path::Path;

/// What `vouch init` found or made.
pub struct Initialized {
    /// The loaded configuration.
    pub config: Config,
    /// Whether the configuration file was created (rather than found).
    pub config_created: bool,
    /// The key files created and kept.
    pub keys: Generated,
    /// The database, described without any password.
    pub database: String,
}

/// This machine's host name, for the default checkpoint origin.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "localhost".into())
}

/// Initialise `data_dir`: write vouch.toml if missing (with `org` and the checkpoint
/// `origin`), generate missing keys, open and migrate the database. Idempotent.
pub fn init(
    data_dir: &Path,
    org: Option<&str>,
    origin: Option<&str>,
) -> Result<Initialized, Error> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let file = data_dir.join(CONFIG_FILE);
    let config_created = !file.exists();
    if config_created {
        let origin = origin
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}/vouch/audit", hostname()));
        let text = config::template(org.unwrap_or("My Organization"), &origin);
        // Validate before writing, so a bad --origin leaves nothing behind.
        config::parse(&text, &file)?;
        keys::write_new(&file, &text, 0o644)?;
    }
    let config = Config::load(data_dir)?;
    check_database(&config)?;
    let keys = keys::generate_missing(&config)?;
    let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())?;
    let database = store.describe();
    record_database(&config)?;
    Ok(Initialized {
        config,
        config_created,
        keys,
        database,
    })
}

/// The file in the data directory that records which database holds this data
/// directory's ledger (written by `init`, or by the first open of a non-empty ledger
/// in a directory that has none; no secrets).
pub const DATABASE_RECORD: &str = "ledger-database.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    /// `sqlite` or `postgres`.
    backend: String,
    /// What the URL names (see `vouch_store::identity`); compared on every open.
    identity: String,
    /// The URL without its password, to look the recorded ledger up again.
    url: String,
    schema: Option<String>,
    recorded_at: String,
}

fn current(config: &Config) -> Record {
    let url = config.database_url();
    let schema = config.database_schema();
    Record {
        backend: if url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
        .into(),
        identity: vouch_store::identity(&url, schema.as_deref()),
        url: vouch_store::strip_secrets(&url),
        schema,
        recorded_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

fn read_record(config: &Config) -> Result<Option<Record>, Error> {
    let file = config.data_dir.join(DATABASE_RECORD);
    match std::fs::read_to_string(&file) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| Error::config(format!("{}: {e}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&file, e)),
    }
}

/// Write down the database now configured as this data directory's ledger.
pub fn record_database(config: &Config) -> Result<(), Error> {
    let rec = current(config);
    if let Some(old) = read_record(config)? {
        if old.identity == rec.identity {
            return Ok(());
        }
    }
    let file = config.data_dir.join(DATABASE_RECORD);
    let tmp = config.data_dir.join(format!(".{DATABASE_RECORD}.tmp"));
    let text = serde_json::to_string_pretty(&rec).expect("serialisable") + "\n";
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &file).map_err(|e| Error::io(&file, e))
}

/// Record the database of an opened, non-empty ledger when the data directory has no
/// record yet (directories initialised before `init` wrote one). An empty ledger is
/// not recorded: it may be the wrong one, opened by mistake.
pub fn record_if_missing(config: &Config, store: &vouch_store::Store) -> Result<(), Error> {
    if config.data_dir.join(DATABASE_RECORD).exists() {
        return Ok(());
    }
    if store.head()?.size == 0 {
        return Ok(());
    }
    record_database(config)
}

/// Refuse to start a fresh ledger in a database other than the one this data
/// directory's keys and checkpoints belong to. Forgetting `VOUCH_DATABASE_URL` in a
/// later shell would otherwise open (and create) an empty SQLite ledger, which
/// verifies as "valid, 0 entries". Nothing is created before the check.
///
/// The configured database is accepted when it is the recorded one, when it already
/// holds a ledger with entries, or when the recorded one can be read and holds none
/// (then the record moves to the configured database).
pub fn check_database(config: &Config) -> Result<(), Error> {
    let Some(rec) = read_record(config)? else {
        return Ok(());
    };
    let now = current(config);
    if rec.identity == now.identity {
        return Ok(());
    }
    let url = config.database_url();
    let schema = config.database_schema();
    let here = vouch_store::probe(&url, schema.as_deref())?;
    let shown_now = describe(&now);
    let shown_rec = describe(&rec);
    if here.unwrap_or(0) > 0 {
        return record_database(config);
    }
    let there = vouch_store::probe(&rec.url, rec.schema.as_deref());
    let why = match there {
        Ok(None) | Ok(Some(0)) => return record_database(config),
        Ok(Some(n)) => format!("which holds {n} entries"),
        Err(e) => format!("which cannot be checked from here ({e})"),
    };
    Err(Error::config(format!(
        "refusing to start a new, empty ledger in {shown_now}: this data directory's keys and checkpoints belong to the ledger in {shown_rec}, {why} (recorded in {}). Set VOUCH_DATABASE_URL (and VOUCH_DATABASE_SCHEMA) or database.url to that database; to start a new ledger here on purpose, delete {}",
        config.data_dir.join(DATABASE_RECORD).display(),
        config.data_dir.join(DATABASE_RECORD).display(),
    )))
}

fn describe(r: &Record) -> String {
    let url = vouch_store::redact_url(&r.url);
    let what = if r.backend == "sqlite" {
        format!("SQLite {url}")
    } else {
        format!("PostgreSQL {url}")
    };
    match &r.schema {
        Some(s) if r.backend == "postgres" => format!("{what} (schema {s})"),
        _ => what,
    }
}

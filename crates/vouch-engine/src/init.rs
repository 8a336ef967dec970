//! `vouch init`: the configuration file, the keys and the database of a data directory.
//! Idempotent: existing files, above all keys, are never overwritten.

use crate::config::{self, Config, CONFIG_FILE};
use crate::keys::{self, Generated};
use crate::Error;
use std::path::Path;

pub struct Initialized {
    pub config: Config,
    pub config_created: bool,
    pub keys: Generated,
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
    let keys = keys::generate_missing(&config)?;
    let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())?;
    let database = store.describe();
    Ok(Initialized {
        config,
        config_created,
        keys,
        database,
    })
}

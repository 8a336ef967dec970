//! `vouch.toml`: every setting, its default, and errors that name the file, the line
//! and the key. Unknown keys are errors (a typo must not silently fall back).

pub mod checks;
mod config;
pub mod evidence;
pub mod incidents;
mod init_template;
mod load;
pub mod population;
pub mod secrets;
mod settings;
mod spans;
pub mod template;
pub mod url;
mod validate;
pub mod witness;

pub use config::{Config, EnvNeed};
pub use init_template::template;
pub use settings::{
    ArchiveSettings, AttestationSettings, AuthSettings, Database, KeyFiles, LedgerSettings,
    Organization, PackSettings, Server, Settings,
};
pub use validate::parse;

use std::path::Path;

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

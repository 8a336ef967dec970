pub mod archive;
pub mod attest;
pub mod checks;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod export;
pub mod incidents;
pub mod init;
pub mod jobs;
pub mod keys;
pub mod kit;
pub mod ledger;
pub mod packet;
pub mod pbc;
pub mod population;
pub mod reports;
pub mod review;
pub mod sample;
pub mod serve;
pub mod signoff;
pub mod verify;
pub mod witness;

use anyhow::Result;
use vouch_engine::{Config, Keys, Ledger};

/// Load the configuration and open store, keys and ledger.
pub fn open(cli: &crate::Cli) -> Result<(Config, vouch_store::Store, Keys, Ledger)> {
    let config = Config::load(&cli.data_dir)?;
    let (store, keys, ledger) = vouch_engine::open(&config)?;
    Ok((config, store, keys, ledger))
}

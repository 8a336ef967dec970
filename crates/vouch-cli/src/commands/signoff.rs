//! `vouch signoff list|show|sign|export`: seed 001's monthly collection sign-off, the
//! same documents and signing as `vouch attest` for the `team-lead` role.

use super::attest::{run_kind, AttestCommand};
use anyhow::Result;

/// `vouch signoff …`.
pub fn run(cli: &crate::Cli, c: &AttestCommand) -> Result<i32> {
    run_kind(cli, c, vouch_engine::signoff::attest::KIND_COLLECTION)
}

//! The `vouch` binary of this crate, through the shared builder (one environment
//! allowlist for every test; see `vouch_test_support::cmd`).

pub use vouch_test_support::{err_line, ext, ok, pg_url, text, PgSchema, Vouch};

/// `vouch` with the environment reduced to the allowlist.
pub fn vouch() -> Vouch {
    vouch_test_support::vouch(env!("CARGO_BIN_EXE_vouch"))
}

/// `vouch --data-dir DIR ARGS...`, run to completion.
pub fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    vouch().data_dir(dir).args(args).output()
}

/// The same with `input` on standard input.
pub fn run_stdin(dir: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    vouch().data_dir(dir).args(args).stdin(input).output()
}

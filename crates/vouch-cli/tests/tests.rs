//! The integration tests of the `vouch` binary, in one test binary (one link of the
//! whole workspace instead of one per file).
//! One test binary: `Cargo.toml` sets `autotests = false` and names this file, so the
//! other files here are its modules, not binaries of their own.
//!
//! Naming convention: a test that needs a program or service from outside the Rust
//! build (PostgreSQL or psql, age, gpg, openssl, zstd, Python and its packages, moto
//! and the aws CLI, git, poppler's pdftotext, the sqlite3 shell) has a name starting
//! with `ext_`. Such a test skips when its tool is missing, except with CI=true, where
//! it fails. The pure ones run anywhere with
//! `cargo nextest run -p vouch-cli -E 'not test(/ext_/)'`.
//!
//! `cmd/` holds CLI behaviour as reviewed data files (help texts, usage and
//! configuration errors, exit codes), run by `trycmd` in `cmd.rs`; `tests/snapshots/`
//! holds `insta` snapshots of JSON reports. After a deliberate change of output, regenerate
//! with `TRYCMD=overwrite` / `INSTA_UPDATE=always` (or `cargo insta review`) and review
//! the diff like code.

mod util;

mod archive;
mod attest;
mod auditor_kit;
mod cli;
mod cmd;
mod database;
mod incidents;
mod oscal;
mod packet;
mod packs;
mod review;
mod sampling;
mod serve;
mod verdicts;
mod witness;

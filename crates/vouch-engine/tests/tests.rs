//! The engine's integration tests, one binary (ripgrep's layout): a data directory made
//! by `init` (`common`), with `on_both!` running each test on SQLite and PostgreSQL.
//! They drive the domain crates through the orchestration layer: collection, checks,
//! packets, jobs, and the SQL collectors' DSNs and TLS. The ledger's own tests live in
//! `crates/vouch-ledger/tests` and need none of this. Tests that need a program or
//! service from outside the Rust build (PostgreSQL, MariaDB, git, openssl…) are named
//! `ext_`, as in every crate: `cargo nextest run -E 'not test(/ext_/)'` runs the rest.

#[macro_use]
mod common;

mod access_review;
mod attest;
mod checks;
mod evidence;
mod incidents;
mod jobs;
mod mysql_tls;
mod open;
mod packet;
mod reports;
mod sql_dsn;
mod verdicts;

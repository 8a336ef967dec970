//! The HTTP service's integration tests, in one test binary.
//! One test binary: `Cargo.toml` sets `autotests = false` and names this file, so the
//! other files here are its modules, not binaries of their own.
//!
//! `on_both!` runs a body on SQLite (`…::sqlite`) and on PostgreSQL (`…::ext_postgres`).
//! Naming convention: a test that needs a program or service from outside the Rust
//! build (PostgreSQL or psql, openssl, curl, mount) has `ext_` in its name; it skips
//! when the tool is missing, except with CI=true. The pure ones:
//! `cargo nextest run -p vouch-server -E 'not test(/ext_/)'`.

mod common;

mod access_reviews;
mod api;
mod attestations;
mod audit_index;
mod auditor;
mod auth;
mod dashboard;
mod incidents;
mod reports;
mod seeds;
mod tls;
mod verdicts;

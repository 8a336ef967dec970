//! The HTTP service's integration tests, in one test binary.
//! The modules live in `tests/tests/`, where Cargo does not make each file a test binary
//! of its own.
//!
//! `on_both!` runs a body on SQLite (`…::sqlite`) and on PostgreSQL (`…::ext_postgres`).
//! Naming convention: a test that needs a program or service from outside the Rust
//! build (PostgreSQL or psql, openssl, curl, mount) has `ext_` in its name; it skips
//! when the tool is missing, except with CI=true. The pure ones:
//! `cargo nextest run -p vouch-server -E 'not test(/ext_/)'`.

#[path = "tests/common/mod.rs"]
mod common;

#[path = "tests/api.rs"]
mod api;
#[path = "tests/auth.rs"]
mod auth;
#[path = "tests/seeds.rs"]
mod seeds;
#[path = "tests/tls.rs"]
mod tls;
#[path = "tests/verdicts.rs"]
mod verdicts;

//! vouch-store's integration tests, in one test binary.
//! The modules live in `tests/tests/`, where Cargo does not make each file a test binary
//! of its own.
//!
//! Naming convention: a test that needs a program or service from outside the Rust
//! build (PostgreSQL, its server binaries, PgBouncer, openssl, root) has a name starting
//! with `ext_`; it skips when they are missing, except with CI=true, where it fails.
//! The pure ones: `cargo nextest run -p vouch-store -E 'not test(/ext_/)'` (none yet).

#[path = "tests/postgres_deploy.rs"]
mod postgres_deploy;

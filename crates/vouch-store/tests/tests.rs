//! vouch-store's integration tests, in one test binary.
//! One test binary: `Cargo.toml` sets `autotests = false` and names this file, so the
//! other files here are its modules, not binaries of their own.
//!
//! Naming convention: a test that needs a program or service from outside the Rust
//! build (PostgreSQL, its server binaries, PgBouncer, openssl, root) has a name starting
//! with `ext_`; it skips when they are missing, except with CI=true, where it fails.
//! The pure ones: `cargo nextest run -p vouch-store -E 'not test(/ext_/)'` (none yet).

mod postgres_deploy;

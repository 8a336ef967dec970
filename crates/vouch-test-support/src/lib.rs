//! Helpers shared by the vouch test suites.
//!
//! - [`cmd`]: ONE builder for running the `vouch` binary, with ONE environment
//!   allowlist (the developer's credentials never reach a test), and `ok` / `fails`
//!   helpers that print stdout and stderr when they fail.
//! - [`pg`]: the PostgreSQL test URL (skip outside CI, fail under CI), unique schema
//!   names and a guard that drops its schema, and the `on_both!` fixture macro.
//! - [`ext`]: external tools: skipping when one is missing (failing under CI=true), the
//!   pip scripts directory, and a moto (S3 and friends) server.
//! - [`tls`]: a throwaway test certificate authority made with `openssl`.
//! - [`tsa`]: a local RFC 3161 timestamp authority (`openssl ts -reply` on loopback).

pub mod cmd;
pub mod ext;
pub mod pg;
pub mod tls;
pub mod tsa;

pub use cmd::{err_line, fails, ok, text, vouch, Vouch};
pub use pg::{pg_url, unique_name, Kind, PgSchema};

/// True under CI (`CI=true`), where a missing tool or service fails a test instead of
/// skipping it.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

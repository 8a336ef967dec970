//! The ledger's integration tests: one binary (ripgrep's layout), `util` for the
//! fixture, `macros` for `on_both!` (every test runs on SQLite and PostgreSQL).

#[macro_use]
mod macros;
mod util;

mod ledger;

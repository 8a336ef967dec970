//! PostgreSQL in tests: the URL (`VOUCH_TEST_DATABASE_URL`), unique schema names, a
//! guard that drops its schema, and `on_both!`.

use std::process::Command;

/// SQLite or PostgreSQL, for fixtures that run on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The embedded SQLite database.
    Sqlite,
    /// PostgreSQL at [`pg_url`].
    Postgres,
}

/// The PostgreSQL URL for tests; `None` means skip, except under CI where it must exist.
pub fn pg_url() -> Option<String> {
    match std::env::var("VOUCH_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if crate::ci() => panic!(
            "CI=true but VOUCH_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI"
        ),
        _ => None,
    }
}

/// `prefix_<pid>_<n>_<nanos>`: unique across the test processes running at once (a
/// valid unquoted SQL identifier when `prefix` is one).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}_{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// Drop a schema with psql (keeps the tests free of a PostgreSQL client).
pub fn drop_schema(url: &str, schema: &str) {
    let _ = Command::new("psql")
        .arg(url)
        .args(["-X", "-qc"])
        .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .output();
}

/// A uniquely named schema on the test database, dropped (with everything in it) when
/// the guard goes. [`PgSchema::new`] only names it, for tests where vouch itself must
/// create it; [`PgSchema::create`] creates it too.
pub struct PgSchema {
    /// The test database's URL.
    pub url: String,
    /// The schema's name (unique per guard).
    pub name: String,
}

impl PgSchema {
    /// A fresh name on `url` (not created).
    pub fn new(url: &str, prefix: &str) -> PgSchema {
        PgSchema {
            url: url.to_string(),
            name: unique_name(prefix),
        }
    }

    /// A fresh schema on `url`, created with psql.
    pub fn create(url: &str, prefix: &str) -> PgSchema {
        let s = PgSchema::new(url, prefix);
        let o = Command::new("psql")
            .arg(url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE SCHEMA {}", s.name))
            .output()
            .expect("psql");
        assert!(
            o.status.success(),
            "CREATE SCHEMA {}: {}",
            s.name,
            crate::text(&o)
        );
        s
    }

    /// The test URL with `options=-c search_path=<schema>` added (a DSN that selects it).
    pub fn dsn(&self) -> String {
        let sep = if self.url.contains('?') { "&" } else { "?" };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        drop_schema(&self.url, &self.name);
    }
}

/// Generate a module `$name` with `#[test] fn sqlite()` and `#[test] fn ext_postgres()`
/// running the same body (`ext_`: it needs a PostgreSQL server, see the test binaries'
/// naming convention).
///
/// - `on_both!(name, |kind| { ... })`: the body gets the [`Kind`]; the PostgreSQL test
///   is skipped when `VOUCH_TEST_DATABASE_URL` is not set (outside CI).
/// - `on_both!(name, |fx: common::Fx = common::Fx::new| { ... })`: the body gets
///   `Fx::new(kind)` (an `Option<Fx>`; `None` skips).
#[macro_export]
macro_rules! on_both {
    ($name:ident, |$kind:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($kind: $crate::Kind) $body
            #[test]
            fn sqlite() {
                body($crate::Kind::Sqlite)
            }
            #[test]
            fn ext_postgres() {
                if $crate::pg_url().is_some() {
                    body($crate::Kind::Postgres)
                } else {
                    eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
                }
            }
        }
    };
    ($name:ident, |$fx:ident : $ty:ty = $new:path| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($fx: $ty) $body
            #[test]
            fn sqlite() {
                body(($new)($crate::Kind::Sqlite).expect("an SQLite fixture"))
            }
            #[test]
            fn ext_postgres() {
                if let Some(fx) = ($new)($crate::Kind::Postgres) {
                    body(fx)
                }
            }
        }
    };
}

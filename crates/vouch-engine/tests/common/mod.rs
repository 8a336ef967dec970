//! Test fixtures: a fresh data directory whose ledger lives in SQLite or in its own
//! PostgreSQL schema, plus raw SQL access for tampering.
#![allow(dead_code)]

use vouch_core::event::Event;
use vouch_engine::ledger::{VerifyOptions, VerifyReport};
use vouch_engine::{Config, Keys, Ledger};
use vouch_store::Store;

pub use vouch_test_support::{pg_url, Kind, PgSchema};

pub struct Fx {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub keys: Keys,
    pub store: Store,
    pub ledger: Ledger,
    /// The fixture's PostgreSQL schema, dropped last (after the ledger's connections).
    pub schema: Option<PgSchema>,
}

impl Fx {
    /// A fresh ledger, or `None` when Postgres is not configured outside CI.
    pub fn new(kind: Kind) -> Option<Fx> {
        let dir = tempfile::tempdir().unwrap();
        let init = vouch_engine::init::init(
            dir.path(),
            Some("Test Org"),
            Some("test.example/vouch/audit"),
        )
        .unwrap();
        let mut config = init.config;
        let mut schema = None;
        if kind == Kind::Postgres {
            let url = match pg_url() {
                Some(u) => u,
                None => {
                    eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
                    return None;
                }
            };
            let s = PgSchema::new(&url, "vouch_test");
            config.settings.database.url = url;
            config.settings.database.schema = s.name.clone();
            schema = Some(s);
        }
        let (store, keys, ledger) = vouch_engine::open(&config)
            .unwrap_or_else(|e| panic!("cannot open the {kind:?} store: {e}"));
        Some(Fx {
            kind,
            dir,
            config,
            keys,
            store,
            ledger,
            schema,
        })
    }

    /// A second, independent ledger handle on the same database (another "process").
    pub fn reopen(&self) -> Ledger {
        vouch_engine::open(&self.config).unwrap().2
    }

    /// Run raw SQL against the fixture's database, as an attacker with DB access would.
    pub fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let c = rusqlite::Connection::open(self.config.database_url()).unwrap();
                c.execute_batch(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Kind::Postgres => {
                let mut c = self.pg();
                c.batch_execute(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Run SQL with one blob parameter ($1 / ?1).
    pub fn exec_blob(&self, sql: &str, blob: &[u8]) {
        match self.kind {
            Kind::Sqlite => {
                let c = rusqlite::Connection::open(self.config.database_url()).unwrap();
                c.execute(&sql.replace("$1", "?1"), [blob]).unwrap();
            }
            Kind::Postgres => {
                self.pg().execute(sql, &[&blob]).unwrap();
            }
        }
    }

    pub fn query_text(&self, sql: &str) -> String {
        match self.kind {
            Kind::Sqlite => rusqlite::Connection::open(self.config.database_url())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Kind::Postgres => self.pg().query_one(sql, &[]).unwrap().get(0),
        }
    }

    fn pg(&self) -> postgres::Client {
        let s = &self.schema.as_ref().unwrap().name;
        let mut cfg: postgres::Config = self.config.settings.database.url.parse().unwrap();
        cfg.options(&format!("-c search_path={s}"));
        cfg.connect(postgres::NoTls).unwrap()
    }

    pub fn append_n(&self, n: usize) -> Vec<u64> {
        let mut gen = vouch_engine::demo::Generator::new(7, 12);
        let events = gen.span(
            vouch_engine::demo::day(2026, 9, 1),
            vouch_engine::demo::day(2026, 10, 1),
            n,
        );
        let mut seqs = Vec::new();
        for batch in vouch_engine::demo::chunked(events, 97) {
            seqs.extend(self.ledger.append(batch).unwrap().seqs);
        }
        seqs
    }

    pub fn verify(&self) -> VerifyReport {
        self.ledger.verify(&VerifyOptions::default()).unwrap()
    }
}

pub fn event(json: serde_json::Value) -> Event {
    Event::from_value(json).unwrap()
}

/// `on_both!(name, |fx| { ... })`: a module `name` whose `sqlite` and `ext_postgres`
/// tests run the body with a fresh [`Fx`] on each database (the shared macro of
/// `vouch-test-support`, with this crate's fixture).
macro_rules! on_both {
    ($name:ident, |$fx:ident| $body:block) => {
        vouch_test_support::on_both!($name, |$fx: $crate::common::Fx = $crate::common::Fx::new| $body);
    };
}

impl Fx {
    /// Reload the configuration with extra sources/evidence (TOML) in an included file,
    /// keeping this fixture's database.
    pub fn with_catalog(&mut self, extra: &str) {
        let dir = self.dir.path();
        std::fs::write(dir.join("evidence.toml"), extra).unwrap();
        let main = dir.join("vouch.toml");
        let text = std::fs::read_to_string(&main).unwrap();
        if !text.starts_with("include") {
            std::fs::write(&main, format!("include = [\"evidence.toml\"]\n{text}")).unwrap();
        }
        let db = self.config.settings.database.clone();
        self.config = Config::load(dir).unwrap_or_else(|e| panic!("{e}"));
        self.config.settings.database = db;
    }

    pub fn collector(&self) -> vouch_engine::evidence::Collector<'_> {
        vouch_engine::evidence::Collector::new(&self.config, self.store.clone(), &self.ledger)
    }

    /// Every leaf in the ledger, as text.
    pub fn all_leaves(&self) -> String {
        let size = self.store.head().unwrap().size;
        (0..size)
            .map(|s| self.store.leaf(s).unwrap().unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The PostgreSQL test URL with a password planted in it (trust auth ignores it).
pub fn pg_url_with_password(password: &str) -> Option<String> {
    pg_url().map(|u| {
        let planted = u.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{password}@"),
            1,
        );
        // Else "the password appears nowhere" would hold without a password to find.
        assert_ne!(
            planted, u,
            "VOUCH_TEST_DATABASE_URL must start with postgres://postgres@ for the secret tests"
        );
        planted
    })
}

/// Validate a packet against schemas/soc2-packet-v2.schema.json with Python's jsonschema;
/// `None` when Python or jsonschema is missing outside CI.
pub fn schema_check(packet: &std::path::Path) -> Option<String> {
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/soc2-packet-v2.schema.json");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import json, jsonschema; jsonschema.validate(json.load(open({p:?})), json.load(open({s:?}))); print('valid')",
            p = packet.display().to_string(),
            s = schema.display().to_string()
        ))
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o)
            if std::env::var("CI").as_deref() == Ok("true")
                || !String::from_utf8_lossy(&o.stderr).contains("No module named") =>
        {
            panic!(
                "packet does not validate: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        }
        _ => None,
    }
}

impl Fx {
    /// `sqlite` or `postgres`, as the database record names the backend.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

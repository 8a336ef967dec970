//! The ledger's test fixture: a data directory (vouch.toml from the init template, fresh
//! keys) whose ledger lives in SQLite or in its own PostgreSQL schema, raw SQL access
//! for tampering, and a deterministic event generator. It needs only the crates below
//! the ledger (no packets, no typst), so the ledger's tests build on their own.

use serde_json::json;
use vouch_config::Config;
use vouch_core::event::Event;
use vouch_ledger::{keys, Keys, Ledger, LedgerOptions, VerifyOptions, VerifyReport};
use vouch_store::Store;

pub use vouch_test_support::{pg_url, Kind, PgSchema};

/// A fresh ledger in a temporary data directory.
pub struct Fx {
    pub kind: Kind,
    /// Holds the data directory (keys, vouch.toml, the SQLite file) until the drop.
    _dir: tempfile::TempDir,
    pub config: Config,
    pub keys: Keys,
    pub store: Store,
    pub ledger: Ledger,
    /// The fixture's PostgreSQL schema, dropped last (after the ledger's connections).
    pub schema: Option<PgSchema>,
}

impl Fx {
    /// A fresh ledger, or `None` when PostgreSQL is not configured outside CI.
    pub fn new(kind: Kind) -> Option<Fx> {
        let dir = tempfile::tempdir().unwrap();
        let text = vouch_config::template("Test Org", "test.example/vouch/audit");
        std::fs::write(dir.path().join(vouch_config::CONFIG_FILE), text).unwrap();
        let mut config = Config::load(dir.path()).unwrap();
        keys::generate_missing(&config).unwrap();
        let mut schema = None;
        if kind == Kind::Postgres {
            let Some(url) = pg_url() else {
                eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
                return None;
            };
            let s = PgSchema::new(&url, "vouch_ledger_test");
            config.settings.database.url = url;
            config.settings.database.schema = s.name.clone();
            schema = Some(s);
        }
        let keys = Keys::load(&config).unwrap();
        let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())
            .unwrap_or_else(|e| panic!("cannot open the {kind:?} store: {e}"));
        let ledger = Ledger::open(store.clone(), &keys, LedgerOptions::from_config(&config));
        Some(Fx {
            kind,
            _dir: dir,
            config,
            keys,
            store,
            ledger,
            schema,
        })
    }

    /// A second, independent ledger handle on the same database (another "process").
    pub fn reopen(&self) -> Ledger {
        let store = vouch_store::open(
            &self.config.database_url(),
            self.config.database_schema().as_deref(),
        )
        .unwrap();
        Ledger::open(store, &self.keys, LedgerOptions::from_config(&self.config))
    }

    /// Run raw SQL against the fixture's database, as an attacker with DB access would.
    pub fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => rusqlite::Connection::open(self.config.database_url())
                .unwrap()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Kind::Postgres => self
                .pg()
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
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

    /// The first column of the first row of a query, as text.
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

    /// Append `n` generated events in batches of 97; their seqs.
    pub fn append_n(&self, n: usize) -> Vec<u64> {
        let mut seqs = Vec::new();
        for batch in events(7, n).chunks(97) {
            seqs.extend(self.ledger.append(batch.to_vec()).unwrap().seqs);
        }
        seqs
    }

    /// Verify the whole ledger.
    pub fn verify(&self) -> VerifyReport {
        self.ledger.verify(&VerifyOptions::default()).unwrap()
    }
}

/// An event from JSON (normalised and validated as the API would).
pub fn event(json: serde_json::Value) -> Event {
    Event::from_value(json).unwrap()
}

/// `n` distinct, valid events in September 2026 (deterministic for a `seed`): logins,
/// role changes and reads by a handful of actors, mostly successful. Every event with
/// an index divisible by 7 fails, so tampering tests find both results in the log.
pub fn events(seed: u64, n: usize) -> Vec<Event> {
    const ACTIONS: [(&str, &str); 4] = [
        ("login", "authentication"),
        ("role.assign", "authorization"),
        ("record.read", "data_access"),
        ("config.change", "system"),
    ];
    (0..n)
        .map(|i| {
            let (action, category) = ACTIONS[i % ACTIONS.len()];
            let secs = (i as u64 * 2_591_999 / n.max(1) as u64) % 2_592_000;
            let t = chrono::DateTime::from_timestamp(1_788_220_800 + secs as i64, 0).unwrap();
            event(json!({
                "id": format!("01900000-0000-7000-8000-{:04x}{:08x}", seed, i),
                "timestamp": vouch_core::event::format_timestamp(&t),
                "action": action,
                "category": category,
                "result": if i % 7 == 3 { "failure" } else { "success" },
                "actor": {"id": format!("usr_{:02}", (i * 31 + seed as usize) % 12)},
                "resource": {"type": "system", "id": format!("res-{}", i % 50)},
            }))
        })
        .collect()
}

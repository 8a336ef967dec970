//! Storage for vouch: SQLite (the embedded default) and PostgreSQL (for scale), one
//! schema with a migration set for each, behind the [`Backend`] trait. Everything here
//! is synchronous; the sequencer owns a thread and the HTTP layer calls through it.

pub mod blobs;
pub mod pg_tls;
mod pool;
pub mod postgres_backend;
pub mod sql;
pub mod sqlite_backend;

pub use sql::{Row, Sql, Value};

use std::fmt;
use std::sync::Arc;
use vouch_core::merkle::Node;
use vouch_core::Hash;

/// A storage error. Messages never carry connection strings or passwords.
#[derive(Debug)]
pub enum StoreError {
    /// An SQLite error.
    Sqlite(rusqlite::Error),
    /// A PostgreSQL error, as text: the server's message and SQLSTATE, or the connection error chain.
    Postgres(String),
    /// Stored data that cannot be what vouch wrote (wrong length, bad state).
    Corrupt(String),
    /// A bad storage setting (a missing directory, a bad URL or schema name).
    Config(String),
    /// A caller's callback asked to stop with an error of its own.
    Aborted(String),
    /// An insert hit the unique index on event ids.
    DuplicateId,
    /// A PostgreSQL serialisation failure or deadlock (SQLSTATE 40001 / 40P01): the
    /// transaction can be retried. Write transactions are retried (and the message
    /// then says how often they were tried); reads are not.
    Serialization(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "SQLite: {e}"),
            StoreError::Postgres(e) => write!(f, "PostgreSQL: {e}"),
            StoreError::Corrupt(m) => write!(f, "stored data is inconsistent: {m}"),
            StoreError::Config(m) => write!(f, "{m}"),
            StoreError::Aborted(m) => write!(f, "{m}"),
            StoreError::DuplicateId => write!(f, "an event id already exists"),
            // Whether and how often it was retried is in `m` (see postgres_backend).
            StoreError::Serialization(m) => write!(f, "PostgreSQL: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e {
            if f.code == rusqlite::ErrorCode::ConstraintViolation
                && msg.contains("ledger_entries.id")
            {
                return StoreError::DuplicateId;
            }
        }
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // postgres::Error's Display never includes the connection string; add the
        // server's detail when there is one.
        match e.as_db_error() {
            Some(db)
                if db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION
                    && db.constraint() == Some("ledger_entries_id") =>
            {
                StoreError::DuplicateId
            }
            Some(db)
                if db.code() == &postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || db.code() == &postgres::error::SqlState::T_R_DEADLOCK_DETECTED =>
            {
                StoreError::Serialization(format!("{} ({})", db.message(), db.code().code()))
            }
            Some(db) => StoreError::Postgres(format!("{} ({})", db.message(), db.code().code())),
            // Keep the cause (an I/O error, a TLS failure…): postgres::Error's own
            // message is only its kind.
            None => StoreError::Postgres(pg_tls::error_chain(&e)),
        }
    }
}

/// A result whose error defaults to [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The sequencer's persistent state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Number of entries in the ledger.
    pub size: u64,
    /// The Merkle frontier, as `Frontier::to_bytes`.
    pub frontier: Vec<u8>,
    /// The HMAC chain value after the last entry.
    pub chain: Hash,
}

/// One ledger row to insert.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// Sequence number (0-based position in the ledger).
    pub seq: u64,
    /// Copies of the leaf's `id` and `timestamp`, for lookups (verification checks them).
    pub id: String,
    /// Copy of the leaf's `timestamp`.
    pub ts: String,
    /// The leaf: canonical JSON of the event with its `seq`.
    pub leaf: Vec<u8>,
    /// RFC 6962 hash of the leaf.
    pub leaf_hash: Hash,
    /// The HMAC chain value after this entry.
    pub chain: Hash,
    /// The leaf's audit-log index fields (`audit_index`), written with the leaf.
    pub index: IndexFields,
}

/// The fields of an event the audit-log query filters on: one `audit_index` row (with
/// the entry's seq and `ts`). Absent optional fields are `None` (SQL NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFields {
    /// `organization_id`.
    pub organization_id: Option<String>,
    /// `actor.id`.
    pub actor_id: Option<String>,
    /// `action`.
    pub action: String,
    /// `resource.type`.
    pub resource_type: Option<String>,
    /// `category`.
    pub category: String,
    /// `result`.
    pub result: String,
}

/// Events of one day, category and result (`audit_daily`, maintained by every append).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DailyCount {
    /// The day (`YYYY-MM-DD`, UTC: the first ten characters of the event timestamp).
    pub day: String,
    /// The event category.
    pub category: String,
    /// The event result.
    pub result: String,
    /// How many events.
    pub count: u64,
}

/// The key of an `audit_combo` row (migration 0027): the five low-cardinality fields
/// of an index row (organization, action, resource type, category, result), each as
/// its length in characters, `:` and the text, or `-` when absent, joined by `|`. The
/// migration's backfill computes the same text in SQL (`length(x) || ':' || x`).
pub fn combo_key(x: &IndexFields) -> String {
    let part = |v: Option<&str>| match v {
        Some(t) => format!("{}:{t}", t.chars().count()),
        None => "-".to_string(),
    };
    [
        part(x.organization_id.as_deref()),
        part(Some(&x.action)),
        part(x.resource_type.as_deref()),
        part(Some(&x.category)),
        part(Some(&x.result)),
    ]
    .join("|")
}

/// The combinations of `rows` (see [`combo_key`]), each key computed once per row:
/// every distinct combination in key order (the key, the fields of its first row, how
/// many rows), and for each row the position of its combination in that list.
pub(crate) struct ComboGroups<'a> {
    pub groups: Vec<(String, &'a IndexFields, i64)>,
    pub of_row: Vec<usize>,
}

pub(crate) fn combo_groups(rows: &[EntryRow]) -> ComboGroups<'_> {
    let keys: Vec<String> = rows.iter().map(|r| combo_key(&r.index)).collect();
    let mut m: std::collections::BTreeMap<&str, (&IndexFields, i64)> = Default::default();
    for (k, r) in keys.iter().zip(rows) {
        m.entry(k.as_str()).or_insert((&r.index, 0)).1 += 1;
    }
    let position: std::collections::HashMap<&str, usize> =
        m.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let of_row = keys.iter().map(|k| position[k.as_str()]).collect();
    let groups = m
        .into_iter()
        .map(|(k, (x, n))| (k.to_string(), x, n))
        .collect();
    ComboGroups { groups, of_row }
}

/// An actor's combinations in `rows` (migration 0028): per (actor, position of the
/// combination in `groups.groups`), in key order, how many rows; rows without an actor
/// are not counted.
pub(crate) fn actor_combo_groups<'a>(
    rows: &'a [EntryRow],
    groups: &ComboGroups<'_>,
) -> Vec<((&'a str, usize), i64)> {
    let mut m: std::collections::BTreeMap<(&str, usize), i64> = Default::default();
    for (r, g) in rows.iter().zip(&groups.of_row) {
        if let Some(a) = r.index.actor_id.as_deref() {
            *m.entry((a, *g)).or_insert(0) += 1;
        }
    }
    m.into_iter().collect()
}

/// A daily counter's key: (day, category, result).
pub(crate) type DayKey<'a> = (&'a str, &'a str, &'a str);

/// Per (day, category, result) of `rows`, in key order: how many, first and last seq.
pub(crate) fn daily_groups(rows: &[EntryRow]) -> Vec<(DayKey<'_>, [i64; 3])> {
    let mut m: std::collections::BTreeMap<DayKey<'_>, [i64; 3]> = Default::default();
    for r in rows {
        let day = r.ts.get(..10).unwrap_or(&r.ts);
        let seq = r.seq as i64;
        let g = m
            .entry((day, r.index.category.as_str(), r.index.result.as_str()))
            .or_insert([0, seq, seq]);
        g[0] += 1;
        g[1] = g[1].min(seq);
        g[2] = g[2].max(seq);
    }
    m.into_iter().collect()
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Tree size the checkpoint commits to.
    pub size: u64,
    /// Root hash of the tree of that size.
    pub root: Vec<u8>,
    /// The signed checkpoint note.
    pub note: String,
    /// When the checkpoint was made (RFC 3339, UTC).
    pub created_at: String,
}

/// A generated evidence packet, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRow {
    /// The period as written (`2026-Q3`).
    pub period_label: String,
    /// Start of the period (RFC 3339, UTC).
    pub period_start: String,
    /// End of the period, exclusive (RFC 3339, UTC).
    pub period_end: String,
    /// When the packet was generated.
    pub generated_at: String,
    /// Size of the checkpoint the packet is anchored to.
    pub checkpoint_size: u64,
    /// Hex SHA-256 of the packet's JSON.
    pub json_sha256: String,
    /// Hex SHA-256 of the PDF, when one was rendered.
    pub pdf_sha256: Option<String>,
    /// Id of the packet signing key (hex SHA-256 of its SPKI DER).
    pub signing_key_id: String,
}

/// An entry found by id: its seq and leaf.
#[derive(Debug, Clone)]
pub struct FoundEntry {
    /// The event id.
    pub id: String,
    /// Its sequence number.
    pub seq: u64,
    /// Its leaf text.
    pub leaf: String,
}

/// Operations inside one write transaction that holds the ledger lock.
pub trait LedgerTx {
    /// The head, read under the lock.
    fn head(&mut self) -> Result<Head>;
    /// Entries with any of these ids.
    fn find_ids(&mut self, ids: &[&str]) -> Result<Vec<FoundEntry>>;
    /// Insert ledger rows.
    fn insert_entries(&mut self, rows: &[EntryRow]) -> Result<()>;
    /// Insert completed Merkle subtree hashes.
    fn insert_nodes(&mut self, nodes: &[Node]) -> Result<()>;
    /// Replace the head.
    fn put_head(&mut self, head: &Head) -> Result<()>;
}

/// A row as the verifier reads it.
pub struct EntryRef<'a> {
    /// Sequence number.
    pub seq: i64,
    /// Event id, as stored.
    pub id: &'a [u8],
    /// Timestamp text, as stored.
    pub ts: &'a [u8],
    /// Leaf bytes.
    pub leaf: &'a [u8],
    /// Stored leaf hash.
    pub leaf_hash: &'a [u8],
    /// Stored chain value.
    pub chain: &'a [u8],
    /// The entry's `audit_index` row, when read with [`Backend::scan_entries_indexed`]
    /// (`None` there means there is no row).
    pub index: Option<IndexRef<'a>>,
}

/// An `audit_index` row as stored (text bytes; `None` is SQL NULL).
#[derive(Debug, Clone, Copy)]
pub struct IndexRef<'a> {
    /// organization_id, actor_id, action, resource_type, category, result, ts.
    pub fields: [Option<&'a [u8]>; 7],
}

/// What vouch needs of a database.
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// Where the data is, with any password removed.
    fn describe(&self) -> String;

    /// Run `f` in one transaction holding the ledger lock; commit when it returns Ok.
    fn ledger_write(&self, f: &mut dyn FnMut(&mut dyn LedgerTx) -> Result<()>) -> Result<()>;
    /// The current head (outside the ledger lock).
    fn head(&self) -> Result<Head>;
    /// Leaf text of one entry.
    fn leaf(&self, seq: u64) -> Result<Option<String>>;
    /// Stream entries with `seq >= from` in seq order; stop when `f` returns false.
    fn scan_entries(
        &self,
        from: u64,
        f: &mut dyn FnMut(EntryRef<'_>) -> Result<bool>,
    ) -> Result<()>;
    /// [`Backend::scan_entries`] with each entry's `audit_index` row (for verification).
    fn scan_entries_indexed(
        &self,
        from: u64,
        f: &mut dyn FnMut(EntryRef<'_>) -> Result<bool>,
    ) -> Result<()>;
    /// Events per day, category and result for the days `from_day..=to_day`
    /// (`YYYY-MM-DD`, both included), ordered by day, category, result. Read from the
    /// counters every append maintains; no leaf is read.
    fn daily_counts(&self, from_day: &str, to_day: &str) -> Result<Vec<DailyCount>>;
    /// Stream `(seq, leaf)` of entries whose timestamp text is in `[start, end)`, in seq order.
    fn scan_period(
        &self,
        start: &str,
        end: &str,
        f: &mut dyn FnMut(u64, &str) -> Result<bool>,
    ) -> Result<()>;
    /// Leaf hashes of `[start, end)`.
    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>>;
    /// Stored node hashes at `level` for indexes `[start, end)`.
    fn nodes(&self, level: u32, start: u64, end: u64) -> Result<Vec<Hash>>;
    /// Stream all stored nodes as (level, index, hash), ordered by level then index.
    #[allow(clippy::type_complexity)] // the callback's signature is clearest spelled out
    fn scan_nodes(&self, f: &mut dyn FnMut(u32, u64, &[u8]) -> Result<bool>) -> Result<()>;

    /// Record a checkpoint.
    fn insert_checkpoint(&self, row: &CheckpointRow) -> Result<()>;
    /// The checkpoint of the greatest size, if any.
    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>>;
    /// The checkpoint of exactly this size, if any.
    fn checkpoint_at(&self, size: u64) -> Result<Option<CheckpointRow>>;
    /// Stream checkpoints in ascending size.
    fn scan_checkpoints(&self, f: &mut dyn FnMut(CheckpointRow) -> Result<bool>) -> Result<()>;

    /// `1 + max(seq)` over entries whose timestamp text is before `ts` (0 if none).
    fn size_covering_before(&self, ts: &str) -> Result<u64>;
    /// Record a generated packet.
    fn insert_packet(&self, row: &PacketRow) -> Result<()>;
    /// The latest recorded packet whose period ends at or before `end`, excluding
    /// packets of exactly the period `[start, end)`.
    fn previous_packet(&self, start: &str, end: &str) -> Result<Option<PacketRow>>;

    /// Run a read query of the record tables (see [`sql`]).
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Run `f` in one write transaction over the record tables; commit when it returns Ok.
    fn write(&self, f: &mut dyn FnMut(&mut dyn Sql) -> Result<()>) -> Result<()>;
    /// Run `f`'s read queries on one connection: on PostgreSQL one read-only transaction
    /// (each query one round trip, no prepared statement kept) whose planner settings
    /// are `pg_settings` (`SET LOCAL name = value`, this transaction only: how a query
    /// names the plan it needs); on SQLite a reader connection (`pg_settings` ignored).
    /// Names and values are the caller's constants, never request text.
    fn read(
        &self,
        pg_settings: &[(&str, &str)],
        f: &mut dyn FnMut(&mut dyn Sql) -> Result<()>,
    ) -> Result<()>;
}

/// A shared handle to whichever backend is open.
pub type Store = Arc<dyn Backend>;

/// How many PostgreSQL write transactions this process has retried after a
/// serialisation failure or deadlock (SQLSTATE 40001 / 40P01).
pub fn serialization_retries() -> u64 {
    postgres_backend::RETRIES.load(std::sync::atomic::Ordering::Relaxed)
}

/// Open the store a database URL names: a `postgres://` or `postgresql://` URL, a
/// `sqlite://` URL, or a plain file path (SQLite). Migrations are applied.
pub fn open(url: &str, schema: Option<&str>) -> Result<Store> {
    if is_postgres(url) {
        Ok(Arc::new(postgres_backend::PgBackend::open(url, schema)?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Arc::new(sqlite_backend::SqliteBackend::open(
            std::path::Path::new(path),
        )?))
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// What a database URL names, as stable text for comparing two configurations:
/// `sqlite:/abs/path` or `postgres://host:port/dbname` plus the schema. No secrets,
/// no TLS or other options (the same database reached differently is the same).
pub fn identity(url: &str, schema: Option<&str>) -> String {
    if is_postgres(url) {
        if let Ok(d) = pg_tls::PgDsn::parse(url) {
            let hosts: Vec<String> = d
                .config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    postgres::config::Host::Tcp(s) => s.clone(),
                    postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            let ports: Vec<String> = d.config.get_ports().iter().map(|p| p.to_string()).collect();
            let port = if ports.is_empty() {
                "5432".to_string()
            } else {
                ports.join(",")
            };
            let db = d
                .config
                .get_dbname()
                .or(d.config.get_user())
                .unwrap_or("postgres");
            return format!(
                "postgres://{}:{port}/{db}{}",
                hosts.join(","),
                schema.map(|s| format!(" (schema {s})")).unwrap_or_default()
            );
        }
        return strip_secrets(url);
    }
    let path = std::path::Path::new(url.strip_prefix("sqlite://").unwrap_or(url));
    let abs = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        })
        .map(|d| d.join(name))
        .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    };
    format!("sqlite:{}", abs.display())
}

/// A URL with any password removed altogether (not masked): what may be written down
/// and used again to reach the same database without its secret.
pub fn strip_secrets(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let mut out = url[..scheme_end + 3].to_string();
        match rest[..auth_end].rfind('@') {
            Some(at) => {
                let user = rest[..at].split(':').next().unwrap_or("");
                out.push_str(user);
                out.push_str(&rest[at..]);
            }
            None => out.push_str(rest),
        }
        return match out.split_once('?') {
            Some((base, q)) => {
                let kept: Vec<&str> = q
                    .split('&')
                    .filter(|kv| {
                        let k = kv.split('=').next().unwrap_or("");
                        !k.eq_ignore_ascii_case("password")
                            && !k.eq_ignore_ascii_case("sslpassword")
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => out,
        };
    }
    redact_url(url)
}

/// How many entries the ledger at `url` holds, without creating or migrating
/// anything: `Ok(None)` when there is no ledger there (no SQLite file, no tables).
pub fn probe(url: &str, schema: Option<&str>) -> Result<Option<u64>> {
    if is_postgres(url) {
        let shown = redact_url(url);
        let dsn = pg_tls::PgDsn::parse(url)
            .map_err(|e| StoreError::Config(format!("invalid database URL {shown}: {e}")))?;
        let mut cfg = dsn.config.clone();
        cfg.connect_timeout(std::time::Duration::from_secs(5));
        let mut c = dsn.connect_with(&cfg).map_err(|e| {
            StoreError::Postgres(pg_tls::redact_in(
                &format!("cannot connect to {shown}: {}", dsn.explain(&e)),
                url,
            ))
        })?;
        let table = match schema {
            Some(s) => format!("{s}.ledger_head"),
            None => "ledger_head".to_string(),
        };
        // In a transaction, as every statement vouch runs: behind PgBouncer in
        // transaction mode, a statement's prepare and execute could otherwise reach
        // different server connections ("prepared statement does not exist").
        let mut tx = c.build_transaction().read_only(true).start()?;
        let exists: Option<String> = tx
            .query_one("SELECT to_regclass($1)::text", &[&table])?
            .get(0);
        let size = match exists {
            None => None,
            Some(_) => {
                let n: i64 = tx
                    .query_one(&format!("SELECT size FROM {table} WHERE id = 1"), &[])?
                    .get(0);
                Some(n as u64)
            }
        };
        tx.commit()?;
        return Ok(size);
    }
    let path = std::path::Path::new(url.strip_prefix("sqlite://").unwrap_or(url));
    if !path.exists() {
        return Ok(None);
    }
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let has: bool = c.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_head'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(None);
    }
    let size: i64 = c.query_row("SELECT size FROM ledger_head WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    Ok(Some(size as u64))
}

/// A URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // A libpq `key=value` string: hide `password=` values.
        return pg_tls::redact_in(url, url);
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let auth = &rest[..auth_end];
    let Some(at) = auth.rfind('@') else {
        return strip_query_secrets(url);
    };
    let userinfo = &auth[..at];
    let redacted = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    strip_query_secrets(&format!(
        "{}://{}{}",
        &url[..scheme_end],
        redacted,
        &rest[at..]
    ))
}

fn strip_query_secrets(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

pub(crate) fn hash_from(bytes: &[u8], what: &str) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_url("postgres://h/db?password=s3cret&x=1"),
            "postgres://h/db?password=***&x=1"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}

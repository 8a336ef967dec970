//! The embedded default: one SQLite file in WAL mode with `synchronous=FULL`, so a
//! committed append survives power loss.

use crate::pool::Pool;
use crate::{
    actor_combo_groups, combo_groups, daily_groups, hash_from, Backend, CheckpointRow, DailyCount,
    EntryRef, EntryRow, FoundEntry, Head, IndexRef, LedgerTx, PacketRow, Result, StoreError,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};
use vouch_core::merkle::Node;
use vouch_core::Hash;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_ledger.sql")),
    (2, include_str!("migrations/sqlite/0002_packets.sql")),
    (3, include_str!("migrations/sqlite/0003_evidence.sql")),
    (4, include_str!("migrations/sqlite/0004_checks.sql")),
    (5, include_str!("migrations/sqlite/0005_collections.sql")),
    (6, include_str!("migrations/sqlite/0006_auth.sql")),
    (7, include_str!("migrations/sqlite/0007_jobs.sql")),
    (8, include_str!("migrations/sqlite/0008_retention.sql")),
    (
        12,
        include_str!("migrations/sqlite/0012_auth_hardening.sql"),
    ),
    (14, include_str!("migrations/sqlite/0014_attestations.sql")),
    (
        15,
        include_str!("migrations/sqlite/0015_access_reviews.sql"),
    ),
    (16, include_str!("migrations/sqlite/0016_incidents.sql")),
    (17, include_str!("migrations/sqlite/0017_reports.sql")),
    (18, include_str!("migrations/sqlite/0018_audit_index.sql")),
    (19, include_str!("migrations/sqlite/0019_populations.sql")),
    (
        20,
        include_str!("migrations/sqlite/0020_witness_cosignatures.sql"),
    ),
    (
        22,
        include_str!("migrations/sqlite/0022_report_archives.sql"),
    ),
    (
        23,
        include_str!("migrations/sqlite/0023_audit_pair_index.sql"),
    ),
    (
        25,
        include_str!("migrations/sqlite/0025_signer_pins_timestamps.sql"),
    ),
    (
        26,
        include_str!("migrations/sqlite/0026_sessions_and_commitment_locks.sql"),
    ),
    (27, include_str!("migrations/sqlite/0027_audit_combo.sql")),
    (
        28,
        include_str!("migrations/sqlite/0028_audit_actor_combo.sql"),
    ),
];

/// The SQLite backend: WAL mode, pooled readers, one writer, a checkpoint thread.
pub struct SqliteBackend {
    path: PathBuf,
    readers: Pool<Connection>,
    writer: Pool<Connection>,
    checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        self.checkpointer.take(); // stops the checkpoint thread
    }
}

/// WAL pages (4 KiB) after which the writer checkpoints itself; the background thread
/// normally keeps the WAL well below this, so appends rarely pay for a checkpoint.
const WRITER_AUTOCHECKPOINT: i64 = 16_384;

impl SqliteBackend {
    /// Open (creating if needed) the database at `path` and apply migrations;
    /// its directory must exist.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                return Err(StoreError::Config(format!(
                    "database directory {} does not exist",
                    dir.display()
                )));
            }
        }
        let mut backend = SqliteBackend {
            path: path.to_path_buf(),
            readers: Pool::new(8),
            writer: Pool::new(1),
            checkpointer: None,
        };
        let mut conn = backend.connect()?;
        migrate(&mut conn)?;
        backend.checkpointer = Some(spawn_checkpointer(conn));
        Ok(backend)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.get(|| self.connect())?;
        f(&conn)
    }
}

/// Copy the WAL back into the database from a thread of its own, every 200 ms, so the
/// sequencer's commits do not stall on checkpoints. PASSIVE never blocks writers.
fn spawn_checkpointer(conn: Connection) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("vouch-sqlite-checkpoint".into())
        .spawn(move || {
            // Until the backend is dropped (the sender disconnects), checkpoint every 200 ms.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_millis(200))
            {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        });
    tx
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_none() {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, datetime('now'))",
                [version],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

struct SqliteTx<'a> {
    tx: Transaction<'a>,
}

impl LedgerTx for SqliteTx<'_> {
    fn head(&mut self) -> Result<Head> {
        read_head(&self.tx)
    }

    fn find_ids(&mut self, ids: &[&str]) -> Result<Vec<FoundEntry>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT id, seq, leaf FROM ledger_entries WHERE id IN ({marks})");
            let mut stmt = self.tx.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                Ok(FoundEntry {
                    id: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    leaf: r.get(2)?,
                })
            })?;
            for r in rows {
                out.push(r?);
            }
        }
        Ok(out)
    }

    fn insert_entries(&mut self, rows: &[EntryRow]) -> Result<()> {
        // Multi-row statements: one statement step per 64 rows instead of per row.
        const PER: usize = 64;
        let many = multi_insert_sql(PER);
        for chunk in rows.chunks(PER) {
            let sql = if chunk.len() == PER {
                many.clone()
            } else {
                multi_insert_sql(chunk.len())
            };
            let mut stmt = self.tx.prepare_cached(&sql)?;
            let mut i = 1;
            for r in chunk {
                // Leaves are canonical JSON produced by vouch-core: always UTF-8.
                let leaf = std::str::from_utf8(&r.leaf)
                    .map_err(|_| StoreError::Corrupt("leaf is not UTF-8".into()))?;
                stmt.raw_bind_parameter(i, r.seq as i64)?;
                stmt.raw_bind_parameter(i + 1, &r.id)?;
                stmt.raw_bind_parameter(i + 2, &r.ts)?;
                stmt.raw_bind_parameter(i + 3, leaf)?;
                stmt.raw_bind_parameter(i + 4, &r.leaf_hash[..])?;
                stmt.raw_bind_parameter(i + 5, &r.chain[..])?;
                i += 6;
            }
            stmt.raw_execute()?;
        }
        // The audit-log index rows, their combinations and the daily counters, in the
        // same transaction. Combinations first: each row names its combination's id.
        let combos = combo_groups(rows);
        let mut combo_ids: Vec<i64> = Vec::with_capacity(combos.groups.len());
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO audit_combo (key, organization_id, action, resource_type, category, result, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (key) DO UPDATE SET count = audit_combo.count + excluded.count RETURNING id",
            )?;
            for (key, x, n) in &combos.groups {
                let id: i64 = stmt.query_row(
                    params![
                        key,
                        x.organization_id.as_deref(),
                        &x.action,
                        x.resource_type.as_deref(),
                        &x.category,
                        &x.result,
                        n
                    ],
                    |r| r.get(0),
                )?;
                combo_ids.push(id);
            }
        }
        // Each actor's count per combination (migration 0028).
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO audit_actor_combo (actor_id, combo, count) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (actor_id, combo) DO UPDATE SET count = audit_actor_combo.count + excluded.count",
            )?;
            for ((actor, g), n) in actor_combo_groups(rows, &combos) {
                stmt.execute(params![actor, combo_ids[g], n])?;
            }
        }
        let many = multi_index_sql(PER);
        for (c, chunk) in rows.chunks(PER).enumerate() {
            let sql = if chunk.len() == PER {
                many.clone()
            } else {
                multi_index_sql(chunk.len())
            };
            let mut stmt = self.tx.prepare_cached(&sql)?;
            let mut i = 1;
            for (k, r) in chunk.iter().enumerate() {
                let x = &r.index;
                stmt.raw_bind_parameter(i, r.seq as i64)?;
                stmt.raw_bind_parameter(i + 1, x.organization_id.as_deref())?;
                stmt.raw_bind_parameter(i + 2, x.actor_id.as_deref())?;
                stmt.raw_bind_parameter(i + 3, &x.action)?;
                stmt.raw_bind_parameter(i + 4, x.resource_type.as_deref())?;
                stmt.raw_bind_parameter(i + 5, &x.category)?;
                stmt.raw_bind_parameter(i + 6, &x.result)?;
                stmt.raw_bind_parameter(i + 7, &r.ts)?;
                stmt.raw_bind_parameter(i + 8, combo_ids[combos.of_row[c * PER + k]])?;
                i += 9;
            }
            stmt.raw_execute()?;
        }
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO audit_daily (day, category, result, count, first_seq, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (day, category, result) DO UPDATE SET count = audit_daily.count + excluded.count, \
             first_seq = min(audit_daily.first_seq, excluded.first_seq), last_seq = max(audit_daily.last_seq, excluded.last_seq)",
        )?;
        for ((day, category, result), [n, first, last]) in daily_groups(rows) {
            stmt.execute(params![day, category, result, n, first, last])?;
        }
        Ok(())
    }

    fn insert_nodes(&mut self, nodes: &[Node]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
        for n in nodes {
            stmt.execute(params![n.level, n.index as i64, &n.hash[..]])?;
        }
        Ok(())
    }

    fn put_head(&mut self, head: &Head) -> Result<()> {
        self.tx.execute(
            "UPDATE ledger_head SET size = ?1, frontier = ?2, chain = ?3 WHERE id = 1",
            params![head.size as i64, &head.frontier, &head.chain[..]],
        )?;
        Ok(())
    }
}

fn multi_insert_sql(rows: usize) -> String {
    let values = vec!["(?,?,?,?,?,?)"; rows].join(",");
    format!("INSERT INTO ledger_entries (seq, id, ts, leaf, leaf_hash, chain) VALUES {values}")
}

fn multi_index_sql(rows: usize) -> String {
    let values = vec!["(?,?,?,?,?,?,?,?,?)"; rows].join(",");
    format!("INSERT INTO audit_index (seq, organization_id, actor_id, action, resource_type, category, result, ts, combo) VALUES {values}")
}

fn read_head(conn: &Connection) -> Result<Head> {
    let (size, frontier, chain): (i64, Vec<u8>, Vec<u8>) = conn.query_row(
        "SELECT size, frontier, chain FROM ledger_head WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Head {
        size: size as u64,
        frontier,
        chain: hash_from(&chain, "head chain")?,
    })
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow {
        size: r.get::<_, i64>(0)? as u64,
        root: r.get(1)?,
        note: r.get(2)?,
        created_at: r.get(3)?,
    })
}

impl Backend for SqliteBackend {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn ledger_write(&self, f: &mut dyn FnMut(&mut dyn LedgerTx) -> Result<()>) -> Result<()> {
        let mut conn = self.writer.get(|| {
            let c = self.connect()?;
            c.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
            Ok::<_, StoreError>(c)
        })?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut ltx = SqliteTx { tx };
        f(&mut ltx)?;
        ltx.tx.commit()?;
        Ok(())
    }

    fn head(&self) -> Result<Head> {
        self.read(read_head)
    }

    fn leaf(&self, seq: u64) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT leaf FROM ledger_entries WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn scan_entries(
        &self,
        from: u64,
        f: &mut dyn FnMut(EntryRef<'_>) -> Result<bool>,
    ) -> Result<()> {
        self.scan(from, false, f)
    }

    fn scan_entries_indexed(
        &self,
        from: u64,
        f: &mut dyn FnMut(EntryRef<'_>) -> Result<bool>,
    ) -> Result<()> {
        self.scan(from, true, f)
    }

    fn daily_counts(&self, from_day: &str, to_day: &str) -> Result<Vec<DailyCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT day, category, result, count FROM audit_daily WHERE day >= ?1 AND day <= ?2 ORDER BY day, category, result",
            )?;
            let rows = stmt.query_map([from_day, to_day], |r| {
                Ok(DailyCount {
                    day: r.get(0)?,
                    category: r.get(1)?,
                    result: r.get(2)?,
                    count: r.get::<_, i64>(3)? as u64,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn scan_period(
        &self,
        start: &str,
        end: &str,
        f: &mut dyn FnMut(u64, &str) -> Result<bool>,
    ) -> Result<()> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, leaf FROM ledger_entries WHERE ts >= ?1 AND ts < ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query([start, end])?;
            while let Some(r) = rows.next()? {
                let leaf = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                if !f(r.get::<_, i64>(0)? as u64, leaf)? {
                    break;
                }
            }
            Ok(())
        })
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT leaf_hash FROM ledger_entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query([start as i64, end as i64])?;
            let mut out = Vec::with_capacity((end - start) as usize);
            while let Some(r) = rows.next()? {
                out.push(hash_from(
                    r.get_ref(0)?.as_bytes().map_err(rusqlite::Error::from)?,
                    "leaf hash",
                )?);
            }
            Ok(out)
        })
    }

    fn nodes(&self, level: u32, start: u64, end: u64) -> Result<Vec<Hash>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT hash FROM ledger_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx")?;
            let mut rows = stmt.query(params![level, start as i64, end as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(hash_from(r.get_ref(0)?.as_bytes().map_err(rusqlite::Error::from)?, "node hash")?);
            }
            Ok(out)
        })
    }

    fn scan_nodes(&self, f: &mut dyn FnMut(u32, u64, &[u8]) -> Result<bool>) -> Result<()> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let h = r.get_ref(2)?.as_bytes().map_err(rusqlite::Error::from)?;
                if !f(r.get(0)?, r.get::<_, i64>(1)? as u64, h)? {
                    break;
                }
            }
            Ok(())
        })
    }

    fn insert_checkpoint(&self, row: &CheckpointRow) -> Result<()> {
        let conn = self.writer.get(|| self.connect())?;
        conn.execute(
            "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (size) DO NOTHING",
            params![row.size as i64, &row.root, &row.note, &row.created_at],
        )?;
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        self.read(|c| Ok(c.query_row("SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1", [], checkpoint_row).optional()?))
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<CheckpointRow>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = ?1",
                [size as i64],
                checkpoint_row,
            )
            .optional()?)
        })
    }

    fn scan_checkpoints(&self, f: &mut dyn FnMut(CheckpointRow) -> Result<bool>) -> Result<()> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                if !f(checkpoint_row(r)?)? {
                    break;
                }
            }
            Ok(())
        })
    }

    fn size_covering_before(&self, ts: &str) -> Result<u64> {
        self.read(|c| {
            let max: Option<i64> = c.query_row(
                "SELECT max(seq) FROM ledger_entries WHERE ts < ?1",
                [ts],
                |r| r.get(0),
            )?;
            Ok(max.map_or(0, |m| m as u64 + 1))
        })
    }

    fn insert_packet(&self, p: &PacketRow) -> Result<()> {
        let conn = self.writer.get(|| self.connect())?;
        conn.execute(
            "INSERT INTO packets (period_label, period_start, period_end, generated_at, checkpoint_size, json_sha256, pdf_sha256, signing_key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![p.period_label, p.period_start, p.period_end, p.generated_at, p.checkpoint_size as i64, p.json_sha256, p.pdf_sha256, p.signing_key_id],
        )?;
        Ok(())
    }

    fn previous_packet(&self, start: &str, end: &str) -> Result<Option<PacketRow>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT period_label, period_start, period_end, generated_at, checkpoint_size, json_sha256, pdf_sha256, signing_key_id FROM packets
                 WHERE period_end <= ?2 AND NOT (period_start = ?1 AND period_end = ?2) ORDER BY period_end DESC, id DESC LIMIT 1",
                [start, end],
                |r| {
                    Ok(PacketRow {
                        period_label: r.get(0)?,
                        period_start: r.get(1)?,
                        period_end: r.get(2)?,
                        generated_at: r.get(3)?,
                        checkpoint_size: r.get::<_, i64>(4)? as u64,
                        json_sha256: r.get(5)?,
                        pdf_sha256: r.get(6)?,
                        signing_key_id: r.get(7)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn query(&self, sql: &str, params: &[crate::sql::Value]) -> Result<Vec<crate::sql::Row>> {
        self.records_query(sql, params)
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<()>) -> Result<()> {
        self.records_write(f)
    }

    fn read(
        &self,
        _pg_settings: &[(&str, &str)],
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<()>,
    ) -> Result<()> {
        self.read(|c| f(&mut SqliteSql(c)))
    }
}

impl SqliteBackend {
    fn scan(
        &self,
        from: u64,
        indexed: bool,
        f: &mut dyn FnMut(EntryRef<'_>) -> Result<bool>,
    ) -> Result<()> {
        self.read(|c| {
            let sql = if indexed {
                "SELECT e.seq, e.id, e.ts, e.leaf, e.leaf_hash, e.chain, i.seq, i.organization_id, i.actor_id, i.action, i.resource_type, i.category, i.result, i.ts \
                 FROM ledger_entries e LEFT JOIN audit_index i ON i.seq = e.seq WHERE e.seq >= ?1 ORDER BY e.seq"
            } else {
                "SELECT seq, id, ts, leaf, leaf_hash, chain FROM ledger_entries WHERE seq >= ?1 ORDER BY seq"
            };
            let mut stmt = c.prepare(sql)?;
            let mut rows = stmt.query([from as i64])?;
            while let Some(r) = rows.next()? {
                let bytes = |i: usize| -> rusqlite::Result<&[u8]> { r.get_ref(i)?.as_bytes().map_err(rusqlite::Error::from) };
                let opt = |i: usize| -> rusqlite::Result<Option<&[u8]>> { r.get_ref(i)?.as_bytes_or_null().map_err(rusqlite::Error::from) };
                let index = if indexed && r.get_ref(6)?.data_type() != rusqlite::types::Type::Null {
                    Some(IndexRef { fields: [opt(7)?, opt(8)?, opt(9)?, opt(10)?, opt(11)?, opt(12)?, opt(13)?] })
                } else {
                    None
                };
                let e = EntryRef { seq: r.get(0)?, id: bytes(1)?, ts: bytes(2)?, leaf: bytes(3)?, leaf_hash: bytes(4)?, chain: bytes(5)?, index };
                if !f(e)? {
                    break;
                }
            }
            Ok(())
        })
    }
}

// ---- the portable record surface (see sql.rs) ----

fn to_sqlite(v: &crate::sql::Value) -> rusqlite::types::Value {
    use crate::sql::Value as V;
    match v {
        V::Null => rusqlite::types::Value::Null,
        V::Int(i) => rusqlite::types::Value::Integer(*i),
        V::Text(s) => rusqlite::types::Value::Text(s.clone()),
        V::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> crate::sql::Value {
    use crate::sql::Value as V;
    use rusqlite::types::ValueRef as R;
    match v {
        R::Null => V::Null,
        R::Integer(i) => V::Int(i),
        R::Real(f) => V::Text(f.to_string()),
        R::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
        R::Blob(b) => V::Blob(b.to_vec()),
    }
}

fn sqlite_exec(c: &Connection, sql: &str, params: &[crate::sql::Value]) -> Result<u64> {
    let sql = crate::sql::sqlite_placeholders(sql);
    let mut stmt = c.prepare_cached(&sql)?;
    let n = stmt.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
    Ok(n as u64)
}

fn sqlite_query(
    c: &Connection,
    sql: &str,
    params: &[crate::sql::Value],
) -> Result<Vec<crate::sql::Row>> {
    let sql = crate::sql::sqlite_placeholders(sql);
    let mut stmt = c.prepare_cached(&sql)?;
    let cols = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut vals = Vec::with_capacity(cols);
        for i in 0..cols {
            vals.push(from_sqlite(r.get_ref(i)?));
        }
        out.push(crate::sql::Row(vals));
    }
    Ok(out)
}

struct SqliteSql<'a>(&'a Connection);

impl crate::sql::Sql for SqliteSql<'_> {
    fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<u64> {
        sqlite_exec(self.0, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<Vec<crate::sql::Row>> {
        sqlite_query(self.0, sql, params)
    }
}

impl SqliteBackend {
    pub(crate) fn records_query(
        &self,
        sql: &str,
        params: &[crate::sql::Value],
    ) -> Result<Vec<crate::sql::Row>> {
        self.read(|c| sqlite_query(c, sql, params))
    }

    pub(crate) fn records_write(
        &self,
        f: &mut dyn FnMut(&mut dyn crate::sql::Sql) -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.writer.get(|| self.connect())?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        f(&mut SqliteSql(&tx))?;
        tx.commit()?;
        Ok(())
    }
}

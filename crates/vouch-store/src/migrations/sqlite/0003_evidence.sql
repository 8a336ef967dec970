-- Evidence items: one per collector run (or per file). `record` is the item's full
-- canonical JSON (what the ledger event hashes); the other columns are for lookups.
CREATE TABLE evidence_items (
    id           TEXT PRIMARY KEY,
    evidence_id  TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    status       TEXT NOT NULL,
    sha256       TEXT,
    record       TEXT NOT NULL,
    ledger_seq   INTEGER
);
CREATE INDEX evidence_items_def ON evidence_items (evidence_id, effective_at);
CREATE INDEX evidence_items_period ON evidence_items (period_start, period_end);

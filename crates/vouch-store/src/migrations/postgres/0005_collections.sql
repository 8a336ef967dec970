-- Archived collections (seed 001 step 7): one row per sealed archive set written to WORM.
CREATE TABLE collections (
    id           TEXT PRIMARY KEY,
    period_label TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    record       TEXT NOT NULL,
    ledger_seq   BIGINT
);
CREATE INDEX collections_period ON collections (period_label);

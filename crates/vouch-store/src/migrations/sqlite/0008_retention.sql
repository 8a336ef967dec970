-- Retention runs (seed 002's audit_archival_runs) and the ledger entries whose leaves
-- they moved to WORM storage. A pruned entry keeps seq, leaf hash and chain, so the
-- tree and the HMAC chain still verify; its leaf is checked against the archive.
CREATE TABLE retention_runs (
    run_id                 TEXT PRIMARY KEY,
    started_at             TEXT NOT NULL,
    completed_at           TEXT NOT NULL,
    rows_archived          INTEGER NOT NULL,
    destination            TEXT NOT NULL,
    retention_policy_label TEXT NOT NULL,
    status                 TEXT NOT NULL,
    manifest_sha256        TEXT NOT NULL
);

CREATE TABLE ledger_pruned (
    seq    INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL
);

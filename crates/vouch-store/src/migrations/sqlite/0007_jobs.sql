-- Scheduled job runs: one row per job and period (run_key is the singleton key, e.g.
-- generate-soc2-evidence:2026-10), claimed by INSERT … ON CONFLICT DO NOTHING so each
-- period runs once however many servers share the database; retries claim the row back.
CREATE TABLE job_runs (
    id              TEXT PRIMARY KEY,
    job             TEXT NOT NULL,
    run_key         TEXT NOT NULL UNIQUE,
    scheduled_for   TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    next_attempt_at TEXT,
    claimed_by      TEXT NOT NULL,
    error           TEXT,
    outputs         TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);

-- Seed 002's audit_integrity_log: one row per ledger verification run.
CREATE TABLE integrity_log (
    run_id        TEXT PRIMARY KEY,
    mode          TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    completed_at  TEXT NOT NULL,
    result        TEXT NOT NULL,
    rows_verified INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    detail        TEXT
);

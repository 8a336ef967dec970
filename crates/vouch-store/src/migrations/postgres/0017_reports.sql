-- Compliance reports (issue 16, seed 003's POST /api/compliance/reports): one row per
-- requested report; generation is a job run (job_runs, key generate-report:<id>), whose
-- status is copied here; artifacts (JSON, PDF, CSV, each with a .sig) live under
-- <data dir>/reports/<id>/ and are listed with their SHA-256 in `artifacts`.
CREATE TABLE reports (
    id            TEXT PRIMARY KEY,
    report_type   TEXT NOT NULL,
    period_label  TEXT NOT NULL,
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    request       TEXT NOT NULL,
    status        TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    schedule      TEXT,
    job_run_id    TEXT,
    finished_at   TEXT,
    error         TEXT,
    artifacts     TEXT
);
CREATE INDEX reports_requested ON reports (requested_at);
CREATE UNIQUE INDEX reports_schedule ON reports (schedule);

-- Check results (one per evaluation; the latest per check and period counts) and
-- findings with every version kept. `record` is canonical JSON; columns are for lookups.
CREATE TABLE check_results (
    id           TEXT PRIMARY KEY,
    check_id     TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    status       TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    record       TEXT NOT NULL,
    ledger_seq   INTEGER
);
CREATE INDEX check_results_lookup ON check_results (check_id, period_start, period_end, evaluated_at);

CREATE TABLE findings (
    id         TEXT PRIMARY KEY,
    check_id   TEXT,
    status     TEXT NOT NULL,
    severity   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX findings_check ON findings (check_id, status);

CREATE TABLE finding_history (
    finding_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    at         TEXT NOT NULL,
    record     TEXT NOT NULL,
    PRIMARY KEY (finding_id, version)
);

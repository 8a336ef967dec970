-- Access-review campaigns (issue 15). `access_reviews` is a campaign's current state
-- (`record` its canonical JSON; the other columns are for lookups); `access_review_entries`
-- the frozen snapshot, one row per account and population, with its current decision;
-- `access_review_decisions` every decision ever made (append-only), each also a ledger
-- event whose seq it keeps.
CREATE TABLE access_reviews (
    id           TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    ended_at     TEXT,
    record       TEXT NOT NULL,
    document     TEXT,
    signature    TEXT
);
CREATE INDEX access_reviews_scope ON access_reviews (scope, status, ended_at);
CREATE INDEX access_reviews_times ON access_reviews (started_at, ended_at);

CREATE TABLE access_review_entries (
    review_id    TEXT NOT NULL,
    population   TEXT NOT NULL,
    account      TEXT NOT NULL,
    tag          TEXT NOT NULL,
    flags        TEXT NOT NULL,
    row_json     TEXT,
    row_sha256   TEXT,
    decision     TEXT,
    note         TEXT,
    decided_by   TEXT,
    decided_at   TEXT,
    finding_id   TEXT,
    remediated_at TEXT,
    remediation  TEXT,
    PRIMARY KEY (review_id, population, account)
);
CREATE INDEX access_review_entries_revoked ON access_review_entries (population, decision, remediated_at);

CREATE TABLE access_review_decisions (
    review_id    TEXT NOT NULL,
    population   TEXT NOT NULL,
    account      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    decision     TEXT NOT NULL,
    note         TEXT,
    decided_by   TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    ledger_seq   INTEGER,
    PRIMARY KEY (review_id, population, account, version)
);

-- Populations, nonce commitments, samples and PBC requests (issue 18, vouch-audit).
-- Every record is canonical JSON; its SHA-256 (or, for populations, the Merkle root of
-- the items) is in the ledger event that recorded it.
CREATE TABLE populations (
    id          TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    root        TEXT NOT NULL,
    items_sha256 TEXT NOT NULL,
    ledger_seq  INTEGER,
    taken_at    TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX populations_definition ON populations (definition, period_start, period_end);
-- One commitment per population definition and period: an auditor who could commit
-- again after seeing a checkpoint could re-roll a sample they did not like.
CREATE TABLE sample_commitments (
    id          TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end  TEXT NOT NULL,
    commitment  TEXT NOT NULL,
    status      TEXT NOT NULL,
    ledger_seq  INTEGER,
    created_at  TEXT NOT NULL,
    record      TEXT NOT NULL,
    UNIQUE (definition, period_start, period_end)
);
CREATE TABLE samples (
    id            TEXT PRIMARY KEY,
    commitment_id TEXT NOT NULL UNIQUE,
    population_id TEXT NOT NULL,
    ledger_seq    INTEGER,
    drawn_at      TEXT NOT NULL,
    record        TEXT NOT NULL
);
CREATE TABLE pbc_requests (
    id          TEXT PRIMARY KEY,
    sample_id   TEXT NOT NULL,
    item_index  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX pbc_requests_sample ON pbc_requests (sample_id);

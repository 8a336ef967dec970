-- Attestations and collection sign-offs (issue 15): one row per kind and period
-- (`attestation` 2026-Q3, `collection-signoff` 2026-10). `record` is the current
-- canonical JSON (draft, then the frozen signed record); `document` the signed canonical
-- document (set once, never changed: signing is refused when it is set). Every change is
-- also a ledger event carrying the record's SHA-256.
CREATE TABLE attestations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    period      TEXT NOT NULL,
    status      TEXT NOT NULL,
    opens_at    TEXT NOT NULL,
    closes_at   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    signed_at   TEXT,
    record      TEXT NOT NULL,
    document    TEXT,
    UNIQUE (kind, period)
);
CREATE INDEX attestations_status ON attestations (status, closes_at);

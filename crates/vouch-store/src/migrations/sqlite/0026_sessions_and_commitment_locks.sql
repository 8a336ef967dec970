-- Dashboard sessions made from an API token or a JWT. The token is checked once, at
-- log-in; the browser's cookie then holds only this session's id (its SHA-256 is the
-- key, like `sessions`), never the token. A session made from an API token names it
-- (`api_token_id`, NULL for a JWT) and ends when the token is revoked or expires:
-- authentication re-reads the token's row on every request.
CREATE TABLE token_sessions (
    token_sha256 TEXT PRIMARY KEY,
    api_token_id TEXT,
    actor        TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX token_sessions_api_token ON token_sessions (api_token_id);

-- One row per population definition that has had a sampling commitment. A commitment
-- updates its definition's row first, in the same transaction as the overlap check and
-- the insert: the row lock serialises commitments of one population (a read-then-insert
-- alone let two overlapping commitments made at the same instant both pass on
-- PostgreSQL).
CREATE TABLE sample_commitment_locks (
    definition TEXT PRIMARY KEY,
    claims     INTEGER NOT NULL DEFAULT 0
);

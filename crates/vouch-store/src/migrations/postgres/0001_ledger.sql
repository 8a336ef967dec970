-- See the SQLite migration of the same number for the reasoning; the schema is the same.
CREATE TABLE ledger_entries (
    seq       BIGINT PRIMARY KEY,
    id        TEXT   NOT NULL,
    ts        TEXT   NOT NULL,
    leaf      TEXT   NOT NULL,
    leaf_hash BYTEA  NOT NULL,
    chain     BYTEA  NOT NULL
);
CREATE UNIQUE INDEX ledger_entries_id ON ledger_entries (id);
CREATE INDEX ledger_entries_ts ON ledger_entries (ts);

CREATE TABLE ledger_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT  NOT NULL,
    hash  BYTEA   NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE ledger_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     BIGINT NOT NULL,
    frontier BYTEA  NOT NULL,
    chain    BYTEA  NOT NULL
);
INSERT INTO ledger_head (id, size, frontier, chain) VALUES (1, 0, '\x', decode(repeat('00', 32), 'hex'));

CREATE TABLE ledger_checkpoints (
    size       BIGINT PRIMARY KEY,
    root       BYTEA  NOT NULL,
    note       TEXT   NOT NULL,
    created_at TEXT   NOT NULL
);

-- The ledger. The leaf (canonical JSON of the event with its seq) is the event; `id`
-- and `ts` copy two of its fields for lookups, and verification checks that they
-- still equal the leaf's, so they cannot drift unnoticed.
CREATE TABLE ledger_entries (
    seq       INTEGER PRIMARY KEY,
    id        TEXT    NOT NULL,
    ts        TEXT    NOT NULL,
    leaf      TEXT    NOT NULL,
    leaf_hash BLOB    NOT NULL,
    chain     BLOB    NOT NULL
);
CREATE UNIQUE INDEX ledger_entries_id ON ledger_entries (id);
CREATE INDEX ledger_entries_ts ON ledger_entries (ts);

-- Hashes of perfect subtrees at heights 8, 16, 24, ... (the C2SP tlog-tiles rows
-- above level 0). With the leaf hashes they give any proof in O(log n) range reads.
CREATE TABLE ledger_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The sequencer's state: tree size, compact range, last chain value. One row, locked
-- by every append, so several writers (processes) serialise on it.
CREATE TABLE ledger_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     INTEGER NOT NULL,
    frontier BLOB    NOT NULL,
    chain    BLOB    NOT NULL
);
INSERT INTO ledger_head (id, size, frontier, chain) VALUES (1, 0, X'', zeroblob(32));

CREATE TABLE ledger_checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB    NOT NULL,
    note       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

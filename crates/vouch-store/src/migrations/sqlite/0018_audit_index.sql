-- The audit-log index (issue 17): the fields the audit-log query filters on, one row
-- per ledger entry, written by the sequencer in the same transaction as the leaf.
-- Verification checks every row against its leaf (docs/verification.md), so the
-- index is as tamper-evident as the `id`/`ts` lookup columns. A leaf pruned by
-- retention keeps its row: the query can still say that the event exists and where
-- it is archived.
CREATE TABLE audit_index (
    seq             INTEGER PRIMARY KEY,
    organization_id TEXT,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_type   TEXT,
    category        TEXT NOT NULL,
    result          TEXT NOT NULL,
    ts              TEXT NOT NULL
);

-- Events per day (the first 10 characters of the timestamp), category and result,
-- counted by the sequencer in the same transaction (an upsert per group), so a
-- dashboard never scans leaves; with the first and last seq of those events, which
-- bound the seqs a date range can match (events mostly arrive in time order, so the
-- query reads only that part of a filter's index). Verification recounts all three
-- from audit_index.
CREATE TABLE audit_daily (
    day      TEXT    NOT NULL,
    category TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (day, category, result)
) WITHOUT ROWID;

-- Backfill from the leaves already stored. Leaves pruned before this migration are
-- gone (their content is in the archive): they get no row, and `below` records the
-- ledger size at this point so verification accepts exactly those missing rows.
INSERT INTO audit_index (seq, organization_id, actor_id, action, resource_type, category, result, ts)
SELECT seq,
       json_extract(leaf, '$.organization_id'),
       json_extract(leaf, '$.actor.id'),
       json_extract(leaf, '$.action'),
       json_extract(leaf, '$.resource.type'),
       json_extract(leaf, '$.category'),
       json_extract(leaf, '$.result'),
       ts
FROM ledger_entries WHERE leaf <> '' ORDER BY seq;

INSERT INTO audit_daily (day, category, result, count, first_seq, last_seq)
SELECT substr(ts, 1, 10), category, result, count(*), min(seq), max(seq) FROM audit_index GROUP BY 1, 2, 3;

CREATE TABLE audit_index_floor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    below INTEGER NOT NULL
);
INSERT INTO audit_index_floor (id, below) SELECT 1, size FROM ledger_head;

-- One index per filter; SQLite appends the rowid (= seq) to every index, so each is
-- read in seq order and a page stops after `per_page` matches. (category, result)
-- serves the two together; `ts` serves date ranges.
CREATE INDEX audit_index_org ON audit_index (organization_id);
CREATE INDEX audit_index_actor ON audit_index (actor_id);
CREATE INDEX audit_index_action ON audit_index (action);
CREATE INDEX audit_index_resource_type ON audit_index (resource_type);
CREATE INDEX audit_index_category ON audit_index (category);
CREATE INDEX audit_index_category_result ON audit_index (category, result);
CREATE INDEX audit_index_result ON audit_index (result);
CREATE INDEX audit_index_ts ON audit_index (ts);

-- The planner's statistics for these indexes (the documented "fixed statistics" of
-- sqlite_stat1): how many rows one value of each filter typically matches in a large
-- ledger. Without them SQLite guesses every index equally selective and may read a
-- filter that matches most events (`result = 'success'`) instead of a selective one
-- (`actor_id`). ANALYZE creates sqlite_stat1; its figures for this table are replaced.
ANALYZE audit_index;
DELETE FROM sqlite_stat1 WHERE tbl = 'audit_index';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('audit_index', 'audit_index_org', '10000000 250000'),
    ('audit_index', 'audit_index_actor', '10000000 2000'),
    ('audit_index', 'audit_index_action', '10000000 200000'),
    ('audit_index', 'audit_index_resource_type', '10000000 500000'),
    ('audit_index', 'audit_index_category', '10000000 1500000'),
    ('audit_index', 'audit_index_category_result', '10000000 1500000 500000'),
    ('audit_index', 'audit_index_result', '10000000 3500000'),
    ('audit_index', 'audit_index_ts', '10000000 2');

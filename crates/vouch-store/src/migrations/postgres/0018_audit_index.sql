-- See the SQLite migration of the same number for the reasoning; the schema is the same.
CREATE TABLE audit_index (
    seq             BIGINT PRIMARY KEY,
    organization_id TEXT,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_type   TEXT,
    category        TEXT NOT NULL,
    result          TEXT NOT NULL,
    ts              TEXT NOT NULL
);

CREATE TABLE audit_daily (
    day      TEXT   NOT NULL,
    category TEXT   NOT NULL,
    result   TEXT   NOT NULL,
    count     BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL,
    PRIMARY KEY (day, category, result)
);

INSERT INTO audit_index (seq, organization_id, actor_id, action, resource_type, category, result, ts)
SELECT seq,
       leaf::jsonb #>> '{organization_id}',
       leaf::jsonb #>> '{actor,id}',
       leaf::jsonb #>> '{action}',
       leaf::jsonb #>> '{resource,type}',
       leaf::jsonb #>> '{category}',
       leaf::jsonb #>> '{result}',
       ts
FROM ledger_entries WHERE leaf <> '' ORDER BY seq;

INSERT INTO audit_daily (day, category, result, count, first_seq, last_seq)
SELECT substr(ts, 1, 10), category, result, count(*), min(seq), max(seq) FROM audit_index GROUP BY 1, 2, 3;

CREATE TABLE audit_index_floor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    below BIGINT NOT NULL
);
INSERT INTO audit_index_floor (id, below) SELECT 1, size FROM ledger_head;

-- (filter, seq): each filter read in seq order, so a page stops after `per_page`.
CREATE INDEX audit_index_org ON audit_index (organization_id, seq);
CREATE INDEX audit_index_actor ON audit_index (actor_id, seq);
CREATE INDEX audit_index_action ON audit_index (action, seq);
CREATE INDEX audit_index_resource_type ON audit_index (resource_type, seq);
CREATE INDEX audit_index_category ON audit_index (category, seq);
CREATE INDEX audit_index_category_result ON audit_index (category, result, seq);
CREATE INDEX audit_index_result ON audit_index (result, seq);
CREATE INDEX audit_index_ts ON audit_index (ts);

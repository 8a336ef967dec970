-- The audit-log query: an actor with any of the five low-cardinality filters (issue 17).
-- See the SQLite file: each actor's number of events per combination (migration 0027),
-- kept by the sequencer and recounted by verification.
CREATE TABLE audit_actor_combo (
    actor_id TEXT   NOT NULL,
    combo    BIGINT NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (actor_id, combo)
);
INSERT INTO audit_actor_combo (actor_id, combo, count)
SELECT actor_id, combo, count(*) FROM audit_index WHERE actor_id IS NOT NULL GROUP BY actor_id, combo;
-- The actor's entries of one combination, in seq order, from the index alone (the
-- timestamp included for a date range): the query reads each of the actor's matching
-- combinations as one list, at most a page from each. (SQLite's (combo, actor_id, ts)
-- and covering actor indexes of 0027 serve this there.)
CREATE INDEX audit_index_actor_combo ON audit_index (actor_id, combo, seq) INCLUDE (ts);
-- A date range's seq bounds (the least first seq of the days from its start, the
-- greatest last seq of the days to its end) from the index alone: without it, every
-- query with a range read each day's counter rows from the table (about 3 ms a query
-- for a year of days).
CREATE INDEX audit_daily_seqs ON audit_daily (day) INCLUDE (first_seq, last_seq);
-- The lists read with a date range most (an organisation's, an actor's, a
-- combination's) carry the timestamp, so that its check needs no table row: in
-- seq-bounded ranges of a month, reading each row to check it cost up to 50 ms at
-- ten million events. (Rebuilding them takes about a minute each at that size.)
DROP INDEX IF EXISTS audit_index_org;
CREATE INDEX audit_index_org ON audit_index (organization_id, seq) INCLUDE (ts);
-- The actor's list carries the combination too: an actor with other filters is read in
-- seq order and checked against the actor's matching combinations from the index alone
-- (cheaper than one list per combination when the actor's matches are dense).
DROP INDEX IF EXISTS audit_index_actor;
CREATE INDEX audit_index_actor ON audit_index (actor_id, seq) INCLUDE (ts, combo);
DROP INDEX IF EXISTS audit_index_combo;
CREATE INDEX audit_index_combo ON audit_index (combo, seq) INCLUDE (ts);

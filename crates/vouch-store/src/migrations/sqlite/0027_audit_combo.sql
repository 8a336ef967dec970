-- The audit-log query at ten million events (issue 17).
--
-- 1. Combinations. The five filters with few values (organization, action, resource
--    type, category, result) occur in few combinations, however many events: each
--    distinct combination is one audit_combo row with its number of events, kept by
--    the sequencer in the leaf's transaction (an upsert per combination per commit,
--    like audit_daily), and every audit_index row names its combination (`combo`).
--    The query then knows exactly how many events match any set of those filters
--    (zero answers at once, however common each value is alone) and reads exactly
--    the matching entries through audit_index_combo. Verification checks that each
--    row's combination holds the row's own fields and recounts every combination.
--    This replaces migration 0023's nine pair indexes (one B-tree position each per
--    event), which answered pairs only and cost about a factor 3 on appends.
-- 2. An actor with other filters: audit_index_actor_cover holds every filter column
--    and the timestamp after the actor, so an actor's entries are checked against the
--    other filters from the index alone (sequential pages) instead of one table row
--    lookup each (SQLite only; the plain actor index stays, in seq order).
--
-- The key is combo_key in vouch-store: each field as its length in characters, ':'
-- and the text, or '-' when absent, joined by '|'.
CREATE TABLE audit_combo (
    id              INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    organization_id TEXT,
    action          TEXT    NOT NULL,
    resource_type   TEXT,
    category        TEXT    NOT NULL,
    result          TEXT    NOT NULL,
    count           INTEGER NOT NULL
);
INSERT INTO audit_combo (key, organization_id, action, resource_type, category, result, count)
SELECT coalesce(length(organization_id) || ':' || organization_id, '-') || '|' || length(action) || ':' || action || '|' || coalesce(length(resource_type) || ':' || resource_type, '-') || '|' || length(category) || ':' || category || '|' || length(result) || ':' || result,
       organization_id, action, resource_type, category, result, count(*)
FROM audit_index GROUP BY organization_id, action, resource_type, category, result;

-- The query looks combinations up by the values it is given.
CREATE INDEX audit_combo_org ON audit_combo (organization_id);
CREATE INDEX audit_combo_action ON audit_combo (action);
CREATE INDEX audit_combo_resource_type ON audit_combo (resource_type);
CREATE INDEX audit_combo_category_result ON audit_combo (category, result);

ALTER TABLE audit_index ADD COLUMN combo INTEGER NOT NULL DEFAULT 0;
-- (The row's own columns, qualified: unqualified, they would name the combination's.)
UPDATE audit_index SET combo = (SELECT c.id FROM audit_combo c WHERE c.key = coalesce(length(audit_index.organization_id) || ':' || audit_index.organization_id, '-') || '|' || length(audit_index.action) || ':' || audit_index.action || '|' || coalesce(length(audit_index.resource_type) || ':' || audit_index.resource_type, '-') || '|' || length(audit_index.category) || ':' || audit_index.category || '|' || length(audit_index.result) || ':' || audit_index.result);
-- (combo, actor_id, ts): a combination's entries of one actor are a range of their own
-- (an actor with two or more of the five filters reads exactly its matches); the
-- timestamp is checked in the index.
CREATE INDEX audit_index_combo ON audit_index (combo, actor_id, ts);
-- An actor in an organisation, in seq order: the two are not combined above (actors are
-- many), and an actor and an organisation that rarely meet would otherwise be read
-- through one of their lists, entry by entry.
CREATE INDEX audit_index_actor_org ON audit_index (actor_id, organization_id);
-- Its columns after the actor in the order that narrows an actor's entries most: an
-- actor's events span many actions, a few results and resource types, and mostly one
-- organisation (vouch_ledger::query::COVER_ORDER).
CREATE INDEX audit_index_actor_cover ON audit_index
    (actor_id, action, result, resource_type, category, organization_id, ts);

DROP INDEX IF EXISTS audit_index_org_action;
DROP INDEX IF EXISTS audit_index_org_resource_type;
DROP INDEX IF EXISTS audit_index_org_category;
DROP INDEX IF EXISTS audit_index_org_result;
DROP INDEX IF EXISTS audit_index_action_resource_type;
DROP INDEX IF EXISTS audit_index_action_category;
DROP INDEX IF EXISTS audit_index_action_result;
DROP INDEX IF EXISTS audit_index_resource_type_category;
DROP INDEX IF EXISTS audit_index_resource_type_result;

-- Fixed planner statistics, as in 0018 (the query names its index on SQLite anyway).
DELETE FROM sqlite_stat1 WHERE tbl = 'audit_index' AND idx IN ('audit_index_org_action','audit_index_org_resource_type','audit_index_org_category','audit_index_org_result','audit_index_action_resource_type','audit_index_action_category','audit_index_action_result','audit_index_resource_type_category','audit_index_resource_type_result');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('audit_index', 'audit_index_combo', '10000000 1000 5 1'),
    ('audit_index', 'audit_index_actor_org', '10000000 2000 2000'),
    ('audit_index', 'audit_index_actor_cover', '10000000 2000 60 40 10 10 10 1');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('audit_combo', 'audit_combo_org', '20000 500'),
    ('audit_combo', 'audit_combo_action', '20000 600'),
    ('audit_combo', 'audit_combo_resource_type', '20000 1250'),
    ('audit_combo', 'audit_combo_category_result', '20000 3000 1000');

-- The audit-log query's pairs (issue 17): one composite index per pair of the filters
-- with few distinct values (organization_id, action, resource_type, category, result;
-- (category, result) is migration 0018's). With one index per filter only, two values
-- that are each common but rarely or never occur together (an action and another
-- action's category) made the query read every entry of the smaller list to return
-- little or nothing: 640 ms p99 at 1M events. A pair's index holds exactly its
-- matches, in seq order (SQLite appends the rowid = seq), so a page reads its own
-- rows and an impossible pair none. actor_id has no pair index: its values are many,
-- and each (actor, value) would be a separate B-tree position written on every commit;
-- the query chooses between the actor's list and the others' by counting
-- (vouch_ledger::query). Indexes only: no new data, nothing for verification to check
-- beyond the audit_index rows it already checks against their leaves.
CREATE INDEX audit_index_org_action ON audit_index (organization_id, action);
CREATE INDEX audit_index_org_resource_type ON audit_index (organization_id, resource_type);
CREATE INDEX audit_index_org_category ON audit_index (organization_id, category);
CREATE INDEX audit_index_org_result ON audit_index (organization_id, result);
CREATE INDEX audit_index_action_resource_type ON audit_index (action, resource_type);
CREATE INDEX audit_index_action_category ON audit_index (action, category);
CREATE INDEX audit_index_action_result ON audit_index (action, result);
CREATE INDEX audit_index_resource_type_category ON audit_index (resource_type, category);
CREATE INDEX audit_index_resource_type_result ON audit_index (resource_type, result);

-- Fixed planner statistics, as in 0018 (rows per value of the first column, then of
-- both), so SQLite's own choice (one filter with a range, where the query names no
-- index) keeps preferring the single-filter indexes it did before.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('audit_index', 'audit_index_org_action', '10000000 250000 8000'),
    ('audit_index', 'audit_index_org_resource_type', '10000000 250000 16000'),
    ('audit_index', 'audit_index_org_category', '10000000 250000 40000'),
    ('audit_index', 'audit_index_org_result', '10000000 250000 80000'),
    ('audit_index', 'audit_index_action_resource_type', '10000000 200000 12000'),
    ('audit_index', 'audit_index_action_category', '10000000 200000 200000'),
    ('audit_index', 'audit_index_action_result', '10000000 200000 70000'),
    ('audit_index', 'audit_index_resource_type_category', '10000000 500000 80000'),
    ('audit_index', 'audit_index_resource_type_result', '10000000 500000 170000');

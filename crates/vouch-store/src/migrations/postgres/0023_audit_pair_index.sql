-- See the SQLite migration of the same number for the reasoning: one composite index
-- per pair of the low-cardinality filters, (a, b, seq), so a pair is read in seq order
-- as exactly its matches. PostgreSQL's planner chooses among them itself.
CREATE INDEX audit_index_org_action ON audit_index (organization_id, action, seq);
CREATE INDEX audit_index_org_resource_type ON audit_index (organization_id, resource_type, seq);
CREATE INDEX audit_index_org_category ON audit_index (organization_id, category, seq);
CREATE INDEX audit_index_org_result ON audit_index (organization_id, result, seq);
CREATE INDEX audit_index_action_resource_type ON audit_index (action, resource_type, seq);
CREATE INDEX audit_index_action_category ON audit_index (action, category, seq);
CREATE INDEX audit_index_action_result ON audit_index (action, result, seq);
CREATE INDEX audit_index_resource_type_category ON audit_index (resource_type, category, seq);
CREATE INDEX audit_index_resource_type_result ON audit_index (resource_type, result, seq);

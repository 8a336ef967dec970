-- Access-review campaigns (issue 15): snapshots, entries, decisions.
-- (filled in by the access-review work)
SELECT 1;

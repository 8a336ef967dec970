-- Sample rows for schema.sql: a small company's first half of 2026, fixed dates, no now().
-- Collected for the period 2026-Q2 ([2026-04-01, 2026-07-01)) most expectations of seed 002
-- pass; the planted findings are marked PLANTED below and listed in README.md.
-- Names (roles, groups, archive buckets) match the pack's default params; the rest of the
-- sample's settings (leavers column, authorized auditors, change windows) are in
-- sample-vouch.toml.

BEGIN;

INSERT INTO users (email, display_name, created_at, deactivated_at) VALUES
    ('alice.nguyen@example.com',      'Alice Nguyen',   '2024-03-04 09:00:00+00', NULL),
    ('bob.okafor@example.com',        'Bob Okafor',     '2024-06-17 09:00:00+00', NULL),
    ('carla.mendes@example.com',      'Carla Mendes',   '2025-01-13 09:00:00+00', NULL),
    ('dan.kowalski@example.com',      'Dan Kowalski',   '2025-09-01 09:00:00+00', NULL),
    ('erin.walsh@auditors.example',   'Erin Walsh',     '2026-03-30 14:00:00+00', NULL),
    ('farid.haddad@example.com',      'Farid Haddad',   '2024-11-04 09:00:00+00', NULL),
    ('grace.lin@example.com',         'Grace Lin',      '2025-02-03 09:00:00+00', '2026-03-31 17:00:00+00');

INSERT INTO rbac_roles (name, description) VALUES
    ('audit-compliance', 'Read-only export of the audit system for compliance review'),
    ('audit-admin',      'Administers the audit system (archiver, integrity job, keys)'),
    ('audit-reader',     'Reads customer audit events for support'),
    ('app-developer',    'Deploys and debugs the application');

INSERT INTO rbac_groups (name, description) VALUES
    ('compliance-auditors', 'Authorized (external) auditors; see the authorization memo'),
    ('platform-admins',     'Platform team on call'),
    ('engineering',         'All engineers');

-- Step 1/2: the compliance group holds the engaged external auditor ...
-- PLANTED: ... and Grace Lin, deactivated on 2026-03-31 but never removed from the group.
INSERT INTO rbac_group_members (group_id, user_id, granted_at, granted_by)
SELECT g.id, u.id, v.granted_at::timestamptz, v.granted_by
FROM (VALUES
    ('compliance-auditors', 'grace.lin@example.com',       '2026-01-15 19:10:00+00', 'alice.nguyen@example.com'),
    ('compliance-auditors', 'erin.walsh@auditors.example', '2026-04-02 18:45:00+00', 'farid.haddad@example.com'),
    ('platform-admins',     'alice.nguyen@example.com',    '2024-03-04 10:00:00+00', 'bootstrap'),
    ('platform-admins',     'bob.okafor@example.com',      '2024-06-17 10:00:00+00', 'alice.nguyen@example.com'),
    ('engineering',         'carla.mendes@example.com',    '2025-01-13 10:00:00+00', 'alice.nguyen@example.com'),
    ('engineering',         'dan.kowalski@example.com',    '2025-09-01 10:00:00+00', 'bob.okafor@example.com')
) AS v (grp, email, granted_at, granted_by)
JOIN rbac_groups g ON g.name = v.grp
JOIN users u ON u.email = v.email;

-- The documented change windows are not a table (seed 002 keeps them in the change-
-- management log): sample-vouch.toml passes them to the pack as its change_windows param.

-- Every grant, as the RBAC service logs it: current grants and their audit history.
CREATE TEMP TABLE grant_seed (role text, email text, grp text, granted_at timestamptz,
                              granted_by text, change_window_id text) ON COMMIT DROP;
INSERT INTO grant_seed VALUES
    ('app-developer',    NULL, 'engineering',         '2026-01-10 18:20:00+00', 'alice.nguyen@example.com', 'CW-2026-001'),
    ('audit-compliance', NULL, 'compliance-auditors', '2026-01-15 19:05:00+00', 'alice.nguyen@example.com', 'CW-2026-003'),
    ('audit-reader',     NULL, 'engineering',         '2026-01-15 19:07:00+00', 'alice.nguyen@example.com', 'CW-2026-003'),
    ('app-developer',    'carla.mendes@example.com', NULL, '2026-03-02 18:35:00+00', 'bob.okafor@example.com', 'CW-2026-007'),
    ('audit-admin',      NULL, 'platform-admins',     '2026-04-02 18:31:00+00', 'alice.nguyen@example.com', 'CW-2026-011'),
    -- PLANTED: direct user grant of the compliance role (step 1), outside any window (step 7).
    ('audit-compliance', 'dan.kowalski@example.com', NULL, '2026-05-20 14:12:00+00', 'bob.okafor@example.com', NULL),
    ('audit-admin',      'bob.okafor@example.com', NULL,   '2026-06-10 19:02:00+00', 'alice.nguyen@example.com', 'CW-2026-024'),
    -- PLANTED: a change window id that is not a documented window (step 7).
    ('audit-admin',      'carla.mendes@example.com', NULL, '2026-06-27 23:40:00+00', 'bob.okafor@example.com', 'CW-2026-031'),
    -- After the period: must not appear in 2026-Q2 evidence.
    ('audit-admin',      'farid.haddad@example.com', NULL, '2026-07-02 18:20:00+00', 'alice.nguyen@example.com', 'CW-2026-027');

INSERT INTO rbac_grants (role_id, user_id, group_id, granted_at, granted_by)
SELECT r.id, u.id, g.id, s.granted_at, s.granted_by
FROM grant_seed s
JOIN rbac_roles r ON r.name = s.role
LEFT JOIN users u ON u.email = s.email
LEFT JOIN rbac_groups g ON g.name = s.grp
ORDER BY s.granted_at;

INSERT INTO rbac_grants_audit (role_id, user_id, group_id, granted_at, granted_by, change_window_id)
SELECT r.id, u.id, g.id, s.granted_at, s.granted_by, s.change_window_id
FROM grant_seed s
JOIN rbac_roles r ON r.name = s.role
LEFT JOIN users u ON u.email = s.email
LEFT JOIN rbac_groups g ON g.name = s.grp
ORDER BY s.granted_at;

-- Step 3: the monthly integrity run on the 1st of each month (all pass), plus nightly runs.
INSERT INTO audit_integrity_log
    (run_id, mode, started_at, completed_at, result, rows_verified, errors, chain_error, kms_error) VALUES
    ('0b7e5a10-2026-4001-8a01-000000000101', 'monthly', '2026-01-01 02:00:00+00', '2026-01-01 02:41:12+00', 'pass', 182311, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000201', 'monthly', '2026-02-01 02:00:00+00', '2026-02-01 02:43:55+00', 'pass', 191040, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000301', 'monthly', '2026-03-01 02:00:00+00', '2026-03-01 02:39:30+00', 'pass', 176502, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000401', 'monthly', '2026-04-01 02:00:00+00', '2026-04-01 02:44:08+00', 'pass', 198877, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000501', 'monthly', '2026-05-01 02:00:00+00', '2026-05-01 02:45:51+00', 'pass', 203114, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000601', 'monthly', '2026-06-01 02:00:00+00', '2026-06-01 02:40:19+00', 'pass', 187455, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000701', 'monthly', '2026-07-01 02:00:00+00', '2026-07-01 02:42:37+00', 'pass', 195230, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000614', 'nightly', '2026-06-14 03:00:00+00', '2026-06-14 03:04:10+00', 'pass',   6213, 0, NULL, NULL),
    ('0b7e5a10-2026-4001-8a01-000000000615', 'nightly', '2026-06-15 03:00:00+00', '2026-06-15 03:03:58+00', 'pass',   6088, 0, NULL, NULL);

-- Steps 4/5: monthly exports to cold storage (7-year label) and ad-hoc exports elsewhere.
INSERT INTO audit_archival_runs
    (run_id, started_at, completed_at, rows_archived, destination, retention_policy_label, status) VALUES
    ('5c1d9e22-2026-4a00-9b00-000000000103', '2026-01-03 04:00:00+00', '2026-01-03 04:18:40+00', 38112, 's3://example-audit-glacier/customer-audit/2025-12/', 'cold-7y', 'complete'),
    ('5c1d9e22-2026-4a00-9b00-000000000203', '2026-02-03 04:00:00+00', '2026-02-03 04:19:02+00', 40277, 's3://example-audit-glacier/customer-audit/2026-01/', 'cold-7y', 'complete'),
    ('5c1d9e22-2026-4a00-9b00-000000000303', '2026-03-03 04:00:00+00', '2026-03-03 04:17:21+00', 36954, 's3://example-audit-glacier/customer-audit/2026-02/', 'cold-7y', 'complete'),
    ('5c1d9e22-2026-4a00-9b00-000000000403', '2026-04-03 04:00:00+00', '2026-04-03 04:20:13+00', 41208, 's3://example-audit-glacier/customer-audit/2026-03/', 'cold-7y', 'complete'),
    ('5c1d9e22-2026-4a00-9b00-000000000420', '2026-04-20 11:30:00+00', '2026-04-20 11:31:45+00',  2210, 's3://example-audit-exports/customer-export/cus_0017/', 'export-1y', 'complete'),
    ('5c1d9e22-2026-4a00-9b00-000000000503', '2026-05-03 04:00:00+00', '2026-05-03 04:19:37+00', 39861, 's3://example-audit-glacier/customer-audit/2026-04/', 'cold-7y', 'complete'),
    -- PLANTED: the June run failed (step 4 expects no failed rows); the retry a day later worked.
    ('5c1d9e22-2026-4a00-9b00-000000000603', '2026-06-03 04:00:00+00', '2026-06-03 04:02:09+00',     0, 's3://example-audit-glacier/customer-audit/2026-05/', 'cold-7y', 'failed'),
    ('5c1d9e22-2026-4a00-9b00-000000000604', '2026-06-04 09:15:00+00', '2026-06-04 09:35:48+00', 40933, 's3://example-audit-glacier/customer-audit/2026-05/', 'cold-7y', 'complete'),
    -- After the period.
    ('5c1d9e22-2026-4a00-9b00-000000000703', '2026-07-03 04:00:00+00', '2026-07-03 04:18:55+00', 38790, 's3://example-audit-glacier/customer-audit/2026-06/', 'cold-7y', 'complete');

-- Step 5/6: hot events from 2025-12-01 to 2026-07-04, about 40 a day, fewer at night.
-- PLANTED: nothing from 2026-05-11 22:47 to 2026-05-14 01:15 UTC (a gap of over 50 hours).
INSERT INTO customer_audit_events (occurred_at, customer_id, actor, action, resource, hmac)
SELECT ts,
       'cus_' || lpad((n % 37)::text, 4, '0'),
       (ARRAY['svc-api', 'svc-billing', 'user:' || (n % 211)::text])[1 + n % 3],
       (ARRAY['record.read', 'record.update', 'export.create', 'user.login', 'settings.update'])[1 + n % 5],
       'records/' || (n * 7919 % 100000)::text,
       encode(sha256(convert_to('evt-' || n::text, 'UTF8')), 'hex')
FROM generate_series(timestamptz '2025-12-01 00:07:00+00', timestamptz '2026-07-04 23:59:00+00',
                     interval '23 minutes') WITH ORDINALITY AS s (ts, n)
WHERE (extract(hour FROM ts AT TIME ZONE 'UTC') BETWEEN 7 AND 20 OR n % 4 = 0)
  AND NOT (ts >= timestamptz '2026-05-11 22:47:00+00' AND ts < timestamptz '2026-05-14 01:15:00+00');

COMMIT;

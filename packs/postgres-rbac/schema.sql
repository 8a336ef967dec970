-- The sample's tables: seed 002's tables (an audit system's RBAC and archiver tables) with
-- a few columns the seed does not name, which the pack reads when present
-- (users.deactivated_at through its deactivation_column param, audit_integrity_log's
-- chain_error/kms_error, rbac_grants_audit.group_id). The pack itself needs only the
-- seed's columns: tests/fixtures/packs/seed002-schema.sql is exactly those. Runs in
-- whatever schema search_path names.

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    created_at     timestamptz NOT NULL,
    deactivated_at timestamptz            -- set when the person leaves (CC6.3)
);

CREATE TABLE rbac_roles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE rbac_groups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE rbac_group_members (
    group_id   bigint NOT NULL REFERENCES rbac_groups (id),
    user_id    bigint NOT NULL REFERENCES users (id),
    granted_at timestamptz NOT NULL,
    granted_by text NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- Current grants. A role goes to a group (group_id) or directly to a user (user_id);
-- seed 002 step 1 wants no direct user grants of the compliance role.
CREATE TABLE rbac_grants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role_id    bigint NOT NULL REFERENCES rbac_roles (id),
    user_id    bigint REFERENCES users (id),
    group_id   bigint REFERENCES rbac_groups (id),
    granted_at timestamptz NOT NULL,
    granted_by text NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);

-- Append-only history of grants. change_window_id refers to the change-management log
-- (not a table): a NULL or unknown window id is exactly the finding step 7 looks for.
CREATE TABLE rbac_grants_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role_id          bigint NOT NULL REFERENCES rbac_roles (id),
    user_id          bigint REFERENCES users (id),
    group_id         bigint REFERENCES rbac_groups (id),
    granted_at       timestamptz NOT NULL,
    granted_by       text NOT NULL,
    change_window_id text,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX rbac_grants_audit_granted_at ON rbac_grants_audit (granted_at);

-- One row per run of the audit-chain integrity job (nightly and monthly modes).
CREATE TABLE audit_integrity_log (
    run_id        uuid PRIMARY KEY,
    mode          text NOT NULL CHECK (mode IN ('nightly', 'monthly')),
    started_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    result        text CHECK (result IN ('pass', 'fail')),
    rows_verified bigint NOT NULL DEFAULT 0,
    errors        integer NOT NULL DEFAULT 0,
    chain_error   text,
    kms_error     text
);
CREATE INDEX audit_integrity_log_started_at ON audit_integrity_log (started_at);

-- The archiver's manifest: one row per export of hot rows to an archive destination.
CREATE TABLE audit_archival_runs (
    run_id                 uuid PRIMARY KEY,
    started_at             timestamptz NOT NULL,
    completed_at           timestamptz,
    rows_archived          bigint NOT NULL DEFAULT 0,
    destination            text NOT NULL,
    retention_policy_label text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('running', 'complete', 'failed'))
);
CREATE INDEX audit_archival_runs_started_at ON audit_archival_runs (started_at);

-- The hot table of customer-facing audit events.
CREATE TABLE customer_audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    customer_id text NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    resource    text NOT NULL,
    hmac        text NOT NULL            -- hex HMAC-SHA-256 chain tag
);
CREATE INDEX customer_audit_events_occurred_at ON customer_audit_events (occurred_at);

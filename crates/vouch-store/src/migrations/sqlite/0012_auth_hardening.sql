-- Authentication that holds (issue 13): the last TOTP time step accepted (a code is
-- good once), a TOTP secret awaiting confirmation (enrolment does not switch MFA off),
-- and previous password hashes (the last N may not be reused).
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN password_changed_at TEXT;

CREATE TABLE password_history (
    user_id       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- /readyz writes here: a full or read-only disk makes the server not ready.
CREATE TABLE readiness_probe (
    id         INTEGER PRIMARY KEY,
    checked_at TEXT
);
INSERT INTO readiness_probe (id, checked_at) VALUES (1, NULL);

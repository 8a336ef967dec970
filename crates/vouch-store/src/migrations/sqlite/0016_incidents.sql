-- Incidents with response-time SLAs (issue 16). The current state of each incident
-- (its record is canonical JSON holding the timeline) and every version of it, so a
-- packet shows incidents exactly as they stood when it was generated.
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    deadline    TEXT NOT NULL,
    responded_at TEXT,
    breached_at TEXT,
    -- `rule:key` of an automatic incident while it is open, NULL otherwise: the unique
    -- index makes "at most one open incident per rule and key" hold across concurrent
    -- ingestion and across processes (NULLs never collide).
    open_key    TEXT,
    -- Each change writes version N+1 only where N is still stored (optimistic locking).
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (open_key);
CREATE INDEX incidents_detected ON incidents (detected_at);
CREATE INDEX incidents_status ON incidents (status);
CREATE TABLE incident_history (
    incident_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (incident_id, version)
);
CREATE INDEX incident_history_at ON incident_history (at);

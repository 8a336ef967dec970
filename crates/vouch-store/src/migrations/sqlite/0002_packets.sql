-- Evidence packets generated, so the next packet can prove consistency with this one.
CREATE TABLE packets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    period_label    TEXT    NOT NULL,
    period_start    TEXT    NOT NULL,
    period_end      TEXT    NOT NULL,
    generated_at    TEXT    NOT NULL,
    checkpoint_size INTEGER NOT NULL,
    json_sha256     TEXT    NOT NULL,
    pdf_sha256      TEXT,
    signing_key_id  TEXT    NOT NULL
);
CREATE INDEX packets_end ON packets (period_end);

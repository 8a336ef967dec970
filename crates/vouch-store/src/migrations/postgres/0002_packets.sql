-- See the SQLite migration of the same number.
CREATE TABLE packets (
    id              BIGSERIAL PRIMARY KEY,
    period_label    TEXT   NOT NULL,
    period_start    TEXT   NOT NULL,
    period_end      TEXT   NOT NULL,
    generated_at    TEXT   NOT NULL,
    checkpoint_size BIGINT NOT NULL,
    json_sha256     TEXT   NOT NULL,
    pdf_sha256      TEXT,
    signing_key_id  TEXT   NOT NULL
);
CREATE INDEX packets_end ON packets (period_end);

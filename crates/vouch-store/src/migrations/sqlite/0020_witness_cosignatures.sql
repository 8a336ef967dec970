-- Witness cosignatures (issue 18): one row per checkpoint size and witness. `line` is
-- the C2SP tlog-cosignature line (`— <witness> base64(key id ‖ timestamp ‖ signature)`)
-- over the checkpoint stored in `checkpoints` at that size; appending it to that note
-- gives the cosigned checkpoint packets carry. `timestamp` is the witness's (POSIX s).
CREATE TABLE witness_cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    root        TEXT NOT NULL,
    timestamp   BIGINT NOT NULL,
    line        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (size, witness)
);
CREATE INDEX witness_cosignatures_witness ON witness_cosignatures (witness, size);

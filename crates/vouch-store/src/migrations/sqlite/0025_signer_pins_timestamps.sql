-- Signer-key pins (issue 15): the personal key each signer's signatures must be made
-- with, when vouch.toml does not configure one ([attestations] signer_keys). One row per
-- signer: the primary key makes trust on first use atomic (of concurrent first
-- signatures with different keys exactly one pins its key; the others are refused).
-- `public_key` is the SSH public key (`ssh-ed25519 AAAA…`) or the OpenPGP fingerprint;
-- `pinned_by` is `first_use` (the first personally signed document, `document_id`) or
-- `rotated` (an admin's `vouch attest keys rotate`, recorded in the ledger).
CREATE TABLE signer_key_pins (
    signer       TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    pinned_by    TEXT NOT NULL,
    document_id  TEXT,
    pinned_at    TEXT NOT NULL
);

-- RFC 3161 timestamps of ledger checkpoints (issue 18): the daily `witness` job asks
-- the [timestamp] authority to timestamp the latest signed checkpoint (its C2SP note,
-- exactly as `vouch witness checkpoint --size N --signed-only` writes it). `token` is
-- the base64 of the DER TimeStampResp (`FILE.tsr`).
CREATE TABLE checkpoint_timestamps (
    size          BIGINT PRIMARY KEY,
    note_sha256   TEXT NOT NULL,
    token         TEXT NOT NULL,
    token_sha256  TEXT NOT NULL,
    gen_time      TEXT NOT NULL,
    tsa           TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

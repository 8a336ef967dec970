"""NDJSON: one line per KMS key of the region: its KeyMetadata, aliases and rotation status.

Seed 004 "Key Rotation": `aws kms get-key-rotation-status --key-id ...` for every key, not
only the one the runbook names. Automatic rotation exists only for symmetric keys whose key
material KMS generated; for the others KeyRotationEnabled is null and RotationStatusError
says why. Any other failure (e.g. AccessDenied on one key) fails the whole run: evidence
missing a key would look complete.
"""

import sys

sys.dont_write_bytecode = True  # keep the pack directory free of __pycache__
from awsjson import Failure, aws, main  # noqa: E402

ROTATION_FIELDS = ("KeyRotationEnabled", "RotationPeriodInDays", "NextRotationDate",
                   "OnDemandRotationStartDate")


def rotation(meta):
    row = dict.fromkeys(ROTATION_FIELDS)
    row["RotationStatusError"] = None
    if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT" or meta.get("Origin") != "AWS_KMS":
        row["RotationStatusError"] = (f"not applicable: KeySpec {meta.get('KeySpec')}, "
                                      f"Origin {meta.get('Origin')}")
        return row
    try:
        status = aws("kms", "get-key-rotation-status", "--key-id", meta["KeyId"])
    except Failure as e:
        # Keys pending deletion/import or unavailable cannot report a status.
        if e.code in ("KMSInvalidStateException", "UnsupportedOperationException"):
            row["RotationStatusError"] = e.code
            return row
        raise
    row.update({k: status[k] for k in ROTATION_FIELDS if k in status})
    return row


def collect():
    aliases = {}
    for alias in aws("kms", "list-aliases").get("Aliases", []):
        if alias.get("TargetKeyId"):
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    rows = []
    for key in aws("kms", "list-keys").get("Keys", []):
        meta = aws("kms", "describe-key", "--key-id", key["KeyId"])["KeyMetadata"]
        row = dict(meta)
        row["Aliases"] = sorted(aliases.get(meta["KeyId"], []))
        row.update(rotation(meta))
        rows.append(row)
    return rows


if __name__ == "__main__":
    main(collect)

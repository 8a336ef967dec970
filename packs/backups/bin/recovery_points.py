"""NDJSON: one line per AWS Backup recovery point, over every vault of the region.

Seed 004 "Check First Backup": `aws backup list-recovery-points-by-backup-vault` for every
vault that list-backup-vaults returns. Each line is the API's recovery point (BackupVaultName,
ResourceArn, ResourceType, Status, CreationDate, CompletionDate, IsEncrypted,
EncryptionKeyArn, Lifecycle, CalculatedLifecycle, ...).

Options --created-after / --created-before (RFC 3339) keep the points created in
[after, before), so the pack can pass the evidence period.
"""

import argparse
import datetime
import sys

sys.dont_write_bytecode = True  # keep the pack directory free of __pycache__
from awsjson import Failure, aws, main  # noqa: E402


def instant(text):
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"time without a UTC offset: {text!r}")
    return value


def bad_arguments(message):
    raise Failure(f"bad arguments: {message}")


def collect():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--created-after", type=instant)
    parser.add_argument("--created-before", type=instant)
    parser.error = bad_arguments  # one-line message, like every other failure
    args = parser.parse_args()

    window = []
    if args.created_after:
        window += ["--by-created-after", args.created_after.isoformat()]
    if args.created_before:
        window += ["--by-created-before", args.created_before.isoformat()]

    rows = []
    for vault in aws("backup", "list-backup-vaults").get("BackupVaultList", []):
        name = vault["BackupVaultName"]
        got = aws("backup", "list-recovery-points-by-backup-vault", "--backup-vault-name", name, *window)
        for point in got.get("RecoveryPoints", []):
            created = point.get("CreationDate")
            if not isinstance(created, str):
                raise Failure(f"recovery point {point.get('RecoveryPointArn')} has no CreationDate")
            created = instant(created)
            # The API's bounds are not documented as half-open; the period is [after, before).
            if args.created_after and created < args.created_after:
                continue
            if args.created_before and created >= args.created_before:
                continue
            point.setdefault("BackupVaultName", name)
            rows.append(point)
    return rows


if __name__ == "__main__":
    main(collect)

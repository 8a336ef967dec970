"""NDJSON: one line per Velero backup, from `velero backup get -o json` (seed 001 step 4).

Why a wrapper and not `rows = "items"` on velero's output: when exactly one backup exists,
velero prints that Backup object instead of a BackupList (pkg/cmd/util/output, "if obj was a
list and there was only 1 item, just print that 1"), so there is no "items" to point at.
Each line is a velero.io/v1 Backup as velero printed it (metadata.name, spec.ttl,
status.phase, status.startTimestamp, status.completionTimestamp, status.expiration, ...).
"""

import json
import os
import subprocess
import sys

ARGV = ["velero", "backup", "get", "-o", "json"]


def fail(message):
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {message}\n")
    sys.exit(1)


def main():
    try:
        proc = subprocess.run(ARGV, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        fail("velero CLI not found on PATH")
    if proc.returncode != 0:
        fail("velero backup get: " + (" ".join(proc.stderr.split())[:400] or f"exit status {proc.returncode}"))
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        fail(f"velero backup get: output is not JSON ({e})")
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind == "BackupList":
        backups = doc.get("items") or []
    elif kind == "Backup":
        backups = [doc]
    else:
        fail(f"velero backup get: expected kind BackupList or Backup, got {kind!r}")
    for backup in backups:
        sys.stdout.write(json.dumps(backup, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

"""Shared by this pack's scripts: run `aws ... --output json`, print NDJSON, fail in one line.

Standard library only. The aws CLI reads credentials, region and AWS_ENDPOINT_URL from the
environment vouch passes (the source's `env` allowlist); nothing here adds to it.
"""

import datetime
import json
import os
import re
import subprocess
import sys

# aws CLI v1 prints timestamps as they come over the wire (epoch seconds for JSON-protocol
# services such as KMS, Backup, EKS); v2 prints ISO 8601. Rows use ISO 8601 either way.
TIMESTAMP_KEY = re.compile(r"(Date|At|Time|Timestamp)$")


class Failure(Exception):
    """An aws call failed; `code` is the AWS error code when the CLI printed one."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def iso_times(value, key=""):
    """Turn numeric values of timestamp-named keys into ISO 8601 UTC strings, recursively."""
    if isinstance(value, dict):
        return {k: iso_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [iso_times(v, key) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and TIMESTAMP_KEY.search(key):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    return value


def aws(*args):
    """Run the aws CLI (argv list, no shell) and return its parsed JSON output."""
    argv = ["aws", *args, "--output", "json"]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        raise Failure("aws CLI not found on PATH") from None
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        code = re.search(r"An error occurred \(([^)]+)\)", proc.stderr)
        raise Failure(f"aws {args[0]} {args[1]}: {detail[:400]}", code and code.group(1))
    out = proc.stdout.strip()
    try:
        return iso_times(json.loads(out)) if out else {}
    except json.JSONDecodeError as e:
        raise Failure(f"aws {args[0]} {args[1]}: output is not JSON ({e})") from None


def main(collect):
    """Run collect() -> list of row dicts; print them as NDJSON only if all went well."""
    prog = os.path.basename(sys.argv[0])
    try:
        rows = collect()
    except Failure as e:
        sys.stderr.write(f"{prog}: {e}\n")
        sys.exit(1)
    except (KeyError, TypeError) as e:
        sys.stderr.write(f"{prog}: unexpected aws output shape: missing {e}\n")
        sys.exit(1)
    for row in rows:
        sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")

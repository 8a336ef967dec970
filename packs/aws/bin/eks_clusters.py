"""NDJSON: one line per EKS cluster of the region, with its control-plane logging.

Seed 004 "Audit Logging": `aws eks describe-cluster --name ...` for every cluster that
list-clusters returns. Each line is the API's cluster object (without the bulky
certificateAuthority data) plus enabledLogTypes, the sorted log types whose logging is
enabled, so a check can ask for "api" and "audit" directly.
"""

import sys

sys.dont_write_bytecode = True  # keep the pack directory free of __pycache__
from awsjson import aws, main  # noqa: E402


def collect():
    rows = []
    for name in aws("eks", "list-clusters").get("clusters", []):
        cluster = aws("eks", "describe-cluster", "--name", name)["cluster"]
        row = {k: v for k, v in cluster.items() if k != "certificateAuthority"}
        setups = (cluster.get("logging") or {}).get("clusterLogging", [])
        row["enabledLogTypes"] = sorted({t for s in setups if s.get("enabled") for t in s.get("types", [])})
        rows.append(row)
    return rows


if __name__ == "__main__":
    main(collect)

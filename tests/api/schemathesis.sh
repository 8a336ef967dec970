#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document with schemathesis: zero server errors
# and zero responses that break the documented schema.
# Usage: tests/api/schemathesis.sh VOUCH_BINARY [sqlite|postgres]
# `postgres` stores the ledger in a fresh schema of $VOUCH_TEST_DATABASE_URL (dropped after).
set -euo pipefail
vouch="$1"
engine="${2:-sqlite}"
source "$(dirname "$0")/serve.sh"
init_data "Schemathesis" schemathesis
start_serve VOUCH_SCHEDULER=off
# On a ledger with an entry pruned by retention (the audit-log query lists it as archived).
seed_pruned
echo "schemathesis on $engine (with a pruned entry)"
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples 25 --seed 1 \
  || { echo "--- serve.log ($engine)" >&2; tail -50 "$dir/serve.log" >&2; exit 1; }

#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document with schemathesis: zero server errors
# and zero responses that break the documented schema.
# Usage: tests/api/schemathesis.sh VOUCH_BINARY [sqlite|postgres]
# `postgres` stores the ledger in a fresh schema of $VOUCH_TEST_DATABASE_URL (dropped after).
set -euo pipefail
vouch="$1"
engine="${2:-sqlite}"
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
schema=""
case "$engine" in
  sqlite) unset VOUCH_DATABASE_URL VOUCH_DATABASE_SCHEMA ;;
  postgres)
    : "${VOUCH_TEST_DATABASE_URL:?postgres needs VOUCH_TEST_DATABASE_URL}"
    schema="vouch_st_$$_$(date +%s)"
    export VOUCH_DATABASE_URL="$VOUCH_TEST_DATABASE_URL" VOUCH_DATABASE_SCHEMA="$schema" ;;
  *) echo "engine must be sqlite or postgres, not $engine" >&2; exit 2 ;;
esac
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$schema" ] && psql "$VOUCH_TEST_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$vouch" --data-dir "$dir" init --org "Schemathesis" --origin st.example/vouch/audit >/dev/null
token="$("$vouch" --data-dir "$dir" tokens create --role admin --name schemathesis 2>/dev/null)"
VOUCH_SCHEDULER=off "$vouch" --data-dir "$dir" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "vouch serve ($engine) did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
echo "schemathesis on $engine"
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples 25 --seed 1 \
  || { echo "--- serve.log ($engine)" >&2; tail -50 "$dir/serve.log" >&2; exit 1; }

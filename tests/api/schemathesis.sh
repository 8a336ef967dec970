#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document with schemathesis: zero server errors
# and zero responses that break the documented schema. Usage: tests/api/schemathesis.sh VOUCH_BINARY
set -euo pipefail
vouch="$1"
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$vouch" --data-dir "$dir" init --org "Schemathesis" --origin st.example/vouch/audit >/dev/null
token="$("$vouch" --data-dir "$dir" tokens create --role admin --name schemathesis 2>/dev/null)"
"$vouch" --data-dir "$dir" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples 25 --seed 1

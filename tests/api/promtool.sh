#!/usr/bin/env bash
# Prometheus: `promtool check metrics` on a live scrape of vouch serve, and the alert
# rules checked and unit-tested. Usage: tests/api/promtool.sh VOUCH_BINARY
set -euo pipefail
vouch="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$vouch" --data-dir "$dir" init --org "Metrics" --origin metrics.example/vouch/audit >/dev/null
token="$("$vouch" --data-dir "$dir" tokens create --role admin --name promtool 2>/dev/null)"
"$vouch" --data-dir "$dir" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
base="http://127.0.0.1:$port/api/compliance"
curl -fsS -X POST "$base/audit-logs" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '[{"action":"user.login","category":"authentication","result":"success","timestamp":"2026-10-01T00:00:00Z"}]' >/dev/null
curl -sS "$base/status" >/dev/null || true          # a 401, counted too
curl -fsS "$base/audit-logs/verify" -H "Authorization: Bearer $token" >/dev/null
scrape="$dir/metrics.txt"
curl -fsS "http://127.0.0.1:$port/metrics" >"$scrape"
promtool check metrics <"$scrape"
for name in vouch_http_requests_total vouch_ledger_append_latency_seconds_bucket vouch_ledger_events_total \
            vouch_ledger_verify_failures_total vouch_collector_errors_total vouch_ledger_unchecked_entries; do
  grep -q "^$name" "$scrape" || { echo "missing $name in the scrape" >&2; exit 1; }
done
grep -q 'vouch_http_requests_total{method="GET",route="/api/compliance/status",status="401"} 1' "$scrape" \
  || { echo "the 401 was not counted" >&2; cat "$scrape" >&2; exit 1; }
promtool check rules "$root/deploy/prometheus/vouch-alerts.yml"
promtool test rules "$root/deploy/prometheus/vouch-alerts.test.yml"
echo "promtool: metrics and rules ok"

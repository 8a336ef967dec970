#!/usr/bin/env bash
# Prometheus: `promtool check metrics` on a live scrape of vouch serve, and the alert
# rules checked and unit-tested. Usage: tests/api/promtool.sh VOUCH_BINARY [sqlite|postgres]
# `postgres` stores the ledger in a fresh schema of $VOUCH_TEST_DATABASE_URL (dropped after).
set -euo pipefail
vouch="$1"
engine="${2:-sqlite}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/tests/api/serve.sh"
init_data "Metrics" promtool
# Monthly attestations whose previous-month window closes at the coming midnight (UTC):
# its hard close is the first of this month plus close_days_after + 1 days.
last_month="$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)"
sed -i -e 's/^cadence = "quarterly"$/cadence = "monthly"/' \
  -e "s/^close_days_after = 5\$/close_days_after = $(( $(date -u +%-d) - 1 ))/" "$dir/vouch.toml"
officer="$("$vouch" --data-dir "$dir" tokens create --role compliance-officer --name officer 2>/dev/null)"
start_serve
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
# End to end, seed 000's alert: a job made to fail on this live server (a packet for
# the current month, which has not ended, is refused) is counted in the scrape, and the
# alert rule fires on the values the two scrapes gave.
series='vouch_soc2_job_runs_total{job="generate-soc2-evidence",status="failed"}'
value_of() { awk -v s="$series" '$1 == s {print $2}' "$1"; }
before="$(value_of "$scrape")"
[ "$before" = "0" ] || { echo "expected $series 0 before any failure, got '$before'" >&2; cat "$scrape" >&2; exit 1; }
month="$(date -u +%Y-%m)"
run="$(curl -sS -X POST "$base/jobs/generate-soc2-evidence/run?period=$month" -H "Authorization: Bearer $token")"
echo "$run" | grep -q '"status":"failed"' || { echo "the job was expected to fail: $run" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics2.txt"
promtool check metrics <"$dir/metrics2.txt"
after="$(value_of "$dir/metrics2.txt")"
[ "$after" = "1" ] || { echo "expected $series 1 after the failure, got '$after'" >&2; grep vouch_soc2_job "$dir/metrics2.txt" >&2; exit 1; }
grep -q '^vouch_soc2_job_duration_seconds_count{job="generate-soc2-evidence"} 1' "$dir/metrics2.txt" \
  || { echo "the failed run's duration is missing" >&2; grep vouch_soc2_job "$dir/metrics2.txt" >&2; exit 1; }
cat >"$dir/live.test.yml" <<EOF
rule_files:
  - $root/deploy/prometheus/vouch-alerts.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '$series'
        values: '$before $before $after $after'
    alert_rule_test:
      - eval_time: 1m
        alertname: SOC2EvidenceJobFailed
        exp_alerts: []
      - eval_time: 3m
        alertname: SOC2EvidenceJobFailed
        exp_alerts:
          - exp_labels: {severity: critical, job: generate-soc2-evidence, status: failed}
            exp_annotations:
              summary: "The monthly SOC 2 evidence job failed"
              description: "generate-soc2-evidence ended in failure; last month's packet and archive are missing. See \`vouch jobs runs generate-soc2-evidence\`."
EOF
promtool test rules "$dir/live.test.yml"
# Issue 12: the scheduler's first tick (at start) caught up nothing of the months before
# this fresh `vouch init`: no packet of last month, no scheduled run of the monthly job.
last="$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)"
[ ! -e "$dir/packets/$last" ] || { echo "a fresh install generated a packet for $last" >&2; exit 1; }
runs="$(curl -fsS "$base/jobs/generate-soc2-evidence/runs" -H "Authorization: Bearer $token")"
echo "$runs" | grep -q "generate-soc2-evidence:$last\"" && { echo "a fresh install caught up $last: $runs" >&2; exit 1; }
grep -q "scheduler tick failed" "$dir/serve.log" && { echo "the scheduler failed:" >&2; cat "$dir/serve.log" >&2; exit 1; }
# Late arrivals: September's packet, then an event stamped in September.
"$vouch" --data-dir "$dir" packet --period 2026-09 --format json >/dev/null
curl -fsS -X POST "$base/audit-logs" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '[{"action":"late.arrival","category":"system","result":"success","timestamp":"2026-09-15T00:00:00Z"}]' >/dev/null
curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics3.txt"
promtool check metrics <"$dir/metrics3.txt"
grep -q '^vouch_ledger_late_events_total{period="2026-09"} 1$' "$dir/metrics3.txt" \
  || { echo "the late arrival was not counted" >&2; grep late "$dir/metrics3.txt" >&2; exit 1; }
# Issue 16: seed 003's incident (detected 2025-01-21, medium: due four hours later) is
# past its response deadline; the scheduler's SLA watch (every tick, 30 s) records the
# breach, the scrape counts it, and the alert rule fires on the two scraped values.
bseries='vouch_incident_response_breaches_total'
bvalue() { awk -v s="$bseries" '$1 == s {print $2}' "$1"; }
curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics4.txt"
bbefore="$(bvalue "$dir/metrics4.txt")"
[ "$bbefore" = "0" ] || { echo "expected $bseries 0 before any incident, got '$bbefore'" >&2; exit 1; }
curl -fsS -X POST "$base/incidents" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{
  "title": "Suspicious login activity detected",
  "severity": "medium",
  "description": "Multiple failed login attempts from unusual location",
  "affected_systems": ["authentication"],
  "detected_at": "2025-01-21T10:00:00Z",
  "detected_by": "automated_monitoring"
}' >"$dir/incident.json"
grep -q '"response_deadline":"2025-01-21T14:00:00.000000Z"' "$dir/incident.json" \
  || { echo "unexpected incident: $(cat "$dir/incident.json")" >&2; exit 1; }
bafter=""
for _ in $(seq 1 45); do
  curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics5.txt"
  bafter="$(bvalue "$dir/metrics5.txt")"
  [ "$bafter" = "1" ] && break
  sleep 1
done
[ "$bafter" = "1" ] || { echo "the breach was not recorded within 45 s ($bseries '$bafter')" >&2; cat "$dir/serve.log" >&2; exit 1; }
promtool check metrics <"$dir/metrics5.txt"
grep -q '^vouch_incidents_open{severity="medium"} 1$' "$dir/metrics5.txt" \
  || { echo "the open incident is not counted" >&2; grep incident "$dir/metrics5.txt" >&2; exit 1; }
cat >"$dir/incident.test.yml" <<EOF
rule_files:
  - $root/deploy/prometheus/vouch-alerts.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '$bseries'
        values: '$bbefore $bbefore $bafter $bafter'
    alert_rule_test:
      - eval_time: 1m
        alertname: IncidentResponseBreached
        exp_alerts: []
      - eval_time: 3m
        alertname: IncidentResponseBreached
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "An incident's response deadline was breached"
              description: "An incident was not triaged (severity confirmed, responder assigned) within its response time; a finding was opened against the incident-response control. See \`vouch incidents list --breached\`."
EOF
promtool test rules "$dir/incident.test.yml"
# Seed 002 / issue 15: an attestation window that closes within two days, unsigned, on
# this live server: the scrape says so and AttestationWindowClosing fires on the scraped
# values; once signed, the scrape says 1 and the alert is silent.
opened="$(curl -fsS -X POST "$base/attestations" -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' -d "{\"period\":\"$last_month\"}")"
att_id="$(echo "$opened" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics4.txt"
promtool check metrics <"$dir/metrics4.txt"
closes="$(awk -v s="vouch_attestation_window_closes_in_seconds{period=\"$last_month\"}" '$1 == s {print $2}' "$dir/metrics4.txt")"
signed="$(awk -v s="vouch_attestation_signed{period=\"$last_month\"}" '$1 == s {print $2}' "$dir/metrics4.txt")"
{ [ -n "$closes" ] && [ "$closes" -gt 0 ] && [ "$closes" -le 86400 ] && [ "$signed" = "0" ]; } \
  || { echo "expected $last_month open, unsigned, closing within a day: closes='$closes' signed='$signed'" >&2; grep attestation "$dir/metrics4.txt" >&2; exit 1; }
# No controls are configured here: nothing was attested, so only a qualified opinion.
refused="$(curl -sS -X POST "$base/attestations/$att_id/sign" -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' -d '{"opinion":"unqualified"}')"
echo "$refused" | grep -q '"field":"opinion"' || { echo "unqualified was not refused: $refused" >&2; exit 1; }
curl -fsS -X POST "$base/attestations/$att_id/sign" -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' -d '{"opinion":"qualified"}' >/dev/null
curl -fsS "http://127.0.0.1:$port/metrics" >"$dir/metrics5.txt"
promtool check metrics <"$dir/metrics5.txt"
signed_after="$(awk -v s="vouch_attestation_signed{period=\"$last_month\"}" '$1 == s {print $2}' "$dir/metrics5.txt")"
[ "$signed_after" = "1" ] || { echo "expected $last_month signed 1, got '$signed_after'" >&2; exit 1; }
if grep -q "^vouch_attestation_window_closes_in_seconds{period=\"$last_month\"}" "$dir/metrics5.txt"; then
  echo "a signed window still reports its close" >&2; exit 1
fi
{
  echo "rule_files:"
  echo "  - $root/deploy/prometheus/vouch-alerts.yml"
  echo "evaluation_interval: 1m"
  echo "tests:"
  echo "  - interval: 1m"
  echo "    input_series:"
  echo "      - series: 'vouch_attestation_window_closes_in_seconds{period=\"$last_month\"}'"
  echo "        values: '$closes $closes'"
  echo "      - series: 'vouch_attestation_signed{period=\"$last_month\"}'"
  echo "        values: '$signed $signed $signed_after $signed_after'"
  echo "    alert_rule_test:"
  echo "      - eval_time: 1m"
  echo "        alertname: AttestationWindowClosing"
  echo "        exp_alerts:"
  echo "          - exp_labels: {severity: warning, period: \"$last_month\"}"
  echo "            exp_annotations:"
  echo "              summary: \"The $last_month attestation window closes within two days\""
  echo "              description: \"Operator sign-off is due before the hard close.\""
  echo "      - eval_time: 3m"
  echo "        alertname: AttestationWindowClosing"
  echo "        exp_alerts: []"
} >"$dir/attest.test.yml"
promtool test rules "$dir/attest.test.yml"
promtool check rules "$root/deploy/prometheus/vouch-alerts.yml"
promtool test rules "$root/deploy/prometheus/vouch-alerts.test.yml"
echo "promtool: metrics and rules ok"

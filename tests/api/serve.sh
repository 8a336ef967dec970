# Sourced by the scripts beside it: a throwaway data directory, the engine chosen by
# "$engine" (sqlite, or postgres in a fresh schema of $VOUCH_TEST_DATABASE_URL), a free
# loopback port, and cleanup on exit (server killed, schema dropped, directory removed).
# Sets: dir, port, schema, pid (empty until start_serve), base.
# Then: init_data ORG NAME (sets token), start_serve [ENV=VALUE...].
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port/api/compliance"
schema=""
case "$engine" in
  sqlite) unset VOUCH_DATABASE_URL VOUCH_DATABASE_SCHEMA ;;
  postgres)
    : "${VOUCH_TEST_DATABASE_URL:?postgres needs VOUCH_TEST_DATABASE_URL}"
    schema="vouch_api_$$_$(date +%s)"
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

init_data() { # init_data ORG TOKEN_NAME: vouch init, and an admin token in $token
  "$vouch" --data-dir "$dir" init --org "$1" --origin "$(echo "$1" | tr 'A-Z' 'a-z').example/vouch/audit" >/dev/null
  token="$("$vouch" --data-dir "$dir" tokens create --role admin --name "$2" 2>/dev/null)"
}

start_serve() { # start_serve [ENV=VALUE...]: vouch serve in the background, waited for
  env "$@" "$vouch" --data-dir "$dir" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null \
    || { echo "vouch serve ($engine) did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
}

seed_pruned() { # seed_pruned: events (one past its retention) then a retention run, so the
  # ledger has a pruned entry (an empty leaf, an audit-log index row, an archive): the
  # API must answer on such a ledger as on any other (issue 17: it answered 500).
  old="$(date -u -d '-200 days' +%Y-%m-%dT%H:%M:%SZ)"
  recent="$(date -u -d '-1 days' +%Y-%m-%dT%H:%M:%SZ)"
  curl -fsS -X POST "$base/audit-logs" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "[{\"action\":\"app.debug\",\"category\":\"system\",\"result\":\"success\",\"retention\":\"debug\",\"actor_id\":\"usr_0012\",\"organization_id\":\"org_1\",\"timestamp\":\"$old\"},
         {\"action\":\"user.login\",\"category\":\"authentication\",\"result\":\"success\",\"actor_id\":\"usr_0012\",\"organization_id\":\"org_1\",\"timestamp\":\"$recent\"}]" >/dev/null
  archived="$(curl -fsS -X POST "$base/jobs/retention/run" -H "Authorization: Bearer $token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["outputs"]["rows_archived"])')"
  [ "$archived" -ge 1 ] || { echo "seed_pruned: the retention run archived $archived entries" >&2; exit 1; }
}

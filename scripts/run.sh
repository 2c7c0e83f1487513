#!/usr/bin/env bash
# run.sh is `make run`: a dev database, migrations, the server, and the demo
# fleet posting readings to it through the public API. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/freshtrack
addr=${ADDR:-127.0.0.1:8080}

db=$(scripts/pg.sh database freshtrack "${DATABASE_URL:-}")
export DATABASE_URL="$db" FRESHTRACK_ADDR="$addr"
$bin migrate up >/dev/null

$bin serve --dev-auth &
serve_pid=$!
sim_pid=
stop() {
	trap - INT TERM EXIT
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
	kill "$serve_pid" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# The demo waits for /readyz, creates its organisation, prints the API key and
# a ready-to-paste curl line, then posts a reading per sensor every 10s.
$bin demo --simulate --dev-tokens --target "http://$addr" --interval "${DEMO_INTERVAL:-10s}" &
sim_pid=$!

echo "freshtrack: serving on http://$addr (metrics: http://$addr/metrics); Ctrl-C stops" >&2
wait "$serve_pid"

#!/usr/bin/env bash
# run.sh is `make run`: a dev database, migrations, the server, and the demo
# fleet posting readings to it through the public API. Ctrl-C, or SIGINT or
# SIGTERM to this script, stops both and waits for them; SIGTERM to make
# does too (make passes SIGTERM on to its recipe, but keeps SIGINT to
# itself). It exits with the server's status: 0 after a clean stop.
set -euo pipefail

# A script started in the background by a non-interactive shell (`make run &`
# in a script) inherits SIGINT ignored, and bash can neither trap nor reset a
# signal ignored on entry: `kill -INT` would do nothing. Start again, once,
# with SIGINT at its default (env --default-signal, coreutils 8.31 or later).
if [ -z "${RUN_SH_SIGNALS:-}" ] && env --default-signal=INT true 2>/dev/null; then
	RUN_SH_SIGNALS=default exec env --default-signal=INT "$0" "$@"
fi
unset RUN_SH_SIGNALS

cd "$(dirname "$0")/.."
bin=./bin/freshtrack
addr=${ADDR:-127.0.0.1:8080}

db=$(scripts/pg.sh database freshtrack "${DATABASE_URL:-}")
export DATABASE_URL="$db" FRESHTRACK_ADDR="$addr"
$bin migrate up >/dev/null

serve_pid=
sim_pid=
status=0
# stop ends the demo and the server (SIGTERM: both drain), waits for them,
# and exits with the server's status.
stop() {
	trap - INT TERM EXIT
	[ -z "$sim_pid" ] || kill -TERM "$sim_pid" 2>/dev/null || true
	if [ -n "$serve_pid" ]; then
		kill -TERM "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" || status=$?
	fi
	[ -z "$sim_pid" ] || wait "$sim_pid" || true
	exit "$status"
}
trap stop INT TERM EXIT

$bin serve --dev-auth &
serve_pid=$!

# The demo waits for /readyz, creates its organisation, prints the API key and
# a ready-to-paste curl line, posts a week of in-range history (DEMO_HISTORY),
# then a reading per sensor every 10s.
$bin demo --simulate --dev-tokens --target "http://$addr" --interval "${DEMO_INTERVAL:-10s}" --history "${DEMO_HISTORY:-168h}" &
sim_pid=$!

echo "freshtrack: serving on http://$addr/ (sign in with one click; metrics: http://$addr/metrics); Ctrl-C stops" >&2
# A signal interrupts this wait and runs stop; a server that ends by itself
# ends the demo too.
wait "$serve_pid" || status=$?
serve_pid=
stop

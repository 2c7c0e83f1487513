#!/usr/bin/env bash
# deploy/e2e.sh runs FreshTrack's production stack on this machine, on
# loopback, and checks that it works as deploy/README.md says:
#
#   PostgreSQL 15 (WAL archived by pgBackRest), PgBouncer (transaction mode),
#   Redis, two `freshtrack serve` instances, Caddy with TLS from its internal
#   CA in front of them, and Prometheus scraping both instances;
#
#   - traffic through Caddy over TLS (verified with Caddy's root) and
#     through PgBouncer;
#   - a reading posted through Caddy raises exactly one alert;
#   - a rolling restart (instance 1, then 2) under `freshtrack bench ingest`
#     fails no request and loses no acknowledged reading;
#   - Prometheus scrapes both instances, and an alert rule fires once
#     ingest stops;
#   - the backup -> point-in-time restore drill passes (deploy/restore-drill.sh);
#   - periodic jobs ran once per period across the two instances.
#
# Run it as root on Debian with Go (make e2e). It installs the Debian
# packages it needs when missing, without starting their services, and uses
# ports of its own, so services already running are left alone. Everything
# it starts is stopped, and its directory removed, when it ends, on failure
# too (E2E_KEEP=1 keeps the directory with every log).
#
# Settings: E2E_BENCH_SECONDS (45), E2E_BENCH_RATE readings/s (2000),
# E2E_DRAIN_DELAY (FRESHTRACK_SHUTDOWN_DELAY of the instances, 4s),
# E2E_VIA_PGBOUNCER (auto: through PgBouncer once freshtrack has
# FRESHTRACK_DATABASE_DIRECT_URL; 1 or 0 to choose), E2E_PG_BIN.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=${E2E_PG_BIN:-/usr/lib/postgresql/15/bin}
STANZA=freshtrack
BENCH_SECONDS=${E2E_BENCH_SECONDS:-45}
BENCH_RATE=${E2E_BENCH_RATE:-2000}
DRAIN_DELAY=${E2E_DRAIN_DELAY:-4s}
SHUTDOWN_TIMEOUT=15

START=$SECONDS
log() { printf '[%4ds] e2e: %s\n' "$((SECONDS - START))" "$*"; }
fail() {
	log "FAIL: $*"
	exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root: it installs packages and runs PostgreSQL and PgBouncer as the postgres user"

# --- Cleanup: every process started here, in reverse order, even on failure.
WORK=$(mktemp -d /tmp/freshtrack-e2e.XXXXXX)
chmod 755 "$WORK"
declare -A PIDS=()
STARTED=()
POLICY_ADDED=
PG_STARTED=

started() { # started NAME PID
	PIDS[$1]=$2
	STARTED+=("$1")
}
stop_process() { # stop_process NAME: SIGTERM, then SIGKILL after 20 s
	local pid=${PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	unset "PIDS[$1]"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	set +e
	if [ "$rc" -ne 0 ]; then
		for f in "$WORK"/*.log "$WORK"/pg/*.log "$WORK"/pgbouncer/*.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f"
			tail -n 15 "$f"
		done
	fi
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		stop_process "${STARTED[i]}"
	done
	if [ -n "$PG_STARTED" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1 ||
			runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1
	fi
	[ -n "$POLICY_ADDED" ] && rm -f /usr/sbin/policy-rc.d
	if [ "${E2E_KEEP:-}" = 1 ]; then
		echo "e2e: kept $WORK"
	else
		rm -rf "$WORK"
	fi
	[ "$rc" -eq 0 ] && echo "e2e: PASS in $((SECONDS - START)) s" || echo "e2e: FAILED (exit $rc) after $((SECONDS - START)) s"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || fail "$what: not within ${limit}s"
		sleep 0.2
	done
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# render_conf SRC DST EDIT...: an ini file of deploy/ with this machine's
# paths and ports. An EDIT is key=value (replace that key's value), -key
# (drop the key) or [section]key=value (add the key to that section); a key
# to replace or drop that SRC lacks is an error, so deploy/'s files cannot
# drift away from what this script proves.
render_conf() {
	local src=$1 dst=$2
	shift 2
	awk -v edits="$(printf '%s\n' "$@")" '
		BEGIN {
			n = split(edits, e, "\n")
			for (i = 1; i <= n; i++) {
				if (e[i] == "") continue
				if (e[i] ~ /^-/) { drop[substr(e[i], 2)] = 1; continue }
				eq = index(e[i], "="); k = substr(e[i], 1, eq - 1); v = substr(e[i], eq + 1)
				if (k ~ /^\[/) { sec = substr(k, 1, index(k, "]")); add[sec] = add[sec] substr(k, length(sec) + 1) "=" v "\n" }
				else set[k] = v
			}
		}
		{
			key = ""
			if (match($0, /^[A-Za-z0-9_.-]+[ \t]*=/)) { key = $0; sub(/[ \t]*=.*/, "", key) }
			if (key in drop) { seen[key] = 1; next }
			if (key in set) { rest = substr($0, length(key) + 1); match(rest, /^[ \t]*=[ \t]*/); print key substr(rest, 1, RLENGTH) set[key]; seen[key] = 1; next }
			print
			if ($0 in add) printf "%s", add[$0]
		}
		END {
			for (k in set) if (!(k in seen)) { print "render_conf: no " k " in the file" > "/dev/stderr"; exit 1 }
			for (k in drop) if (!(k in seen)) { print "render_conf: no " k " to drop in the file" > "/dev/stderr"; exit 1 }
		}' "$src" >"$dst" || fail "rendering $src"
}

# --- Packages. Their services must not start (policy-rc.d), and would not
# be in the way if they had: every port below is one of our own.
need=()
for pkg in pgbackrest pgbouncer caddy prometheus redis-server jq curl iproute2; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ -x "$PG_BIN/initdb" ] || [ -n "${E2E_PG_BIN:-}" ] || need+=(postgresql-15)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_ADDED=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >"$WORK/apt.log" 2>&1 ||
		{ apt-get update -qq >>"$WORK/apt.log" 2>&1 && apt-get install -y -qq "${need[@]}" >>"$WORK/apt.log" 2>&1; } ||
		fail "apt-get install ${need[*]} (see $WORK/apt.log)"
	if [ -n "$POLICY_ADDED" ]; then
		rm -f /usr/sbin/policy-rc.d
		POLICY_ADDED=
	fi
fi

[ -x "$PG_BIN/initdb" ] || fail "no PostgreSQL 15 in $PG_BIN (apt-get install postgresql-15, or set E2E_PG_BIN)"

# --- Ports: free loopback ports from a random base, none of the defaults,
# below the ephemeral range (where an outgoing connection could take one
# between this check and the bind).
ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
next_port=$((20000 + RANDOM % (ephemeral_low > 21000 ? ephemeral_low - 20100 : 1000)))
port_free() { ! ss -Hltn "( sport = :$1 )" | grep -q .; }
alloc_port() { # alloc_port VAR
	until port_free "$next_port"; do next_port=$((next_port + 1)); done
	printf -v "$1" '%s' "$next_port"
	next_port=$((next_port + 1))
}
for v in PG_PORT SCRATCH_PORT PGB_PORT REDIS_PORT FT1_PORT FT2_PORT CADDY_HTTPS CADDY_HTTP CADDY_ADMIN_PORT PROM_PORT; do
	alloc_port "$v"
done
FT_PORT=([1]="$FT1_PORT" [2]="$FT2_PORT")

log "building freshtrack"
make -C "$ROOT" build >"$WORK/build.log" 2>&1 || fail "make build (see $WORK/build.log)"
BIN=$WORK/freshtrack
cp "$ROOT/bin/freshtrack" "$BIN"

# --- PostgreSQL 15, WAL archived into a pgBackRest posix repository.
mkdir -p "$WORK/pg/data" "$WORK/pg/run" "$WORK/backrest/repo" "$WORK/backrest/log" "$WORK/backrest/lock"
chown -R postgres: "$WORK/pg" "$WORK/backrest"
chmod 700 "$WORK/pg/data"
PGBR_CONF=$WORK/backrest/pgbackrest.conf
# deploy/backup/pgbackrest.conf with this cluster's paths and port.
render_conf "$ROOT/deploy/backup/pgbackrest.conf" "$PGBR_CONF" repo1-path="$WORK/backrest/repo" \
	pg1-path="$WORK/pg/data" pg1-socket-path="$WORK/pg/run" "[freshtrack]pg1-port=$PG_PORT" \
	"[global]lock-path=$WORK/backrest/lock" "[global]log-path=$WORK/backrest/log"
chown postgres: "$PGBR_CONF"
export PGBACKREST_CONFIG=$PGBR_CONF PGBACKREST_STANZA=$STANZA

log "starting PostgreSQL on $PG_PORT"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >"$WORK/initdb.log" 2>&1 ||
	fail "initdb (see $WORK/initdb.log)"
cat >>"$WORK/pg/data/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/pg/run'
max_connections = 200
shared_buffers = 128MB
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'
EOF
PG_STARTED=1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" -w start >/dev/null ||
	fail "PostgreSQL did not start (see $WORK/pg/postgres.log)"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=freshtrack
psql -X -q -d postgres -c 'CREATE DATABASE freshtrack'
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
t=$(now)
runuser -u postgres -- env PGBACKREST_CONFIG="$PGBR_CONF" pgbackrest --stanza=$STANZA --log-level-console=warn stanza-create
runuser -u postgres -- env PGBACKREST_CONFIG="$PGBR_CONF" pgbackrest --stanza=$STANZA --log-level-console=warn check
log "pgBackRest stanza created and WAL archiving checked in $(secs "$t" "$(now)") s (retention: $(grep -E '^repo1-retention-full' "$PGBR_CONF" | tr '\n' ' '))"

DIRECT_URL="postgres://postgres@127.0.0.1:$PG_PORT/freshtrack?sslmode=disable"
export DATABASE_URL=$DIRECT_URL
"$BIN" migrate up >"$WORK/migrate.log" 2>&1 || fail "freshtrack migrate up (see $WORK/migrate.log)"
# Readings over several UTC days, for the restore drill's checksums per day.
"$BIN" bench seed --sensors 20 --units-per-site 20 --days 3 --interval 5m --log-level warn >"$WORK/seed.log" 2>&1 ||
	fail "freshtrack bench seed (see $WORK/seed.log)"

# --- Redis and PgBouncer.
mkdir -p "$WORK/redis" "$WORK/pgbouncer"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
started redis $!
POOLED_URL="postgres://postgres@127.0.0.1:$PGB_PORT/freshtrack?sslmode=disable"
# deploy/pgbouncer/pgbouncer.ini on loopback, trusting local connections,
# without max_prepared_statements (PgBouncer 1.21+; Debian 12 has 1.18, and
# FreshTrack's pooled mode does without prepared statements).
render_conf "$ROOT/deploy/pgbouncer/pgbouncer.ini" "$WORK/pgbouncer/pgbouncer.ini" \
	freshtrack="host=127.0.0.1 port=$PG_PORT dbname=freshtrack" listen_addr=127.0.0.1 listen_port="$PGB_PORT" \
	auth_type=trust auth_file="$WORK/pgbouncer/userlist.txt" admin_users=postgres stats_users=postgres \
	-max_prepared_statements "[pgbouncer]logfile=$WORK/pgbouncer/pgbouncer.log"
echo '"postgres" ""' >"$WORK/pgbouncer/userlist.txt"
chown -R postgres: "$WORK/pgbouncer"
setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$WORK/pgbouncer/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
started pgbouncer $!
wait_for 10 "redis on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
wait_for 10 "PgBouncer on $PGB_PORT" psql -X -At -p "$PGB_PORT" -c 'SELECT 1'

# ---- The one place that chooses how the instances reach PostgreSQL. ----
# Through PgBouncer in transaction mode, with the direct URL for River's
# LISTEN and advisory locks, once freshtrack knows FRESHTRACK_DATABASE_DIRECT_URL;
# straight to PostgreSQL until then.
via_pgbouncer=${E2E_VIA_PGBOUNCER:-auto}
if [ "$via_pgbouncer" = auto ]; then
	via_pgbouncer=0
	"$BIN" serve --help 2>&1 | grep -q FRESHTRACK_DATABASE_DIRECT_URL && via_pgbouncer=1
fi
if [ "$via_pgbouncer" = 1 ]; then
	INSTANCE_DB=(DATABASE_URL="$POOLED_URL" FRESHTRACK_DATABASE_DIRECT_URL="$DIRECT_URL")
	log "instances reach PostgreSQL through PgBouncer on $PGB_PORT (direct URL for LISTEN and advisory locks)"
else
	INSTANCE_DB=(DATABASE_URL="$DIRECT_URL")
	log "instances reach PostgreSQL directly (this freshtrack has no FRESHTRACK_DATABASE_DIRECT_URL for PgBouncer)"
fi

# --- Two instances behind Caddy.
CADDY_URL=https://127.0.0.1:$CADDY_HTTPS
TICKET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_instance() { # start_instance N
	env "${INSTANCE_DB[@]}" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" FRESHTRACK_ADDR="127.0.0.1:${FT_PORT[$1]}" \
		FRESHTRACK_PUBLIC_URL="$CADDY_URL" FRESHTRACK_EVENTS_TICKET_KEY="$TICKET_KEY" FRESHTRACK_LOG_FORMAT=json \
		FRESHTRACK_SHUTDOWN_TIMEOUT="${SHUTDOWN_TIMEOUT}s" FRESHTRACK_SHUTDOWN_DELAY="$DRAIN_DELAY" \
		"$BIN" serve >>"$WORK/instance$1.log" 2>&1 &
	started "instance$1" $!
}
ready() { curl -sf -o /dev/null "http://127.0.0.1:$1/readyz"; }
# River's leader terms, for the periodic-jobs check at the end.
(while :; do
	sql -c "SELECT leader_id || ' ' || to_char(elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM river_leader" 2>/dev/null || true
	sleep 0.5
done >>"$WORK/leaders.txt") &
started leader-poller $!
before_jobs=$(sql -c "SELECT count(*) FROM river_job")
[ "$before_jobs" = 0 ] || fail "river_job has $before_jobs rows before any instance ran"
for i in 1 2; do
	t=$(now)
	start_instance "$i"
	wait_for 60 "instance $i ready on ${FT_PORT[$i]}" ready "${FT_PORT[$i]}"
	log "instance $i ready on ${FT_PORT[$i]} in $(secs "$t" "$(now)") s"
done

mkdir -p "$WORK/caddy"
env FRESHTRACK_SITE="$CADDY_URL" FRESHTRACK_UPSTREAMS="127.0.0.1:$FT1_PORT 127.0.0.1:$FT2_PORT" FRESHTRACK_TLS="tls internal" \
	CADDY_ADMIN="127.0.0.1:$CADDY_ADMIN_PORT" CADDY_HTTP_PORT="$CADDY_HTTP" CADDY_BIND=127.0.0.1 \
	HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy/data" XDG_CONFIG_HOME="$WORK/caddy/config" \
	caddy run --config "$ROOT/deploy/caddy/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
started caddy $!
CA=$WORK/caddy/data/caddy/pki/authorities/local/root.crt
through_caddy() { curl -sf --cacert "$CA" "$@"; }
wait_for 30 "Caddy's internal root at $CA" test -s "$CA"
wait_for 30 "/readyz through Caddy on $CADDY_HTTPS" through_caddy -o /dev/null "$CADDY_URL/readyz"
issuer=$(curl -sv --cacert "$CA" -o /dev/null "$CADDY_URL/healthz" 2>&1 | sed -n 's/^\*  issuer: //p')
untrusted=0
curl -s -o /dev/null "$CADDY_URL/healthz" || untrusted=$?
[ "$untrusted" = 60 ] || fail "a client without Caddy's root should refuse its certificate (curl exit 60), got exit $untrusted"
log "TLS through Caddy on $CADDY_HTTPS: certificate issued by '$issuer', refused without Caddy's root"
pgb_rows=$(psql -X -At -p "$PGB_PORT" -c "SELECT count(*) FROM readings")
pgb_xacts=$(psql -X -At -p "$PGB_PORT" -d pgbouncer -c 'SHOW STATS' | awk -F'|' '$1 == "freshtrack" { print $2 }')
[ "${pgb_xacts:-0}" -gt 0 ] || fail "PgBouncer's SHOW STATS counts no transaction for freshtrack"
# freshtrack's own queries through the pool (pgx's exec mode: PgBouncer 1.18
# keeps no prepared statements across transactions).
pgb_status=$(DATABASE_URL="$POOLED_URL&default_query_exec_mode=exec" "$BIN" migrate status --json | jq -r '"\(.schema_version)/\(.schema_latest)"')
[ "${pgb_status%/*}" = "${pgb_status#*/}" ] || fail "freshtrack migrate status through PgBouncer: schema $pgb_status"
log "through PgBouncer (transaction mode): $pgb_rows readings counted, migrate status says schema $pgb_status, $pgb_xacts transactions pooled so far"

# --- Prometheus: both instances every second, the rules of
# deploy/prometheus/rules.yml, and FreshTrackIngestStopped with short windows.
mkdir -p "$WORK/prometheus"
# FreshTrackIngestStopped as rules.yml has it, with a 10 s window and 5 s for.
stopped_expr=$(awk '/- alert: FreshTrackIngestStopped$/ { on = 1; next } on && /expr:/ { sub(/^ *expr: */, ""); print; exit }' \
	"$ROOT/deploy/prometheus/rules.yml" | sed -E 's/\[[0-9]+[smh]\]/[10s]/g')
[[ "$stopped_expr" == *"[10s]"* ]] || fail "no one-line FreshTrackIngestStopped expr with a range in deploy/prometheus/rules.yml"
cat >"$WORK/prometheus/e2e-rules.yml" <<EOF
groups:
  - name: freshtrack-ingest-e2e
    rules:
      - alert: FreshTrackIngestStoppedE2E
        expr: $stopped_expr
        for: 5s
EOF
cat >"$WORK/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/deploy/prometheus/rules.yml
  - $WORK/prometheus/e2e-rules.yml
scrape_configs:
  - job_name: freshtrack
    static_configs:
      - targets: ["127.0.0.1:$FT1_PORT", "127.0.0.1:$FT2_PORT"]
EOF
promtool check config "$WORK/prometheus/prometheus.yml" >"$WORK/promtool.log" 2>&1 || fail "promtool check config (see $WORK/promtool.log)"
promtool check rules "$WORK/prometheus/e2e-rules.yml" "$ROOT/deploy/prometheus/rules.yml" >>"$WORK/promtool.log" 2>&1 ||
	fail "promtool check rules (see $WORK/promtool.log)"
prometheus --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/prometheus/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
started prometheus $!
PROM=http://127.0.0.1:$PROM_PORT
targets_up() { [ "$(curl -sf "$PROM/api/v1/targets" | jq '[.data.activeTargets[] | select(.health == "up")] | length')" = 2 ]; }
wait_for 30 "Prometheus scraping both instances" targets_up
rule_groups=$(curl -sf "$PROM/api/v1/rules" | jq -r '[.data.groups[].name] | join(", ")')
log "Prometheus on $PROM_PORT scrapes both instances; rule groups: $rule_groups"

# --- A reading posted through Caddy is alerted once.
org=$("$BIN" org create --name "e2e kitchen" --json | jq -r .id)
key=$("$BIN" apikey create --org "$org" --name gateway --json | jq -r .key)
unit=$(sql <<SQL
WITH site AS (INSERT INTO sites (org_id, name, timezone) VALUES ('$org', 'Kitchen', 'UTC') RETURNING id),
unit AS (INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
	SELECT '$org', id, 'Prep fridge', 'fridge', 0, 5 FROM site RETURNING id),
sensor AS (INSERT INTO sensors (org_id, external_id, unit_id) SELECT '$org', 'E2E-PROBE', id FROM unit),
rule AS (INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, severity)
	SELECT '$org', id, 'temp_high', 5, 0, 'critical' FROM unit),
contact AS (INSERT INTO contacts (org_id, site_id, name, phone, role) SELECT '$org', id, 'Line cook', '+15550100001', 'staff' FROM site)
SELECT id FROM unit;
SQL
)
post_reading() { # post_reading SECONDS_AGO TEMP_C: prints the answer
	local at
	at=$(date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%SZ)
	through_caddy -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
		-d "{\"readings\":[{\"sensor\":\"E2E-PROBE\",\"time\":\"$at\",\"temp_c\":$2,\"battery\":90}]}" "$CADDY_URL/v1/readings"
}
answers=""
for ago in 40 30 20; do
	answers+="$(post_reading "$ago" 8.5) "
	sleep 0.3
done
answers+=$(post_reading 40 8.5) # the first again: a duplicate
evaluated() { [ "$(sql -c "SELECT count(*) FROM evaluation_backlog")" = 0 ] && [ "$(sql -c "SELECT count(*) FROM alerts WHERE unit_id = '$unit'")" -ge 1 ]; }
wait_for 30 "the excursion's alert" evaluated
notified() { [ "$(sql -c "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.unit_id = '$unit'")" -ge 1 ]; }
wait_for 30 "the alert's notification" notified
alert_counts() {
	sql -c "SELECT (SELECT count(*) FROM alerts WHERE unit_id = '$unit') || ' ' ||
		(SELECT count(*) FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.unit_id = '$unit' AND e.kind = 'triggered') || ' ' ||
		(SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.unit_id = '$unit')"
}
read -r n_alerts n_triggered n_notifications <<<"$(alert_counts)"
[ "$n_alerts" = 1 ] && [ "$n_triggered" = 1 ] && [ "$n_notifications" = 1 ] ||
	fail "3 out-of-range readings (and a duplicate) through Caddy: $n_alerts alerts, $n_triggered triggered events, $n_notifications notifications; want 1 each (answers: $answers)"
log "3 readings at 8.5 °C and a duplicate through Caddy: 1 alert, 1 triggered event, 1 notification"

# --- Rolling restart under load.
rows=$((BENCH_RATE * BENCH_SECONDS))
log "bench ingest through Caddy: $rows readings at $BENCH_RATE/s; restarting instance 1, then 2"
"$BIN" bench ingest --target "$CADDY_URL" --target-ca "$CA" --sensors 200 --batch 20 --concurrency 16 \
	--rate "$BENCH_RATE" --rows "$rows" --duration "$((BENCH_SECONDS + 30))s" --json --out "$WORK/bench.json" \
	--log-level debug >"$WORK/bench.out" 2>"$WORK/bench.log" &
started bench $!
bench_pid=$!
bench_running() { grep -q "live fleet warmed up" "$WORK/bench.log"; }
deadline=$((SECONDS + 120))
until bench_running; do
	kill -0 "$bench_pid" 2>/dev/null || fail "bench ingest ended before its run (see $WORK/bench.log)"
	[ "$SECONDS" -lt "$deadline" ] || fail "bench ingest did not start its run within 120 s"
	sleep 0.2
done
sleep 3
firing_alerts() { curl -sf "$PROM/api/v1/alerts" | jq -r '[.data.alerts[] | select(.state == "firing") | .labels.alertname] | join(",")'; }
during=$(firing_alerts)
restart_report=()
readings_requests() { curl -sf "http://127.0.0.1:$1/metrics" | awk '$1 == "freshtrack_http_requests_total{path=\"/v1/readings\"}" { print $2 }'; }
serves_readings() { [ "$(readings_requests "$1")" -gt 0 ] 2>/dev/null; }
restart_instance() { # restart_instance N: SIGTERM, wait for exit, start, wait until Caddy sends it readings
	local n=$1 pid=${PIDS[instance$1]} rc=0 t0 t1 t2
	t0=$(now)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	unset "PIDS[instance$n]"
	t1=$(now)
	[ "$rc" = 0 ] || fail "instance $n exited $rc after SIGTERM"
	awk -v d="$(secs "$t0" "$t1")" -v max="$SHUTDOWN_TIMEOUT" 'BEGIN { exit !(d < max) }' ||
		fail "instance $n took $(secs "$t0" "$t1") s to drain, more than FRESHTRACK_SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT}s"
	start_instance "$n"
	wait_for 60 "instance $n ready again" ready "${FT_PORT[$n]}"
	t2=$(now)
	wait_for 30 "Caddy sending readings to instance $n again" serves_readings "${FT_PORT[$n]}"
	during+=",$(firing_alerts)"
	restart_report+=("instance $n: stopped in $(secs "$t0" "$t1") s, ready $(secs "$t1" "$t2") s later, serving through Caddy after $(secs "$t2" "$(now)") s more")
	log "${restart_report[-1]}"
}
restart_instance 1
restart_instance 2
kill -0 "$bench_pid" 2>/dev/null || fail "bench ingest ended before both restarts did: raise E2E_BENCH_SECONDS"
bench_rc=0
wait "$bench_pid" || bench_rc=$?
unset "PIDS[bench]"
[ "$bench_rc" = 0 ] || fail "bench ingest exited $bench_rc (see $WORK/bench.log)"
read -r bench_org accepted duplicates requests errors p99 p50 rps <<<"$(jq -r '[.org_id, .accepted, (.runs[0].duplicates // 0), .runs[0].requests,
	((.runs[0].errors // {}) | to_entries | map("\(.key)=\(.value)") | join(",") | if . == "" then "none" else . end),
	.runs[0].latency.p99_ms, .runs[0].latency.p50_ms, (.runs[0].rows_per_sec | floor)] | @tsv' "$WORK/bench.json")"
stored=$(sql -c "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.org_id = '$bench_org'")
warmup=200
if [ "$errors" != none ]; then
	echo "--- the failed requests as Caddy and the instances logged them"
	grep -h '"status":5' "$WORK/caddy.log" | grep -v '"uri":"/readyz"' | head -n 5
	grep -h '"status":5' "$WORK"/instance*.log | grep -v '"path":"/readyz"' | head -n 5
	grep -h '"level":"ERROR"\|"level":"WARN"' "$WORK"/instance*.log | grep -v 'not configured\|identity provider\|"path":"/readyz"' | head -n 10
	fail "requests failed during the rolling restart: $errors (of $requests)"
fi
[ "$stored" = $((accepted + duplicates + warmup)) ] ||
	fail "acknowledged $accepted readings (+$duplicates duplicates, +$warmup warm-up) but $stored are stored"
[ "$accepted" = "$rows" ] || fail "the bench acknowledged $accepted of its $rows readings"
if [ "$via_pgbouncer" = 1 ]; then
	pgb_after=$(psql -X -At -p "$PGB_PORT" -d pgbouncer -c 'SHOW STATS' | awk -F'|' '$1 == "freshtrack" { print $2 }')
	[ "${pgb_after:-0}" -gt "$pgb_xacts" ] || fail "PgBouncer pooled no transaction of the instances during the bench"
	log "PgBouncer pooled $((pgb_after - pgb_xacts)) transactions of the instances during the bench"
fi
log "rolling restart under load: $requests requests, 0 failed, $accepted readings acknowledged and all stored; p50 ${p50} ms, p99 ${p99} ms, $rps readings/s"
read -r n_alerts n_triggered n_notifications <<<"$(alert_counts)"
[ "$n_alerts" = 1 ] && [ "$n_notifications" = 1 ] || fail "after the restarts the excursion has $n_alerts alerts and $n_notifications notifications; want 1 and 1"

# --- Prometheus: the ingest-stopped rule fires now that the bench is over
# (pending from after its last reading on), and was not firing while it ran.
[[ ",$during," != *",FreshTrackIngestStoppedE2E,"* ]] || fail "FreshTrackIngestStoppedE2E was firing while the bench was ingesting"
stopped_firing() { [[ ",$(firing_alerts)," == *",FreshTrackIngestStoppedE2E,"* ]]; }
wait_for 60 "FreshTrackIngestStoppedE2E firing after ingest stopped" stopped_firing
# The measured run began when the warm-up ended and lasted runs[0].seconds.
run_start=$(sed -n 's/^time=\([^ ]*\) level=DEBUG msg="live fleet warmed up".*/\1/p' "$WORK/bench.log")
ingest_end=$(awk -v a="$(date -d "$run_start" +%s.%N)" -v b="$(jq .runs[0].seconds "$WORK/bench.json")" 'BEGIN { printf "%.1f", a + b }')
active_at=$(curl -sf "$PROM/api/v1/alerts" | jq -r '.data.alerts[] | select(.labels.alertname == "FreshTrackIngestStoppedE2E") | .activeAt')
pending_after=$(secs "$ingest_end" "$(date -d "$active_at" +%s.%N)")
awk -v d="$pending_after" 'BEGIN { exit !(d > -2) }' || fail "FreshTrackIngestStoppedE2E was pending ${pending_after} s after ingest stopped, i.e. before"
log "Prometheus: FreshTrackIngestStoppedE2E pending ${pending_after} s after the bench's last reading and firing 5 s later (for: 5s); not firing during the bench"

# --- Backups: the restore drill, then the backup metrics.
drill_org=$("$BIN" org create --name "restore drill" --json | jq -r .id)
drill_sensor=$(sql -c "INSERT INTO sensors (org_id, external_id) VALUES ('$drill_org', 'DRILL-1') RETURNING id")
DRILL_SENSOR_ID=$drill_sensor DRILL_SCRATCH_PORT=$SCRATCH_PORT DRILL_WORK=$WORK/drill DRILL_PG_BIN=$PG_BIN \
	"$ROOT/deploy/restore-drill.sh" | tee "$WORK/drill.out" || fail "the restore drill failed"
drill_timings=$(sed -n 's/^restore-drill: timings (s): //p' "$WORK/drill.out")
# deploy/backup/backup.sh's metrics of the repository (a copy: the postgres
# user may not be able to read this checkout).
mkdir -p "$WORK/textfile"
chown postgres: "$WORK/textfile"
install -m 755 "$ROOT/deploy/backup/backup.sh" "$WORK/backup.sh"
runuser -u postgres -- env PGBACKREST_CONFIG="$PGBR_CONF" PGBACKREST_STANZA=$STANZA BACKUP_TEXTFILE_DIR="$WORK/textfile" \
	"$WORK/backup.sh" metrics
prom_file=$WORK/textfile/freshtrack_backup.prom
promtool check metrics <"$prom_file" >"$WORK/promtool-metrics.log" 2>&1 ||
	fail "backup metrics: promtool check metrics (see $WORK/promtool-metrics.log)"
last_full=$(awk '/^freshtrack_backup_last_success_timestamp_seconds\{.*type="full"/ { print $2 }' "$prom_file")
grep -q '^freshtrack_backup_repository_ok{stanza="freshtrack"} 1$' "$prom_file" || fail "backup metrics: repository not ok in $prom_file"
[ -n "$last_full" ] && [ $(($(date +%s) - last_full)) -lt 600 ] || fail "backup metrics: no recent full backup in $prom_file"
log "backup metrics: the newest full backup finished $(($(date +%s) - last_full)) s ago"

# --- Periodic jobs. River's leader enqueues them, and a new leader enqueues
# each at once (RunOnStart): within a leader term no job may come twice in
# its period, and the hourly and 5-minute ones come once in every term.
stop_process leader-poller
mapfile -t terms < <(awk 'NF == 3 { print $2 " " $3 }' "$WORK/leaders.txt" | sort -u)
[ ${#terms[@]} -gt 0 ] || fail "never saw a River leader in river_leader"
term_values=$(printf "('%s+00'::timestamptz)," "${terms[@]}")
periodic=$(sql <<SQL
WITH terms(started) AS (VALUES ${term_values%,}),
every(kind, period) AS (VALUES ('storage_partitions', 3600), ('storage_retention', 3600), ('digest_run', 300),
	('storage_rollup', 5), ('alerting_sweep', 30)),
jobs AS (SELECT j.kind, e.period, j.created_at, (SELECT max(started) FROM terms WHERE started <= j.created_at) AS term
	FROM river_job j JOIN every e USING (kind)),
gaps AS (SELECT *, extract(epoch FROM created_at - lag(created_at) OVER (PARTITION BY kind, term ORDER BY created_at)) AS gap FROM jobs)
SELECT kind, period, count(*), count(*) FILTER (WHERE term IS NULL), count(DISTINCT term),
	coalesce(round(min(gap)::numeric, 1), -1), count(*) FILTER (WHERE gap < 0.8 * period)
FROM gaps GROUP BY kind, period ORDER BY period DESC, kind;
SQL
)
periodic_report=""
while IFS='|' read -r kind period total orphans kind_terms min_gap too_soon; do
	[ "$orphans" = 0 ] || fail "$orphans $kind jobs were enqueued outside every River leader term seen"
	[ "$too_soon" = 0 ] || fail "$kind ran $too_soon times less than 0.8 x its period (${period} s) after the previous run of the same leader (shortest gap ${min_gap} s)"
	if [ "$period" -ge 300 ] && [ "$kind_terms" != ${#terms[@]} ]; then
		fail "$kind ran in $kind_terms of ${#terms[@]} leader terms; want every term (RunOnStart)"
	fi
	periodic_report+="$kind ${total}x; "
done <<<"$periodic"
for kind in storage_partitions storage_retention digest_run storage_rollup alerting_sweep; do
	grep -q "^$kind|" <<<"$periodic" || fail "no $kind job ran"
done
log "periodic jobs over ${#terms[@]} River leader terms, none twice within its period: $periodic_report"

cat <<EOF

e2e summary ($((SECONDS - START)) s):
  TLS through Caddy ($issuer); PgBouncer transaction pool answered psql and freshtrack; instances via PgBouncer: $([ "$via_pgbouncer" = 1 ] && echo yes || echo "no (direct)")
  alert: 3 out-of-range readings + 1 duplicate through Caddy -> 1 alert, 1 notification
  rolling restart: $requests requests, 0 failed, $accepted acknowledged = stored, p50 ${p50} ms, p99 ${p99} ms
    ${restart_report[0]}
    ${restart_report[1]}
  Prometheus: 2 targets up, FreshTrackIngestStoppedE2E pending ${pending_after} s after ingest stopped, not firing during it
  restore drill (s): $drill_timings
  periodic jobs: $periodic_report
EOF

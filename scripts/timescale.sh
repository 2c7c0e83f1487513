#!/usr/bin/env bash
# timescale.sh finds or starts a TimescaleDB server and prints its URL.
#
#   scripts/timescale.sh find [URL...]    print the first URL among the arguments
#                                         whose server can create the timescaledb
#                                         extension; exit 1 (printing nothing) when
#                                         none can. Never builds or starts anything.
#   scripts/timescale.sh start [URL...]   as find, and when none answers, build (once)
#                                         and start TimescaleDB 2.28.3 on PostgreSQL
#                                         15.18 with ../shared/timescaledb/setup.sh
#   scripts/timescale.sh stop             stop the server that start started
#
# start keeps its build in FRESHTRACK_TSDB_PREFIX (default /var/tmp/freshtrack-tsdb,
# outside the checkout so every clone on the machine reuses it; the first build
# takes about 80 s) and listens on FRESHTRACK_TSDB_PORT (default 5433, or the next
# free port). setup.sh is looked for in FRESHTRACK_TSDB_SRC, then in shared/timescaledb
# beside the checkout or beside any folder above it. Progress goes to stderr; only
# the URL goes to stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${FRESHTRACK_TSDB_PREFIX:-/var/tmp/freshtrack-tsdb}

say() { echo "timescale.sh: $*" >&2; }

psql_bin() {
	if [ -x "$prefix/pg/usr/lib/postgresql/15/bin/psql" ]; then echo "$prefix/pg/usr/lib/postgresql/15/bin/psql"; return; fi
	if command -v psql >/dev/null 2>&1; then command -v psql; return; fi
	ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1
}

# usable URL: the server answers and can create the extension (installed and
# preloaded); the probe rolls its CREATE EXTENSION back.
usable() {
	local psql; psql=$(psql_bin)
	[ -n "$psql" ] || return 1
	PGCONNECT_TIMEOUT=3 "$psql" -X -Atq "$1" >/dev/null 2>&1 <<-'SQL'
		\set ON_ERROR_STOP on
		BEGIN;
		CREATE EXTENSION IF NOT EXISTS timescaledb;
		ROLLBACK;
	SQL
}

find_url() {
	local u
	for u in "$@"; do
		if [ -n "$u" ] && usable "$u"; then echo "$u"; return 0; fi
	done
	return 1
}

find_src() {
	local d
	if [ -n "${FRESHTRACK_TSDB_SRC:-}" ]; then echo "$FRESHTRACK_TSDB_SRC"; return 0; fi
	d=$root
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		if [ -x "$d/shared/timescaledb/setup.sh" ]; then echo "$d/shared/timescaledb"; return 0; fi
	done
	return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	local src
	src=$(find_src) || {
		say "no shared/timescaledb/setup.sh found (set FRESHTRACK_TSDB_SRC to the folder holding it)"
		exit 1
	}
	local port=${FRESHTRACK_TSDB_PORT:-}
	if [ -f "$prefix/data/postmaster.pid" ]; then
		# Already running (or left behind): setup.sh insists on its own port.
		port=$(sed -n 4p "$prefix/data/postmaster.pid")
	fi
	if [ -z "$port" ]; then
		port=5433
		while ! port_free "$port"; do port=$((port + 1)); done
	fi
	"$src/setup.sh" "$src/src" "$prefix" "$port"
}

case "${1:-}" in
find)
	shift
	find_url "$@"
	;;
start)
	shift
	find_url "$@" || start
	;;
stop)
	src=$(find_src) || { say "no shared/timescaledb/setup.sh found"; exit 1; }
	[ -d "$prefix" ] && "$src/setup.sh" stop "$prefix"
	;;
*)
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac

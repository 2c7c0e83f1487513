#!/usr/bin/env bash
# pg.sh makes sure a PostgreSQL server is reachable and prints URLs for it.
#
#   scripts/pg.sh server [URL...]   print the first reachable server URL among
#                                   the arguments, then the local server on
#                                   127.0.0.1:5432; if none answers, start a
#                                   throwaway cluster (installing PostgreSQL
#                                   with apt when it is missing) and print its URL
#   scripts/pg.sh database NAME [URL...]
#                                   as server, then create database NAME if it
#                                   does not exist and print its URL
#   scripts/pg.sh stop              stop the throwaway cluster, if running
#
# The throwaway cluster lives in .pgdata/ (git-ignored) with trust auth for the
# postgres user on 127.0.0.1 and a free port from 55432 up. Progress goes to
# stderr; only the URL goes to stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

say() { echo "pg.sh: $*" >&2; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$d" ] && command -v pg_config >/dev/null 2>&1; then d=$(pg_config --bindir); fi
	echo "$d"
}

psql_bin() {
	if command -v psql >/dev/null 2>&1; then command -v psql; return; fi
	local d; d=$(bindir)
	[ -n "$d" ] && [ -x "$d/psql" ] && echo "$d/psql"
}

reachable() {
	local psql; psql=$(psql_bin) || return 1
	[ -n "$psql" ] || return 1
	PGCONNECT_TIMEOUT=3 "$psql" "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

install_postgres() {
	say "PostgreSQL is not installed; installing it with apt"
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
}

# data_dir picks .pgdata in the checkout, or a folder in /tmp when the
# postgres user (root runs the cluster as postgres) cannot reach the checkout.
data_dir() {
	local d="$root/.pgdata"
	mkdir -p "$d"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$d"
		if ! runuser -u postgres -- test -w "$d" 2>/dev/null; then
			d="/tmp/freshtrack-pgdata-$(echo "$root" | cksum | cut -d' ' -f1)"
			mkdir -p "$d" && chown postgres: "$d"
		fi
	fi
	echo "$d"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

throwaway() {
	local bin; bin=$(bindir)
	if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
		install_postgres
		bin=$(bindir)
	fi
	[ -x "$bin/initdb" ] || { say "no initdb found after installing PostgreSQL"; exit 1; }
	local dir; dir=$(data_dir)
	local port
	if [ -f "$dir/port" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		port=$(cat "$dir/port")
		echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
		return
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		say "creating a throwaway cluster in $dir"
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >/dev/null
	fi
	port=55432
	while ! port_free "$port"; do port=$((port + 1)); done
	say "starting it on 127.0.0.1:$port (stop it with: scripts/pg.sh stop)"
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
	echo "$port" > "$dir/port"
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

server() {
	local u
	for u in "$@" "$local_url"; do
		if [ -n "$u" ] && reachable "$u"; then echo "$u"; return; fi
	done
	throwaway
}

case "${1:-}" in
server)
	shift
	server "$@"
	;;
database)
	name=${2:?usage: pg.sh database NAME [URL...]}
	shift 2
	admin=$(server "$@")
	psql=$(psql_bin)
	if [ "$("$psql" "$admin" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]; then
		say "creating database $name"
		"$psql" "$admin" -qc "CREATE DATABASE \"$name\"" >&2
	fi
	# same server, other database
	echo "$admin" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$name#"
	;;
stop)
	bin=$(bindir)
	for dir in "$root/.pgdata" "/tmp/freshtrack-pgdata-$(echo "$root" | cksum | cut -d' ' -f1)"; do
		if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" stop -m fast >&2 || true; fi
	done
	;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# bench.sh is `make bench`: the Go micro-benchmarks, then for each storage mode
# (postgres on the server from scripts/pg.sh, timescale on the server from
# scripts/timescale.sh) a short run of every `freshtrack bench` workload
# against a fresh freshtrack_bench database, with the results in
# bench/results/ and gathered in bench/results/latest.json, and a table of the
# ingest medians at the end.
#
#   BENCH_MODES="postgres timescale"   the storage modes to run (default both)
#   BENCH_SEED_MODES="postgres"        the modes that also seed a month and run
#                                      the dashboard queries (default postgres:
#                                      the timescale seed alone takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/freshtrack
res=bench/results
mkdir -p "$res"
modes=${BENCH_MODES:-postgres timescale}
seed_modes=${BENCH_SEED_MODES:-postgres}
start=$SECONDS

admin=$(scripts/pg.sh server "${DATABASE_URL:-}")
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)

echo "== Go micro-benchmarks (decoder, API key cache)" >&2
TEST_DATABASE_URL="$admin" go test -run '^$' -bench . -benchmem -benchtime 1s ./ingest/ ./auth/ | tee "$res/go-bench.txt"

# fresh_db MODE ADMIN_URL prints the URL of a new freshtrack_bench database on
# the server at ADMIN_URL, migrated in storage mode MODE.
fresh_db() {
	PGOPTIONS='-c client_min_messages=warning' "$psql" "$2" -qc 'DROP DATABASE IF EXISTS freshtrack_bench WITH (FORCE)' >/dev/null
	local url
	url=$(scripts/pg.sh database freshtrack_bench "$2")
	local out
	if ! out=$(DATABASE_URL="$url" FRESHTRACK_STORAGE="$1" $bin migrate up 2>&1); then
		echo "$out" >&2
		return 1
	fi
	echo "$url"
}

# run_mode MODE ADMIN_URL runs every workload in MODE; results go to
# bench/results/*-MODE.json.
run_mode() {
	local mode=$1 c
	DATABASE_URL=$(fresh_db "$mode" "$2")
	export DATABASE_URL
	echo "== $mode: live fleet ingest against the raw limit (5 pairs of 1M readings)" >&2
	$bin bench ingest --workload live --raw-limit --runs 5 --rows 1000000 --sensors 1000 --batch 500 --concurrency 16 \
		--out "$res/ingest-live-$mode.json"
	echo "== $mode: old readings (never evaluated) against the raw limit (3 pairs)" >&2
	$bin bench ingest --workload old --raw-limit --runs 3 --rows 1000000 --sensors 1000 --batch 500 --concurrency 16 \
		--out "$res/ingest-old-$mode.json"
	for c in 32 128 256; do
		echo "== $mode: one reading per request, $c in flight (10 s)" >&2
		$bin bench ingest --workload single --concurrency "$c" --rows 1000000 --duration 10s --sensors 1000 \
			--out "$res/single-$c-$mode.json"
	done
	echo "== $mode: alert latency at a steady ingest" >&2
	$bin bench alerts --json | tee "$res/alerts-$mode.json"
	if [[ " $seed_modes " == *" $mode "* ]]; then
		echo "== $mode: seed a month" >&2
		$bin bench seed --sensors 500 --units-per-site 50 --days 31 --json | tee "$res/seed-$mode.json"
		echo "== $mode: dashboard queries on the seeded history" >&2
		$bin bench query --iterations 200 --haccp-iterations 5 --json | tee "$res/query-$mode.json"
	else
		rm -f "$res/seed-$mode.json" "$res/query-$mode.json"
	fi
}

ran=()
for mode in $modes; do
	case $mode in
	postgres)
		run_mode postgres "$admin"
		ran+=(postgres)
		;;
	timescale)
		if ts=$(scripts/timescale.sh start); then
			run_mode timescale "$ts"
			ran+=(timescale)
		else
			echo "== timescale: skipped: scripts/timescale.sh start found or started no TimescaleDB server (see its messages above)" >&2
			rm -f "$res"/*-timescale.json
		fi
		;;
	*)
		echo "bench.sh: BENCH_MODES: unknown mode $mode (postgres, timescale)" >&2
		exit 2
		;;
	esac
done

# latest.json gathers the parts, one object per storage mode.
part() { # part KEY FILE: a "KEY": FILE member, or nothing when FILE is missing
	[ -s "$2" ] && printf '    "%s": %s,\n' "$1" "$(cat "$2")"
	return 0
}
{
	echo '{'
	for mode in "${ran[@]}"; do
		echo "  \"$mode\": {"
		{
			part ingest_live "$res/ingest-live-$mode.json"
			part ingest_old "$res/ingest-old-$mode.json"
			for c in 32 128 256; do part "single_$c" "$res/single-$c-$mode.json"; done
			part alerts "$res/alerts-$mode.json"
			part seed "$res/seed-$mode.json"
			part query "$res/query-$mode.json"
		} | sed '$ s/,$//'
		echo '  },'
	done | sed '$ s/,$//'
	echo '}'
} >"$res/latest.json.tmp" && mv "$res/latest.json.tmp" "$res/latest.json"
echo "wrote $res/latest.json in $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s" >&2

tables=()
for mode in "${ran[@]}"; do
	tables+=("$res/ingest-live-$mode.json" "$res/ingest-old-$mode.json" "$res/single-32-$mode.json" "$res/single-128-$mode.json" "$res/single-256-$mode.json")
done
echo
echo "ingest medians (ratio = ingest rows/s ÷ the raw limit of its pair; goal ≥ 0.9 for live; single: goal ≥ 50,000 req/s at 256 in flight, p99 ≤ 20 ms)"
$bin bench table "${tables[@]}"

#!/usr/bin/env bash
# bench.sh is `make bench`: the Go micro-benchmarks, then a short run of every
# `freshtrack bench` workload against a fresh freshtrack_bench database, with
# the results in bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/freshtrack
out=bench/results/latest.json
mkdir -p bench/results

admin=$(scripts/pg.sh server "${DATABASE_URL:-}")
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
"$psql" "$admin" -qc 'DROP DATABASE IF EXISTS freshtrack_bench WITH (FORCE)' >/dev/null
db=$(scripts/pg.sh database freshtrack_bench "$admin")
export DATABASE_URL="$db"
$bin migrate up >/dev/null 2>&1

echo "== Go micro-benchmarks (decoder, API key cache)" >&2
TEST_DATABASE_URL="$admin" go test -run '^$' -bench . -benchmem -benchtime 1s ./ingest/ ./auth/ | tee bench/results/go-bench.txt

echo "== ingest against the COPY ceiling" >&2
$bin bench ingest --ceiling --runs 5 --rows 1000000 --out bench/results/ingest.json
echo "== ingest latency at about half the maximum rate" >&2
$bin bench ingest --runs 1 --rows 1000000 --rate 200000 --out bench/results/ingest-half-rate.json

echo "== alert latency at a steady ingest" >&2
$bin bench alerts --json | tee bench/results/alerts.json

echo "== seed a history" >&2
$bin bench seed --sensors 500 --units-per-site 50 --days 31 --json | tee bench/results/seed.json

echo "== dashboard queries on the seeded history" >&2
$bin bench query --iterations 200 --haccp-iterations 5 --json | tee bench/results/query.json

# latest.json gathers the parts.
{
	echo '{'
	echo '  "ingest": '"$(cat bench/results/ingest.json)"','
	echo '  "ingest_half_rate": '"$(cat bench/results/ingest-half-rate.json)"','
	echo '  "alerts": '"$(cat bench/results/alerts.json)"','
	echo '  "seed": '"$(cat bench/results/seed.json)"','
	echo '  "query": '"$(cat bench/results/query.json)"
	echo '}'
} > "$out.tmp" && mv "$out.tmp" "$out"
echo "wrote $out" >&2

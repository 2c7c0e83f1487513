#!/usr/bin/env bash
# deploy/restore-drill.sh proves that FreshTrack's pgBackRest backups restore
# to a point in time, and says how long each step took:
#
#   1. a full backup; rows written; an incremental backup; more rows written;
#   2. the reference: with readings locked against writes for a moment, the
#      row count and an md5 of every reading per UTC day, and that moment as
#      the target time;
#   3. rows written after the target, and the WAL holding them archived;
#   4. a restore into a scratch cluster at the target time (--type=time),
#      started and promoted;
#   5. the scratch cluster's counts and checksums per day must equal the
#      reference exactly: the rows of step 3 must be missing, every other
#      reading present and unchanged.
#
# It writes its rows (DRILL_ROWS per batch, recent times) for the sensor
# DRILL_SENSOR_ID, which should belong to a drill organisation: run it on a
# staging copy or a scratch database, not on production. The lock of step 2
# makes concurrent ingest wait for the duration of the checksum query (under
# a second for a few hundred thousand readings), never fail.
#
# Environment (libpq's PGHOST, PGPORT, PGUSER, PGDATABASE reach the source):
#   DRILL_SENSOR_ID      sensors.id the drill's rows are written for (required)
#   PGBACKREST_CONFIG    pgBackRest's configuration (pgBackRest's default:
#                        deploy/backup/pgbackrest.conf installed as /etc/pgbackrest.conf)
#   PGBACKREST_STANZA    the stanza (freshtrack)
#   DRILL_ROWS           rows per batch (1000)
#   DRILL_PG_BIN         PostgreSQL's binaries (/usr/lib/postgresql/15/bin)
#   DRILL_SCRATCH_PORT   the scratch cluster's port (a free one from 56500)
#   DRILL_WORK           where the scratch cluster goes (a new directory in /var/tmp)
# Run as root (pgBackRest and the scratch cluster then run as postgres) or as
# the postgres user. It removes the scratch cluster when it ends.
set -euo pipefail

export PGBACKREST_STANZA=${PGBACKREST_STANZA:-freshtrack}
: "${DRILL_SENSOR_ID:?set DRILL_SENSOR_ID to the sensors.id whose readings the drill writes}"
rows=${DRILL_ROWS:-1000}
pg_bin=${DRILL_PG_BIN:-/usr/lib/postgresql/15/bin}

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- env PGBACKREST_STANZA="$PGBACKREST_STANZA" ${PGBACKREST_CONFIG:+PGBACKREST_CONFIG="$PGBACKREST_CONFIG"} "$@"
	else
		"$@"
	fi
}

port_free() { ! ss -Hltn "( sport = :$1 )" | grep -q .; }
scratch_port=${DRILL_SCRATCH_PORT:-}
if [ -z "$scratch_port" ]; then
	scratch_port=56500
	until port_free "$scratch_port"; do scratch_port=$((scratch_port + 1)); done
fi

work=${DRILL_WORK:-$(mktemp -d /var/tmp/freshtrack-restore-drill.XXXXXX)}
mkdir -p "$work"
scratch=$work/restored
sock=$work/run
scratch_started=
cleanup() {
	if [ -n "$scratch_started" ]; then
		as_postgres "$pg_bin/pg_ctl" -D "$scratch" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$scratch" "$sock" "$work/reference" "$work/restored.sums"
	rmdir "$work" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$sock"
[ "$(id -u)" = 0 ] && chown postgres: "$work" "$sock"

drill() { echo "restore-drill: $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
psql_source() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# Readings per UTC day: count and md5 of every reading in a fixed order, with
# times and numbers in a text form that does not depend on the session.
checksums="SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*),
	md5(string_agg(sensor_id || ' ' || to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' ' ||
		temp_c::text || ' ' || coalesce(humidity::text, '-') || ' ' || coalesce(battery::text, '-'), ',' ORDER BY sensor_id, time))
	FROM readings GROUP BY 1 ORDER BY 1"

# write_batch writes $rows readings a millisecond apart after the drill
# sensor's newest (or from the start of today, UTC, whose partition
# exists), so no batch collides with another: readings are unique per sensor
# and time.
write_batch() {
	psql_source -c "INSERT INTO readings (time, sensor_id, temp_c, humidity, battery)
		SELECT coalesce((SELECT max(time) FROM readings WHERE sensor_id = $DRILL_SENSOR_ID), date_trunc('day', now(), 'UTC'))
			+ g * interval '1 millisecond', $DRILL_SENSOR_ID, 3 + (g % 20) / 10.0, 50 + g % 7, 90
		FROM generate_series(1, $rows) g"
}
drill_rows() { psql -X -At -v ON_ERROR_STOP=1 "$@" -c "SELECT count(*) FROM readings WHERE sensor_id = $DRILL_SENSOR_ID"; }

t_start=$(now)
t=$(now)
as_postgres pgbackrest --type=full --log-level-console=warn backup
full_s=$(secs "$t" "$(now)")
drill "full backup in ${full_s} s"

write_batch
t=$(now)
as_postgres pgbackrest --type=incr --log-level-console=warn backup
incr_s=$(secs "$t" "$(now)")
drill "incremental backup in ${incr_s} s"
write_batch

# The reference and the target time, taken while nothing can write readings:
# every commit before it is in the reference, every later one after the target.
reference=$work/reference
t=$(now)
target=$(psql_source <<SQL
BEGIN;
LOCK TABLE readings IN SHARE MODE;
\o $reference
$checksums;
\o
SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00';
COMMIT;
SQL
)
ref_s=$(secs "$t" "$(now)")
ref_rows=$(awk -F'|' '{ n += $2 } END { print n + 0 }' "$reference")
ref_days=$(wc -l <"$reference")
ref_drill=$(drill_rows)
drill "reference at $target: $ref_rows readings over $ref_days UTC days, checksummed in ${ref_s} s"

# Rows after the target: the restore must not have them. pgbackrest check
# switches WAL and waits until the segment holding them is archived.
write_batch
t=$(now)
as_postgres pgbackrest --log-level-console=warn check
archive_s=$(secs "$t" "$(now)")
source_drill=$(drill_rows)

t=$(now)
install -d -m 700 -o postgres -g postgres "$scratch" 2>/dev/null || install -d -m 700 "$scratch"
# deploy/RUNBOOK.md's restore, into the empty scratch directory (so without
# --delta), which must not archive into the source's repository.
as_postgres pgbackrest --log-level-console=warn --pg1-path="$scratch" --type=time "--target=$target" \
	--target-action=promote --archive-mode=off restore
restore_s=$(secs "$t" "$(now)")
drill "restored into $scratch in ${restore_s} s"

t=$(now)
scratch_started=1
as_postgres "$pg_bin/pg_ctl" -D "$scratch" -l "$work/restored.log" -w -t 300 \
	-o "-c port=$scratch_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$sock -c archive_mode=off" start >/dev/null
restored=(-h 127.0.0.1 -p "$scratch_port")
deadline=$((SECONDS + 300))
until [ "$(psql -X -At "${restored[@]}" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		drill "FAIL: the scratch cluster did not finish recovery in 300 s; its log:"
		tail -n 30 "$work/restored.log"
		exit 1
	fi
	sleep 0.2
done
recover_s=$(secs "$t" "$(now)")

t=$(now)
psql -X -q -At -v ON_ERROR_STOP=1 "${restored[@]}" -c "$checksums" >"$work/restored.sums"
restored_drill=$(drill_rows "${restored[@]}")
compare_s=$(secs "$t" "$(now)")
if ! diff -u "$reference" "$work/restored.sums"; then
	drill "FAIL: the restored readings differ from the reference (day|count|md5; - reference, + restored)"
	exit 1
fi
if [ "$restored_drill" != "$ref_drill" ] || [ "$source_drill" -le "$ref_drill" ]; then
	drill "FAIL: drill rows: reference $ref_drill, restored $restored_drill, source now $source_drill (want restored = reference < source)"
	exit 1
fi
total_s=$(secs "$t_start" "$(now)")
drill "PASS: $ref_rows readings over $ref_days UTC days match the reference (count and md5 per day);" \
	"the $((source_drill - ref_drill)) rows written after the target are absent"
drill "timings (s): full backup $full_s, incremental $incr_s, reference $ref_s, WAL archived $archive_s," \
	"restore $restore_s, recovery and promotion $recover_s, compare $compare_s, total $total_s"

#!/bin/sh
# freshtrack-backup: pgBackRest backups of FreshTrack's database, and the
# metrics that say how old the newest one is.
#
#   freshtrack-backup backup full|diff|incr   one backup, then the metrics
#   freshtrack-backup metrics                  rewrite the metrics from the repository
#   freshtrack-backup schedule                 the backup container's loop (below)
#   freshtrack-backup health                   exit 0 unless the last backup attempt failed
#
# The metrics go to $BACKUP_TEXTFILE_DIR/freshtrack_backup.prom in
# Prometheus text format, for node_exporter's textfile collector:
#   freshtrack_backup_last_success_timestamp_seconds{stanza,type}  stop time of the newest backup of each type
#   freshtrack_backup_last_duration_seconds{stanza,type}           how long that backup took
#   freshtrack_backup_last_size_bytes{stanza,type}                 what it added to the repository
#   freshtrack_backup_repository_ok{stanza}                        1 when `pgbackrest info` reports the stanza ok
#   freshtrack_backup_attempt_timestamp_seconds{stanza}            when this script last tried a backup
#   freshtrack_backup_attempt_success{stanza}                      1 when that attempt succeeded
# They come from `pgbackrest info` (the repository), not from this
# script's memory, so they survive restarts and count backups taken by hand.
# deploy/prometheus/rules.yml alerts on them (BackupTooOld, BackupFailed).
set -eu

stanza=${PGBACKREST_STANZA:-freshtrack}
textfile_dir=${BACKUP_TEXTFILE_DIR:-/var/lib/freshtrack-backup/textfile}
state_file=$textfile_dir/.last-attempt

now() { date +%s; }

info_json() { pgbackrest --stanza="$stanza" --output=json info; }

# write_metrics renders the repository's state, plus the last attempt, into
# the textfile atomically (node_exporter must never read half a file).
write_metrics() {
	tmp=$textfile_dir/.freshtrack_backup.prom.$$
	{
		if json=$(info_json 2>/dev/null); then
			printf '%s' "$json" | jq -r --arg stanza "$stanza" '
				def lbl($t): "{stanza=\"\($stanza)\",type=\"\($t)\"}";
				(first(.[] | select(.name == $stanza)) // {status: {code: -1}, backup: []}) as $s
				| "# HELP freshtrack_backup_repository_ok 1 when pgbackrest info reports the stanza ok.",
				  "# TYPE freshtrack_backup_repository_ok gauge",
				  "freshtrack_backup_repository_ok{stanza=\"\($stanza)\"} \(if $s.status.code == 0 then 1 else 0 end)",
				  "# HELP freshtrack_backup_last_success_timestamp_seconds Stop time of the newest backup of each type in the repository.",
				  "# TYPE freshtrack_backup_last_success_timestamp_seconds gauge",
				  ([$s.backup[]?] | group_by(.type) | map(max_by(.timestamp.stop)) | .[]
				   | "freshtrack_backup_last_success_timestamp_seconds\(lbl(.type)) \(.timestamp.stop)"),
				  "# HELP freshtrack_backup_last_duration_seconds How long the newest backup of each type took.",
				  "# TYPE freshtrack_backup_last_duration_seconds gauge",
				  ([$s.backup[]?] | group_by(.type) | map(max_by(.timestamp.stop)) | .[]
				   | "freshtrack_backup_last_duration_seconds\(lbl(.type)) \(.timestamp.stop - .timestamp.start)"),
				  "# HELP freshtrack_backup_last_size_bytes Bytes the newest backup of each type added to the repository.",
				  "# TYPE freshtrack_backup_last_size_bytes gauge",
				  ([$s.backup[]?] | group_by(.type) | map(max_by(.timestamp.stop)) | .[]
				   | "freshtrack_backup_last_size_bytes\(lbl(.type)) \(.info.repository.delta)")'
		else
			printf '# HELP freshtrack_backup_repository_ok 1 when pgbackrest info reports the stanza ok.\n'
			printf '# TYPE freshtrack_backup_repository_ok gauge\n'
			printf 'freshtrack_backup_repository_ok{stanza="%s"} 0\n' "$stanza"
		fi
		if [ -s "$state_file" ]; then
			read -r at ok <"$state_file"
			printf '# HELP freshtrack_backup_attempt_timestamp_seconds When freshtrack-backup last tried a backup.\n'
			printf '# TYPE freshtrack_backup_attempt_timestamp_seconds gauge\n'
			printf 'freshtrack_backup_attempt_timestamp_seconds{stanza="%s"} %s\n' "$stanza" "$at"
			printf '# HELP freshtrack_backup_attempt_success 1 when that attempt succeeded.\n'
			printf '# TYPE freshtrack_backup_attempt_success gauge\n'
			printf 'freshtrack_backup_attempt_success{stanza="%s"} %s\n' "$stanza" "$ok"
		fi
	} >"$tmp"
	mv "$tmp" "$textfile_dir/freshtrack_backup.prom"
}

# run_backup takes one backup of the given type and records the attempt.
run_backup() {
	case ${1:-} in
	full | diff | incr) ;;
	*)
		echo "freshtrack-backup: backup type must be full, diff or incr, not '${1:-}'" >&2
		return 2
		;;
	esac
	rc=0
	pgbackrest --stanza="$stanza" --type="$1" backup || rc=$?
	if [ "$rc" -eq 0 ]; then ok=1; else ok=0; fi
	printf '%s %s\n' "$(now)" "$ok" >"$state_file"
	write_metrics
	return "$rc"
}

# newest_stop prints the stop time of the newest backup whose type matches
# the jq regular expression $1, or 0 when there is none.
newest_stop() {
	info_json | jq -r --arg stanza "$stanza" --arg types "$1" '
		[.[] | select(.name == $stanza) | .backup[]? | select(.type | test($types)) | .timestamp.stop]
		| max // 0'
}

# schedule is the backup container's loop: a full backup every
# BACKUP_FULL_EVERY seconds (7 days), an incremental one every
# BACKUP_INCR_EVERY seconds (1 day) in between, checked every
# BACKUP_CHECK_EVERY seconds (10 minutes). It decides from the repository,
# so a restart neither repeats nor skips a backup.
schedule() {
	full_every=${BACKUP_FULL_EVERY:-604800}
	incr_every=${BACKUP_INCR_EVERY:-86400}
	check_every=${BACKUP_CHECK_EVERY:-600}
	# stanza-create is idempotent; it fails until PostgreSQL answers.
	until pgbackrest --stanza="$stanza" stanza-create; do
		sleep 10
	done
	while :; do
		t=$(now)
		last_full=$(newest_stop '^full$') || last_full=$t
		last_any=$(newest_stop '.') || last_any=$t
		if [ $((t - last_full)) -ge "$full_every" ]; then
			run_backup full || true
		elif [ $((t - last_any)) -ge "$incr_every" ]; then
			run_backup incr || true
		else
			write_metrics
		fi
		sleep "$check_every"
	done
}

mkdir -p "$textfile_dir"
case ${1:-} in
backup) run_backup "${2:-}" ;;
metrics) write_metrics ;;
schedule) schedule ;;
health)
	[ ! -s "$state_file" ] && exit 0
	read -r _ ok <"$state_file"
	[ "$ok" = 1 ]
	;;
*)
	echo "usage: freshtrack-backup backup full|diff|incr | metrics | schedule | health" >&2
	exit 2
	;;
esac

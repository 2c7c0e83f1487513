#!/bin/sh
# secrets-env.sh exports every non-empty file of $SECRETS_DIR (default
# /run/secrets, where Docker mounts secrets) whose name is an environment
# variable FreshTrack reads, then runs its arguments.
#
# FreshTrack takes its credentials from the environment; Docker secrets and
# systemd credentials are files. Naming each file after its variable
# (FRESHTRACK_STRIPE_SECRET_KEY, PGPASSWORD, ...) keeps secrets out of the
# compose file, `docker inspect` and unit files without a list to keep in
# step here. PGPASSWORD is libpq's (and pgx's) password for URLs that carry
# none, so DATABASE_URL and the direct and replica URLs can be written down
# in the open. An empty file is skipped: the variable stays unset.
set -eu
dir=${SECRETS_DIR:-/run/secrets}
if [ -d "$dir" ]; then
	for f in "$dir"/*; do
		[ -f "$f" ] && [ -s "$f" ] || continue
		name=${f##*/}
		case $name in
		*[!A-Z0-9_]*) continue ;;
		esac
		case $name in
		PGPASSWORD | DATABASE_URL | REDIS_URL | FRESHTRACK_*)
			# Command substitution drops the trailing newline an editor adds.
			value=$(cat "$f")
			export "$name=$value"
			;;
		esac
	done
fi
exec "$@"

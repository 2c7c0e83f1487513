#!/bin/sh
# Runs once, when the database container initialises an empty data
# directory (after TimescaleDB's own scripts, which install the extension
# in template1): creates the freshtrack role with the password of the
# db_password secret and its database, so FreshTrack never connects as a
# superuser. Later password changes follow RUNBOOK.md ("Rotate the database
# password"), not this script.
set -eu
password=$(cat /run/secrets/db_password)
psql -v ON_ERROR_STOP=1 -v password="$password" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE freshtrack LOGIN PASSWORD :'password';
CREATE DATABASE freshtrack OWNER freshtrack;
\connect freshtrack
CREATE EXTENSION IF NOT EXISTS timescaledb;
SQL

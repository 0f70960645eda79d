#!/bin/sh
# Writes pgbouncer's auth file from the environment (never from a committed file), then runs it.
set -eu
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
umask 077
printf '"%s" "%s"\n' "$POSTGRES_USER" "$POSTGRES_PASSWORD" > /tmp/pgbouncer-userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini

#!/usr/bin/env bash
# CI job: tenancy through pgbouncer in transaction mode (pool of 2) in front of a real PostgreSQL.
#
#   deploy/ci/pgbouncer-job.sh [extra pytest args]
#
# Installs Debian's pgbouncer when it is missing (needs root), then starts the local stack
# (PostgreSQL + Valkey from wheels in a temporary directory) and runs tests/pgbouncer. The tests
# start pgbouncer on loopback themselves and stop it by pid when the session ends.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "pgbouncer-job: pgbouncer is not installed and this job is not root; install it with 'apt-get install -y pgbouncer'" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends pgbouncer || { apt-get update && apt-get install -y --no-install-recommends pgbouncer; }
fi
/usr/sbin/pgbouncer --version 2>/dev/null | head -1 || pgbouncer --version | head -1

PY="${PYTHON:-.venv/bin/python}"
exec "$PY" -m deploy.localstack test -- -q -p no:cacheprovider tests/pgbouncer "$@"

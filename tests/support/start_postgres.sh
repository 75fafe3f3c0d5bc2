#!/usr/bin/env bash
# Start the machine's PostgreSQL 15 (installing it if absent) and create the test role and database.
# Idempotent: safe to run when it is already up.
set -euo pipefail
ROLE=beforeservice
DB=beforeservice_test
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$VERSION main$"; then
  as_root pg_createcluster "$VERSION" main >/dev/null
fi
if ! pg_lsclusters -h | grep "^$VERSION main" | grep -q online; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -c \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" != "1" ]; then
  psql_admin "CREATE ROLE $ROLE LOGIN PASSWORD '$ROLE' CREATEDB"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$DB'")" != "1" ]; then
  psql_admin "CREATE DATABASE $DB OWNER $ROLE"
fi
echo "PostgreSQL $VERSION is up: postgresql+psycopg://$ROLE:$ROLE@127.0.0.1:5432/$DB"

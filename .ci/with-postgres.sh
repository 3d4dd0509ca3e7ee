#!/bin/sh
# Run a command beside a throwaway PostgreSQL + PostGIS cluster, then stop the cluster.
#
#   sh .ci/with-postgres.sh COMMAND [ARG...]
#
# The cluster lives in a temporary folder, listens on a Unix socket in that folder only (no TCP
# port, so nothing clashes with another server), runs as the `postgres` user when started by
# root (initdb refuses root) and without fsync (test data only).  Its database, with the
# postgis extension, is given to COMMAND as ZHUDIAN_TEST_PG_URL.  Without PostgreSQL installed
# COMMAND runs alone: the PostgreSQL tests then skip, or fail under CI=1.  `make system-deps`
# installs the packages.
set -e
if [ -n "${ZHUDIAN_TEST_PG_URL:-}" ]; then exec "$@"; fi  # a server given by the caller
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "with-postgres: PostgreSQL is not installed (make system-deps installs it); running without it" >&2
  exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/zhudian-pg.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" = "0" ]; then
  chown postgres "$dir"
  as="runuser -u postgres --"
else
  as=""
fi
cwd=$(pwd)
cd "$dir"  # the postgres user may not be allowed into the caller's folder
port=5433
stop() {
  cd /
  $as "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

$as "$bindir/initdb" -D "$dir/data" -U zhudian -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
$as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o \
  "-c listen_addresses= -k $dir -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U zhudian "$@"; }
psql -d postgres -c "CREATE DATABASE zhudian_test"
psql -d zhudian_test -c "CREATE EXTENSION postgis" \
  || echo "with-postgres: PostGIS is not installed (make system-deps installs it)" >&2
cd "$cwd"
ZHUDIAN_TEST_PG_URL="postgresql+psycopg://zhudian@/zhudian_test?host=$dir&port=$port"
export ZHUDIAN_TEST_PG_URL
echo "with-postgres: PostgreSQL $("$bindir/postgres" -V | awk '{print $3}') at $dir (socket), database zhudian_test"

set +e
"$@"
status=$?
exit $status

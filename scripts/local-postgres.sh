#!/usr/bin/env bash
# A local PostgreSQL for the Dagster instance of dagster_home/postgres/dagster.yaml: one
# cluster in DIR, listening on 127.0.0.1:PORT only (and a socket in DIR/socket), trust
# authentication, the database "dagster" owned by the superuser "dagster". For trying the
# instance and for the tests (btcbot_pipeline/testing/postgres.py runs this script), not
# for a shared machine: trust lets any local user in.
#
#   scripts/local-postgres.sh start DIR PORT   initdb (first time), start, create the database;
#                                              prints the DAGSTER_PG_* exports (eval them)
#   scripts/local-postgres.sh env DIR PORT     prints the exports again
#   scripts/local-postgres.sh stop DIR         stops the server (fast: aborts open transactions)
#
# Binaries: initdb / pg_ctl / psql from PATH, else the newest /usr/lib/postgresql/*/bin
# (Debian's postgresql package). As root (CI), the server runs as the OS user "postgres":
# initdb refuses root; DIR is then handed to that user, so its parents must let it in.
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | env DIR PORT | stop DIR" >&2; exit 2; }

die() { echo "local-postgres: $*" >&2; exit 1; }

pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    # the real folder: a symlink on PATH may bring initdb without its siblings (psql, createdb)
    dirname "$(readlink -f "$(command -v initdb)")"; return
  fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$found" && -x "$found/initdb" ]] || die "no initdb/pg_ctl on PATH nor in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
  echo "$found"
}

# Runs a command as the server's user: this one, or "postgres" when this is root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

exports() {
  local dir=$1 port=$2
  echo "export DAGSTER_PG_USER=dagster DAGSTER_PG_PASSWORD=dagster DAGSTER_PG_HOST=127.0.0.1" \
       "DAGSTER_PG_PORT=$port DAGSTER_PG_DB=dagster"
}

start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no OS user postgres to run the server"
    chown postgres: "$dir"
    runuser -u postgres -- test -w "$dir" \
      || die "the OS user postgres cannot write $dir (a parent folder keeps it out)"
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$dir/data" -U dagster --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: $(tail -n 1 "$dir/initdb.log")"
  fi
  as_owner mkdir -p "$dir/socket"
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then  # started already: keep it
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/socket" start >/dev/null \
      || die "the server did not start: $(tail -n 1 "$dir/postgres.log" 2>/dev/null)"
  fi
  if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U dagster -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'dagster'" | grep -q 1; then
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U dagster dagster
  fi
  exports "$dir" "$port"
}

stop() {
  local dir=$1 bin
  bin=$(pg_bin)
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

case "${1:-}" in
  start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
  env) [[ $# -eq 3 ]] || usage; exports "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
  *) usage ;;
esac

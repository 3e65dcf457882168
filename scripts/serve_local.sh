#!/usr/bin/env bash
# One command for a PostGIS-backed bureau server on this machine:
#   bash scripts/serve_local.sh [WORKSPACE.gpkg] [PORT]
# Starts (or reuses) a local PostgreSQL 15 cluster in out/pg (port 5544, loopback only, trust
# auth for local use), creates database `ecogis` with PostGIS, copies WORKSPACE (default: the
# 安居区 demo, built when missing) into it, writes out/keys.txt (one staff and one admin key,
# made once) and runs `ecogis serve postgresql://postgres@127.0.0.1:5544/ecogis`.
# Needs Debian's postgresql-15 and postgresql-15-postgis-3, and `pip install -e '.[server]'`.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=${1:-out/demo/anju.gpkg}
PORT=${2:-8000}
PGBIN=/usr/lib/postgresql/15/bin
PGPORT_L=${ECOGIS_PG_PORT:-5544}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
URI="postgresql://postgres@127.0.0.1:$PGPORT_L/ecogis"
[ -x "$PGBIN/initdb" ] || { echo "needs postgresql-15 (apt install postgresql-15 postgresql-15-postgis-3)" >&2; exit 2; }
mkdir -p out
RUNAS=""
if [ "$(id -u)" = 0 ]; then RUNAS="runuser -u postgres --"; fi
if [ ! -d out/pg/data ]; then
  mkdir -p out/pg
  [ -z "$RUNAS" ] || chown postgres out/pg
  $RUNAS "$PGBIN/initdb" -D out/pg/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >out/pg/initdb.log
fi
if ! $RUNAS "$PGBIN/pg_ctl" -D out/pg/data status >/dev/null 2>&1; then
  $RUNAS "$PGBIN/pg_ctl" -D out/pg/data -l out/pg/server.log -w \
    -o "-p $PGPORT_L -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
fi
"$PY" - "$WS" "$URI" <<'PY'
import sys
from pathlib import Path

import psycopg

ws, uri = sys.argv[1], sys.argv[2]
admin = uri.rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(admin, autocommit=True) as con:
    if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'ecogis'").fetchone():
        con.execute("CREATE DATABASE ecogis")
if not Path(ws).exists() and ws == "out/demo/anju.gpkg":
    from ecogis.demo import build_demo_workspace

    build_demo_workspace(ws, region="anju")
from ecogis.storage.migrate import copy_workspace

copy_workspace(ws, uri)
print(f"copied {ws} into {uri}")
PY
if [ ! -f out/keys.txt ]; then
  umask 077
  printf '%s staff\n%s admin\n' "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > out/keys.txt
fi
echo "API keys: out/keys.txt (KEY ROLE per line)"
exec "$PY" -m ecogis.cli serve "$URI" --port "$PORT" --keys out/keys.txt

#!/usr/bin/env bash
# Install ecogis with its test extras into .venv and run the whole test suite (what CI runs).
# As root with apt-get, it first installs the Debian parts the tests drive for real: chromium
# (maps, PDF), PostgreSQL 15 + PostGIS 3 (the server workspace), GDAL 3.6 tools and QGIS 3.22's
# python3-qgis (the workspace opens where bureaus work), CJK fonts and poppler-utils (reports).
# Pass pytest arguments through, e.g. `bash scripts/test.sh -m "not slow"` while editing.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS="chromium postgresql-15 postgresql-15-postgis-3 gdal-bin python3-qgis qgis fonts-noto-cjk fonts-wqy-zenhei poppler-utils"
missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for the tests:$missing ..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "warning: missing Debian packages ($missing): tests that need them will be skipped" >&2
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check ecogis tests scripts
# A throwaway PostgreSQL 15 + PostGIS cluster for the PostGIS workspace and `ecogis serve`
# tests (a temp dir, a free loopback port, trust auth, stopped and removed on exit); set
# ECOGIS_TEST_POSTGIS=postgresql://... to use a server of your own instead.
PGBIN=/usr/lib/postgresql/15/bin
if [ -z "${ECOGIS_TEST_POSTGIS:-}" ] && [ -x "$PGBIN/initdb" ]; then
  PGTMP=$(mktemp -d /tmp/ecogis-pg.XXXXXX)
  RUNAS=""
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGTMP"; RUNAS="runuser -u postgres --"; fi
  PGPORT_T=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pg_stop() {
    $RUNAS "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
  }
  trap pg_stop EXIT
  $RUNAS "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGTMP/initdb.log" 2>&1
  $RUNAS "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -o \
    "-p $PGPORT_T -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
  export ECOGIS_TEST_POSTGIS="postgresql://postgres@127.0.0.1:$PGPORT_T/postgres"
  echo "PostgreSQL for the tests: $ECOGIS_TEST_POSTGIS"
elif [ -z "${ECOGIS_TEST_POSTGIS:-}" ]; then
  echo "warning: no PostgreSQL 15 ($PGBIN/initdb): PostGIS tests will be skipped" >&2
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"

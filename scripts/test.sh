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
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"

#!/usr/bin/env bash
# Install ecogis into .venv and run the 安居区 demo (builds out/demo/anju.gpkg and maps/anju.html).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
.venv/bin/ecogis demo "$@"

#!/usr/bin/env bash
# Install ecogis (with the Word report extra) into .venv and run the 安居区 demo: builds
# out/demo/anju.gpkg, maps/anju.html and the 用地预审 report out/demo/anju-review.docx (.pdf
# too where Debian's chromium is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[reports]'
.venv/bin/ecogis demo "$@"

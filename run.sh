#!/usr/bin/env bash
# One command: set up (virtualenv, packages, database schema, shipped processes) and run the main job.
#   ./run.sh                 serves on http://127.0.0.1:5000 with SQLite in ./var/
#   HOST=0.0.0.0 PORT=8080 ./run.sh
#   YIJIANSHI_DATABASE_URL=postgresql+psycopg://user@host/db ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/yijianshi serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"

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
# Install only when pyproject.toml changed since the last install (its hash is kept in a stamp file in
# .venv): a second start does no pip work. A new .venv has no stamp, so a fresh machine installs all.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/yijianshi ] || [ "$(cat .venv/.installed-app 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  echo "$want" > .venv/.installed-app
fi
# The process diagrams need bpmn-js from npm; without it the app still serves, minus the diagrams.
web/assets/install.sh || echo "警告：前端资源（bpmn-js）未能安装，流程图将不显示。请安装 Node.js/npm 后运行 npm ci。" >&2
# The demo answers data-sharing checks (户籍, 社保, 电子证照 …) from the built-in demo register, so a
# registry check never waits for a worker that is not there; set YIJIANSHI_REGISTRY_URL to a real one.
export YIJIANSHI_REGISTRY_URL="${YIJIANSHI_REGISTRY_URL:-demo}"
exec .venv/bin/yijianshi serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"

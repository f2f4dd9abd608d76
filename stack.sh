#!/usr/bin/env bash
# One command: the production shape locally — a throwaway PostgreSQL cluster, the schema, the shipped
# processes, the demo accounts, gunicorn with several workers and two deadline schedulers (one
# active, one standby). Ctrl-C stops everything and removes the cluster.
#   ./stack.sh                       # http://127.0.0.1:8000/
#   ./stack.sh --workers 3 --port 8080
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e .
web/assets/install.sh || echo "警告：前端资源（bpmn-js）未能安装，流程图将不显示。" >&2
exec .venv/bin/yijianshi stack "$@"

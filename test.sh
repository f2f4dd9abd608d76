#!/usr/bin/env bash
# One command: set up (virtualenv, packages) and run the whole test suite, PostgreSQL and browser
# tests included. PostgreSQL tests start a throwaway cluster from the server binaries (initdb,
# pg_ctl); browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright. Missing system
# packages are installed with apt when running as root; otherwise those tests fail rather than
# skip. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ -x /usr/bin/chromium ] || missing+=(chromium)
# CJK fonts, so the screenshots the browser tests save show Chinese, not boxes.
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
web/assets/install.sh
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# As in run.sh: pip runs only when pyproject.toml changed since the last install (stamp in .venv). The
# test install holds the app's, so it stamps both.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/yijianshi ] || [ "$(cat .venv/.installed-test 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  echo "$want" > .venv/.installed-test
  echo "$want" > .venv/.installed-app
fi
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Front-end assets from the npm registry (package.json: bpmn-js, chart.js), copied into web/static/vendor/
# (git-ignored) by the postinstall step, so the app serves them itself: no CDN. Skips the work when
# package.json and package-lock.json are unchanged since the last install (their hash is kept in
# web/static/vendor/.installed). Installs Node.js/npm with apt when missing and
# running as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
marker=web/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js
charts=web/static/vendor/chart.js/chart.umd.min.js
stamp=web/static/vendor/.installed
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$marker" ] && [ -f "$charts" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "npm is missing: install Node.js and npm, then run: npm ci" >&2
    exit 1
  fi
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"

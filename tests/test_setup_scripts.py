"""./run.sh and ./test.sh set up a fresh machine in one command, and a second start installs nothing
when nothing changed: pip runs only when pyproject.toml changed, `npm ci` only when package.json or
package-lock.json changed.

The scripts run in a copy of the checkout whose .venv/bin/python, yijianshi, npm and apt-get are
stand-ins that write what they were asked to do into a log."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]

FAKE_YIJIANSHI = """#!/usr/bin/env bash
echo "yijianshi $*" >> "$FAKE_LOG"
"""
# `pip install -e .` installs the `yijianshi` command.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$FAKE_LOG"
if [[ "$*" == *" -e "* ]]; then
  printf '%s' '""" + FAKE_YIJIANSHI + """' > "$(dirname "$0")/yijianshi"
  chmod +x "$(dirname "$0")/yijianshi"
fi
"""
# `npm ci` runs the postinstall step, which copies the assets into web/static/vendor.
FAKE_NPM = """#!/usr/bin/env bash
echo "npm $*" >> "$FAKE_LOG"
mkdir -p web/static/vendor/bpmn-js web/static/vendor/chart.js
touch web/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js web/static/vendor/chart.js/chart.umd.min.js
"""
FAKE_OTHER = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$FAKE_LOG"
"""


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "repo"
    for name in ("run.sh", "test.sh", "web/assets/install.sh", "pyproject.toml", "package.json",
                 "package-lock.json"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    # An existing virtualenv, nothing installed in it yet (python -m venv is not run).
    _script(repo / ".venv/bin/python", FAKE_PYTHON)
    bin_dir = tmp_path / "bin"
    _script(bin_dir / "npm", FAKE_NPM)
    for tool in ("apt-get", "initdb"):
        _script(bin_dir / tool, FAKE_OTHER)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log)}
    env.pop("PORT", None)
    env.pop("HOST", None)

    def run(script: str) -> list[str]:
        log.write_text("", encoding="utf-8")
        result = subprocess.run([str(repo / script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return log.read_text(encoding="utf-8").splitlines()

    return SimpleNamespace(path=repo, run=run)


def _pip(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("python -m pip")]


def _npm(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("npm ")]


def test_run_sh_installs_on_the_first_start_and_nothing_on_the_second(checkout):
    first = checkout.run("run.sh")
    assert _pip(first) == ["python -m pip install --quiet --upgrade pip", "python -m pip install --quiet -e ."]
    assert _npm(first) == ["npm ci --no-audit --no-fund --loglevel=error"]
    assert first[-1] == "yijianshi serve --host 127.0.0.1 --port 5000"

    second = checkout.run("run.sh")
    assert second == ["yijianshi serve --host 127.0.0.1 --port 5000"]


def test_run_sh_installs_again_when_pyproject_or_the_npm_files_change(checkout):
    checkout.run("run.sh")
    with (checkout.path / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n# a new dependency would go here\n")
    calls = checkout.run("run.sh")
    assert _pip(calls) == ["python -m pip install --quiet --upgrade pip", "python -m pip install --quiet -e ."]
    assert _npm(calls) == []

    with (checkout.path / "package-lock.json").open("a", encoding="utf-8") as f:
        f.write("\n")
    calls = checkout.run("run.sh")
    assert _pip(calls) == []
    assert _npm(calls) == ["npm ci --no-audit --no-fund --loglevel=error"]

    (checkout.path / "package.json").write_text((checkout.path / "package.json").read_text() + "\n", encoding="utf-8")
    assert _npm(checkout.run("run.sh")) == ["npm ci --no-audit --no-fund --loglevel=error"]


def test_run_sh_installs_again_when_the_command_is_missing(checkout):
    checkout.run("run.sh")
    (checkout.path / ".venv/bin/yijianshi").unlink()
    calls = checkout.run("run.sh")
    assert _pip(calls) == ["python -m pip install --quiet --upgrade pip", "python -m pip install --quiet -e ."]


def test_test_sh_installs_the_test_extras_once_and_then_only_runs_pytest(checkout):
    first = checkout.run("test.sh")
    assert _pip(first) == ["python -m pip install --quiet --upgrade pip",
                           'python -m pip install --quiet -e .[test]']
    assert first[-1] == "python -m pytest"
    second = checkout.run("test.sh")
    assert _pip(second) == [] and _npm(second) == []
    assert second[-1] == "python -m pytest"
    # The test install holds the app's: run.sh has nothing to install either.
    assert _pip(checkout.run("run.sh")) == []

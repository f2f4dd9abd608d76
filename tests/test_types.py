"""mypy passes on the engine and storage packages, as installed (yijianshi.engine, yijianshi.storage).

The settings are pyproject.toml's [tool.mypy]. mypy finds packages on its search path, not through
the editable install's import hook, so the installed package folders are linked under
.mypy/src/yijianshi/ first (that folder and mypy's cache in .mypy/cache are git-ignored)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "storage")


def _link_installed_packages() -> None:
    links = ROOT / ".mypy" / "src" / "yijianshi"
    links.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        installed = Path(importlib.import_module(f"yijianshi.{name}").__path__[0]).resolve()
        link = links / name
        if link.is_symlink() and link.resolve() == installed:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(installed, target_is_directory=True)


def test_mypy_passes_on_engine_and_storage():
    _link_installed_packages()
    args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    for name in PACKAGES:
        args += ["-p", f"yijianshi.{name}"]
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"mypy failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"

"""The distribution installs one import name, `yijianshi`, with the design card's top-level folders
under it (engine/ as yijianshi.engine, ...), so it cannot collide with other packages' `engine`,
`web` or `cli`."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("engine", "storage", "web", "cli")
BARE_IMPORT = re.compile(r"^\s*(?:from|import)\s+(engine|storage|web|cli)(?:\.|\s)", re.MULTILINE)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_for_installation():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    present = {"yijianshi." + ".".join(init.parent.relative_to(ROOT).parts)
               for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}
    assert present - listed == set(), "add these packages to pyproject.toml [tool.setuptools] packages"
    assert listed - present == set(), "pyproject.toml lists packages that no longer exist"


def test_no_module_imports_a_bare_top_level_name():
    offenders = []
    for folder in (*FOLDERS, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in BARE_IMPORT.finditer(path.read_text(encoding="utf-8")):
                line = path.read_text(encoding="utf-8")[:match.start()].count("\n") + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0).strip()}")
    assert offenders == [], "import yijianshi.<folder>..., never the bare folder name"


def test_the_wheel_holds_only_the_yijianshi_name_and_its_data(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "test-artifacts", "var", ".mypy", "__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("yijianshi-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"yijianshi"}
    for needed in ("yijianshi/engine/deadlines/data/holidays-cn.json", "yijianshi/engine/access/data/common-passwords.txt",
                   "yijianshi/web/templates/base.html",
                   "yijianshi/storage/migrations/versions/0001_initial_schema.py", "yijianshi/web/static/app.css",
                   "yijianshi/engine/cases/commands.py"):
        assert needed in names, needed
    assert not any(name.startswith("yijianshi/__init__") for name in names)  # a namespace, nothing else in it

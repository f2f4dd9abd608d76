"""Settings: read from the environment once, at the edge, with every path made absolute; and no
module below the edge reads the environment itself."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from yijianshi.engine.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# The entry points that read the environment into Settings (each once, at start-up).
EDGES = {"cli/main.py", "web/wsgi.py", "web/gunicorn_conf.py"}
SCANNED = ("engine", "storage", "web", "cli")


def environment_reads(source: str) -> list[int]:
    """Lines of `source` that read the process environment: os.environ / os.getenv / os.putenv, or
    environ / getenv imported from os. Copying the environment for a child process,
    `dict(os.environ, ...)`, is not a read of a setting."""
    tree = ast.parse(source)
    copies = {id(node.args[0]) for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
              and node.args and _is_os_attr(node.args[0], "environ")}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "putenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os" and id(node) not in copies:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "environb", "getenv") for a in node.names):
            lines.append(node.lineno)
    return sorted(lines)


def _is_os_attr(node, name: str) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def test_the_scan_finds_environment_reads_and_passes_copies():
    assert environment_reads("import os\nx = os.environ.get('A')\n") == [2]
    assert environment_reads("import os\nx = os.getenv('A')\n") == [2]
    assert environment_reads("import os\n\nx = os.environ['A']\n") == [3]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nenv = dict(os.environ, A='1')\n") == []
    assert environment_reads("import os\nenv = {**os.environ}\n") == [2]  # not the agreed way to copy


def test_only_the_entry_points_read_the_environment():
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in EDGES:
                continue
            found += [f"{rel}:{line}" for line in environment_reads(path.read_text(encoding="utf-8"))]
    assert found == [], ("read the environment into Settings at the edge (cli/main.py, web/wsgi.py, "
                         f"web/gunicorn_conf.py) and pass the settings down: {found}")


def test_each_edge_reads_the_environment_into_settings():
    for rel in sorted(EDGES):
        source = (ROOT / rel).read_text(encoding="utf-8")
        assert "Settings.from_environ(os.environ)" in source, rel


def test_relative_settings_come_out_absolute(tmp_path):
    settings = Settings.from_environ({
        "YIJIANSHI_HOME": "var",
        "YIJIANSHI_UPLOADS": "data/../files",
        "YIJIANSHI_DATABASE_URL": "sqlite:///db/yijianshi.sqlite3",
        "PROMETHEUS_MULTIPROC_DIR": "prom",
    }, cwd=tmp_path)
    assert settings.home == tmp_path / "var"
    assert settings.uploads == tmp_path / "files"
    assert settings.database_url == f"sqlite:///{tmp_path}/db/yijianshi.sqlite3"
    assert settings.prometheus_multiproc_dir == tmp_path / "prom"
    assert settings.secret_key_file == tmp_path / "var" / "secret_key"
    for path in (settings.home, settings.uploads, settings.prometheus_multiproc_dir):
        assert path.is_absolute()


def test_defaults_are_under_home_in_the_start_folder(tmp_path):
    settings = Settings.from_environ({}, cwd=tmp_path)
    assert settings.home == tmp_path / "var"
    assert settings.uploads == tmp_path / "var" / "uploads"
    assert settings.database_url == f"sqlite:///{tmp_path}/var/yijianshi.sqlite3"
    assert settings.secret_key is None and settings.prometheus_multiproc_dir is None
    assert settings.secure_cookies is False and settings.health_scheduler_stale_seconds == 15.0
    assert settings.log_format == "json" and settings.log_level is None
    home = Settings.from_environ({"YIJIANSHI_HOME": str(tmp_path / "elsewhere")}, cwd=Path("/"))
    assert home.uploads == tmp_path / "elsewhere" / "uploads"
    assert home.database_url == f"sqlite:///{tmp_path}/elsewhere/yijianshi.sqlite3"


def test_the_other_settings_are_read_as_typed_values(tmp_path):
    settings = Settings.from_environ({
        "YIJIANSHI_SECRET_KEY": "k" * 32, "YIJIANSHI_SECURE_COOKIES": "1",
        "YIJIANSHI_HEALTH_SCHEDULER_STALE_SECONDS": "0", "YIJIANSHI_LOG_FORMAT": "TEXT",
        "YIJIANSHI_LOG_LEVEL": "debug", "YIJIANSHI_DATABASE_URL": "postgresql+psycopg://u:p@db.example/yjs",
    }, cwd=tmp_path)
    assert settings.secret_key == "k" * 32 and "k" * 32 not in repr(settings)
    assert settings.secure_cookies is True and settings.health_scheduler_stale_seconds == 0.0
    assert settings.log_format == "text" and settings.log_level == "DEBUG"
    assert settings.database_url == "postgresql+psycopg://u:p@db.example/yjs"  # not a file: as given
    assert Settings.from_environ({"YIJIANSHI_DATABASE_URL": "sqlite://"}).database_url == "sqlite://"


def test_script_limits_are_read_from_the_environment(tmp_path):
    default = Settings.from_environ({}, cwd=tmp_path).script_limits
    assert (default.cpu_seconds, default.memory_mb, default.max_workers) == (1.0, 256, 8)
    limits = Settings.from_environ({"YIJIANSHI_SCRIPT_CPU_SECONDS": "0.5", "YIJIANSHI_SCRIPT_MEMORY_MB": "128",
                                    "YIJIANSHI_SCRIPT_WORKERS": "3"}, cwd=tmp_path).script_limits
    assert (limits.cpu_seconds, limits.memory_mb, limits.max_workers) == (0.5, 128, 3)
    with pytest.raises(ValueError, match="script limits"):
        Settings.from_environ({"YIJIANSHI_SCRIPT_MEMORY_MB": "8"}, cwd=tmp_path)


def test_settings_refuse_a_relative_path(tmp_path):
    good = Settings.from_environ({}, cwd=tmp_path)
    with pytest.raises(ValueError, match="uploads must be an absolute path"):
        Settings(home=good.home, database_url=good.database_url, uploads=Path("var/uploads"))
    with pytest.raises(ValueError, match="absolute SQLite file"):
        Settings(home=good.home, database_url="sqlite:///var/x.sqlite3", uploads=good.uploads)
    with pytest.raises(ValueError, match="home must be an absolute path"):
        good.replace(home=Path("var"))
    # a database URL changed later (the command line's --db) is made absolute like one read at start
    assert good.replace(database_url="sqlite:///x.sqlite3").database_url.startswith("sqlite:////")


def test_the_command_line_reads_its_settings_from_the_environment(tmp_path, monkeypatch, capsys):
    """`yijianshi db upgrade` with only YIJIANSHI_HOME set, run from another folder, makes its
    database where the settings say: <home>/yijianshi.sqlite3, an absolute path."""
    from yijianshi.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YIJIANSHI_HOME", "state")
    monkeypatch.delenv("YIJIANSHI_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"sqlite:///{tmp_path}/state/yijianshi.sqlite3" in out
    assert (tmp_path / "state" / "yijianshi.sqlite3").exists()


def test_uploads_are_written_and_served_from_one_absolute_folder(tmp_path, monkeypatch):
    """The relative default home ("var") is resolved once, at start-up: a material uploaded through
    the app is stored under <start folder>/var/uploads and downloads from there, whatever the current
    folder is when the download is served."""
    from tests.conftest import check_every_case, make_engine
    from tests.web.conftest import FAST_HASH, SCENARIO, Client, web_config
    from tests.web.helpers import APPLICATION, PDF
    from yijianshi.engine.composition import System
    from yijianshi.storage import material_store
    from yijianshi.web.app import create_app

    start = tmp_path / "start"
    start.mkdir()
    monkeypatch.chdir(start)
    settings = Settings.from_environ({"YIJIANSHI_DATABASE_URL": "sqlite:///yijianshi.sqlite3"}).replace(
        password_hash_method=FAST_HASH)
    assert settings.uploads == start / "var" / "uploads"
    system = System.build(settings)
    system.db.upgrade()
    system.engine.deploy([SCENARIO])
    app = create_app(system, web_config())
    system.accounts.seed_demo()
    assert app.config["UPLOAD_FOLDER"] == str(start / "var" / "uploads")
    monkeypatch.chdir(tmp_path)  # served from another folder than the one the process started in
    applicant = Client(app)
    applicant.login("zhangsan")
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF), "营业执照副本.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    case_id = int(response.location.rsplit("/", 1)[1])
    with system.db.reader.connect() as conn:
        [row] = material_store.for_case(conn, case_id)
    stored = [p for p in (start / "var" / "uploads").rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == PDF
    download = applicant.get(f"/materials/{row.id}")
    assert download.status_code == 200 and download.data == PDF
    check = make_engine(settings.database_url)
    check_every_case(check)
    check.db.dispose()
    system.close()


def test_file_store_follows_the_database_unless_set(tmp_path):
    at = Settings.at(tmp_path)
    assert at.file_store_kind == "folder" and not at.secrets_in_database
    pg = at.replace(database_url="postgresql+psycopg://u@h/db")
    assert pg.file_store_kind == "database" and pg.secrets_in_database
    assert pg.replace(file_store="folder").file_store_kind == "folder"
    environ = {"YIJIANSHI_HOME": str(tmp_path), "YIJIANSHI_FILE_STORE": "Database"}
    assert Settings.from_environ(environ).file_store_kind == "database"
    with pytest.raises(ValueError, match="YIJIANSHI_FILE_STORE"):
        Settings.from_environ({**environ, "YIJIANSHI_FILE_STORE": "s3"})

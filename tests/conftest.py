"""Shared fixtures. Integration tests run on SQLite and on PostgreSQL (a throwaway cluster started
once per session; if it cannot start, those tests error — they never skip).

Every engine a test creates is checked when the test ends: each case it holds must re-execute from
its recorded commands to the stored state, and its history chain must verify. So the suite replays
every case it creates.

Databases: `sqlite_url`, `pg_url` and `db_url` are empty (the migration tests upgrade them);
`migrated_sqlite_url`, `migrated_pg_url` and `migrated_db_url` are already at the newest schema,
copied from a template the Alembic migrations build once per session (a file copy on SQLite,
CREATE DATABASE ... TEMPLATE on PostgreSQL). `make_engine` migrates only databases of the first kind.

Lanes: every test gets the marker `unit` (no database, browser, server or process) or else one or
more of `integration` (a database, processes or servers, long fuzzing), `postgres` and `browser`,
from the fixtures it uses, its backend parameter or its file (pytest_collection_modifyitems).
`pytest -m unit` is the fast lane; a unit test that reaches a database fails, saying so."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import settings

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.runtime import Engine
from yijianshi.engine.settings import Settings
from yijianshi.storage import case_store
from yijianshi.storage.database import Database
from yijianshi.storage.throwaway_postgres import ThrowawayCluster

FIXTURES = Path(__file__).parent / "fixtures"

# Hypothesis: the CI profile is derandomized (the same examples every run) and small; tests that set
# their own max_examples keep it. `pytest --hypothesis-profile=long` hunts much longer, randomly.
settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile("ci")
ALL_GROUPS = frozenset({"front_desk", "market", "health", "fire", "tax", "applicant"})


def pytest_configure(config):
    config.addinivalue_line("markers", "tampers_history: the test alters history on purpose")
    config.addinivalue_line("markers", "soak: load and fault test on the production shape (runs in ./test.sh)")


# What puts a test out of the unit lane. Fixtures count through the test's whole fixture closure.
_POSTGRES_FIXTURES = {"pg_cluster"}
_DATABASE_FIXTURES = {"sqlite_url", "migrated_sqlite_url", "db_url", "migrated_db_url"}
_BROWSER_FIXTURES = {"page", "browser", "browser_context"}
# Files whose tests drive a browser, start servers and processes (gunicorn, the scheduler, the
# stack), or fuzz for many seconds (Hypothesis).
_BROWSER_FILES = ("test_browser",)
_SERVER_FILES = {"test_cli.py", "test_scheduler.py", "test_stack.py", "test_soak.py", "test_operations.py",
                 "test_concurrency.py", "test_completion_race.py", "test_api_schemathesis.py", "test_fuzz.py",
                 "test_sandbox_limits.py"}
# Parameters naming the database backend of a test that picks its fixtures at run time.
_PARAM_BACKENDS = ("db_url", "migrated_db_url", "backend")


def pytest_collection_modifyitems(config, items):
    """Sort every test into its lanes (markers unit / integration / postgres / browser)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = item.path.name
        backend = next((params[p] for p in _PARAM_BACKENDS if p in params), None)
        lanes = set()
        if fixtures & _POSTGRES_FIXTURES or backend == "postgresql":
            lanes.add("postgres")
        if fixtures & _BROWSER_FIXTURES or name.startswith(_BROWSER_FILES):
            lanes.add("browser")
        if fixtures & _DATABASE_FIXTURES or name in _SERVER_FILES or backend is not None:
            lanes.add("integration")
        for lane in sorted(lanes) or ["unit"]:
            if item.get_closest_marker(lane) is None:
                item.add_marker(getattr(pytest.mark, lane))


def _not_in_the_unit_lane(request) -> None:
    """A test that reaches a database without showing it in its fixtures was sorted wrongly."""
    if request.node.get_closest_marker("unit") is not None:
        pytest.fail(f"{request.node.nodeid} uses a database but is in the unit lane: see _PARAM_BACKENDS "
                    "and _SERVER_FILES in tests/conftest.py")


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = ThrowawayCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster, request):
    _not_in_the_unit_lane(request)
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path, request):
    _not_in_the_unit_lane(request)
    return f"sqlite:///{tmp_path}/yijianshi.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


# URLs of databases copied from a migrated template: make_engine does not upgrade them again.
_MIGRATED_URLS: set[str] = set()


def _migrate(url: str) -> None:
    db = Database(url)
    db.upgrade()
    db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file the migrations brought to head, once per session."""
    path = tmp_path_factory.mktemp("template") / "yijianshi.sqlite3"
    _migrate(f"sqlite:///{path}")
    # The last connection closed checkpointed the write-ahead log: the file alone is the database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_cluster) -> str:
    """A PostgreSQL database the migrations brought to head, once per session (nobody stays connected)."""
    name = "t_template"
    _migrate(pg_cluster.create_database(name))
    return name


@pytest.fixture
def migrated_sqlite_url(tmp_path, sqlite_template, request):
    _not_in_the_unit_lane(request)
    path = tmp_path / "yijianshi.sqlite3"
    assert not path.exists(), "one database per test folder"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    _MIGRATED_URLS.add(url)
    yield url
    _MIGRATED_URLS.discard(url)


@pytest.fixture
def migrated_pg_url(pg_cluster, pg_template, request):
    _not_in_the_unit_lane(request)
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name, template=pg_template)
    _MIGRATED_URLS.add(url)
    yield url
    _MIGRATED_URLS.discard(url)
    pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_db_url(request):
    return request.getfixturevalue("migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url")


# YIJIANSHI_PREPARED=0 ./test.sh runs the suite with the hot-path statements through plain SQLAlchemy.
PREPARED = Settings.from_environ(os.environ).prepared_statements


def make_engine(url: str, clock: ControlledClock | None = None) -> Engine:
    db = Database(url, prepared=PREPARED)
    if url not in _MIGRATED_URLS:
        db.upgrade()
    return Engine(db, clock or ControlledClock())


def check_every_case(engine: Engine) -> None:
    """Every case must re-execute to its stored state and its history chain must verify."""
    with engine.db.reader.connect() as conn:
        ids = case_store.all_case_ids(conn)
    for cid in ids:
        report = engine.reexecute(cid)
        assert report.ok, str(report)
    broken = [r for r in engine.verify() if not r.ok]
    assert not broken, [str(r) for r in broken]


def _check_unless_tampered(engine: Engine, request) -> None:
    # A test that alters history on purpose checks verify/re-execution failures itself.
    if request.node.get_closest_marker("tampers_history") is None:
        check_every_case(engine)


@pytest.fixture
def engine(migrated_db_url, request):
    eng = make_engine(migrated_db_url)
    yield eng
    _check_unless_tampered(eng, request)
    eng.db.dispose()


@pytest.fixture
def sqlite_engine(migrated_sqlite_url, request):
    eng = make_engine(migrated_sqlite_url)
    yield eng
    _check_unless_tampered(eng, request)
    eng.db.dispose()


@pytest.fixture
def clerk() -> Actor:
    return Actor("clerk_all", ALL_GROUPS, name="全能测试员")


def deploy_fixtures(engine: Engine, *names: str):
    return engine.deploy([FIXTURES / n for n in names])

"""Shared fixtures. Integration tests run on SQLite and on PostgreSQL (a throwaway cluster started
once per session; if it cannot start, those tests error — they never skip).

Every engine a test creates is checked when the test ends: each case it holds must re-execute from
its recorded commands to the stored state, and its history chain must verify. So the suite replays
every case it creates."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import settings

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.runtime import Engine
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


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = ThrowawayCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path}/yijianshi.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def make_engine(url: str, clock: ControlledClock | None = None) -> Engine:
    db = Database(url)
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
def engine(db_url, request):
    eng = make_engine(db_url)
    yield eng
    _check_unless_tampered(eng, request)
    eng.db.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url, request):
    eng = make_engine(sqlite_url)
    yield eng
    _check_unless_tampered(eng, request)
    eng.db.dispose()


@pytest.fixture
def clerk() -> Actor:
    return Actor("clerk_all", ALL_GROUPS, name="全能测试员")


def deploy_fixtures(engine: Engine, *names: str):
    return engine.deploy([FIXTURES / n for n in names])

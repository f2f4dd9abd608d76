"""The inbox reads in index order and stops after the page: its query plans never scan a whole table
(a regression here makes the inbox slow with many open work items, bench/inbox_scale.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from yijianshi.storage import inbox_store
from yijianshi.storage.database import Database

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "inbox_scale.py"


def _bench():
    spec = importlib.util.spec_from_file_location("inbox_scale", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    bench = _bench()
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('inbox')}/inbox.sqlite3")
    db.upgrade()
    probe = bench.fill(db, 3000)
    yield db, bench, probe
    db.dispose()


def _plan(db, statement) -> list[str]:
    sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]


def test_inbox_pages_are_index_ordered_scans_without_a_full_scan(filled):
    db, bench, probe = filled
    for name, f in bench.scenarios(probe).items():
        plan = _plan(db, inbox_store._page_query(f, f.scopes()[0], bench.NOW, 51))
        assert not [step for step in plan if step.startswith("SCAN")], (name, plan)
        if name in ("default_page", "two_departments", "all_departments"):
            assert not [step for step in plan if "TEMP B-TREE" in step], (name, plan)
            assert plan[0].startswith("SEARCH work_item_groups USING"), (name, plan)


def test_inbox_counts_stop_at_the_cap_and_use_an_index(filled):
    db, bench, probe = filled
    f = bench.scenarios(probe)["default_page"]
    with db.reader.connect() as conn:
        counts = inbox_store.inbox_counts(conn, f, bench.NOW)
        assert counts["all"] == inbox_store.COUNT_CAP + 1 or counts["all"] < inbox_store.COUNT_CAP
        page = inbox_store.inbox(conn, f, bench.NOW, limit=20)
    assert len(page) == 20
    assert [r.sort_due_key for r in page] == sorted(r.sort_due_key for r in page)
    counted = inbox_store.groups_t.c.claimed_by.is_(None)
    from sqlalchemy import func, select
    statement = select(func.count()).select_from(
        select(inbox_store.groups_t.c.work_item_id).where(inbox_store.groups_t.c.group_code == "market",
                                                          inbox_store.groups_t.c.state == "ready", counted)
        .limit(inbox_store.COUNT_CAP + 1).subquery())
    plan = _plan(db, statement)
    assert [step for step in plan if "work_item_groups" in step][0].startswith("SEARCH"), plan

"""Two processes complete the same work item at the same moment (a double click reaching two web
workers, or two clerks): one wins, the other is told the item is done — never a server error. On
PostgreSQL the loser used to run into the winner's projection rows (the next tasks, whose ids both
computed) and fail with a duplicate key; found by the soak test (bench/soak.py)."""
from __future__ import annotations

import threading
import time

from yijianshi.engine.errors import WorkItemUnavailable
from yijianshi.storage import case_store
from yijianshi.storage.write_batch import active_batch
from tests.conftest import deploy_fixtures, make_engine


def test_simultaneous_completion_of_one_item_answers_already_done(engine, clerk, monkeypatch):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {}, clerk)
    item = case.ready[0].id
    other = make_engine(engine.db.url.render_as_string(hide_password=False), engine.clock)
    inside, release = threading.Event(), threading.Event()
    original = case_store.insert_events

    def insert_then_hold(conn, rows):  # the first command waits, uncommitted, with everything written
        original(conn, rows)
        if threading.current_thread().name == "first":
            batch = active_batch(conn)
            if batch is not None:  # PostgreSQL: send the queued writes now, uncommitted, holding their locks
                batch.flush()
            inside.set()
            release.wait(10)

    monkeypatch.setattr(case_store, "insert_events", insert_then_hold)
    outcome: dict[str, object] = {}

    def complete(name, eng):
        try:
            outcome[name] = eng.cases.complete_work_item(item, {"applicant_name": name}, clerk)
        except Exception as err:  # noqa: BLE001 - the outcome is what the test checks
            outcome[name] = err

    first = threading.Thread(target=complete, args=("first", engine), name="first")
    second = threading.Thread(target=complete, args=("second", other), name="second")
    first.start()
    assert inside.wait(10)
    second.start()
    time.sleep(0.5)  # the second command is now waiting on the first one's rows (or lock)
    release.set()
    first.join(10)
    second.join(30)
    other.db.dispose()
    assert not isinstance(outcome["first"], Exception), outcome["first"]
    assert isinstance(outcome["second"], WorkItemUnavailable), repr(outcome["second"])
    with engine.db.reader.connect() as conn:
        ready = case_store.query_work_items(conn, case_id=case.id)
    assert sorted(r.task_spec for r in ready) == ["dept_fire", "dept_health", "dept_market", "dept_tax"]


"""Failed commands are recorded outside their rolled-back transaction; a running case failing on its
current version is stuck until something moves it (a retry that works, a cancellation); refusals
(form errors, no permission) are not failures."""
from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import FIXTURES
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import failures
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import NotPermitted, ScriptError
from yijianshi.storage import deadline_store

ADMIN = Actor("admin", frozenset(), is_admin=True)
FRONT = Actor("chuangkou", frozenset({"front_desk"}))


def _due_deadline(engine, case_id: int) -> int:
    with engine.db.reader.connect() as conn:
        (row,) = deadline_store.of_case(conn, case_id, ("armed",))
    return row.id


def test_a_failing_timer_makes_the_case_stuck_until_it_is_cancelled(engine):
    engine.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    engine.deploy([FIXTURES / "fragile.bpmn"])
    broken = engine.cases.start_case("fragile_wait", {"parts": 0}, FRONT, title="分母为零").id
    healthy = engine.cases.start_case("fragile_wait", {"parts": 4}, FRONT, title="正常").id
    engine.clock.advance(hours=2)
    with pytest.raises(ScriptError):
        engine.cases.fire_deadline(_due_deadline(engine, broken))
    assert engine.cases.fire_deadline(_due_deadline(engine, healthy)) is not None
    (stuck,) = failures.stuck_cases(engine)
    assert (stuck.id, stuck.title, stuck.failures) == (broken, "分母为零", 1)
    (failure,) = failures.failures_of(engine, broken)
    assert failure.command == "fire_deadline" and failure.actor == "system"
    assert "ZeroDivisionError" in failure.error or "division" in failure.error

    # a retry runs the due deadline again; it fails the same way: one row, two attempts
    result = failures.retry(engine, broken)
    assert result == failures.RetryResult(fired=0, still_stuck=True)
    (stuck,) = failures.stuck_cases(engine)
    assert stuck.failures == 2 and len(failures.failures_of(engine, broken)) == 1

    engine.cases.cancel_case(broken, ADMIN, "脚本错误无法继续，已电话告知申请人")
    assert failures.stuck_cases(engine) == []
    assert len(failures.failures_of(engine, broken)) == 1  # the record stays


def test_a_retry_that_works_unsticks_the_case(engine):
    engine.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    engine.deploy([FIXTURES / "fragile.bpmn"])
    case_id = engine.cases.start_case("fragile_wait", {"parts": 2}, FRONT).id
    engine.clock.advance(hours=2)
    # an unexpected fault inside a command's transaction is recorded too
    with pytest.raises(RuntimeError):
        _fail_inside(engine, case_id)
    assert [s.id for s in failures.stuck_cases(engine)] == [case_id]
    assert failures.retry(engine, case_id) == failures.RetryResult(fired=1, still_stuck=False)
    assert failures.stuck_cases(engine) == []


def _fail_inside(engine, case_id: int) -> None:
    """A command whose body raises an unexpected error (as a fault in the database driver would)."""
    service = engine.cases

    def body(ctx):
        raise RuntimeError("database went away")

    service.runner.run_on_case(case_id, FRONT, body)


def test_refusals_are_not_failures(engine):
    engine.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    engine.deploy([FIXTURES / "fragile.bpmn"])
    case_id = engine.cases.start_case("fragile_wait", {"parts": 2}, FRONT).id
    with pytest.raises(NotPermitted):
        engine.cases.cancel_case(case_id, Actor("stranger", frozenset()), "", withdrawn=True)
    assert failures.failures_of(engine, case_id) == [] and failures.stuck_cases(engine) == []

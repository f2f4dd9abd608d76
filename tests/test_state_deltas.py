"""A command writes only what it changed of a case's engine state (#17, engine/cases/state_delta.py):
a delta row after the base in cases.state_blob, which stays as it was; the state read back from base
and deltas is the live one; a finished case is one base again. Each test runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import json

import orjson
from sqlalchemy import text

from yijianshi.engine.cases import state_delta
from yijianshi.storage import state_blob
from tests.checkpoint_support import ADMIN, DESK
from tests.conftest import deploy_fixtures

FORMS = {"apply": {"applicant_name": "孙七", "amount": "12"}, "deliver": {"delivered": True}}


def _stored(engine, case_id: int) -> tuple[bytes, list[dict]]:
    with engine.db.engine.connect() as conn:
        blob = bytes(conn.execute(text("SELECT state_blob FROM cases WHERE id = :c"), {"c": case_id}).scalar_one())
        deltas = [orjson.loads(state_blob.decompress(bytes(d))) for (d,) in conn.execute(
            text("SELECT delta FROM case_state_deltas WHERE case_id = :c ORDER BY version"), {"c": case_id})]
    return blob, deltas


def _live_state(engine, case_id: int) -> str:
    runner = engine.cases.runner
    version = runner.cache.version_of(case_id)
    assert version is not None
    wf, projection = runner.cache.take(case_id, version)
    runner.cache.put(case_id, version, wf, projection)
    return runner.codec.dumps(wf)


def _complete(engine, item) -> list:
    return list(engine.cases.complete_work_item(item.id, FORMS.get(item.task_spec, {"approved": True}), ADMIN).ready)


def test_commands_write_deltas_the_base_stays_and_a_finished_case_is_one_base(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    base, deltas = _stored(engine, case.id)
    assert deltas == []
    queue = list(case.ready)
    apply = queue.pop(0)
    queue.extend(_complete(engine, apply))  # the application opens the four departments' steps
    market = queue.pop(0)
    queue.extend(_complete(engine, market))
    after_base, deltas = _stored(engine, case.id)
    assert after_base == base, "a command that writes a delta leaves the base alone"
    assert len(deltas) == 2 and all(d["format"] == state_delta.DELTA_FORMAT for d in deltas)
    # The second delta holds the records of what completing one department's step changed: that
    # step's task, and not the records of tasks it left alone (the start, the application).
    written = deltas[1]["parts"][""]["tasks"]
    assert market.id in written and apply.id not in written
    assert written[market.id]["state"] == 64 and written[market.id]["delta"]["updates"]["approved"] is True
    # Base and deltas read back give the live workflow's state, byte for byte.
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)
    while queue:
        queue.extend(_complete(engine, queue.pop(0)))
    final, deltas = _stored(engine, case.id)
    assert deltas == [] and final != base
    state = json.loads(state_blob.decompress(final))
    assert state["completed"] is True and state["format"] == "yjs-case/2"


def test_a_case_not_cached_reads_base_and_deltas_and_goes_on_with_deltas(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    queue = list(case.ready)
    queue.extend(_complete(engine, queue.pop(0)))
    base, deltas = _stored(engine, case.id)
    assert len(deltas) == 1
    engine.cases.runner.cache.drop(case.id)  # as on another host: the workflow is read from the database
    queue.extend(_complete(engine, queue.pop(0)))
    again, deltas = _stored(engine, case.id)
    assert again == base and len(deltas) == 2
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)
    while queue:
        queue.extend(_complete(engine, queue.pop(0)))
    with engine.db.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM cases WHERE id = :c"), {"c": case.id}).scalar_one() == "completed"
    assert _stored(engine, case.id)[1] == []


def test_many_deltas_are_folded_into_a_new_base(engine, monkeypatch):
    monkeypatch.setattr(state_delta, "MAX_DELTAS", 2)
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK)
    queue = list(case.ready)
    counts = []
    for _ in range(4):
        queue.extend(_complete(engine, queue.pop(0)))
        counts.append(len(_stored(engine, case.id)[1]))
    assert counts == [1, 2, 0, 1]  # the third command found two deltas: it wrote a full state
    assert engine.cases.runner.codec.dumps(engine.cases.workflow_of(case.id)) == _live_state(engine, case.id)

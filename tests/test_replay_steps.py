"""Step-through replay: the state after each history event, rebuilt from the recorded commands."""
from __future__ import annotations

from datetime import datetime

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import NotFound
from yijianshi.engine.audit.step_through import states_after_each_event
from yijianshi.engine.deadlines.scheduler import fire_due
from yijianshi.storage import case_store
from tests.conftest import deploy_fixtures
from tests.web.conftest import SCENARIO
from tests.web.helpers import FRONT_DESK, item_id, start

CLERK = Actor("ma", frozenset({"market"}))


def _ids(positions) -> set[tuple[str, str]]:
    return {(p.process, p.element) for p in positions}


def test_one_state_per_event_in_order(engine):
    engine.deploy([SCENARIO])
    case_id = start(engine)
    accept_id = item_id(engine, case_id, "accept")
    engine.cases.claim(accept_id, FRONT_DESK)
    engine.cases.complete_work_item(accept_id, {"materials_complete": "true"}, FRONT_DESK)
    replay = states_after_each_event(engine, case_id)
    assert replay.problem == ""
    events = engine.history(case_id)
    assert [s.seq for s in replay.steps] == [e.seq for e in events]
    assert [s.type for s in replay.steps] == [e.type for e in events]
    by_type = {}
    for s in replay.steps:
        by_type.setdefault(s.type, []).append(s)

    started = by_type["case_started"][0]
    assert _ids(started.active) == {("open_restaurant", "apply")}
    assert ("open_restaurant", "apply") not in _ids(started.completed)
    applied = by_type["work_item_completed"][0]
    assert ("open_restaurant", "apply") in _ids(applied.completed)
    assert _ids(applied.active) == {("open_restaurant", "accept")}
    claimed = by_type["work_item_claimed"][0]
    assert claimed.claims == {accept_id: "chuangkou"}
    assert _ids(claimed.active) == {("open_restaurant", "accept")}  # a claim changes no position
    accepted = by_type["work_item_completed"][1]
    assert accepted.claims == {}
    assert {("open_restaurant", "accept"), ("open_restaurant", "gw_materials")} <= _ids(accepted.completed)
    assert _ids(accepted.active) == {("open_restaurant", "call_food_permit"), ("open_restaurant", "call_signboard"),
                                     ("item_food_permit", "review_food_permit"),
                                     ("item_signboard", "review_signboard")}
    # Events the command produced after itself show the state after that command.
    ready_after = [s for s in replay.steps if s.type == "work_item_ready" and s.seq > accepted.seq]
    assert ready_after and all(_ids(s.active) == _ids(accepted.active) for s in ready_after)


def test_waiting_timers_then_the_overdue_path(engine):
    deploy_fixtures(engine, "limits.bpmn")
    engine.clock.set(datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI))
    case = engine.cases.start_case("limited_review", {"limit_days": 7}, CLERK)
    engine.clock.set(datetime(2025, 10, 14, 0, 0, 5, tzinfo=SHANGHAI))
    fire_due(engine)
    replay = states_after_each_event(engine, case.id)
    first, last = replay.steps[0], replay.steps[-1]
    assert ("limited_review", "review") in _ids(first.active)
    assert {("limited_review", "warn"), ("limited_review", "overdue")} <= _ids(first.waiting)
    assert ("limited_review", "supervise") in _ids(last.active)
    assert ("limited_review", "overdue") in _ids(last.completed)
    assert ("limited_review", "review") not in _ids(last.active)
    assert any(s.type == "timers_fired" for s in replay.steps)


def test_unknown_case(engine):
    with pytest.raises(NotFound):
        states_after_each_event(engine, 999)


@pytest.mark.tampers_history
def test_altered_commands_stop_the_replay_where_they_diverge(sqlite_engine):
    engine = sqlite_engine
    engine.deploy([SCENARIO])
    case_id = start(engine)
    engine.cases.complete_work_item(item_id(engine, case_id, "accept"), {"materials_complete": "true"}, FRONT_DESK)
    with engine.db.writer.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        conn.exec_driver_sql("UPDATE events SET task_spec = 'no_such_step' WHERE case_id = ? AND seq = 5",
                             (case_id,))
    replay = states_after_each_event(engine, case_id)
    assert "不在待办状态" in replay.problem
    assert [s.seq for s in replay.steps] == [1, 2, 3, 4]  # up to the event before the bad command
    with engine.db.reader.connect() as conn:
        assert case_store.case_head(conn, case_id).history_seq == 7

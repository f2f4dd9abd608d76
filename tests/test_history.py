"""The event log: one row per thing that happened, append-only, hash-chained; `verify` names the
first altered or missing row; re-execution reproduces the stored state."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.storage.tables import Event
from tests.conftest import deploy_fixtures
from tests.checkpoint_support import finished_case

ADMIN = Actor("admin", frozenset(), is_admin=True)
DESK = Actor("desk", frozenset({"front_desk"}))



def _tamper(engine, sql: str, **params) -> None:
    """What an attacker with database access would do: switch the append-only guard off first. A
    parameter `type` is an event type, bound as the database stores it (a code on SQLite)."""
    with engine.db.engine.begin() as conn:
        if engine.db.is_sqlite:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_append_only")
        statement = text(sql)
        if "type" in params:
            statement = statement.bindparams(bindparam("type", type_=Event.__table__.c.type.type))
        conn.execute(statement, params)


def test_history_records_every_step_with_actor_and_data(engine):
    case_id = finished_case(engine)
    events = engine.history(case_id)
    types = [e.type for e in events]
    assert types[0] == "case_started" and types[-1] == "case_completed"
    assert types.count("work_item_completed") == 6 and types.count("work_item_ready") == 6
    assert types.count("work_item_claimed") == 6
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    apply_done = next(e for e in events if e.type == "work_item_completed" and e.task_spec == "apply")
    assert apply_done.actor == "admin"
    assert h.event_data(apply_done.type, json.loads(apply_done.data))["changed"] == {"applicant_name": "孙七", "amount": 12}
    assert all(e.at is not None and e.hash and e.prev_hash for e in events)
    (report,) = engine.verify(case_id)
    assert report.ok and report.events == len(events)


def test_events_are_append_only_in_the_database(engine):
    case_id = finished_case(engine)
    for sql in ("UPDATE events SET actor = 'mallory' WHERE case_id = :c", "DELETE FROM events WHERE case_id = :c"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.db.engine.begin() as conn:
                conn.execute(text(sql), {"c": case_id})
    assert engine.verify(case_id)[0].ok


@pytest.mark.tampers_history
def test_verify_names_an_altered_row(engine):
    case_id = finished_case(engine)
    seq = next(e.seq for e in engine.history(case_id) if "孙七" in e.data)
    _tamper(engine, "UPDATE events SET data = REPLACE(data, '孙七', '周八') WHERE case_id = :c AND seq = :s",
            c=case_id, s=seq)
    (report,) = engine.verify(case_id)
    assert not report.ok and report.first_bad_seq == seq and "改动" in report.reason


@pytest.mark.tampers_history
def test_verify_names_a_missing_row(engine):
    case_id = finished_case(engine)
    _tamper(engine, "DELETE FROM events WHERE case_id = :c AND seq = 5", c=case_id)
    (report,) = engine.verify(case_id)
    assert not report.ok and report.first_bad_seq == 5 and "缺失" in report.reason


@pytest.mark.tampers_history
def test_verify_notices_a_truncated_tail(engine):
    case_id = finished_case(engine)
    last = engine.history(case_id)[-1].seq
    _tamper(engine, "DELETE FROM events WHERE case_id = :c AND seq = :s", c=case_id, s=last)
    (report,) = engine.verify(case_id)
    assert not report.ok and report.first_bad_seq == last


@pytest.mark.tampers_history
def test_verify_notices_a_rewritten_actor_even_with_recomputed_link(engine):
    case_id = finished_case(engine)
    _tamper(engine, "UPDATE events SET actor = 'mallory' WHERE case_id = :c AND seq = 2", c=case_id)
    reports = {r.case_id: r for r in engine.verify()}
    assert reports[case_id].first_bad_seq == 2


@pytest.mark.tampers_history
def test_reexecution_detects_a_changed_command(engine):
    case_id = finished_case(engine)
    assert engine.reexecute(case_id).ok
    _tamper(engine, "UPDATE events SET data = REPLACE(data, :old, :new) "
                    "WHERE case_id = :c AND type = :type",
            old='"amount":12', new='"amount":13', c=case_id, type=h.WORK_ITEM_COMPLETED)
    report = engine.reexecute(case_id)
    assert not report.ok and "数据" in report.difference


def test_reexecution_reproduces_cases_in_every_state(engine):
    deploy_fixtures(engine, "parallel_review.bpmn", "messages.bpmn", "callflow")
    running = engine.cases.start_case("parallel_review", {}, DESK)
    engine.cases.complete_work_item(running.ready[0].id, {"applicant_name": "吴九"}, DESK)
    cancelled = engine.cases.start_case("parallel_review", {}, DESK)
    engine.cases.cancel_case(cancelled.id, ADMIN, "重复申请")
    waiting = engine.cases.start_case("dept_query", {}, DESK)
    engine.cases.complete_work_item(waiting.ready[0].id, {"order_id": "Q-1"}, DESK)
    replied = engine.cases.start_case("dept_query", {}, DESK)
    engine.cases.complete_work_item(replied.ready[0].id, {"order_id": "Q-2"}, DESK)
    engine.cases.deliver_message("dept_reply", {"order_id": "Q-2"}, {"ok": True})
    bundle = engine.cases.start_case("licence_bundle", {}, DESK)
    step = engine.cases.complete_work_item(bundle.ready[0].id, {"company": "郑十", "capital": "30"}, DESK)
    engine.clock.advance(hours=3)
    engine.cases.complete_work_item(step.ready[0].id, {"decision": "reject", "reason": "选址不符"}, ADMIN)
    for cid in (running.id, cancelled.id, waiting.id, replied.id, bundle.id):
        report = engine.reexecute(cid)
        assert report.ok, str(report)

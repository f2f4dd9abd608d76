"""What a history row stores: the link to the row before is not stored twice (IMPLICIT_LINK, since
0025) yet every reader gets it in full and the chain check catches what it caught before; rows
written with their link stored (before 0025) still verify."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.storage import case_store
from yijianshi.storage.tables import Event
from tests.checkpoint_support import finished_case
from tests.conftest import deploy_fixtures

events_t = Event.__table__
ADMIN = Actor("admin", frozenset(), is_admin=True)


def _stored(engine, case_id: int) -> list:
    with engine.db.engine.connect() as conn:
        return list(conn.execute(select(events_t).where(events_t.c.case_id == case_id).order_by(events_t.c.seq)))


def _unguarded(engine, conn) -> None:
    if engine.db.is_sqlite:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_append_only")


def test_new_rows_store_no_link_and_readers_get_it_in_full(engine):
    case_id = finished_case(engine)
    stored = _stored(engine, case_id)
    assert stored and {r.prev_hash for r in stored} == {h.IMPLICIT_LINK}
    events = engine.history(case_id)
    assert events[0].prev_hash == h.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    with engine.db.reader.connect() as conn:
        page = case_store.case_events_page(conn, case_id, 3, 2)
        commands = case_store.case_events(conn, case_id, [h.WORK_ITEM_COMPLETED])
    assert [e.seq for e in page] == [4, 5] and page[0].prev_hash == events[2].hash
    assert all(e.prev_hash == events[e.seq - 2].hash for e in commands)
    assert engine.verify(case_id)[0].ok


@pytest.mark.tampers_history
def test_rows_with_their_link_stored_still_verify_and_a_changed_link_is_named(engine):
    """Rows as written before 0025 (prev_hash stored): the same hashes, checked against the stored link."""
    case_id = finished_case(engine)
    events = engine.history(case_id)
    with engine.db.engine.begin() as conn:
        _unguarded(engine, conn)
        for e in events:
            conn.execute(update(events_t).where(events_t.c.id == e.id).values(prev_hash=e.prev_hash))
    assert {r.prev_hash for r in _stored(engine, case_id)} != {h.IMPLICIT_LINK}
    (report,) = engine.verify(case_id)
    assert report.ok and report.events == len(events)
    with engine.db.engine.begin() as conn:
        conn.execute(update(events_t).where(events_t.c.id == events[4].id).values(prev_hash="f" * 64))
    (report,) = engine.verify(case_id)
    assert not report.ok and report.first_bad_seq == 5 and "链接" in report.reason


@pytest.mark.tampers_history
def test_a_row_edited_and_rehashed_is_caught_at_the_next_row(engine):
    case_id = finished_case(engine)
    events = engine.history(case_id)
    e = events[2]
    forged = h.event_hash(case_id, e.seq, e.type, "mallory", e.at, e.work_item_id, e.task_spec, e.data, e.prev_hash)
    with engine.db.engine.begin() as conn:
        _unguarded(engine, conn)
        conn.execute(update(events_t).where(events_t.c.id == e.id).values(actor="mallory", hash=forged))
    (report,) = engine.verify(case_id)
    assert not report.ok and report.first_bad_seq == e.seq + 1 and "改动" in report.reason


def test_a_completion_stores_changed_and_previous_only_when_they_say_something(engine):
    case_id = finished_case(engine)
    completions = {e.task_spec: e for e in _stored(engine, case_id) if e.type == h.WORK_ITEM_COMPLETED}
    apply_data = json.loads(completions["apply"].data)
    # nothing there before: changed is all of it; a step of the case's own process, the first of its kind
    assert set(apply_data) == {"submitted"}
    full = h.event_data(h.WORK_ITEM_COMPLETED, apply_data, "parallel_review")
    assert full["changed"] == apply_data["submitted"] and full["previous"] == {}
    assert full["process_id"] == "parallel_review" and full["ordinal"] == 0
    # a correction of a value already there keeps both
    started = engine.cases.start_case("parallel_review", {"amount": 5, "applicant_name": "王五"}, ADMIN)
    item = started.ready[0]
    engine.cases.complete_work_item(item.id, {"applicant_name": "王五", "amount": "6"}, ADMIN)
    corrected = json.loads(next(e for e in engine.history(started.id) if e.type == h.WORK_ITEM_COMPLETED).data)
    assert corrected["changed"] == {"amount": 6} and corrected["previous"] == {"amount": 5}
    assert corrected["submitted"] == {"applicant_name": "王五", "amount": 6}


def test_a_ready_row_stores_deadlines_only_when_there_are_any(engine):
    case_id = finished_case(engine)
    ready = [json.loads(e.data) for e in _stored(engine, case_id) if e.type == h.WORK_ITEM_READY]
    assert ready and all(set(d) == {"name", "groups"} for d in ready)


def test_digests_are_stored_as_their_bytes(engine):
    case_id = finished_case(engine)
    events = engine.history(case_id)
    with engine.db.engine.connect() as conn:
        raw = conn.exec_driver_sql(f"SELECT hash, prev_hash FROM events WHERE case_id = {case_id} ORDER BY seq").all()
    assert [bytes(r[0]) for r in raw] == [bytes.fromhex(e.hash) for e in events]
    assert {len(bytes(r[0])) for r in raw} == {32} and {bytes(r[1]) for r in raw} == {b""}


def test_a_completion_names_its_process_and_ordinal_only_when_they_are_not_implied(engine):
    """The process only for a step of a called process, the ordinal only when another ready item of
    the same step came first; replay and the API get both back (history.event_data)."""
    deploy_fixtures(engine, "callflow", "camunda/corpus/c13_multi_instance.bpmn")
    bundle = engine.cases.start_case("licence_bundle", {}, ADMIN)
    step = engine.cases.complete_work_item(bundle.ready[0].id, {"company": "郑十", "capital": "30"}, ADMIN)
    engine.cases.complete_work_item(step.ready[0].id, {"decision": "reject", "reason": "选址不符"}, ADMIN)
    top, called = [json.loads(e.data) for e in _stored(engine, bundle.id) if e.type == h.WORK_ITEM_COMPLETED]
    assert "process_id" not in top and "ordinal" not in top
    assert called["process_id"] == "dept_review"  # the called process (callflow/child.bpmn)
    assert engine.reexecute(bundle.id).ok

    signed = engine.cases.start_case("corpus_multi_instance", {"applicant_name": "钱二"}, ADMIN)
    first, second = signed.ready
    assert first.task_spec == second.task_spec
    engine.cases.complete_work_item(second.id, {"approved": True}, ADMIN)  # the second of the two first
    done = engine.cases.complete_work_item(first.id, {"approved": False, "opinion": "补正"}, ADMIN)
    assert done.status == "completed"
    rows = [json.loads(e.data) for e in _stored(engine, signed.id) if e.type == h.WORK_ITEM_COMPLETED]
    assert [r.get("ordinal") for r in rows] == [1, None]
    assert [h.event_data(h.WORK_ITEM_COMPLETED, r, "corpus_multi_instance")["ordinal"] for r in rows] == [1, 0]
    assert engine.reexecute(signed.id).ok

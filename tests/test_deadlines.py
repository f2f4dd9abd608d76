"""Working-day limits in BPMN: boundary timers give each work item its warning (预警) and due time,
deadlines are armed in an indexed table and fire exactly once, a year without a published
schedule flags the case instead of guessing, and loading the year re-arms what it affects.
All on a controlled clock (no sleeping through days), on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import yijianshi.engine.deadlines as engine_package
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.deadlines.schedule_import import load_calendar
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.deadlines.scheduler import fire_due
from yijianshi.engine.deadlines.timers import UNRESOLVED
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store
from tests.conftest import FIXTURES, deploy_fixtures

CLERK = Actor("ma", frozenset({"market"}))
SUPERVISOR = Actor("du", frozenset({"supervision"}))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def _start(engine, when: datetime, limit_days: int = 7):
    engine.clock.set(when)
    deploy_fixtures(engine, "limits.bpmn")
    return engine.cases.start_case("limited_review", {"limit_days": limit_days}, CLERK)


def _item(engine, case_id):
    with engine.db.reader.connect() as conn:
        return case_store.query_work_items(conn, case_id=case_id)[0]


def _deadlines(engine, case_id, states=("armed", "blocked", "fired", "cancelled", "superseded")):
    with engine.db.reader.connect() as conn:
        return {d.kind: d for d in deadline_store.of_case(conn, case_id, states)}


def test_work_item_carries_warning_and_due_time_from_working_days(engine):
    case = _start(engine, at(2025, 9, 26, 9, 0))  # Friday before the National Day holidays
    item = _item(engine, case.id)
    assert item.due_at.astimezone(SHANGHAI) == at(2025, 10, 13, 23, 59, 59)  # the worked example
    assert item.warning_at.astimezone(SHANGHAI) == at(2025, 10, 10, 23, 59, 59)
    armed = _deadlines(engine, case.id)
    assert {k: (d.state, d.due_at) for k, d in armed.items()} == {
        "warning": ("armed", item.warning_at), "overdue": ("armed", item.due_at)}


def test_make_up_saturday_deadline(engine):
    case = _start(engine, at(2026, 2, 12, 10, 0))
    assert _item(engine, case.id).due_at.astimezone(SHANGHAI) == at(2026, 2, 28, 23, 59, 59)


def test_warning_then_overdue_escalation_each_fires_once(engine):
    case = _start(engine, at(2025, 9, 26, 9, 0))
    engine.clock.set(at(2025, 10, 10, 23, 59, 58))
    assert fire_due(engine) == []  # not yet due
    engine.clock.set(at(2025, 10, 11, 8, 0))
    (warning,) = fire_due(engine)
    assert warning.fired
    assert fire_due(engine) == []  # idempotent: nothing left to fire
    item = _item(engine, case.id)
    assert item.state == "ready"  # non-interrupting: the clerk keeps working
    with engine.db.reader.connect() as conn:
        in_warning = case_store.query_work_items(conn, groups=["market"], urgency="warning",
                                                 now=engine.clock.now())
        assert [r.id for r in in_warning] == [item.id]
        assert case_store.query_work_items(conn, urgency="overdue", now=engine.clock.now()) == []
    engine.clock.set(at(2025, 10, 14, 0, 0, 5))
    (overdue,) = fire_due(engine)
    assert overdue.fired and engine.cases.fire_deadline(overdue.deadline_id) is None
    with engine.db.reader.connect() as conn:
        states = {r.task_spec: r.state for r in case_store.query_work_items(conn, case_id=case.id, state=None)}
    assert states == {"review": "cancelled", "supervise": "ready"}
    events = engine.history(case.id)
    fired = [json.loads(e.data) for e in events if e.type == "deadline_fired"]
    assert [f["kind"] for f in fired] == ["warning", "overdue"]
    data = engine.cases.workflow_of(case.id).get_tasks(spec_name="mark_warning")[0].data
    assert data["warning_issued"] is True  # the warning branch ran its script
    assert {d.state for d in _deadlines(engine, case.id).values()} == {"fired"}


def test_completing_in_time_cancels_the_deadlines(engine):
    case = _start(engine, at(2025, 9, 26, 9, 0))
    engine.clock.set(at(2025, 9, 30, 10, 0))
    engine.cases.complete_work_item(case.ready[0].id, {"approved": True}, CLERK)
    assert {d.state for d in _deadlines(engine, case.id).values()} == {"cancelled"}
    engine.clock.set(at(2025, 12, 1, 0, 0))
    assert fire_due(engine) == []


def test_missed_deadlines_fire_exactly_once_after_downtime(engine):
    ids = [_start(engine, at(2025, 9, 22 + i, 9, 0)).id for i in range(4)]
    engine.clock.set(at(2025, 11, 20, 9, 0))  # the scheduler was down for weeks
    firings = fire_due(engine)
    assert len(firings) == 8 and [f.due_at for f in firings] == sorted(f.due_at for f in firings)
    # One firing command per case: both of its timers are past, so both fire in that step; the
    # second deadline row is then already fired and is skipped, not fired again.
    assert sum(f.fired for f in firings) == 4
    assert fire_due(engine) == []
    for cid in ids:
        kinds = [json.loads(e.data)["kind"] for e in engine.history(cid) if e.type == "deadline_fired"]
        assert sorted(kinds) == ["overdue", "warning"]
        assert {d.state for d in _deadlines(engine, cid).values()} == {"fired"}


def test_year_without_schedule_flags_the_case_and_loading_it_rearms(engine, tmp_path):
    case = _start(engine, at(2026, 12, 28, 9, 0))  # + 7 working days needs 2027
    with engine.db.reader.connect() as conn:
        (flagged,) = case_store.cases_needing_attention(conn)
    assert flagged.id == case.id and "节假日安排" in flagged.attention
    assert {d.state for d in _deadlines(engine, case.id).values()} == {"blocked"}
    assert _item(engine, case.id).due_at == UNRESOLVED
    engine.clock.set(at(2027, 3, 1))
    assert fire_due(engine) == []  # a blocked deadline never fires on a guess

    # Test data shaped like a published notice (the 2027 notice is not out when this was written).
    schedule = {"2027": {"holidays": [["2027-01-01", "2027-01-03", "元旦"]], "makeup_workdays": []}}
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(schedule, ensure_ascii=False), encoding="utf-8")
    engine.clock.set(at(2026, 12, 29, 9, 0))
    report = load_calendar(engine, path.read_bytes(), path.name)
    assert report.years == [2027] and report.rearmed == [case.id] and report.still_flagged == []
    item = _item(engine, case.id)
    # Dec 29, 30, 31, (Jan 1–3 off), Jan 4, 5, 6, 7 → the 7th working day is Thursday 2027-01-07
    assert item.due_at.astimezone(SHANGHAI) == at(2027, 1, 7, 23, 59, 59)
    assert item.warning_at.astimezone(SHANGHAI) == at(2027, 1, 5, 23, 59, 59)
    live = _deadlines(engine, case.id, ("armed",))
    assert set(live) == {"warning", "overdue"}
    with engine.db.reader.connect() as conn:
        assert case_store.cases_needing_attention(conn) == []


def test_a_changed_schedule_rearms_affected_deadlines(engine, tmp_path):
    case = _start(engine, at(2025, 9, 26, 9, 0))
    original = json.loads((Path(engine_package.__file__).parent / "data" / "holidays-cn.json").read_text(encoding="utf-8"))
    year = original["2025"]
    # A (hypothetical) extra closure on Thursday 2025-10-09 pushes the limit by one working day.
    year["holidays"].append(["2025-10-09", "2025-10-09", "测试：临时调整"])
    path = tmp_path / "2025.json"
    path.write_text(json.dumps({"2025": year}, ensure_ascii=False), encoding="utf-8")
    report = load_calendar(engine, path.read_bytes(), path.name)
    assert report.rearmed == [case.id]
    assert _item(engine, case.id).due_at.astimezone(SHANGHAI) == at(2025, 10, 14, 23, 59, 59)
    states = sorted(d.state for d in _deadlines(engine, case.id).values())
    assert "armed" in states
    with engine.db.reader.connect() as conn:
        superseded = deadline_store.of_case(conn, case.id, ("superseded",))
    assert len(superseded) == 2


def test_bad_schedule_file_changes_nothing(engine, tmp_path):
    from yijianshi.engine.deadlines.working_calendar import CalendarError

    bad = tmp_path / "bad.json"
    bad.write_text('{"2027": {"holidays": [["2027-02-30", "2027-02-01", "x"]]}}', encoding="utf-8")
    with pytest.raises(CalendarError) as err:
        load_calendar(engine, bad.read_bytes(), bad.name)
    assert "bad.json" in str(err.value)
    assert engine.calendar.calendar.years == [2025, 2026]


def test_regional_closure_moves_only_that_regions_deadlines(engine, tmp_path):
    from datetime import date

    from yijianshi.engine.deadlines.schedule_import import add_closure

    source = (FIXTURES / "limits.bpmn").read_text(encoding="utf-8")
    regional = source.replace("add_working_days(accepted_at, limit_days)", "add_working_days(accepted_at, limit_days, region)") \
                     .replace("add_working_days(accepted_at, limit_days - 2)", "add_working_days(accepted_at, limit_days - 2, region)")
    (tmp_path / "limits.bpmn").write_text(regional, encoding="utf-8")
    engine.clock.set(at(2025, 9, 26, 9, 0))
    engine.deploy([tmp_path / "limits.bpmn"])
    hedong = engine.cases.start_case("limited_review", {"limit_days": 7, "region": "hedong"}, CLERK)
    ninghe = engine.cases.start_case("limited_review", {"limit_days": 7, "region": "ninghe"}, CLERK)
    report = add_closure(engine, "hedong", date(2025, 10, 9), "区政务服务中心搬迁停办")
    assert sorted(report.rearmed) == sorted([hedong.id, ninghe.id])  # both spans cover the day
    assert _item(engine, hedong.id).due_at.astimezone(SHANGHAI) == at(2025, 10, 14, 23, 59, 59)
    assert _item(engine, ninghe.id).due_at.astimezone(SHANGHAI) == at(2025, 10, 13, 23, 59, 59)


def test_inbox_sorts_by_due_or_warning_time(engine):
    slow = _start(engine, at(2025, 9, 22, 9, 0), limit_days=15)   # due later, warned later
    fast = _start(engine, at(2025, 9, 24, 9, 0), limit_days=3)    # due sooner
    with engine.db.reader.connect() as conn:
        by_due = [r.case_id for r in case_store.query_work_items(conn, groups=["market"])]
        by_warning = [r.case_id for r in case_store.query_work_items(conn, groups=["market"], sort="warning")]
    assert by_due == [fast.id, slow.id] and by_warning == [fast.id, slow.id]
    engine.clock.set(at(2025, 9, 26, 9, 0))
    with engine.db.reader.connect() as conn:
        warned = case_store.query_work_items(conn, urgency="warning", now=engine.clock.now())
    # 3-day limit from Wed 09-24: warned at the end of 09-25, due at the end of Sunday 09-28 (a make-up day)
    assert [r.case_id for r in warned] == [fast.id]
    assert _item(engine, fast.id).due_at.astimezone(SHANGHAI) == at(2025, 9, 28, 23, 59, 59)


def _fired_events(engine, case_id) -> list:
    with engine.db.reader.connect() as conn:
        return [e for e in case_store.case_events(conn, case_id) if e.type == "deadline_fired"]


def test_a_late_scheduler_is_never_overtaken_by_a_completion(engine):
    """The scheduler has not fired a past-due overdue timer yet (it is late, or being handed over)
    when the clerk submits: the timer fires first, exactly once, and the submission is refused
    because the review was taken away, as the model says."""
    from yijianshi.engine.errors import WorkItemUnavailable

    case = _start(engine, at(2025, 9, 26, 9, 0))
    review = _item(engine, case.id)
    engine.clock.set(at(2025, 10, 14, 0, 0, 5))  # both the warning and the overdue time passed
    with pytest.raises(WorkItemUnavailable):
        engine.cases.complete_work_item(review.id, {"approved": True}, CLERK)
    deadlines = _deadlines(engine, case.id)
    assert {k: d.state for k, d in deadlines.items()} == {"warning": "fired", "overdue": "fired"}
    assert len(_fired_events(engine, case.id)) == 2
    assert fire_due(engine) == []  # nothing left for the scheduler: no second firing
    with engine.db.reader.connect() as conn:
        states = {r.task_spec: r.state for r in case_store.query_work_items(conn, case_id=case.id, state=None)}
    assert states == {"review": "cancelled", "supervise": "ready"}


def test_a_past_due_warning_fires_before_the_completion_it_does_not_stop(engine):
    case = _start(engine, at(2025, 9, 26, 9, 0))
    engine.clock.set(at(2025, 10, 11, 8, 0))  # past the warning, before the due time
    done = engine.cases.complete_work_item(_item(engine, case.id).id, {"approved": True}, CLERK)
    assert done.status == "completed"
    deadlines = _deadlines(engine, case.id)
    assert (deadlines["warning"].state, deadlines["overdue"].state) == ("fired", "cancelled")
    with engine.db.reader.connect() as conn:
        types = [e.type for e in case_store.case_events(conn, case.id)]
    assert types.index("deadline_fired") < types.index("work_item_completed")


@pytest.mark.parametrize("expression, due", [
    ("now() + hours(0.02)", at(2025, 9, 26, 9, 1, 12)),  # a datetime
    ("(now() + days(3)).date()", at(2025, 9, 29, 0, 0)),  # a date: its first moment
    ('"2025-09-29T10:00:00+08:00"', at(2025, 9, 29, 10, 0)),  # an ISO string
])
def test_a_timer_date_may_be_a_datetime_a_date_or_an_iso_string(engine, tmp_path, expression, due):
    """What `validate` lets through must run: a timeDate giving a datetime (not a string) used to
    crash every start of the process."""
    source = (FIXTURES / "limits.bpmn").read_text(encoding="utf-8").replace(
        "add_working_days(accepted_at, limit_days)</bpmn:timeDate>", f"{expression}</bpmn:timeDate>")
    (tmp_path / "limits.bpmn").write_text(source, encoding="utf-8")
    engine.clock.set(at(2025, 9, 26, 9, 0))
    engine.deploy([tmp_path / "limits.bpmn"])
    case = engine.cases.start_case("limited_review", {"limit_days": 7}, CLERK)
    assert _item(engine, case.id).due_at.astimezone(SHANGHAI) == due
    engine.clock.set(due + timedelta(seconds=1))
    (overdue,) = fire_due(engine)
    assert overdue.fired
    with engine.db.reader.connect() as conn:
        states = {r.task_spec: r.state for r in case_store.query_work_items(conn, case_id=case.id, state=None)}
    assert states == {"review": "cancelled", "supervise": "ready"}


def test_a_timer_date_that_is_no_time_is_refused_by_name(engine, tmp_path):
    from yijianshi.engine.errors import EngineError

    source = (FIXTURES / "limits.bpmn").read_text(encoding="utf-8").replace(
        "add_working_days(accepted_at, limit_days)</bpmn:timeDate>", "hours(2)</bpmn:timeDate>")
    (tmp_path / "limits.bpmn").write_text(source, encoding="utf-8")
    engine.deploy([tmp_path / "limits.bpmn"])
    with pytest.raises(EngineError, match="定时器时间“hours\\(2\\)”的结果"):
        engine.cases.start_case("limited_review", {"limit_days": 7}, CLERK)
    with engine.db.reader.connect() as conn:
        assert case_store.all_case_ids(conn) == []

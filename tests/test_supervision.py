"""Supervision figures from the projections, on SQLite and PostgreSQL: open work in warning and
overdue by department, scenario and 有需必应 level; on-time rates of work ended in a period
(completed in time, completed late, taken away by the overdue timer); cases reaching each level;
the model metrics of the deployed scenarios. Cases are driven on a controlled clock with known
working-day limits, so every count is exact."""
from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from yijianshi.engine.supervision import figures as supervision
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.supervision.escalation_levels import level_map, level_of_task
from yijianshi.engine.modeling.scenario_savings import scenario_metrics
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store
from tests.conftest import FIXTURES
from tests.test_scenarios_driver import PROCESSES, Scenario, deploy

MARKET = Actor("ma", frozenset({"market"}))
SUPERVISION = Actor("du", frozenset({"supervision"}))
STAFF = Actor("staff1", frozenset({"street"}))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def _review(engine, case_id):
    with engine.db.reader.connect() as conn:
        (row,) = [r for r in case_store.query_work_items(conn, case_id=case_id) if r.task_spec == "review"]
    return row


def _fire_overdue(engine, case_id) -> None:
    """Fire only this case's overdue timer (fire_due would fire every case's)."""
    with engine.db.reader.connect() as conn:
        (overdue,) = [d for d in deadline_store.of_case(conn, case_id) if d.kind == "overdue"]
    assert engine.cases.fire_deadline(overdue.id) is not None


def limited_week(engine) -> dict[str, int]:
    """Five limited reviews (market, 3 working days) started Monday 2026-03-02 09:00: warned after
    Tuesday 03-03, due at the end of Thursday 03-05. a, b completed Wednesday (in time); d taken
    away by its overdue timer on Friday 00:00:05 (督办 goes to supervision); c completed Friday
    10:00 (late: c runs on a version whose review carries the limit as its due date and whose
    overdue timer does not interrupt it, so its 督办 opens beside it and is done at once); e left open. The clock ends on Friday 2026-03-06 12:00."""
    engine.clock.set(at(2026, 3, 2, 9, 0))
    engine.deploy([FIXTURES / "limits.bpmn"])
    ids = {name: engine.cases.start_case("limited_review", {"limit_days": 3}, MARKET, title=f"审查 {name}").id
           for name in "ab"}
    soft = Path(tempfile.mkdtemp(prefix="yjs-soft-")) / "limits.bpmn"
    soft.write_text((FIXTURES / "limits.bpmn").read_text(encoding="utf-8").replace(
        '<bpmn:boundaryEvent id="overdue" name="超期" attachedToRef="review">',
        '<bpmn:boundaryEvent id="overdue" name="超期" cancelActivity="false" attachedToRef="review">').replace(
        '<bpmn:userTask id="review" name="部门审查" camunda:candidateGroups="market">',
        '<bpmn:userTask id="review" name="部门审查" camunda:candidateGroups="market" '
        'camunda:dueDate="add_working_days(accepted_at, limit_days)">'), encoding="utf-8")
    engine.deploy([soft])
    ids["c"] = engine.cases.start_case("limited_review", {"limit_days": 3}, MARKET, title="审查 c").id
    engine.deploy([FIXTURES / "limits.bpmn"])  # the interrupting version is the latest again
    ids.update({name: engine.cases.start_case("limited_review", {"limit_days": 3}, MARKET, title=f"审查 {name}").id
                for name in "de"})
    item = _review(engine, ids["a"])
    assert item.warning_at == at(2026, 3, 3, 23, 59, 59) and item.due_at == at(2026, 3, 5, 23, 59, 59)
    engine.clock.set(at(2026, 3, 4, 10, 0))
    for name in "ab":
        engine.cases.complete_work_item(_review(engine, ids[name]).id, {"approved": True}, MARKET)
    engine.clock.set(at(2026, 3, 6, 0, 0, 5))
    _fire_overdue(engine, ids["d"])
    engine.clock.set(at(2026, 3, 6, 10, 0))
    # the late completion fires c's past-due timer first (the scheduler had not), then completes
    engine.cases.complete_work_item(_review(engine, ids["c"]).id, {"approved": True}, MARKET)
    with engine.db.reader.connect() as conn:
        (escalated,) = [r for r in case_store.query_work_items(conn, case_id=ids["c"]) if r.task_spec == "supervise"]
    engine.cases.complete_work_item(escalated.id, {}, SUPERVISION)
    engine.clock.set(at(2026, 3, 6, 12, 0))
    return ids


def _open(rows) -> dict:
    return {u.key: (u.open, u.warning, u.overdue) for u in rows}


def test_open_work_in_warning_then_overdue_by_department_and_scenario(engine):
    limited_week(engine)
    with engine.db.reader.connect() as conn:
        wednesday = supervision.open_work(conn, at(2026, 3, 4, 12, 0), current=False)
        now = supervision.open_work(conn, engine.clock.now())
    # Wednesday noon (reconstructed from when items opened and ended): c, d, e open, all warned.
    assert _open(wednesday["department"]) == {"market": (3, 3, 0)}
    assert _open(wednesday["scenario"]) == {"limited_review": (3, 3, 0)}
    # Friday noon: e is overdue; d's 督办 step is open at supervision without a deadline.
    assert _open(now["department"]) == {"market": (1, 0, 1), "supervision": (1, 0, 0)}
    assert _open(now["scenario"]) == {"limited_review": (2, 0, 1)}
    assert now["department"][0].key == "market"  # most overdue first
    assert now["level"] == []  # the 有需必应 pathway is not deployed here


def test_on_time_rate_counts_late_and_timed_out_work(engine):
    limited_week(engine)
    board = supervision.dashboard(engine, days=7)
    assert (board.on_time.on_time, board.on_time.late, board.on_time.timed_out) == (2, 1, 1)
    assert board.on_time.total == 4 and board.on_time.rate == 50.0
    assert [o.to_dict() for o in board.on_time_by_department] == [
        {"key": "market", "on_time": 2, "late": 1, "timed_out": 1, "rate": 50.0}]
    assert [(o.key, o.rate) for o in board.on_time_by_scenario] == [("limited_review", 50.0)]
    assert (board.open, board.warning, board.overdue) == (2, 0, 1)
    assert board.scenario_names["limited_review"] == "限时审查"
    with engine.db.reader.connect() as conn:
        # Only work that ended in the period counts: Wednesday alone holds the two in time.
        (wednesday,) = supervision.on_time(conn, at(2026, 3, 4), at(2026, 3, 5))
        assert (wednesday.on_time, wednesday.late, wednesday.timed_out, wednesday.rate) == (2, 0, 0, 100.0)
        assert supervision.on_time(conn, at(2026, 3, 7), at(2026, 3, 8))[0].rate is None


def test_a_case_cancelled_before_its_deadline_is_not_counted(engine):
    ids = limited_week(engine)
    engine.cases.cancel_case(ids["e"], Actor("admin", frozenset(), is_admin=True), reason="申请人撤回")
    with engine.db.reader.connect() as conn:
        (friday,) = supervision.on_time(conn, at(2026, 3, 6), at(2026, 3, 7))
    # e was cancelled after its due time: it timed out too; c was late.
    assert (friday.on_time, friday.late, friday.timed_out) == (0, 1, 2)
    engine.clock.set(at(2026, 3, 9, 9, 0))
    early = engine.cases.start_case("limited_review", {"limit_days": 3}, MARKET).id
    engine.cases.cancel_case(early, Actor("admin", frozenset(), is_admin=True), reason="重复申请")
    with engine.db.reader.connect() as conn:
        (monday,) = supervision.on_time(conn, at(2026, 3, 9), at(2026, 3, 10))
    assert monday.total == 0  # withdrawn before its deadline: neither in time nor late


# -- the 有需必应 pathway ----------------------------------------------------------------------------

def test_levels_are_read_from_the_task_ids():
    assert [level_of_task(t) for t in ("level1", "level2", "l3_assign", "l4_handle", "l5_coordinate",
                                       "l6_discipline")] == [1, 2, 3, 4, 5, 6]
    assert [level_of_task(t) for t in ("intake", "answer", "revisit", "recheck", "l7_x", "levels")] == [None] * 6
    assert level_map(["intake", "level1", "l3_handle"]) == {"level1": 1, "l3_handle": 3}


def _request(engine, sc: Scenario, *steps) -> int:
    case = engine.cases.start_case("enterprise_request", {}, STAFF)
    for spec, data in steps:
        sc.complete(case.id, spec, data)
    return case.id


INTAKE = ("intake", {"channel": "service_staff", "work_order_no": "", "enterprise_name": "宁河区某食品有限公司",
                     "credit_code": "91120221MA05TEQ0A0", "contact_name": "李四", "contact_phone": "13800000000",
                     "grid_area": "东城街道", "enterprise_address": "东城街道人民路 18 号", "request_category": "factor",
                     "request_summary": "用电增容"})
TRANSFER = ("level1", {"l1_outcome": "transfer", "assigned_department": "housing", "l1_answer": "转住建委"})
COMPLEX = ("level1", {"l1_outcome": "complex", "l1_answer": "涉及多个部门"})
RESOLVED = ("level1", {"l1_outcome": "resolved", "l1_answer": "已解答"})
ASSIGN = ("l3_assign", {"lead_department": "market", "l3_limit_days": "10", "l3_plan": "市场监管局牵头"})


def test_open_requests_by_level_and_cases_reaching_each_level(engine):
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "enterprise_request")
    sc = Scenario(engine, "enterprise_request")
    _request(engine, sc)                                # x: registering (level 0)
    _request(engine, sc, INTAKE)                        # y: at level 1
    _request(engine, sc, INTAKE, TRANSFER)              # z: at level 2
    _request(engine, sc, INTAKE, COMPLEX, ASSIGN)       # w: level 3, assigned then handled
    _request(engine, sc, INTAKE, RESOLVED)              # v: answering after level 1
    engine.clock.set(at(2025, 10, 11, 8, 0))  # past the 7-day requests' warning, before their due time
    with engine.db.reader.connect() as conn:
        levels = supervision.open_work(conn, engine.clock.now())["level"]
        reached = supervision.escalations(conn, at(2025, 9, 1), at(2025, 10, 31))
        none_yet = supervision.escalations(conn, at(2025, 10, 1), at(2025, 10, 31))
    # x's registration was due after 1 working day: overdue. y and z are warned; w's hub-set
    # 10 working days run to 10-16; v's answer belongs to level 1, the highest v reached.
    assert _open(levels) == {0: (1, 0, 1), 1: (2, 1, 0), 2: (1, 1, 0), 3: (1, 0, 0), 4: (0, 0, 0),
                             5: (0, 0, 0), 6: (0, 0, 0)}
    assert [(e.level, e.cases) for e in reached] == [(1, 4), (2, 1), (3, 1), (4, 0), (5, 0), (6, 0)]
    assert all(e.cases == 0 for e in none_yet)


def test_overdue_request_referred_to_supervision_reaches_level_six(engine):
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "enterprise_request")
    sc = Scenario(engine, "enterprise_request")
    cid = _request(engine, sc, INTAKE, TRANSFER)
    sc.fire(at(2025, 10, 14, 0, 0, 1))  # 7 working days passed: automatic referral to 监督推动办
    assert sc.ready_specs(cid) == ["l6_report"]
    with engine.db.reader.connect() as conn:
        levels = {u.key: u.open for u in supervision.open_work(conn, engine.clock.now())["level"]}
        reached = {e.level: e.cases for e in supervision.escalations(conn, at(2025, 9, 1), at(2025, 10, 31))}
        (rate,) = supervision.on_time(conn, at(2025, 9, 1), at(2025, 10, 31))
    assert levels[6] == 1 and sum(levels.values()) == 1
    assert reached == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 1}
    # intake and level 1 completed in time; level 2 taken away by the overdue timer.
    assert (rate.on_time, rate.late, rate.timed_out) == (2, 0, 1)


def test_model_metrics_of_the_deployed_scenarios_equal_the_report_from_files(sqlite_engine):
    deploy(sqlite_engine, "open_restaurant", "newborn", "enterprise_request")
    deployed = {m.key: m for m in supervision.deployed_scenario_metrics(sqlite_engine)}
    from_files = {m.key: m for m in scenario_metrics([PROCESSES / "open_restaurant", PROCESSES / "newborn"])}
    assert set(deployed) == {"open_restaurant", "newborn"}  # the pathway has no applicant form: no scenario
    for key, m in from_files.items():
        d = deployed[key]
        assert (d.fields_separate, d.fields_merged, d.materials_separate, d.materials_merged, d.visits_before,
                d.visits_after, d.limits_sum, d.critical_path) == (
            m.fields_separate, m.fields_merged, m.materials_separate, m.materials_merged, m.visits_before,
            m.visits_after, m.limits_sum, m.critical_path)
    assert deployed["open_restaurant"].limits_sum > deployed["open_restaurant"].critical_path


# -- only staff work counts ------------------------------------------------------------------------

def test_only_staff_work_counts(engine):
    """A client's start form is not department work done in time, and an applicant step left open
    (a draft the applicant never submitted) is nobody's department work."""
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "enterprise_request", "open_restaurant")
    client = Actor("api:hotline12345", frozenset())
    engine.cases.start_case("enterprise_request", {}, client, start_form=INTAKE[1])
    sc = Scenario(engine, "enterprise_request")
    _request(engine, sc, INTAKE)  # the street registers this one in person
    draft = engine.cases.start_case("open_restaurant", {}, Actor("zhangsan", frozenset({"applicant"})))
    assert Scenario(engine, "open_restaurant").ready_specs(draft.id) == ["apply"]
    engine.clock.set(at(2025, 11, 28, 9, 0))  # the draft's and both level-1 steps' times long past
    with engine.db.reader.connect() as conn:
        work = supervision.open_work(conn, engine.clock.now())
        (rate,) = supervision.on_time(conn, at(2025, 9, 1), at(2025, 12, 31))
        by_department = supervision.on_time(conn, at(2025, 9, 1), at(2025, 12, 31), "department")
    assert "applicant" not in _open(work["department"])
    assert "open_restaurant" not in _open(work["scenario"])
    assert _open(work["department"])["unit:dongcheng_1"][0] == 2  # level 1 in the 片区 of the address
    # only the street's own registration, completed in time; not the client's start form
    assert (rate.on_time, rate.late, rate.timed_out) == (1, 0, 0)
    assert [(o.key, o.on_time) for o in by_department] == [
        (g, 1) for g in ("grid_center", "hub", "street")]

"""A model drawn in Camunda Modeler for Camunda 7 runs unchanged: JUEL conditions (`${approved}`,
`${!approved}`), a JUEL candidate group and due date, unquoted ISO 8601 timers (`P3D`, a timeDate
literal, `R3/PT1H`) and `${workingDays(2)}`; a required yes/no answered "no" takes the correction path.
On SQLite and PostgreSQL, on a controlled clock."""
from __future__ import annotations

from datetime import datetime

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.deadlines.scheduler import fire_due
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.engine.modeling.lint import lint_sources
from yijianshi.storage import case_store, deadline_store
from tests.conftest import FIXTURES

MODEL = FIXTURES / "camunda" / "modeler_review.bpmn"
DESK = Actor("desk", frozenset({"front_desk"}))
MARKET = Actor("ma", frozenset({"market"}))
SUPERVISOR = Actor("du", frozenset({"supervision"}))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def _ready(engine, case_id):
    with engine.db.reader.connect() as conn:
        return {r.task_spec: r for r in case_store.query_work_items(conn, case_id=case_id)}


def _armed(engine, case_id):
    with engine.db.reader.connect() as conn:
        return sorted((d.task_spec, d.due_at.astimezone(SHANGHAI)) for d in deadline_store.of_case(conn, case_id, ("armed",)))


def _start(engine):
    engine.clock.set(at(2026, 2, 24, 9, 0))  # a Tuesday after the Spring Festival holidays
    engine.deploy([MODEL])
    case = engine.cases.start_case("modeler_review", {}, DESK)
    engine.cases.complete_work_item(_ready(engine, case.id)["Activity_apply"].id,
                                    {"department": "market", "amount": "5000"}, DESK)
    return case.id


def test_a_camunda_modeler_model_runs_unchanged(engine):
    cid = _start(engine)
    review = _ready(engine, cid)["Activity_review"]
    assert review.groups == "market"  # camunda:candidateGroups="${department}"
    assert review.due_at.astimezone(SHANGHAI) == at(2026, 2, 26, 23, 59, 59)  # dueDate ${workingDays(2)}
    assert _armed(engine, cid) == [("Event_overdue", at(2026, 2, 26, 23, 59, 59)),  # timeDate ${workingDays(2)}
                                   ("Event_remind", at(2026, 2, 24, 10, 0))]  # timeCycle R3/PT1H

    engine.clock.set(at(2026, 2, 24, 10, 30))
    assert [f.fired for f in fire_due(engine)] == [True]  # the hourly reminder; the review stays
    assert set(_ready(engine, cid)) == {"Activity_review"}

    # A required yes/no answered "no" is a value: ${!approved} leads to the correction.
    engine.cases.complete_work_item(review.id, {"approved": "false", "comment": "缺少场地证明"}, MARKET)
    correct = _ready(engine, cid)["Activity_correct"]
    engine.cases.complete_work_item(correct.id, {"correction": "已补充"}, DESK)
    review = _ready(engine, cid)["Activity_review"]
    engine.cases.complete_work_item(review.id, {"approved": "true"}, MARKET)  # ${approved}
    assert _ready(engine, cid) == {}
    assert _armed(engine, cid) == [("Event_cooling", at(2026, 2, 27, 10, 30))]  # timeDuration P3D

    engine.clock.set(at(2026, 2, 27, 10, 31))
    assert [f.fired for f in fire_due(engine)] == [True]
    assert _armed(engine, cid) == [("Event_publish", at(2026, 3, 2, 9, 0))]  # timeDate literal

    engine.clock.set(at(2026, 3, 2, 9, 1))
    assert [f.fired for f in fire_due(engine)] == [True]
    final = engine.cases.complete_work_item(_ready(engine, cid)["Activity_deliver"].id, {"delivered": "on"}, DESK)
    assert final.status == "completed"


def test_the_working_day_timer_escalates(engine):
    cid = _start(engine)
    engine.clock.set(at(2026, 2, 27, 0, 0, 5))
    fire_due(engine)
    assert set(_ready(engine, cid)) == {"Activity_supervise"}


def test_a_required_yes_no_left_empty_is_refused(engine):
    cid = _start(engine)
    review = _ready(engine, cid)["Activity_review"]
    with pytest.raises(Exception) as err:
        engine.cases.complete_work_item(review.id, {"comment": "未选择"}, MARKET)
    assert "approved" in str(err.value)
    assert set(_ready(engine, cid)) == {"Activity_review"}


def _source(old: str, new: str) -> SourceFile:
    text = MODEL.read_text(encoding="utf-8")
    assert old in text
    return SourceFile("modeler_review.bpmn", text.replace(old, new).encode())


def _line_of(src: SourceFile, fragment: str) -> int:
    return next(i for i, line in enumerate(src.data.decode().splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(("old", "new", "element", "words"), [
    ("${!approved}", "${!approved &amp;&amp; }", "Flow_rejected", "JUEL 表达式第 16 列"),
    ("${!approved}", "${execution.getVariable('approved')}", "Flow_rejected", "写成 ${x}"),
    ("${!approved}", "${approved = true}", "Flow_rejected", "== 或 eq"),
    (">P3D<", ">P3X<", "Event_cooling", "不是有效的 ISO 8601 时长"),
    (">R3/PT1H<", ">0 0/5 * * * ?<", "Event_remind", "cron"),
    (">2026-03-02T09:00:00+08:00<", ">2026-02-30T09:00:00+08:00<", "Event_publish", "不是有效的 ISO 8601 日期时间"),
    (">${workingDays(2)}<", ">${workingDay(2)}<", "Event_overdue", "不支持的函数“workingDay”"),
])
def test_each_unsupported_construct_is_one_message_at_its_line(old, new, element, words):
    src = _source(old, new)
    line = _line_of(src, new.strip("<>").replace("&amp;", "&amp;"))
    with pytest.raises(DefinitionError) as err:
        parse_deployment([src])
    (problem,) = err.value.problems
    assert (problem.file, problem.line, problem.element) == ("modeler_review.bpmn", line, element)
    assert words in problem.message
    linted = [p for p in lint_sources([src]) if p.element == element]
    assert len(linted) == 1 and linted[0].line == line and words in linted[0].message


def test_a_large_amount_takes_the_default_flow(engine):
    engine.clock.set(at(2026, 2, 24, 9, 0))
    engine.deploy([MODEL])
    case = engine.cases.start_case("modeler_review", {}, DESK)
    engine.cases.complete_work_item(_ready(engine, case.id)["Activity_apply"].id,
                                    {"department": "fire", "amount": "200000"}, DESK)
    review = _ready(engine, case.id)["Activity_review"]
    assert review.groups == "fire"
    engine.cases.complete_work_item(review.id, {"approved": "true"}, Actor("fu", frozenset({"fire"})))
    assert set(_ready(engine, case.id)) == {"Activity_large"}  # ${approved && amount le 100000} is false


def test_lint_accepts_the_model():
    assert lint_sources([SourceFile(MODEL.name, MODEL.read_bytes())]) == []

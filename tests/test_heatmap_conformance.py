"""Heatmap figures (engine/supervision/heatmap.py) and conformance (engine/supervision/conformance.py)
on generated event logs whose true figures are known: seven cases through 甲证审查 waiting 1, 2, 2,
3, 5, 8, 13 working days (count 7, median 3, P90 13); a case returned (退回) from 受理 to 填写申请, a
path the model does not draw, and items over their promised limits, found with the right words."""
from __future__ import annotations

from datetime import date

import pytest

from yijianshi.engine.modeling.step_graph import START, step_graphs
from yijianshi.engine.modeling.xml_loading import parse_xml
from yijianshi.engine.supervision import conformance, heatmap
from tests.outcome_support import CLERK, OUTCOME_MODELS, Plan, _ready, at, finish, run, start
from yijianshi.engine.access.actors import Actor

PERIOD = (at(date(2026, 3, 1), 0), at(date(2026, 6, 1), 0))
WAITS = [1, 2, 2, 3, 5, 8, 13]
# 甲 waits as listed, 乙 one day; started a week apart, so none is over 甲's limit of 2 but four
PLANS = [Plan(date(2026, 3, 2 + 7 * (i % 4)) if i < 4 else date(2026, 4, 6 + 7 * (i - 4)), a=w, b=1)
         for i, w in enumerate(WAITS)]


@pytest.fixture
def seven(engine):
    engine.deploy(OUTCOME_MODELS)
    return engine, run(engine, PLANS)


def test_heatmap_counts_and_median_waits_per_element(seven):
    engine, ids = seven
    figures = heatmap.heatmap(engine, "outcome_demo", *PERIOD)
    review_a = figures["processes"]["outcome_item_a"]["review_a"]
    assert review_a == {"cases": 7, "p50": 3, "p90": 13, "total_days": 34}
    assert figures["processes"]["outcome_item_b"]["review_b"] == {"cases": 7, "p50": 1, "p90": 1, "total_days": 7}
    assert figures["processes"]["outcome_demo"]["call_a"]["p50"] == 3
    assert "supplement" not in figures["processes"]["outcome_demo"]
    assert figures["max"] == {"count": 7, "wait": 3}
    behind = heatmap.cases_behind(engine, "outcome_demo", *PERIOD, process_id="outcome_item_a", element_id="review_a")
    assert [(c.case_id, c.waited) for c in behind] == list(zip(ids, WAITS))
    assert heatmap.cases_behind(engine, "outcome_demo", *PERIOD, element_id="supplement") == []
    late = heatmap.cases_behind(engine, "outcome_demo", *PERIOD, figure="late")
    assert [c.case_id for c in late] == ids[4:]  # elapsed 3, 5, 8, 13 against 3 promised: 5, 8, 13 late
    # the period bounds: only the cases completed inside it
    assert heatmap.heatmap(engine, "outcome_demo", at(date(2026, 3, 1), 0), at(date(2026, 4, 1), 0))[
        "processes"]["outcome_item_a"]["review_a"]["cases"] == 4


def test_step_graph_of_the_demo_model():
    trees = [parse_xml(p.read_bytes(), p.name) for p in OUTCOME_MODELS]
    graph = step_graphs(trees)["outcome_demo"]
    assert graph.before["apply"] == {START}
    assert graph.before["accept"] == {"apply", "supplement"}
    assert graph.before["call_b"] == {"accept"}
    assert graph.mandatory == {"apply", "accept", "call_a", "call_b"}  # 补正 only when incomplete


def test_conformance_finds_a_return_and_items_over_their_limit(engine):
    engine.deploy(OUTCOME_MODELS)
    ids = run(engine, [Plan(date(2026, 3, 2), a=1, b=2), Plan(date(2026, 3, 9), a=4, b=1, rounds=1)])
    # 退回: the clerk sends the application back to 填写申请 instead of asking for 补正
    plan = Plan(date(2026, 3, 16), a=1, b=1)
    owner = Actor("zhang", frozenset({"applicant"}))
    engine.clock.set(at(plan.day, 9))
    returned = engine.cases.start_case("outcome_demo", {}, owner).id
    engine.cases.complete_work_item(_ready(engine, returned, "apply"), {"applicant_name": "zhang"}, owner)
    engine.clock.set(at(plan.day, 9, 30))
    engine.cases.return_item(_ready(engine, returned, "accept"), "申请表未签字", CLERK)
    engine.clock.set(at(plan.day, 9, 45))
    engine.cases.complete_work_item(_ready(engine, returned, "apply"), {"applicant_name": "zhang"}, owner)
    engine.clock.set(at(plan.day, 10))
    engine.cases.complete_work_item(_ready(engine, returned, "accept"), {"complete": True}, CLERK)
    finish(engine, plan, returned)

    found = {c.case_id: c for c in conformance.deviating_cases(engine, "outcome_demo", *PERIOD)}
    assert ids[0] not in found  # on the model's path, within the limits
    assert [(d.kind, d.element_id, d.text) for d in found[ids[1]].deviations] == [
        (conformance.OVER_LIMIT, "call_a", "事项“甲证办理”用时 4 个工作日，超过承诺时限 2 个工作日")]
    assert [(d.kind, d.element_id, d.text) for d in found[returned].deviations] == [
        (conformance.OUT_OF_ORDER, "apply", "环节“填写申请”再次办理，但模型中它之前的环节开始未再办理（退回：申请表未签字）")]


def test_conformance_finds_a_dependent_step_before_its_predecessor_and_a_missing_step():
    trees = [parse_xml(p.read_bytes(), p.name) for p in OUTCOME_MODELS]
    graphs = step_graphs(trees)

    class Row:
        def __init__(self, type, at, item, task, process="outcome_demo", data=""):
            self.type, self.at, self.work_item_id, self.task_spec, self.process_id, self.data = (
                type, at, item, task, process, data)

    day = date(2026, 3, 2)
    rows = [Row("work_item_ready", at(day, 9), "1", "apply"), Row("work_item_completed", at(day, 9), "1", "apply"),
            # 甲证审查 started before 受理 was done: written for a path the model does not allow
            Row("work_item_ready", at(day, 9, 5), "2", "review_a", "outcome_item_a"),
            Row("work_item_ready", at(day, 10), "3", "accept"), Row("work_item_completed", at(day, 11), "3", "accept"),
            Row("work_item_completed", at(day, 12), "2", "review_a", "outcome_item_a"),
            Row("work_item_ready", at(day, 9, 6), "4", "stamp", "outcome_item_a")]
    checked = conformance.check_case(9, at(day, 12), "outcome_demo", graphs, rows)
    assert [(d.kind, d.text) for d in checked.deviations] == [
        (conformance.OUT_OF_ORDER, "事项“甲证办理”在“综合窗口受理”办结前开始"),
        (conformance.UNKNOWN_STEP, "环节“stamp”不在模型中"),
        (conformance.MISSING_STEP, "缺少必经环节“乙证办理”"),
    ]

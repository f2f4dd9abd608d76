"""Camunda 7 assignment attributes of a Modeler-drawn process (tests/fixtures/camunda/assignment.bpmn):
camunda:initiator, camunda:assignee, camunda:candidateUsers, camunda:priority, camunda:followUpDate —
through CaseService, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError, NotPermitted, WorkItemUnavailable
from yijianshi.storage.tables import WorkItem, WorkItemGroup
from tests.conftest import FIXTURES, deploy_fixtures

WANG = Actor("wangwu", frozenset({"applicant"}), name="王五")
SHICHANG = Actor("shichang", frozenset({"market"}), name="市场")
LISI = Actor("lisi", frozenset(), name="李四")
OTHER = Actor("zhaoliu", frozenset({"fire"}), name="赵六")
MARKET = Actor("ma", frozenset({"market"}), name="市场监管局 马")
ADMIN = Actor("root", frozenset(), name="管理员", is_admin=True)


def _item(engine, work_item_id):
    with engine.db.reader.connect() as conn:
        return conn.execute(select(WorkItem.__table__).where(WorkItem.__table__.c.id == work_item_id)).one()


def _group_codes(engine, work_item_id):
    t = WorkItemGroup.__table__
    with engine.db.reader.connect() as conn:
        return {r.group_code for r in conn.execute(select(t.c.group_code).where(t.c.work_item_id == work_item_id))}


def _start(engine, urgent=True):
    deploy_fixtures(engine, "camunda/assignment.bpmn")
    return engine.cases.start_case("assignment", {"reviewer": "lisi", "urgent": urgent}, WANG)


def test_initiator_is_set_and_the_assignee_gets_a_claimed_item(engine):
    case = _start(engine)
    assert engine.cases.workflow_of(case.id).task_tree.data["starter"] == "wangwu"
    (confirm,) = case.ready
    row = _item(engine, confirm.id)
    assert row.claimed_by == "wangwu" and row.claimed_at is not None
    assert row.groups == "user:wangwu"
    assert _group_codes(engine, confirm.id) == {"*", "user:wangwu"}
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(confirm.id, {"confirmed": True}, OTHER)
    engine.cases.complete_work_item(confirm.id, {"confirmed": True}, WANG)


def test_an_assigned_item_is_only_its_assignees_but_an_administrator_may_act(engine):
    case = _start(engine)
    (confirm,) = case.ready
    with pytest.raises(NotPermitted):
        engine.cases.claim(confirm.id, LISI)
    engine.cases.complete_work_item(confirm.id, {"confirmed": True}, ADMIN)


def test_candidate_users_literal_and_expression_may_act_others_not(engine):
    case = _start(engine)
    review = engine.cases.complete_work_item(case.ready[0].id, {"confirmed": True}, WANG).ready[0]
    row = _item(engine, review.id)
    assert row.groups == "user:shichang,user:lisi" and row.claimed_by is None
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(review.id, {"approved": True}, OTHER)
    with pytest.raises(NotPermitted):  # a member of the market department is not a named user
        engine.cases.complete_work_item(review.id, {"approved": True}, MARKET)
    engine.cases.claim(review.id, LISI)
    with pytest.raises(WorkItemUnavailable):
        engine.cases.complete_work_item(review.id, {"approved": True}, SHICHANG)
    engine.cases.complete_work_item(review.id, {"approved": True}, LISI)
    t = WorkItemGroup.__table__  # the inbox rows go with the item (migration 0019)
    with engine.db.reader.connect() as conn:
        assert list(conn.execute(select(t.c.state).where(t.c.work_item_id == review.id))) == []


@pytest.mark.parametrize("urgent,priority", [(True, 80), (False, 20)])
def test_priority_and_follow_up_date_are_stored(engine, urgent, priority):
    case = _start(engine, urgent)
    review = engine.cases.complete_work_item(case.ready[0].id, {"confirmed": True}, WANG).ready[0]
    sign = engine.cases.complete_work_item(review.id, {"approved": True}, SHICHANG).ready[0]
    row = _item(engine, sign.id)
    assert row.priority == priority and row.follow_up_at is not None and row.follow_up_at > row.created_at
    assert row.groups == "market"
    assert _item(engine, review.id).priority == 50 and _item(engine, review.id).follow_up_at is None
    t = WorkItemGroup.__table__
    with engine.db.reader.connect() as conn:
        keys = {r.priority_key for r in conn.execute(select(t.c.priority_key).where(t.c.work_item_id == sign.id))}
    assert keys == {-priority}
    assert engine.cases.complete_work_item(sign.id, {"signed": True}, MARKET).status == "completed"


def test_an_initiator_that_cannot_be_a_variable_is_refused_at_its_line(engine, tmp_path):
    text = (FIXTURES / "camunda" / "assignment.bpmn").read_text(encoding="utf-8")
    bad = tmp_path / "assignment.bpmn"
    bad.write_text(text.replace('camunda:initiator="starter"', 'camunda:initiator="start er"'), encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        engine.deploy([bad])
    (problem,) = err.value.problems
    assert problem.line == 4 and problem.element == "StartEvent_1" and "initiator" in problem.message

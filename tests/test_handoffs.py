"""Issue #14.2/#14.3: hand-offs of a work item (engine/cases/handoffs.py) — transfer (转办) to another
unit, delegate (委派) to a colleague, return (退回) to the previous step, comments and follow-up
dates, each with its reason in the history and only by someone who may act on the item — and
首问负责 (record_actor + camunda:assignee). Every case re-executes at teardown (conftest), so the
return's replay is checked too. The `engine` fixture runs on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta, timezone

import pytest

from tests.conftest import deploy_fixtures
from yijianshi.engine.access.accounts import AccountService
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.access.org_rules import Membership, OrgData, Unit
from yijianshi.engine.access.organisation import OrganisationService
from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import EngineError, FormErrors, NotPermitted, WorkItemUnavailable
from yijianshi.storage import case_store

CLERK = Actor("clerk", frozenset({"street"}), name="首问人")
MARKET = Actor("m1", frozenset({"unit:market"}), name="市场监管局办事员")
FIRE = Actor("f1", frozenset({"unit:fire"}), name="消防办事员")


@pytest.fixture
def routed(engine):
    org = OrganisationService(engine.db, engine.clock)
    org.replace(OrgData(units=[Unit("market", "市场监管局", "department"), Unit("fire", "消防救援大队", "department")],
                        memberships=[Membership("m1", "market"), Membership("f1", "fire")]))
    accounts = AccountService(engine.db, engine.clock, password_method="argon2:1:8:1")
    for username in ("m1", "m2", "f1"):
        accounts.create(username, "long-enough-pass-9", username, "dept_clerk", ["street"])
    deploy_fixtures(engine, "camunda/handoff.bpmn")
    case = engine.cases.start_case("handoff", {}, CLERK)
    engine.cases.complete_work_item(case.ready[0].id, {"handling_unit": "market", "summary": "用电增容"}, CLERK)
    return engine, case.id


def _item(engine, case_id: int, spec: str):
    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, case_id=case_id)
    (row,) = [r for r in rows if r.task_spec == spec]
    return row


def _events(engine, case_id: int, type_: str) -> list[dict]:
    return [json.loads(e.data) if isinstance(e.data, str) else e.data for e in engine.history(case_id) if e.type == type_]


def test_a_transfer_sends_the_item_to_another_unit_with_its_reason(routed):
    engine, cid = routed
    item = _item(engine, cid, "handle")
    assert item.groups == "unit:market"  # the composite expression unit:${handling_unit}
    engine.cases.claim(item.id, MARKET)
    with pytest.raises(FormErrors, match="理由"):
        engine.cases.transfer(item.id, "fire", " ", MARKET)
    with pytest.raises(FormErrors, match="不存在"):
        engine.cases.transfer(item.id, "nowhere", "不属本单位职责", MARKET)
    with pytest.raises(NotPermitted):  # only who may act on the item hands it off
        engine.cases.transfer(item.id, "fire", "不属本单位职责", FIRE)
    engine.cases.transfer(item.id, "fire", "涉及消防审验，不属本单位职责", MARKET)
    moved = _item(engine, cid, "handle")
    assert moved.groups == "unit:fire" and moved.claimed_by is None
    (event,) = _events(engine, cid, h.WORK_ITEM_TRANSFERRED)
    assert event["to_unit"] == "fire" and event["reason"] == "涉及消防审验，不属本单位职责"
    assert event["from_groups"] == ["unit:market"] and event["was_claimed_by"] == "m1"
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(item.id, {"result": "x"}, MARKET)
    # the inbox of the new unit lists it (the department rows follow the transfer)
    with engine.db.reader.connect() as conn:
        assert [r.id for r in case_store.query_work_items(conn, groups=["unit:fire"])] == [item.id]
        assert case_store.query_work_items(conn, groups=["unit:market"]) == []
    engine.cases.complete_work_item(item.id, {"result": "已办"}, FIRE)


def test_a_delegation_assigns_a_colleague_with_its_reason(routed):
    engine, cid = routed
    item = _item(engine, cid, "handle")
    engine.cases.claim(item.id, MARKET)
    with pytest.raises(FormErrors, match="不存在"):
        engine.cases.delegate(item.id, "ghost", "出差", MARKET)
    engine.cases.delegate(item.id, "m2", "本人出差，请代为办理", MARKET)
    row = _item(engine, cid, "handle")
    assert row.claimed_by == "m2" and "user:m2" in row.groups.split(",")
    (event,) = _events(engine, cid, h.WORK_ITEM_DELEGATED)
    assert event == {"from": "m1", "to": "m2", "reason": "本人出差，请代为办理"}
    with pytest.raises(WorkItemUnavailable):  # now m2's
        engine.cases.complete_work_item(item.id, {"result": "x"}, MARKET)
    engine.cases.complete_work_item(item.id, {"result": "已办"}, Actor("m2", frozenset()))


def test_a_return_reopens_the_previous_step_and_replays(routed):
    engine, cid = routed
    item = _item(engine, cid, "handle")
    with pytest.raises(FormErrors, match="理由"):
        engine.cases.return_item(item.id, "", MARKET)
    with pytest.raises(NotPermitted):
        engine.cases.return_item(item.id, "材料不全", FIRE)
    engine.cases.return_item(item.id, "诉求内容不清，请补充", MARKET)
    register = _item(engine, cid, "register")
    assert register.groups == "street"
    assert engine.cases.workflow_of(cid).get_task_from_id(
        uuid.UUID(register.id)).data["summary"] == "用电增容"  # last submission kept
    with engine.db.reader.connect() as conn:
        assert case_store.work_item(conn, item.id).state == "cancelled"
    (event,) = _events(engine, cid, h.WORK_ITEM_RETURNED)
    assert event["to_task_spec"] == "register" and event["reason"] == "诉求内容不清，请补充"
    engine.cases.complete_work_item(register.id, {"handling_unit": "market", "summary": "用电增容 200kVA"}, CLERK)
    again = _item(engine, cid, "handle")
    assert again.id != item.id and again.groups == "unit:market"
    # (teardown re-executes the case: the recorded return is repeated)


def test_nothing_to_return_to_at_the_first_step(engine):
    deploy_fixtures(engine, "camunda/handoff.bpmn")
    case = engine.cases.start_case("handoff", {}, CLERK)
    with pytest.raises(EngineError, match="没有可以退回"):
        engine.cases.return_item(case.ready[0].id, "退回", CLERK)


def test_comments_and_follow_up_dates(routed):
    engine, cid = routed
    item = _item(engine, cid, "handle")
    with pytest.raises(FormErrors):
        engine.cases.comment(item.id, "  ", MARKET)
    engine.cases.comment(item.id, "已电话联系企业，待现场核实", MARKET)
    follow = engine.clock.now() + timedelta(days=3)
    engine.cases.set_follow_up(item.id, follow, MARKET)
    with engine.db.reader.connect() as conn:
        assert case_store.work_item(conn, item.id).follow_up_at == follow.astimezone(follow.tzinfo)
    (comment,) = _events(engine, cid, h.WORK_ITEM_COMMENTED)
    assert comment["text"] == "已电话联系企业，待现场核实"
    (set_,) = _events(engine, cid, h.WORK_ITEM_FOLLOW_UP_SET)
    assert set_["follow_up_at"].startswith(follow.astimezone(timezone.utc).isoformat()[:16])
    with pytest.raises(NotPermitted):
        engine.cases.comment(item.id, "路过", FIRE)


def test_the_clerk_who_accepted_is_the_assignee_of_the_answer(routed):
    """首问负责: register records who completed it (record_actor); answer's assignee reads it."""
    engine, cid = routed
    engine.cases.complete_work_item(_item(engine, cid, "handle").id, {"result": "已办"}, MARKET)
    answer = _item(engine, cid, "answer")
    assert answer.claimed_by == "clerk"
    register = next(e for e in _events(engine, cid, h.WORK_ITEM_COMPLETED) if "summary" in e["submitted"])
    assert register["submitted"]["accepted_by"] == "clerk"  # recorded with the completion: replay repeats it
    with pytest.raises(WorkItemUnavailable):
        engine.cases.complete_work_item(answer.id, {"answer_text": "x"}, Actor("clerk2", frozenset({"street"})))
    engine.cases.complete_work_item(answer.id, {"answer_text": "已答复"}, CLERK)


def test_an_integration_client_accepts_for_nobody_in_particular(engine):
    """A case an API client registers has no 首问 clerk: record_actor keeps null and the assignee
    expression then assigns nobody (the candidate groups share the step), as Camunda does for null."""
    deploy_fixtures(engine, "camunda/handoff.bpmn")
    client = Actor("api:hotline12345", frozenset({"street"}))
    case = engine.cases.start_case("handoff", {}, client)
    engine.cases.complete_work_item(case.ready[0].id, {"handling_unit": "market", "summary": "工单"}, client)
    engine.cases.complete_work_item(_item(engine, case.id, "handle").id, {"result": "已办"}, MARKET)
    answer = _item(engine, case.id, "answer")
    assert answer.claimed_by is None and answer.groups == "street"
    engine.cases.complete_work_item(answer.id, {"answer_text": "已答复"}, Actor("clerk2", frozenset({"street"})))

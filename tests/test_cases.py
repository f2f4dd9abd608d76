"""Case commands through the engine services, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases.state_codec import CaseStateCodec
from yijianshi.engine.errors import EngineError, FormErrors, NotFound, NotPermitted, ScriptError, WorkItemUnavailable
from yijianshi.storage import case_store, inbox_store
from yijianshi.storage.tables import Case, CaseStateBase, Event, WorkItem
from tests.conftest import FIXTURES, deploy_fixtures

MARKET = Actor("ma", frozenset({"market"}), name="市场监管局 马")
FIRE = Actor("fu", frozenset({"fire"}), name="消防 傅")
DESK = Actor("desk", frozenset({"front_desk"}), name="综合窗口 邓")


def _rows(engine, model, **where):
    with engine.db.reader.connect() as conn:
        q = select(model.__table__)
        for k, v in where.items():
            q = q.where(getattr(model.__table__.c, k) == v)
        return list(conn.execute(q))


def _stored_state(engine, case_id: int) -> case_store.StoredState:
    """The case's state as stored: its base (case_states) and the deltas after it."""
    with engine.db.reader.connect() as conn:
        return case_store.case_state(conn, case_id)


def _start_review(engine, clerk):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"district": "河东区"}, clerk, business_key="HD-001")
    after_apply = engine.cases.complete_work_item(
        case.ready[0].id, {"applicant_name": "张三", "id_number": "120102199001011235", "amount": "80"}, DESK)
    return case, {i.task_spec: i.id for i in after_apply.ready}


def test_happy_path_projects_work_items_and_completes(engine, clerk):
    case, items = _start_review(engine, clerk)
    assert set(items) == {"dept_market", "dept_health", "dept_fire", "dept_tax"}
    ready = _rows(engine, WorkItem, case_id=case.id, state="ready")
    assert {r.task_spec for r in ready} == set(items)
    assert {r.groups for r in ready} == {"market", "health", "fire", "tax"}
    for spec in ("dept_market", "dept_health", "dept_fire"):
        result = engine.cases.complete_work_item(items[spec], {"approved": "true"}, clerk)
        assert result.ready == []  # the join waits for the fourth branch
    result = engine.cases.complete_work_item(items["dept_tax"], {"approved": "false", "remark": "欠税"}, clerk)
    assert [i.task_spec for i in result.ready] == ["deliver"]
    final = engine.cases.complete_work_item(result.ready[0].id, {"delivered": "on"}, DESK)
    assert final.status == "completed"
    (row,) = _rows(engine, Case, id=case.id)
    assert row.status == "completed" and row.ended_at is not None
    data = engine.cases.workflow_of(case.id).last_task.data
    assert data["amount"] == 80 and data["approved"] is False and data["remark"] == "欠税"


def test_the_workflow_cache_keeps_running_cases_only(engine, clerk):
    """A running case's live workflow stays cached for its next command; an ended case takes no more
    engine steps, so it leaves the cache (room for running ones, less for the collector to walk)."""
    case, items = _start_review(engine, clerk)
    cached = engine.cases.cached_version
    assert cached(case.id) is not None
    for spec in ("dept_market", "dept_health", "dept_fire", "dept_tax"):
        result = engine.cases.complete_work_item(items[spec], {"approved": "true"}, clerk)
    assert cached(case.id) == result.version
    assert engine.cases.complete_work_item(result.ready[0].id, {"delivered": "on"}, DESK).status == "completed"
    assert cached(case.id) is None
    other, _ = _start_review(engine, clerk)
    engine.cases.cancel_case(other.id, clerk, "测试")
    assert cached(other.id) is None


def test_form_errors_are_per_field_and_nothing_is_saved(engine, clerk):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {}, clerk)
    (before,) = _rows(engine, Case, id=case.id)
    state_before = _stored_state(engine, case.id)
    with pytest.raises(FormErrors) as err:
        engine.cases.complete_work_item(case.ready[0].id, {"applicant_name": "", "id_number": "123",
                                                           "amount": "-5", "hacker": "x"}, DESK)
    assert set(err.value.errors) == {"applicant_name", "id_number", "amount", "__all__"}
    assert "必填" in err.value.errors["applicant_name"]
    (after,) = _rows(engine, Case, id=case.id)
    assert (after.version, after.history_seq, after.engine_state) == (
        before.version, before.history_seq, before.engine_state)
    assert _stored_state(engine, case.id) == state_before
    (item,) = _rows(engine, WorkItem, id=case.ready[0].id)
    assert item.state == "ready"


def test_completing_twice_says_who_completed_it(engine, clerk):
    case, items = _start_review(engine, clerk)
    engine.cases.complete_work_item(items["dept_market"], {"approved": True}, MARKET)
    with pytest.raises(WorkItemUnavailable) as err:
        engine.cases.complete_work_item(items["dept_market"], {"approved": True}, clerk)
    assert "ma" in str(err.value) and "办结" in str(err.value)


def test_clerks_act_only_on_their_departments_work(engine, clerk):
    case, items = _start_review(engine, clerk)
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(items["dept_market"], {"approved": True}, FIRE)
    with pytest.raises(NotPermitted):
        engine.cases.claim(items["dept_market"], FIRE)
    with engine.db.reader.connect() as conn:
        fire_inbox = case_store.query_work_items(conn, groups=FIRE.groups)
    assert [r.task_spec for r in fire_inbox] == ["dept_fire"]


def test_claim_and_unclaim(engine, clerk):
    case, items = _start_review(engine, clerk)
    wid = items["dept_market"]
    colleague = Actor("mb", frozenset({"market"}))
    engine.cases.claim(wid, MARKET)
    engine.cases.claim(wid, MARKET)  # claiming again is harmless
    with engine.db.reader.connect() as conn:
        assert [r.id for r in case_store.query_work_items(conn, claimed_by="ma")] == [wid]
        assert wid not in [r.id for r in case_store.query_work_items(conn, groups=["market"], unclaimed=True)]
    with pytest.raises(WorkItemUnavailable) as err:
        engine.cases.claim(wid, colleague)
    assert "ma" in str(err.value)
    with pytest.raises(WorkItemUnavailable):
        engine.cases.complete_work_item(wid, {"approved": True}, colleague)
    with pytest.raises(NotPermitted):
        engine.cases.unclaim(wid, colleague)
    engine.cases.unclaim(wid, MARKET)
    engine.cases.claim(wid, colleague)
    engine.cases.complete_work_item(wid, {"approved": True}, colleague)
    types = [e.type for e in engine.history(case.id) if e.work_item_id == wid]
    assert types == ["work_item_ready", "work_item_claimed", "work_item_unclaimed", "work_item_claimed",
                     "work_item_completed"]


def test_inbox_filters_by_state_due_date_and_definition(engine, clerk):
    deploy_fixtures(engine, "callflow", "parallel_review.bpmn")
    a = engine.cases.start_case("licence_bundle", {}, clerk)
    a = engine.cases.complete_work_item(a.ready[0].id, {"company": "甲公司", "capital": 10}, DESK)
    engine.clock.advance(days=1)
    b = engine.cases.start_case("licence_bundle", {}, clerk)
    b = engine.cases.complete_work_item(b.ready[0].id, {"company": "乙公司", "capital": 20}, DESK)
    engine.cases.start_case("parallel_review", {}, clerk)
    with engine.db.reader.connect() as conn:
        market = case_store.query_work_items(conn, groups=["market"])
        assert [r.id for r in market] == [a.ready[0].id, b.ready[0].id]  # earliest due first
        assert market[0].due_at == market[0].created_at + timedelta(days=5)
        soon = case_store.query_work_items(conn, groups=["market"], due_before=market[0].due_at)
        assert [r.id for r in soon] == [a.ready[0].id]
        assert len(case_store.query_work_items(conn, definition_key="parallel_review")) == 1
        assert len(case_store.query_work_items(conn, state="completed", groups=["front_desk"])) == 2


def test_inbox_queries_never_deserialize_cases(engine, clerk, monkeypatch):
    _start_review(engine, clerk)

    def refuse(*args, **kwargs):
        raise AssertionError("an inbox query deserialized a case")

    monkeypatch.setattr(CaseStateCodec, "loads", refuse)
    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, groups=["market", "fire"], state="ready")
    assert {r.task_spec for r in rows} == {"dept_market", "dept_fire"}


def test_case_state_is_stored_without_the_spec(engine, clerk):
    case, _ = _start_review(engine, clerk)
    (row,) = _rows(engine, Case, id=case.id)
    (base,) = _rows(engine, CaseStateBase, case_id=case.id)
    text = case_store.stored_state(row.engine_state, base.base)
    state = json.loads(text)
    assert "spec" not in state and "subprocess_specs" not in state
    assert "task_specs" not in text
    assert len(text) < 12_000
    # Stored compressed (migration 0019): what is written is a fraction of the JSON.
    assert row.engine_state == "" and len(base.base) < len(text) / 3


def test_cancel_and_withdraw(engine, clerk):
    case, items = _start_review(engine, clerk)
    result = engine.cases.cancel_case(case.id, clerk, "申请人资料有误")
    assert result.status == "cancelled"
    assert {r.state for r in _rows(engine, WorkItem, case_id=case.id) if r.task_spec.startswith("dept_")} == {"cancelled"}
    with pytest.raises(WorkItemUnavailable):
        engine.cases.complete_work_item(items["dept_fire"], {"approved": True}, clerk)
    with pytest.raises(EngineError):
        engine.cases.cancel_case(case.id, clerk)
    other = engine.cases.start_case("parallel_review", {}, clerk)
    assert engine.cases.cancel_case(other.id, clerk, "不再需要", withdrawn=True).status == "withdrawn"
    types = [e.type for e in engine.history(case.id)]
    assert types[-5:] == ["case_cancelled"] + ["work_item_cancelled"] * 4


def test_message_delivered_by_correlation_property_and_business_key(engine, clerk):
    deploy_fixtures(engine, "messages.bpmn")
    one = engine.cases.start_case("dept_query", {}, clerk, business_key="12345-0001")
    two = engine.cases.start_case("dept_query", {}, clerk, business_key="12345-0002")
    engine.cases.complete_work_item(one.ready[0].id, {"order_id": "A-1"}, DESK)
    engine.cases.complete_work_item(two.ready[0].id, {"order_id": "A-2"}, DESK)
    sent = [e for e in engine.history(one.id) if e.type == "message_sent"]
    assert json.loads(sent[0].data)["message"] == "query_sent"

    result = engine.cases.deliver_message("dept_reply", {"order_id": "A-2"}, {"status": "已办结"})
    assert result.id == two.id and [i.task_spec for i in result.ready] == ["finish"]
    assert engine.cases.workflow_of(two.id).get_tasks(spec_name="finish")[0].data["reply"] == {"status": "已办结"}
    result = engine.cases.deliver_message("dept_reply", {"business_key": "12345-0001"}, {"status": "退回"})
    assert result.id == one.id
    with pytest.raises(NotFound):
        engine.cases.deliver_message("dept_reply", {"order_id": "A-2"}, {})


def test_ambiguous_message_is_refused(engine, clerk):
    deploy_fixtures(engine, "messages.bpmn")
    for _ in range(2):
        case = engine.cases.start_case("dept_query", {}, clerk)
        engine.cases.complete_work_item(case.ready[0].id, {"order_id": "SAME"}, DESK)
    with pytest.raises(EngineError, match="2 个案件"):
        engine.cases.deliver_message("dept_reply", {"order_id": "SAME"}, {})


def test_failing_script_leaves_nothing_behind(engine, clerk, tmp_path):
    text = (FIXTURES / "callflow" / "parent.bpmn").read_text(encoding="utf-8").replace(
        'outcome = "核准" if decision == "approve" and capital &gt;= 10 else "不予核准"',
        "outcome = capital / 0")
    (tmp_path / "parent.bpmn").write_text(text, encoding="utf-8")
    (tmp_path / "child.bpmn").write_bytes((FIXTURES / "callflow" / "child.bpmn").read_bytes())
    engine.deploy([tmp_path])
    case = engine.cases.start_case("licence_bundle", {}, clerk)
    step = engine.cases.complete_work_item(case.ready[0].id, {"company": "丙", "capital": 5}, DESK)
    (before,) = _rows(engine, Case, id=case.id)
    state_before = _stored_state(engine, case.id)
    with pytest.raises(ScriptError) as err:
        engine.cases.complete_work_item(step.ready[0].id, {"decision": "approve"}, MARKET)
    assert "ZeroDivisionError" in str(err.value) and "汇总结果" in str(err.value)
    (after,) = _rows(engine, Case, id=case.id)
    assert after.version == before.version and after.engine_state == before.engine_state
    assert _stored_state(engine, case.id) == state_before
    assert _rows(engine, WorkItem, id=step.ready[0].id)[0].state == "ready"
    # and the work item can still be completed later, e.g. after a fixed version is deployed
    with engine.db.reader.connect() as conn:
        events = conn.execute(select(func.count()).select_from(Event).where(Event.case_id == case.id)).scalar_one()
    assert events == before.history_seq


@pytest.mark.parametrize("data", [{"_secret": 1}, {"not valid": 1}, {"x": object()}, {"big": "x" * 300_000}])
def test_bad_initial_data_is_refused(engine, clerk, data):
    deploy_fixtures(engine, "parallel_review.bpmn")
    with pytest.raises(FormErrors):
        engine.cases.start_case("parallel_review", data, clerk)
    assert _rows(engine, Case) == []


def test_unknown_definition_and_work_item(engine, clerk):
    with pytest.raises(NotFound):
        engine.cases.start_case("no_such_process", {}, clerk)
    with pytest.raises(NotFound):
        engine.cases.complete_work_item("00000000-0000-0000-0000-000000000000", {}, clerk)


def test_applicant_steps_belong_to_the_person_who_applied(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    engine.deploy([FIXTURES.parents[1] / "processes"])
    mine = Actor("citizen_a", frozenset({"applicant"}))
    other = Actor("citizen_b", frozenset({"applicant"}))
    case = engine.cases.start_case("open_restaurant", {}, mine)
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(case.ready[0].id, {}, other)
    with pytest.raises(NotPermitted):
        engine.cases.claim(case.ready[0].id, other)
    with engine.db.reader.connect() as conn:
        assert [r.id for r in case_store.query_work_items(conn, groups=["applicant"], started_by="citizen_a")] \
            == [case.ready[0].id]
        assert case_store.query_work_items(conn, groups=["applicant"], started_by="citizen_b") == []
    engine.cases.claim(case.ready[0].id, mine)


def test_only_the_applicant_withdraws(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    mine = Actor("citizen_a", frozenset({"applicant"}))
    case = engine.cases.start_case("parallel_review", {}, mine)
    with pytest.raises(NotPermitted):
        engine.cases.cancel_case(case.id, Actor("citizen_b", frozenset({"applicant"})), "x", withdrawn=True)
    assert engine.cases.cancel_case(case.id, mine, "不办了", withdrawn=True).status == "withdrawn"


def test_inbox_rows_go_with_the_item_and_its_departments_stay(engine, clerk):
    from yijianshi.storage.tables import WorkItemGroup, WorkItemGroupLink

    case, items = _start_review(engine, clerk)
    engine.cases.complete_work_item(items["dept_fire"], {"approved": True}, FIRE)
    open_rows = {(r.work_item_id, r.group_code) for r in _rows(engine, WorkItemGroup)}
    assert (items["dept_fire"], "fire") not in open_rows and (items["dept_market"], "market") in open_rows
    assert {r.state for r in _rows(engine, WorkItemGroup)} == {"ready"}
    engine.cases.cancel_case(case.id, clerk, "测试")
    assert _rows(engine, WorkItemGroup) == []
    links = {(r.work_item_id, r.group_code) for r in _rows(engine, WorkItemGroupLink)}
    assert {(items["dept_fire"], "fire"), (items["dept_market"], "market")} <= links
    with engine.db.reader.connect() as conn:
        assert "fire" in inbox_store.case_groups(conn, case.id)
        done = case_store.query_work_items(conn, state="completed", groups=["fire"])
    assert [r.id for r in done] == [items["dept_fire"]]


def test_a_set_made_by_a_script_replays_to_the_same_state(engine, clerk, tmp_path):
    """`verify --reexecute` must agree with the stored state when a script builds a set."""
    source = (FIXTURES / "limits.bpmn").read_text(encoding="utf-8").replace(
        "<bpmn:script>accepted_at = now_iso()</bpmn:script>",
        '<bpmn:script>accepted_at = now_iso()\ndepartments = {"市场监管", "消防", "城管", "卫健", "税务", "人社"}</bpmn:script>')
    (tmp_path / "limits.bpmn").write_text(source, encoding="utf-8")
    engine.deploy([tmp_path / "limits.bpmn"])
    case = engine.cases.start_case("limited_review", {"limit_days": 7}, clerk)
    engine.cases.complete_work_item(case.ready[0].id, {"approved": "true"}, clerk)
    data = engine.cases.workflow_of(case.id).last_task.data
    assert data["departments"] == sorted(["市场监管", "消防", "城管", "卫健", "税务", "人社"])
    assert engine.reexecute(case.id).ok

"""政企同行·有需必应: an enterprise's request from any channel through the six levels, the 7-working-day
limit for a general request with its warning and automatic referral to 监督推动办, the hub-set limit of
a complex request, the answer, the return visit (by the 12345 platform for hotline work orders,
addressed by the work-order number) and the satisfaction check."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import NotFound, NotPermitted, WorkItemUnavailable
from tests.test_scenarios_driver import Scenario, at, deploy

START = at(2025, 9, 26, 9, 0)
ORDER_NO = "12345-20250926-0001"
GRID = Actor("grid1", frozenset({"grid_center"}), name="区网格中心")
STAFF = Actor("staff1", frozenset({"street"}), name="为企服务人员")
REQUEST = {"enterprise_name": "宁河区某食品有限公司", "credit_code": "91120221MA05TEQ0A0", "contact_name": "李四",
           "contact_phone": "13800000000", "grid_area": "东城街道", "request_category": "factor",
           "enterprise_address": "东城街道人民路 18 号",
           "request_summary": "扩建厂房用电增容申请迟迟未获批复，影响投产。"}


def _intake(sqlite_engine, channel: str, **extra) -> tuple[Scenario, int]:
    sqlite_engine.clock.set(START)
    deploy(sqlite_engine, "enterprise_request")
    sc = Scenario(sqlite_engine, "enterprise_request")
    if channel == "hotline_12345":  # the grid center files the city's work order under its number
        case = sqlite_engine.cases.start_case("enterprise_request", {"work_order_no": ORDER_NO}, GRID,
                                              business_key=ORDER_NO, title=f"12345 工单 {ORDER_NO}")
    else:
        case = sqlite_engine.cases.start_case("enterprise_request", {}, STAFF)
    request = {**REQUEST, **extra}
    if channel == "hotline_12345" and "request_summary" not in extra:
        # a question no department is named for in intake_route.dmn: the 片区 answers it on the spot
        request["request_summary"] = "咨询扩建厂房可享受的扶持政策和申报条件。"
    sc.complete(case.id, "intake", {"channel": channel, "work_order_no": ORDER_NO if channel == "hotline_12345"
                                    else "", **request})
    return sc, case.id


@pytest.mark.parametrize("channel", ["service_staff", "hotline_12345", "warm_station", "online", "cannot_do_window"])
def test_every_channel_is_registered_and_resolved_on_the_spot(sqlite_engine, channel):
    sc, cid = _intake(sqlite_engine, channel)
    level1 = sc.item(cid, "level1")
    assert level1.groups == "unit:dongcheng_1"  # the 片区 of the address (grid_area.dmn)
    sc.complete(cid, "level1", {"l1_outcome": "resolved", "l1_answer": "已现场解答政策"})
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已解答"})
    if channel == "hotline_12345":
        assert sc.ready_specs(cid) == []  # waiting for the 12345 platform's return visit
        sqlite_engine.cases.deliver_message("hotline_revisit", {"business_key": ORDER_NO}, {"satisfaction": "satisfied"})
    else:
        sc.complete(cid, "revisit", {"satisfaction": "satisfied", "revisit_note": "满意"})
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize(("summary", "unit"), [("扩建厂房用电增容申请迟迟未获批复，影响投产。", "unit:power_company"),
                                              ("申请开具增值税专用发票遇到问题。", "unit:tax"),
                                              ("门店食品经营许可证变更办理进度咨询。", "unit:market")])
def test_a_12345_order_goes_to_the_competent_unit(sqlite_engine, summary, unit):
    sc, cid = _intake(sqlite_engine, "hotline_12345", request_summary=summary)
    assert sc.ready_specs(cid) == ["level2"]
    assert sc.item(cid, "level2").groups == unit
    sc.complete(cid, "level2", {"l2_outcome": "resolved", "l2_answer": "已办结"})
    assert sc.ready_specs(cid) == ["answer"]


@pytest.mark.parametrize(("channel", "summary", "why"), [
    ("hotline_12345", "我公司与某公司的买卖合同纠纷正在仲裁，请求协调仲裁结果。", "涉法涉诉"),
    ("service_staff", "就拆迁补偿问题多次信访未果，请求解决。", "信访"),
    ("online", "请提供竞争对手的商业秘密资料。", "商业秘密")])
def test_requests_out_of_scope_are_refused_with_a_reason(sqlite_engine, channel, summary, why):
    sc, cid = _intake(sqlite_engine, channel, request_summary=summary)
    assert sc.status(cid) == "completed" and sc.ready_specs(cid) == []
    data = sc.final_data(cid)
    assert data["intake_route"] == "refuse" and why in data["refusal_reason"]
    assert data["final_answer"] == "不予受理：" + data["refusal_reason"]
    [sent] = [json.loads(e.data) for e in sqlite_engine.history(cid) if e.type == "message_sent"]
    assert sent["message"] == "intake_refused"  # the reason is in the case's hash-chained history
    assert sent["payload"]["payload"]["refusal_reason"] == data["refusal_reason"]


def test_a_request_passes_through_all_six_levels(sqlite_engine):
    sc, cid = _intake(sqlite_engine, "hotline_12345")
    level1 = sc.item(cid, "level1")
    # A general request: 7 working days from intake, warned 2 working days before.
    assert level1.due_at.astimezone(START.tzinfo) == at(2025, 10, 13, 23, 59, 59)
    assert level1.warning_at.astimezone(START.tzinfo) == at(2025, 10, 10, 23, 59, 59)
    sc.complete(cid, "level1", {"l1_outcome": "transfer", "assigned_department": "power_company",
                                "l1_answer": "不属街道职责，吹哨报到供电公司"})               # 1 属地即时办
    assert sc.item(cid, "level2").due_at == level1.due_at  # the same 7-day limit
    assert sc.item(cid, "level2").groups == "unit:power_company"  # the 承办部门 chosen at level 1
    sc.complete(cid, "level2", {"l2_outcome": "escalate", "l2_answer": "涉及线路改造，需多部门"})  # 2 部门协同办
    sc.complete(cid, "l3_assign", {"lead_department": "urban_mgmt", "l3_limit_days": "10",
                                   "l3_plan": "城市管理局牵头，供电公司配合"})              # 3 中枢分派办
    handle = sc.item(cid, "l3_handle")
    assert handle.groups == "unit:urban_mgmt"  # the 牵头部门 the hub chose
    # The hub's 10 working days: 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10, 10-11 (make-up Saturday), 10-13…10-16
    assert handle.due_at.astimezone(START.tzinfo) == at(2025, 10, 16, 23, 59, 59)
    # warned warning_days_before (the process property, 2) working days before the hub's limit
    assert handle.warning_at.astimezone(START.tzinfo) == at(2025, 10, 14, 23, 59, 59)
    sc.complete(cid, "l3_handle", {"l3_outcome": "escalate", "l3_answer": "需区领导协调用地"})
    sc.complete(cid, "l4_assign", {"lead_department": "natural_resources", "l4_limit_days": "15",
                                   "l4_path": "规划资源分局调整管廊走向"})                   # 4 领导提级办
    assert sc.item(cid, "l4_handle").groups == "unit:natural_resources"
    sc.complete(cid, "l4_handle", {"l4_outcome": "escalate", "l4_answer": "涉及市级电网规划"})
    sc.complete(cid, "l5_coordinate", {"l5_outcome": "slow", "l5_answer": "市级协调推进缓慢"})  # 5 市区协调办
    sc.complete(cid, "l6_report", {"l6_report_text": "增容诉求推进缓慢，专报区委区政府"})        # 6 监督推动办
    sc.complete(cid, "l6_supervise", {"l6_supervision_note": "限 5 个工作日办结", "buck_passing": "true"})
    assert sc.item(cid, "l6_discipline").groups == "discipline"  # buck-passing goes to the discipline bodies
    sc.complete(cid, "l6_discipline", {"discipline_note": "已约谈责任单位"})
    sc.complete(cid, "l6_handle", {"l6_outcome": "resolved", "l6_answer": "增容工程已完工送电"})
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "增容已完成"})
    # The 12345 platform returns its visit, addressed by the work-order number.
    sqlite_engine.cases.deliver_message("hotline_revisit", {"work_order_no": ORDER_NO},
                                        {"satisfaction": "basically", "note": "基本满意"})
    assert sc.status(cid) == "completed"
    data = sc.final_data(cid)
    assert data["satisfaction"] == "basically" and data["lead_department"] == "natural_resources"
    tasks = [e.task_spec for e in sqlite_engine.history(cid) if e.type == "work_item_completed"]
    assert tasks == ["intake", "level1", "level2", "l3_assign", "l3_handle", "l4_assign", "l4_handle",
                     "l5_coordinate", "l6_report", "l6_supervise", "l6_discipline", "l6_handle", "answer"]


def test_general_request_overdue_is_referred_to_supervision(sqlite_engine):
    sc, cid = _intake(sqlite_engine, "service_staff")
    sc.complete(cid, "level1", {"l1_outcome": "transfer", "assigned_department": "housing", "l1_answer": "转住建委"})
    assert sc.fire(at(2025, 10, 10, 23, 59, 58)) == []
    assert sc.fire(at(2025, 10, 11, 8, 0))  # the warning, 2 working days before
    assert sc.ready_specs(cid) == ["level2"]
    sc.fire(at(2025, 10, 14, 0, 0, 1))  # 7 working days passed: automatic referral
    assert sc.ready_specs(cid) == ["l6_report"]
    fired = [json.loads(e.data)["kind"] for e in sqlite_engine.history(cid) if e.type == "deadline_fired"]
    assert fired == ["warning", "overdue"]
    sc.complete(cid, "l6_report", {"l6_report_text": "超期未结"})
    sc.complete(cid, "l6_supervise", {"l6_supervision_note": "督办"})
    assert sc.ready_specs(cid) == ["l6_handle"]  # no buck-passing: straight back to the handling unit
    sc.complete(cid, "l6_handle", {"l6_outcome": "cannot_meet", "l6_answer": "受政策限制无法满足，已解释"})
    sc.complete(cid, "answer", {"request_met": "false", "final_answer": "已向企业解释原因"})
    sc.complete(cid, "revisit", {"satisfaction": "satisfied"})
    assert sc.status(cid) == "completed"


def test_complex_request_limit_set_by_the_hub_and_unsatisfied_reopened(sqlite_engine):
    sc, cid = _intake(sqlite_engine, "cannot_do_window")
    sc.complete(cid, "level1", {"l1_outcome": "complex", "l1_answer": "涉及多个部门"})
    assert sc.ready_specs(cid) == ["l3_assign"]  # the general 7-day limit no longer applies
    sc.complete(cid, "l3_assign", {"lead_department": "market", "l3_limit_days": "3", "l3_plan": "市场监管局牵头"})
    handle = sc.item(cid, "l3_handle")
    assert handle.due_at.astimezone(START.tzinfo) == at(2025, 9, 30, 23, 59, 59)
    sc.fire(handle.due_at + timedelta(seconds=1))  # the hub's limit passed: 监督推动办
    assert sc.ready_specs(cid) == ["l6_report"]
    sc.complete(cid, "l6_report", {"l6_report_text": "超过中枢确定的时限"})
    sc.complete(cid, "l6_supervise", {"l6_supervision_note": "督办"})
    sc.complete(cid, "l6_handle", {"l6_outcome": "resolved", "l6_answer": "已办结"})
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已办结"})
    sc.complete(cid, "revisit", {"satisfaction": "unsatisfied", "revisit_note": "问题未根本解决"})
    sc.complete(cid, "recheck", {"recheck_outcome": "reopen", "recheck_note": "重新交办"})
    assert sc.ready_specs(cid) == ["l3_assign"]
    sc.complete(cid, "l3_assign", {"lead_department": "market", "l3_limit_days": "5", "l3_plan": "再次会商"})
    sc.complete(cid, "l3_handle", {"l3_outcome": "resolved", "l3_answer": "彻底解决"})
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已彻底解决"})
    sc.complete(cid, "revisit", {"satisfaction": "satisfied"})
    assert sc.status(cid) == "completed" and sc.final_data(cid)["reopen_round"] == 1


def test_the_work_order_number_routes_the_return_visit(sqlite_engine):
    sc, cid = _intake(sqlite_engine, "hotline_12345")
    sc.complete(cid, "level1", {"l1_outcome": "resolved", "l1_answer": "已解决"})
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已解决"})
    with pytest.raises(NotFound):
        sqlite_engine.cases.deliver_message("hotline_revisit", {"work_order_no": "12345-OTHER"}, {})
    sqlite_engine.cases.deliver_message("hotline_revisit", {"work_order_no": ORDER_NO},
                                        {"satisfaction": "unsatisfied", "note": "答复敷衍"})
    assert sc.ready_specs(cid) == ["recheck"]
    assert sc.task_data(cid, "recheck")["revisit_note"] == "答复敷衍"
    sc.complete(cid, "recheck", {"recheck_outcome": "close", "recheck_note": "已再次解释"})
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize(("address", "group"), [
    ("东城街道人民路 18 号", "unit:dongcheng_1"),
    ("东城街道解放路 3 号", "unit:dongcheng_2"),       # a road of the second 片区 comes first
    ("某某区建设路 66 号", "unit:xicheng_1"),          # by road name alone
    ("南湖镇工业园 2 号", "unit:nanhu_1"),
    ("外区某路 1 号", "street"),                       # not in the 片区 table: the street's staff dispatch it
])
def test_level_one_goes_to_the_grid_area_of_the_address(sqlite_engine, address, group):
    sc, cid = _intake(sqlite_engine, "service_staff", enterprise_address=address)
    assert sc.item(cid, "level1").groups == group


def test_the_clerk_who_registered_the_request_answers_it(sqlite_engine):
    """首问负责: the one who completed 诉求登记 is the assignee of 答复经营主体; a colleague may not
    answer it unless it is handed to him."""
    sqlite_engine.clock.set(START)
    deploy(sqlite_engine, "enterprise_request")
    sc = Scenario(sqlite_engine, "enterprise_request")
    cid = sqlite_engine.cases.start_case("enterprise_request", {}, STAFF).id
    sc.complete(cid, "intake", {"channel": "service_staff", **REQUEST}, STAFF)
    sc.complete(cid, "level1", {"l1_outcome": "transfer", "assigned_department": "market", "l1_answer": "转市场监管局"})
    with pytest.raises(NotPermitted):  # a liaison of another department
        sc.complete(cid, "level2", {"l2_outcome": "resolved", "l2_answer": "x"}, Actor("l1", frozenset({"liaison"})))
    sc.complete(cid, "level2", {"l2_outcome": "resolved", "l2_answer": "已办结"}, Actor("m1", frozenset({"unit:market"})))
    answer = sc.item(cid, "answer")
    assert answer.claimed_by == STAFF.id and f"user:{STAFF.id}" in answer.groups
    colleague = Actor("staff2", frozenset({"street"}))
    with pytest.raises(WorkItemUnavailable):
        sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已办结"}, colleague)
    sc.complete(cid, "answer", {"request_met": "true", "final_answer": "已办结"}, STAFF)
    assert sc.ready_specs(cid) == ["revisit"]

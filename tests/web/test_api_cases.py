"""The integration API's cases and messages over HTTP: the 12345 escalation example end to end, starting
on behalf of an applicant, start-form errors, delivering a message to the one waiting case, reading
cases and their history."""
from __future__ import annotations

from yijianshi.storage import case_store
from tests.web.helpers import APPLICATION
from yijianshi.engine.access.actors import Actor
from tests.web.api_support import case_ids, INTAKE, ORDER_NO, pointers, problem, ready_item, STREET, WORK_ORDER

POWER = Actor("power1", frozenset({"unit:power_company"}))  # the power company's liaison


def test_a_12345_work_order_escalates_and_the_platform_returns_its_visit(api_for, web_engine):
    """The 12345 platform files a work order into the 有需必应 pathway, it goes to the competent unit
    (the power company, by its content: intake_route.dmn), which answers it, and the platform's return
    visit is delivered by work-order number, all over HTTP."""
    hotline = api_for("hotline12345", processes=["enterprise_request"])
    started = hotline.start(WORK_ORDER, key=f"{ORDER_NO}#1")
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    cid = body["case_id"]
    assert started.headers["Location"] == f"/api/v1/cases/{cid}"
    assert [w["task_spec"] for w in body["opened_work_items"]] == ["level2"]  # intake filled by the start form

    case = hotline.get(f"/api/v1/cases/{cid}").get_json()
    assert case["process"]["key"] == "enterprise_request" and case["business_key"] == ORDER_NO
    assert case["started_by"] == "api:hotline12345" and case["status"] == "running"
    (level2,) = case["work_items"]
    # 用电增容: the competent unit (intake_route.dmn), named as the organisation names it
    assert level2["departments"] == [{"code": "unit:power_company", "name": "供电公司"}]
    assert level2["due_at"] and level2["warning_at"] and level2["due_unresolved"] is False
    assert case["data"]["request_summary"] == INTAKE["request_summary"]
    assert case["waiting_messages"] == []

    web_engine.cases.complete_work_item(level2["id"], {"l2_outcome": "resolved", "l2_answer": "已完成增容"}, POWER)
    web_engine.cases.complete_work_item(ready_item(web_engine, cid, "answer"),
                                        {"request_met": "true", "final_answer": "增容已批复"}, STREET)
    waiting = hotline.get(f"/api/v1/cases/{cid}").get_json()
    assert waiting["work_items"] == []
    assert waiting["waiting_messages"] == [{"message": "hotline_revisit", "correlation": {
        "business_key": ORDER_NO, "work_order_no": ORDER_NO}}]

    reply = hotline.deliver({"message": "hotline_revisit", "correlation": {"work_order_no": ORDER_NO},
                             "payload": {"satisfaction": "satisfied", "note": "满意"}})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["case_id"] == cid and reply.get_json()["status"] == "completed"
    assert hotline.get(f"/api/v1/cases/{cid}").get_json()["status"] == "completed"

    events = hotline.get(f"/api/v1/cases/{cid}/history?limit=200").get_json()["events"]
    by_type = {e["type"]: e for e in events}
    assert by_type["case_started"]["actor"] == "api:hotline12345"
    assert by_type["message_delivered"]["actor"] == "api:hotline12345"
    assert by_type["message_delivered"]["data"]["payload"] == {"satisfaction": "satisfied", "note": "满意"}
    assert events[0]["prev_hash"] == "0" * 64 and all(a["hash"] == b["prev_hash"] for a, b in zip(events, events[1:]))
    # Delivered once: a second delivery finds nobody waiting.
    again = hotline.deliver({"message": "hotline_revisit", "correlation": {"work_order_no": ORDER_NO}, "payload": {}})
    problem(again, 404, "not-found")


def test_start_on_behalf_of_an_applicant_makes_the_case_theirs(api_for, client_for, web_engine):
    api = api_for()
    data = {k: ("true" if v == "y" else v) for k, v in APPLICATION.items()}
    data["floor_area"], data["seating"] = 80, 40  # numbers may be sent as JSON numbers
    response = api.start({"process": "open_restaurant", "applicant": "zhangsan", "data": data})
    assert response.status_code == 201, response.get_json()
    cid = response.get_json()["case_id"]
    case = api.get(f"/api/v1/cases/{cid}").get_json()
    assert case["started_by"] == "zhangsan"
    assert case["data"]["floor_area"] == 80 and case["data"]["legal_rep_name"] == "张三"
    history = api.get(f"/api/v1/cases/{cid}/history").get_json()["events"]
    assert [e["actor"] for e in history if e["type"] in ("case_started", "work_item_completed")] == ["api:hotline"] * 2
    # a completion's process and ordinal are stored only when not implied; the API gives them in full
    (completed,) = [e for e in history if e["type"] == "work_item_completed"]
    assert completed["data"]["process_id"] == "open_restaurant" and completed["data"]["ordinal"] == 0
    # The applicant sees it among his cases on the web; another applicant does not.
    assert client_for("zhangsan").get(f"/apply/cases/{cid}").status_code == 200
    assert client_for("canyin").get(f"/apply/cases/{cid}").status_code == 403


def test_applicant_must_be_an_applicant_account(api_for, web_engine):
    api = api_for()
    for who in ("nobody", "shichang"):
        body = problem(api.start({"process": "dept_query", "applicant": who, "data": {"order_id": "A-1"}},
                                 key=f"k-{who}"), 422, "validation-failed")
        assert "/applicant" in pointers(body)
    assert case_ids(web_engine) == []


def test_start_form_errors_name_each_field_and_leave_nothing(api_for, web_engine):
    api = api_for()
    data = {**INTAKE, "channel": "fax", "contact_name": "", "credit_code": "123", "favourite_colour": "red"}
    body = problem(api.start({"process": "enterprise_request", "data": data}), 422, "validation-failed")
    errors = pointers(body)
    assert errors["/data/channel"] == "请选择列表中的一项"
    assert errors["/data/contact_name"] == "此项为必填项"
    assert "18" in errors["/data/credit_code"]
    assert "favourite_colour" in errors["/data"]
    assert case_ids(web_engine) == []
    # A process without a form at its start takes no data.
    ok = api.start({"process": "dept_query", "data": {"order_id": "Q-1"}}, key="other")
    assert ok.status_code == 201


def test_messages_reach_the_one_waiting_case(api_for, web_engine):
    api = api_for()
    one = api.start({"process": "dept_query", "business_key": "Q-1", "data": {"order_id": "A-1"}}, key="1")
    two = api.start({"process": "dept_query", "data": {"order_id": "A-2"}}, key="2")
    dup = [api.start({"process": "dept_query", "data": {"order_id": "SAME"}}, key=k) for k in ("3", "4")]
    assert all(r.status_code == 201 for r in (one, two, *dup))
    case = api.get(f"/api/v1/cases/{two.get_json()['case_id']}").get_json()
    assert case["waiting_messages"] == [{"message": "dept_reply", "correlation": {"order_id": "A-2"}}]

    reply = api.deliver({"message": "dept_reply", "correlation": {"order_id": "A-2"}, "payload": {"status": "已办结"}})
    assert reply.status_code == 200 and reply.get_json()["case_id"] == two.get_json()["case_id"]
    assert [w["task_spec"] for w in reply.get_json()["opened_work_items"]] == ["finish"]
    by_key = api.deliver({"message": "dept_reply", "correlation": {"business_key": "Q-1"}, "payload": {}})
    assert by_key.get_json()["case_id"] == one.get_json()["case_id"]

    problem(api.deliver({"message": "dept_reply", "correlation": {"order_id": "A-404"}}), 404, "not-found")
    problem(api.deliver({"message": "no_such_message", "correlation": {"order_id": "A-1"}}), 404, "not-found")
    detail = problem(api.deliver({"message": "dept_reply", "correlation": {"order_id": "SAME"}}), 409, "conflict")["detail"]
    assert "2 个案件" in detail
    # A reply bigger than a case may hold (256 KB of data) is refused before anything is delivered.
    body = problem(api.deliver({"message": "dept_reply", "correlation": {"order_id": "A-1"},
                                "payload": {"big": "x" * 300_000}}), 422, "validation-failed")
    assert "256 KB" in pointers(body)["/payload"]
    assert api.get(f"/api/v1/cases/{one.get_json()['case_id']}").get_json()["status"] == "running"


def test_history_pages_follow_next(api_for, web_engine):
    api = api_for()
    cid = api.start(WORK_ORDER).get_json()["case_id"]
    everything = api.get(f"/api/v1/cases/{cid}/history?limit=200").get_json()
    assert everything["next"] is None
    seen, url = [], f"/api/v1/cases/{cid}/history?limit=2"
    while url:
        page = api.get(url).get_json()
        assert len(page["events"]) <= 2
        seen += page["events"]
        url = page["next"]
    assert [e["seq"] for e in seen] == list(range(1, len(web_engine.history(cid)) + 1)) and len(seen) > 2
    assert seen == everything["events"]
    for bad in ("limit=0", "limit=201", "limit=x", "after=-1", "limit=1e3"):
        body = problem(api.get(f"/api/v1/cases/{cid}/history?{bad}"), 400, "malformed-request")
        assert bad.split("=")[0] in pointers(body)


def test_unknown_cases_are_404(api_for):
    api = api_for()
    problem(api.get("/api/v1/cases/999"), 404, "not-found")
    problem(api.get("/api/v1/cases/999/history"), 404, "not-found")
    problem(api.get(f"/api/v1/cases/{2**70}"), 404, "not-found")
    problem(api.get("/api/v1/cases/abc"), 404, "not-found")


def test_a_case_started_without_a_title_is_named_after_whom_it_is_for(api_for, web_engine):
    """Like a start from the web: the process name and the enterprise's name, not the bare process name."""
    hotline = api_for("hotline12345", processes=["enterprise_request"])
    untitled = {k: v for k, v in WORK_ORDER.items() if k != "title"}
    cid = hotline.start(untitled, key="untitled-1").get_json()["case_id"]
    titled = hotline.start(WORK_ORDER, key="titled-1").get_json()["case_id"]
    with web_engine.db.reader.connect() as conn:
        titles = {c: case_store.case_row(conn, c).title for c in (cid, titled)}
        inbox = {r.case_id: r.title for r in case_store.query_work_items(conn)}
    assert titles[cid].endswith("：宁河区某食品有限公司") and titles[cid] != "宁河区某食品有限公司"
    assert inbox[cid] == titles[cid]
    assert titles[titled] == f"12345 工单 {ORDER_NO}"  # a given title is kept


def test_a_12345_work_order_out_of_scope_is_refused_with_the_reason(api_for):
    hotline = api_for("hotline12345", processes=["enterprise_request"])
    order = {**WORK_ORDER, "business_key": "12345-20250926-0002",
             "data": {**INTAKE, "work_order_no": "12345-20250926-0002",
                      "request_summary": "我公司就拖欠货款已向法院起诉，请政府出面督促法院尽快判决。"}}
    started = hotline.start(order, key="12345-20250926-0002#1")
    assert started.status_code == 201, started.get_json()
    cid = started.get_json()["case_id"]
    case = hotline.get(f"/api/v1/cases/{cid}").get_json()
    assert case["status"] == "completed" and case["work_items"] == []
    events = hotline.get(f"/api/v1/cases/{cid}/history?limit=200").get_json()["events"]
    (refused,) = [e for e in events if e["type"] == "message_sent"]
    assert "涉法涉诉" in refused["data"]["payload"]["payload"]["refusal_reason"]

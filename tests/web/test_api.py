"""The integration API over HTTP: every endpoint, the 12345 escalation example end to end, idempotent
starts (also under concurrent retries on SQLite and PostgreSQL), malformed bodies, wrong tokens,
scopes and process restrictions, problem details on every error, the OpenAPI document and its page,
and the api-client commands."""
from __future__ import annotations

import json
import threading

import pytest
from openapi_spec_validator import validate as validate_openapi

from yijianshi.cli.main import main
from yijianshi.engine.access.actors import Actor
from yijianshi.storage import case_store
from tests.conftest import FIXTURES
from tests.web.conftest import ROOT, build_app
from tests.web.helpers import APPLICATION
from yijianshi.web.services import services

ESCALATION = ROOT / "processes" / "enterprise_request"
ORDER_NO = "12345-20250926-0001"
INTAKE = {"channel": "hotline_12345", "work_order_no": ORDER_NO, "enterprise_name": "宁河区某食品有限公司",
          "credit_code": "91120221MA05TEQ0A0", "contact_name": "李四", "contact_phone": "13800000000",
          "grid_area": "芦台街道", "request_category": "factor",
          "request_summary": "扩建厂房用电增容申请迟迟未获批复，影响投产。"}
WORK_ORDER = {"process": "enterprise_request", "business_key": ORDER_NO, "title": f"12345 工单 {ORDER_NO}",
              "data": INTAKE}
STREET = Actor("staff1", frozenset({"street"}))
ALL_SCOPES = ["cases:start", "cases:read", "messages:deliver"]
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def make_api_app(engine, tmp_path):
    engine.deploy([ESCALATION])
    engine.deploy([FIXTURES / "messages.bpmn"])
    return build_app(engine, tmp_path)


@pytest.fixture
def api_app(web_engine, tmp_path):
    return make_api_app(web_engine, tmp_path)


class Api:
    """An HTTP client holding one API client's bearer token."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token
        self.http = app.test_client()

    def headers(self, extra: dict | None = None) -> dict:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**out, **(extra or {})}

    def start(self, body, key: str | None = "key-1", **kw):
        extra = {"Idempotency-Key": key} if key is not None else {}
        return self.http.post("/api/v1/cases", json=body, headers=self.headers(extra), **kw)

    def deliver(self, body):
        return self.http.post("/api/v1/messages", json=body, headers=self.headers())

    def get(self, url: str):
        return self.http.get(url, headers=self.headers())


@pytest.fixture
def api_for(api_app):
    def make(name: str = "hotline", scopes=tuple(ALL_SCOPES), processes=()) -> Api:
        with api_app.app_context():
            _client, token = services().api_clients.create(name, list(scopes), list(processes))
        return Api(api_app, token)
    return make


def problem(response, status: int, slug: str | None = None) -> dict:
    """Assert an RFC 9457 problem document of `status` and return it."""
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status and body["title"] and body["detail"].strip()
    assert body["instance"] == response.request.path
    if slug is not None:
        assert body["type"] == f"/api/docs#problem-{slug}"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "File \"" not in text
    return body


def pointers(body: dict) -> dict[str, str]:
    return {e.get("pointer") or e.get("header") or e.get("parameter"): e["detail"] for e in body.get("errors", [])}


def case_ids(engine) -> list[int]:
    with engine.db.reader.connect() as conn:
        return case_store.all_case_ids(conn)


def ready_item(engine, case_id: int, task_spec: str) -> str:
    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, case_id=case_id)
    return next(r.id for r in rows if r.task_spec == task_spec)


# -- the realistic example -------------------------------------------------------------------

def test_a_12345_work_order_escalates_and_the_platform_returns_its_visit(api_for, web_engine):
    """The 12345 platform files a work order into the 有需必应 pathway, the street answers it, and the
    platform's return visit is delivered by work-order number, all over HTTP."""
    hotline = api_for("hotline12345", processes=["enterprise_request"])
    started = hotline.start(WORK_ORDER, key=f"{ORDER_NO}#1")
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    cid = body["case_id"]
    assert started.headers["Location"] == f"/api/v1/cases/{cid}"
    assert [w["task_spec"] for w in body["opened_work_items"]] == ["level1"]  # intake filled by the start form

    case = hotline.get(f"/api/v1/cases/{cid}").get_json()
    assert case["process"]["key"] == "enterprise_request" and case["business_key"] == ORDER_NO
    assert case["started_by"] == "api:hotline12345" and case["status"] == "running"
    (level1,) = case["work_items"]
    assert level1["departments"] == [{"code": "street", "name": "街道（乡镇）"}]
    assert level1["due_at"] and level1["warning_at"] and level1["due_unresolved"] is False
    assert case["data"]["request_summary"] == INTAKE["request_summary"]
    assert case["waiting_messages"] == []

    web_engine.cases.complete_work_item(level1["id"], {"l1_outcome": "resolved", "l1_answer": "已协调供电公司"}, STREET)
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


# -- starting cases --------------------------------------------------------------------------

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


def test_idempotency_key_replays_the_first_response(api_for, web_engine):
    api = api_for()
    first = api.start(WORK_ORDER, key="wo-1")
    again = api.start(WORK_ORDER, key="wo-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert len(case_ids(web_engine)) == 1
    # The same key with another body is refused; another key starts another case.
    changed = {**WORK_ORDER, "title": "另一工单"}
    body = problem(api.start(changed, key="wo-1"), 422, "idempotency-key-reused")
    assert "Idempotency-Key" in pointers(body)
    assert api.start(changed, key="wo-2").status_code == 201
    # Keys belong to a client: another client's same key is its own request.
    assert api_for("other").start(WORK_ORDER, key="wo-1").get_json()["case_id"] not in (first.get_json()["case_id"],)
    assert len(case_ids(web_engine)) == 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_retries_start_one_case(backend, request, tmp_path):
    engine = request.getfixturevalue("web_engine" if backend == "sqlite" else "pg_web_engine")
    app = make_api_app(engine, tmp_path)
    with app.app_context():
        _client, token = services().api_clients.create("retrying", ["cases:start"])
    threads, results, gate = 6, [], threading.Barrier(6)

    def retry():
        http = app.test_client()
        gate.wait()
        r = http.post("/api/v1/cases", json=WORK_ORDER,
                      headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same-request"})
        results.append((r.status_code, r.get_json()))

    workers = [threading.Thread(target=retry) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert len(results) == threads
    assert {status for status, _ in results} == {201}, results
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert case_ids(engine) == [results[0][1]["case_id"]]


def test_a_retry_that_loses_the_insert_race_replays_the_winner(api_for, web_engine, monkeypatch):
    """The retry looked the key up before the first request committed: its own case is rolled back
    when recording the key fails, and it answers with the first outcome."""
    from yijianshi.engine.cases.idempotent_start import IdempotentStarts

    api = api_for()
    first = api.start(WORK_ORDER, key="raced")
    real = IdempotentStarts._recorded
    calls = []

    def late_lookup(self, client, key, print_):
        calls.append(key)
        return None if len(calls) == 1 else real(self, client, key, print_)

    monkeypatch.setattr(IdempotentStarts, "_recorded", late_lookup)
    again = api.start(WORK_ORDER, key="raced")
    assert len(calls) == 2  # looked up, started, failed to record, looked up again
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert case_ids(web_engine) == [first.get_json()["case_id"]]
    with web_engine.db.reader.connect() as conn:
        assert case_store.count_work_items(conn) == 1  # the loser's work items went with its case


def test_missing_or_bad_idempotency_key(api_for, web_engine):
    api = api_for()
    body = problem(api.start(WORK_ORDER, key=None), 400, "malformed-request")
    assert "Idempotency-Key" in pointers(body)
    problem(api.start(WORK_ORDER, key="has space"), 400, "malformed-request")
    problem(api.start(WORK_ORDER, key="x" * 256), 400, "malformed-request")
    assert case_ids(web_engine) == []


# -- malformed bodies ------------------------------------------------------------------------

def _raw_start(api: Api, data: bytes | str, content_type: str | None = "application/json"):
    headers = api.headers({"Idempotency-Key": "raw"})
    if content_type:
        headers["Content-Type"] = content_type
    return api.http.post("/api/v1/cases", data=data, headers=headers)


@pytest.mark.parametrize("data, content_type, status, slug", [
    ("{not json", "application/json", 400, "malformed-request"),
    ("", "application/json", 400, "malformed-request"),
    ('{"process": NaN}', "application/json", 400, "malformed-request"),
    (b'{"process": "\xff"}', "application/json", 400, "malformed-request"),
    ('{"process": "a\\ud800"}', "application/json", 400, "malformed-request"),
    ("[" * 100_000 + "]" * 100_000, "application/json", 400, "malformed-request"),
    ('{"process": "enterprise_request"}', "text/plain", 415, "unsupported-media-type"),
    ("process=enterprise_request", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    ('{"process": "enterprise_request"}', None, 415, "unsupported-media-type"),
    ("[1, 2]", "application/json", 422, "validation-failed"),
    ('"enterprise_request"', "application/json", 422, "validation-failed"),
])
def test_malformed_bodies(api_for, web_engine, data, content_type, status, slug):
    problem(_raw_start(api_for(), data, content_type), status, slug)
    assert case_ids(web_engine) == []


def test_huge_body_is_refused_before_reading(api_for, web_engine):
    body = json.dumps({"process": "enterprise_request", "data": {"request_summary": "长" * 400_000}})
    detail = problem(_raw_start(api_for(), body), 413, "payload-too-large")["detail"]
    assert "512 KB" in detail
    assert case_ids(web_engine) == []


@pytest.mark.parametrize("body, expected", [
    ({}, {"/process": "此项为必填项。"}),
    ({"process": 7}, {"/process": "类型应为字符串。"}),
    ({"process": "enterprise_request", "data": []}, {"/data": "类型应为对象。"}),
    ({"process": "enterprise_request", "data": {"channel": {"x": 1}}}, {"/data/channel": None}),
    ({"process": "enterprise_request", "business_key": "a\u0000b"}, {"/business_key": None}),
    ({"process": "enterprise_request", "title": ""}, {"/title": "长度不能少于 1 个字符。"}),
    ({"process": "enterprise_request", "surprise": True}, {"/surprise": "不允许的字段。"}),
    ({"process": "no_such_process"}, {"/process": "流程定义“no_such_process”尚未部署。"}),
    ({"process": "bad key!"}, {"/process": None}),
])
def test_wrong_fields_are_422_with_pointers(api_for, web_engine, body, expected):
    errors = pointers(problem(api_for().start(body), 422, "validation-failed"))
    for where, message in expected.items():
        assert where in errors, errors
        if message is not None:
            assert errors[where] == message
    assert case_ids(web_engine) == []


@pytest.mark.parametrize("body, where", [
    ({"correlation": {"order_id": "A"}}, "/message"),
    ({"message": "dept_reply"}, "/correlation"),
    ({"message": "dept_reply", "correlation": {}}, "/correlation"),
    ({"message": "dept_reply", "correlation": {"order_id": ["A"]}}, "/correlation/order_id"),
    ({"message": "dept_reply", "correlation": {"order_id": "A"}, "payload": {"_secret": 1}}, "/payload/_secret"),
    ({"message": "dept_reply", "correlation": {"order_id": "A"}, "payload": "yes"}, "/payload"),
])
def test_malformed_messages(api_for, body, where):
    assert where in pointers(problem(api_for().deliver(body), 422, "validation-failed"))


# -- messages --------------------------------------------------------------------------------

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


# -- reading ---------------------------------------------------------------------------------

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


# -- tokens, scopes, processes ---------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer yjs_wrong", "Token abc",
                                    "Bearer " + "x" * 5000])
def test_missing_or_wrong_tokens_are_401(api_for, api_app, header, web_engine):
    api_for()  # a client exists; these requests do not carry its token
    headers = {"Idempotency-Key": "k"} if header is None else {"Idempotency-Key": "k", "Authorization": header}
    client = api_app.test_client()
    for response in (client.post("/api/v1/cases", json=WORK_ORDER, headers=headers),
                     client.get("/api/v1/cases/1", headers=headers),
                     client.get("/api/v1/cases/1/history", headers=headers),
                     client.post("/api/v1/messages", json={"message": "m", "correlation": {"k": "v"}}, headers=headers)):
        problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert case_ids(web_engine) == []


def test_revoked_token_is_refused_at_once(api_for, api_app, web_engine):
    api = api_for("departing")
    assert api.start(WORK_ORDER).status_code == 201
    with api_app.app_context():
        services().api_clients.revoke("departing")
    detail = problem(api.get("/api/v1/cases/1"), 401, "unauthorized")["detail"]
    assert "吊销" in detail
    problem(api.start(WORK_ORDER, key="after-revoke"), 401, "unauthorized")
    assert len(case_ids(web_engine)) == 1


def test_scopes_are_enforced(api_for, web_engine):
    reader = api_for("reader", scopes=["cases:read"])
    starter = api_for("starter", scopes=["cases:start"])
    problem(reader.start(WORK_ORDER), 403, "forbidden")
    problem(reader.deliver({"message": "dept_reply", "correlation": {"order_id": "A"}}), 403, "forbidden")
    cid = starter.start(WORK_ORDER).get_json()["case_id"]
    detail = problem(starter.get(f"/api/v1/cases/{cid}"), 403, "forbidden")["detail"]
    assert "cases:read" in detail
    problem(starter.get(f"/api/v1/cases/{cid}/history"), 403, "forbidden")
    assert reader.get(f"/api/v1/cases/{cid}").status_code == 200


def test_processes_are_enforced(api_for, web_engine):
    everything = api_for("everything")
    queries = api_for("queries", processes=["dept_query"])
    problem(queries.start(WORK_ORDER), 403, "forbidden")
    assert case_ids(web_engine) == []
    escalation = everything.start(WORK_ORDER).get_json()["case_id"]
    query = queries.start({"process": "dept_query", "data": {"order_id": "P-1"}}).get_json()["case_id"]
    problem(queries.get(f"/api/v1/cases/{escalation}"), 403, "forbidden")
    problem(queries.get(f"/api/v1/cases/{escalation}/history"), 403, "forbidden")
    assert queries.get(f"/api/v1/cases/{query}").status_code == 200
    # Replies only reach cases of the client's processes.
    escalations_only = api_for("escalations", processes=["enterprise_request"])
    problem(escalations_only.deliver({"message": "dept_reply", "correlation": {"order_id": "P-1"}}), 403, "forbidden")
    assert queries.deliver({"message": "dept_reply", "correlation": {"order_id": "P-1"}}).status_code == 200


# -- every error is a problem ----------------------------------------------------------------

def test_unknown_routes_and_methods_under_api_are_problems(api_for, api_app):
    api = api_for()
    problem(api.get("/api/v2/cases"), 404, "not-found")
    problem(api.get("/api"), 404, "not-found")
    response = api.http.delete("/api/v1/cases/1", headers=api.headers())
    problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]
    problem(api.http.get("/api/v1/messages", headers=api.headers()), 405, "method-not-allowed")
    # Outside /api the pages stay pages.
    page = api_app.test_client().get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_unexpected_errors_are_500_problems_without_details(api_for, monkeypatch):
    api = api_for()
    cid = api.start(WORK_ORDER).get_json()["case_id"]

    def explode(*_args, **_kwargs):
        raise RuntimeError("connection string postgres://secret@db")

    monkeypatch.setattr("yijianshi.web.api.routes.case_document", explode)
    response = api.get(f"/api/v1/cases/{cid}")
    body = problem(response, 500, "internal-error")
    assert "secret" not in response.get_data(as_text=True) and "RuntimeError" not in body["detail"]


def test_no_csrf_token_is_needed_and_no_cookie_is_set(api_for):
    api = api_for()
    response = api.start(WORK_ORDER)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


# -- the document ----------------------------------------------------------------------------

def test_openapi_document_is_valid_and_covers_every_route(api_app):
    http = api_app.test_client()
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "/api/v1"}]
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in api_app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document":
            path = rule.rule.removeprefix("/api/v1").replace("<int:case_id>", "{case_id}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "Client token from `yijianshi api-client create`."}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert "default" in op["responses"] and op["security"]


def test_docs_page_renders_the_document_without_scripts(api_app):
    page = api_app.test_client().get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for anchor in ("op-startCase", "op-getCase", "op-getCaseHistory", "op-deliverMessage",
                   "problem-validation-failed", "problem-idempotency-key-reused", "schema-StartCaseRequest"):
        assert f'id="{anchor}"' in text
    assert "<script>" not in text and "https://" not in text.split("</header>", 1)[1].split("<pre", 1)[0]


# -- the command line ------------------------------------------------------------------------

def test_api_client_commands(web_engine, api_app, capsys):
    url = str(web_engine.db.url)
    assert main(["--db", url, "api-client", "create", "bureau", "--scope", "cases:read",
                 "--process", "enterprise_request"]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert token.startswith("yjs_") and len(token) > 40
    assert main(["--db", url, "api-client", "list"]) == 0
    listing = capsys.readouterr().out
    assert "bureau" in listing and "cases:read" in listing and "enterprise_request" in listing
    assert token not in listing
    http = api_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    problem(http.get("/api/v1/cases/1", headers=auth), 404, "not-found")  # authenticated, no such case
    assert main(["--db", url, "api-client", "create", "bureau", "--scope", "cases:read"]) == 1
    assert "已存在" in capsys.readouterr().err
    assert main(["--db", url, "api-client", "revoke", "bureau"]) == 0
    capsys.readouterr()
    problem(http.get("/api/v1/cases/1", headers=auth), 401, "unauthorized")
    assert main(["--db", url, "api-client", "revoke", "nobody"]) == 1
    assert "不存在" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--db", url, "api-client", "create", "x", "--scope", "cases:everything"])

"""What the integration-API tests share: an app with the 12345 escalation and message processes
deployed, a client holding one API client's token, and checks of problem documents."""
from __future__ import annotations

from yijianshi.engine.access.actors import Actor
from yijianshi.storage import case_store
from tests.conftest import FIXTURES
from tests.web.conftest import ROOT, build_app
from yijianshi.web.services import services

ESCALATION = ROOT / "processes" / "enterprise_request"
ORDER_NO = "12345-20250926-0001"
INTAKE = {"channel": "hotline_12345", "work_order_no": ORDER_NO, "enterprise_name": "宁河区某食品有限公司",
          "credit_code": "91120221MA05TEQ0A0", "contact_name": "李四", "contact_phone": "13800000000",
          "grid_area": "东城街道", "enterprise_address": "东城街道人民路 18 号", "request_category": "factor",
          "request_summary": "扩建厂房用电增容申请迟迟未获批复，影响投产。"}
WORK_ORDER = {"process": "enterprise_request", "business_key": ORDER_NO, "title": f"12345 工单 {ORDER_NO}",
              "data": INTAKE}
STREET = Actor("staff1", frozenset({"street", "unit:dongcheng_1"}))  # 为企服务 staff of the address's 片区
ALL_SCOPES = ["cases:start", "cases:read", "messages:deliver"]
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def make_api_app(engine, tmp_path):
    engine.deploy([ESCALATION])
    engine.deploy([FIXTURES / "messages.bpmn"])
    return build_app(engine, tmp_path)


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


def client_maker(api_app):
    """What the `api_for` fixture gives: make an API client (all scopes unless told) and an Api with its token."""
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

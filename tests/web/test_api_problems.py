"""Problem details (RFC 9457) on every integration-API error: malformed and oversized bodies, wrong
fields with JSON pointers, unknown routes and methods, unexpected errors; no CSRF token or cookie."""
from __future__ import annotations

import json

import pytest

from tests.web.api_support import Api, case_ids, pointers, problem, WORK_ORDER


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

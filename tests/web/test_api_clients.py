"""Integration API clients: missing, wrong and revoked tokens, scopes and process restrictions, and
the api-client commands."""
from __future__ import annotations

import pytest

from yijianshi.cli.main import main
from yijianshi.web.services import services
from tests.web.api_support import case_ids, problem, WORK_ORDER


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

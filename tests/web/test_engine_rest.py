"""The Camunda 7 engine-rest subset, driven by the unmodified PyPI clients against the app on a real
HTTP server: camunda-external-task-client-python3 (a worker completing a service task, failures with
retries down to an incident, a BPMN error caught by an error boundary event) and pycamunda (start
by key, correlate a message, list, claim and complete a user task); plus malformed bodies, wrong
credentials and two workers racing for the same tasks (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

import pycamunda.message
import pycamunda.processdef
import pycamunda.task
import pytest
import requests
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task_worker import ExternalTaskWorker
from requests.auth import HTTPBasicAuth
from sqlalchemy import select

from yijianshi.engine.access.api_clients import ApiClientService
from yijianshi.engine.cases.failures import stuck_cases
from yijianshi.storage import case_store
from yijianshi.storage.tables import WorkItem
from tests.conftest import FIXTURES
from tests.web.test_browser import serving
from tests.web.conftest import Client, build_app
from yijianshi.web.services import services

SCOPES = ["cases:start", "messages:deliver", "external-tasks:work", "tasks:work"]
FAST = {"maxTasks": 1, "lockDuration": 60_000, "asyncResponseTimeout": 500, "httpTimeoutMillis": 10_000,
        "sleepSeconds": 0}


@pytest.fixture
def rest(engine, tmp_path):
    """(engine-rest base URL, client name, token, engine) with the Camunda fixtures deployed."""
    engine.deploy([FIXTURES / "camunda" / "external_check.bpmn"])
    engine.deploy([FIXTURES / "camunda" / "message_approval.bpmn"])
    app = build_app(engine, tmp_path)
    with app.app_context():
        _client, token = services().api_clients.create("credit-worker", SCOPES)
    with serving(app) as base:
        yield f"{base}/engine-rest", "credit-worker", token, engine


def _ready(engine, case_id):
    t = WorkItem.__table__
    with engine.db.reader.connect() as conn:
        return sorted(conn.execute(select(t.c.task_spec).where(t.c.case_id == case_id, t.c.state == "ready")).scalars())


def _start(url, token, key="external_check", business_key="BK-7", **variables):
    response = requests.post(f"{url}/process-definition/key/{key}/start", headers={"Authorization": f"Bearer {token}"},
                             json={"businessKey": business_key,
                                   "variables": {k: {"value": v} for k, v in variables.items()}}, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def test_a_worker_subscribed_to_the_topic_completes_the_service_task(rest):
    url, name, token, engine = rest
    case_id = _start(url, token, applicant="张三", amount=1200)
    seen = []

    def handle(task):
        seen.append((task.get_variable("applicant"), task.get_variable("amount"), task.get_business_key(),
                     task.get_activity_id(), task.get_process_instance_id()))
        return task.complete({"score": 712, "verdict": "良好"})

    worker = ExternalTaskWorker("worker-1", url, {**FAST, "auth_basic": {"username": name, "password": token}})
    worker.fetch_and_execute(["credit-check"], handle)  # one round of what subscribe() loops
    assert seen == [("张三", 1200, "BK-7", "Activity_check", str(case_id))]
    assert _ready(engine, case_id) == ["Activity_issue"]
    data = engine.cases.workflow_of(case_id).get_next_task(spec_name="Activity_issue").data
    assert data["score"] == 712 and data["verdict"] == "良好"


def test_failures_count_retries_down_to_an_incident(rest):
    url, _name, token, engine = rest
    case_id = _start(url, token)
    client = ExternalTaskClient("worker-2", url, {**FAST, "auth_bearer": {"access_token": token}})
    [task] = client.fetch_and_lock(["credit-check"])
    assert task["retries"] is None
    assert client.failure(task["id"], "征信接口超时", "Timeout after 30s", retries=2, retry_timeout=0)
    [again] = client.fetch_and_lock(["credit-check"])
    assert again["id"] == task["id"] and again["retries"] == 2 and again["errorMessage"] == "征信接口超时"
    assert case_id not in [c.id for c in stuck_cases(engine)]
    assert client.failure(task["id"], "征信接口仍然超时", None, retries=0, retry_timeout=0)
    assert client.fetch_and_lock(["credit-check"]) == []  # an incident: no worker gets it any more
    assert case_id in [c.id for c in stuck_cases(engine)]
    listed = requests.get(f"{url}/external-task/{task['id']}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert listed.json()["retries"] == 0 and listed.json()["errorMessage"] == "征信接口仍然超时"


def test_a_bpmn_error_is_caught_by_the_error_boundary_event(rest):
    url, name, token, engine = rest
    case_id = _start(url, token)
    worker = ExternalTaskWorker("worker-3", url, {**FAST, "auth_basic": {"username": name, "password": token}})
    worker.fetch_and_execute(["credit-check"], lambda task: task.bpmn_error("CREDIT_REJECTED", "失信被执行人",
                                                                            {"reason": "失信"}))
    assert _ready(engine, case_id) == ["Activity_manual"]
    assert engine.cases.workflow_of(case_id).get_next_task(spec_name="Activity_manual").data["reason"] == "失信"


def test_pycamunda_starts_correlates_a_message_and_completes_a_user_task(rest):
    url, name, token, engine = rest
    auth = HTTPBasicAuth(name, token)

    def call(request):
        request.auth = auth
        return request()

    start = pycamunda.processdef.StartInstance(url, key="message_approval", business_key="HF-2025-01")
    start.add_variable("applicant", "李四")
    start.add_variable("reply_no", "HF-2025-01")
    instance = call(start)
    assert instance.business_key == "HF-2025-01" and not instance.suspended
    case_id = int(instance.id_)
    correlate = pycamunda.message.CorrelateSingle(url, "dept_approval_reply", business_key="HF-2025-01")
    correlate.add_correlation_key("reply_no", "HF-2025-01")
    correlate.add_process_variable("opinion", "同意")
    call(correlate)
    tasks = call(pycamunda.task.GetList(url, process_instance_id=str(case_id)))
    assert [(t.task_definition_key, t.name, t.assignee) for t in tasks] == [("Activity_approve", "审批", None)]
    call(pycamunda.task.Claim(url, tasks[0].id_, user_id="chuangkou"))
    [claimed] = call(pycamunda.task.GetList(url, assignee="chuangkou"))
    assert claimed.id_ == tasks[0].id_
    complete = pycamunda.task.Complete(url, tasks[0].id_)
    call(complete)
    data = engine.cases.workflow_of(case_id).data
    assert data["Event_reply_Response"]["opinion"] == "同意", data
    with engine.db.reader.connect() as conn:
        assert case_store.case_head(conn, case_id).status == "completed"


def test_pycamunda_correlates_by_a_process_variable_alone(rest):
    """No business key and no bpmn:correlationProperty in the model: Camunda's correlationKeys name a
    variable of the waiting case (issue #12, item 5)."""
    url, name, token, engine = rest
    engine.deploy([FIXTURES / "camunda" / "message_by_variable.bpmn"])
    auth = HTTPBasicAuth(name, token)

    def call(request):
        request.auth = auth
        return request()

    cases = {}
    for letter in ("HF-31", "HF-32"):
        cases[letter] = int(call(pycamunda.processdef.StartInstance(url, key="message_by_variable")).id_)
        [task] = call(pycamunda.task.GetList(url, process_instance_id=str(cases[letter])))
        call(pycamunda.task.Claim(url, task.id_, user_id="chuangkou"))
        complete = pycamunda.task.Complete(url, task.id_)
        complete.add_variable("letter_no", letter)
        call(complete)
    correlate = pycamunda.message.CorrelateSingle(url, "dept_reply_by_variable")
    correlate.add_correlation_key("letter_no", "HF-32")
    correlate.add_process_variable("reply", "同意")
    call(correlate)
    assert _ready(engine, cases["HF-32"]) == ["Activity_decide"]
    assert _ready(engine, cases["HF-31"]) == []


def _post(url, path, token, body=None, **kw):
    return requests.post(f"{url}{path}", headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})},
                         timeout=10, **({"json": body} if body is not None else {}), **kw)


def test_malformed_bodies_get_camundas_error_shape(rest):
    url, _name, token, _engine = rest
    cases = [
        ("/external-task/fetchAndLock", {"maxTasks": 1, "topics": []}, "workerId"),
        ("/external-task/fetchAndLock", {"workerId": "w", "topics": [{"topicName": "x"}]}, "lockDuration"),
        ("/external-task/fetchAndLock", {"workerId": "w", "maxTasks": "many", "topics": []}, "maxTasks"),
        ("/process-definition/key/external_check/start", {"variables": {"amount": {"value": "x", "type": "Integer"}}},
         "variables.amount"),
        ("/process-definition/key/external_check/start", {"variables": {"bad": 3}}, "variables.bad"),
        ("/message", {"messageName": "dept_approval_reply"}, "businessKey"),
    ]
    for path, body, named in cases:
        response = _post(url, path, token, body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["type"] == "InvalidRequestException" and named in response.json()["message"], response.text
    raw = _post(url, "/external-task/fetchAndLock", token, data="{not json", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and "JSON" in raw.json()["message"]
    missing = _post(url, "/external-task/nope/complete", token, {"workerId": "w"})
    assert missing.status_code == 404 and missing.json()["type"] == "InvalidRequestException"
    unknown = _post(url, "/process-definition/key/no_such_process/start", token, {})
    assert unknown.status_code == 404 and "no_such_process" in unknown.json()["message"]


def test_wrong_credentials_are_refused(rest):
    url, name, token, engine = rest
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "credit-check", "lockDuration": 1000}]}
    for headers in ({}, {"Authorization": "Bearer yjs_wrong"}, {"Authorization": "Basic !!!"}):
        response = requests.post(f"{url}/external-task/fetchAndLock", json=body, headers=headers, timeout=10)
        assert response.status_code == 401 and response.json()["type"] == "AuthenticationException"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    wrong_user = requests.post(f"{url}/external-task/fetchAndLock", json=body, auth=HTTPBasicAuth("someone", token),
                               timeout=10)
    assert wrong_user.status_code == 401
    with_basic = requests.post(f"{url}/external-task/fetchAndLock", json=body, auth=HTTPBasicAuth(name, token), timeout=10)
    assert with_basic.status_code == 200 and with_basic.json() == []
    # a client without the worker scope
    _c, reader = ApiClientService(engine.db, engine.clock).create("reader-only", ["cases:start"])
    refused = _post(url, "/external-task/fetchAndLock", reader, body)
    assert refused.status_code == 403 and refused.json()["type"] == "AuthorizationException"


def test_long_polling_returns_a_task_that_appears_while_waiting(rest):
    url, _name, token, _engine = rest
    client = ExternalTaskClient("poller", url, {**FAST, "asyncResponseTimeout": 5000,
                                                "auth_bearer": {"access_token": token}})
    got = []
    thread = threading.Thread(target=lambda: got.extend(client.fetch_and_lock(["credit-check"])))
    thread.start()
    _start(url, token, business_key="BK-late")
    thread.join(timeout=10)
    assert [t["businessKey"] for t in got] == ["BK-late"]


def test_two_workers_racing_never_lock_the_same_task(rest):
    url, _name, token, _engine = rest
    for i in range(6):
        _start(url, token, business_key=f"BK-{i}")
    results: dict[str, list[str]] = {}

    def work(worker: str):
        client = ExternalTaskClient(worker, url, {**FAST, "maxTasks": 2, "asyncResponseTimeout": 0,
                                                  "auth_bearer": {"access_token": token}})
        mine = []
        for _ in range(6):
            mine += [t["id"] for t in client.fetch_and_lock(["credit-check"])]
        results[worker] = mine

    threads = [threading.Thread(target=work, args=(f"racer-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    every = [tid for ids in results.values() for tid in ids]
    assert len(every) == 6 and len(set(every)) == 6, results


def test_an_incident_shows_on_the_admin_pages_and_a_retry_gives_the_worker_another_attempt(engine, tmp_path):
    engine.deploy([FIXTURES / "camunda" / "external_check.bpmn"])
    app = build_app(engine, tmp_path)
    with app.app_context():
        _client, token = services().api_clients.create("credit-worker", SCOPES)
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    started = http.post("/engine-rest/process-definition/key/external_check/start", json={}, headers=headers)
    case_id = int(started.get_json()["id"])
    fetch = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "credit-check", "lockDuration": 60000}]}
    [task] = http.post("/engine-rest/external-task/fetchAndLock", json=fetch, headers=headers).get_json()
    failed = http.post(f"/engine-rest/external-task/{task['id']}/failure", headers=headers,
                       json={"workerId": "w", "errorMessage": "征信接口停机", "retries": 0, "retryTimeout": 0})
    assert failed.status_code == 204
    admin = Client(app)
    admin.login("admin")
    assert f"/admin/cases/{case_id}/retry" in admin.page("/admin/cases")
    assert "征信接口停机" in admin.page(f"/admin/cases/{case_id}")
    assert "外部任务失败" in admin.page(f"/audit/cases/{case_id}")
    assert http.post("/engine-rest/external-task/fetchAndLock", json=fetch, headers=headers).get_json() == []
    admin.post(f"/admin/cases/{case_id}/retry")
    assert f"/admin/cases/{case_id}/retry" not in admin.page("/admin/cases")
    [again] = http.post("/engine-rest/external-task/fetchAndLock", json=fetch, headers=headers).get_json()
    assert again["id"] == task["id"] and again["retries"] == 1

"""Idempotent starts over the integration API: an Idempotency-Key replays the first response, also
under concurrent retries on SQLite and PostgreSQL and when a retry loses the insert race."""
from __future__ import annotations

import json
import threading

import pytest

from yijianshi.storage import case_store
from yijianshi.web.services import services
from tests.web.api_support import case_ids, make_api_app, pointers, problem, WORK_ORDER


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
    real = IdempotentStarts.recorded
    calls = []

    def late_lookup(self, client, key, print_):
        calls.append(key)
        return None if len(calls) == 1 else real(self, client, key, print_)

    monkeypatch.setattr(IdempotentStarts, "recorded", late_lookup)
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

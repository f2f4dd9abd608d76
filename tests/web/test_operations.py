"""Operations: /healthz (database and scheduler liveness), Prometheus /metrics (requests, open/warning/
overdue work, deadline lateness, scheduler leadership; gunicorn multi-process mode), and JSON log lines
that carry the case, work item and actor."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.request import urlopen

import pytest
from prometheus_client import REGISTRY

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.ops.structured_logs import JsonFormatter, configure_from
from yijianshi.engine.settings import Settings
from yijianshi.engine.runtime import Engine
from yijianshi.engine.deadlines.scheduler import LEASE_NAME, DeadlineScheduler, fire_due
from yijianshi.storage import deadline_store
from yijianshi.storage.database import Database
from tests.conftest import FIXTURES
from tests.web.conftest import ROOT, web_config, web_system
from tests.web.helpers import MARKET, accept, item_id, start
from yijianshi.web.app import create_app

work_item_url = "/inbox/items/<work_item_id>"


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


# -- /healthz ------------------------------------------------------------------------------------

def test_healthz_needs_a_scheduler_that_renewed_its_lease_recently(client_for, web_engine):
    http = client_for()
    missing = http.get("/healthz")
    assert missing.status_code == 503
    assert missing.get_json()["database"] == "ok"
    assert missing.get_json()["scheduler"]["status"] == "missing"

    scheduler = DeadlineScheduler(web_engine, holder="web-1:test")
    scheduler.start()
    try:
        healthy = http.get("/healthz")
        body = healthy.get_json()
        assert healthy.status_code == 200, body
        assert body["status"] == "ok" and body["scheduler"]["status"] == "active"
        assert body["scheduler"]["holder"] == "web-1:test" and body["scheduler"]["lease_expires_in_s"] > 0
    finally:
        scheduler.stop()
    stopped = http.get("/healthz")  # a clean stop gives the lease up at once
    assert stopped.status_code == 503 and stopped.get_json()["scheduler"]["status"] == "stale"


def test_healthz_tolerates_a_lapse_of_a_few_lease_periods_then_fails(client_for, web_engine, app):
    now = web_engine.clock.now()
    with web_engine.db.writer.begin() as conn:
        deadline_store.try_lead(conn, LEASE_NAME, "standalone:1", now, now + timedelta(seconds=5))
    http = client_for()
    assert http.get("/healthz").status_code == 200
    web_engine.clock.advance(seconds=5 + 14)  # expired 14 s ago: within the default 15 s grace
    assert http.get("/healthz").status_code == 200
    web_engine.clock.advance(seconds=2)
    late = http.get("/healthz")
    assert late.status_code == 503
    assert late.get_json()["scheduler"] | {"lease_expires_in_s": None} == {
        "status": "stale", "holder": "standalone:1", "stale_after_s": 15.0, "lease_expires_in_s": None,
        "lease_expires_at": late.get_json()["scheduler"]["lease_expires_at"],
        "message": "no scheduler has renewed its lease for more than 15 s"}
    app.config["HEALTH_SCHEDULER_STALE_SECONDS"] = 60
    assert http.get("/healthz").status_code == 200
    app.config["HEALTH_SCHEDULER_STALE_SECONDS"] = 0  # the scheduler left out of the check
    relaxed = http.get("/healthz")
    assert relaxed.status_code == 200 and relaxed.get_json()["scheduler"] == {"status": "not checked"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    dead = Engine(Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"))
    app = create_app(web_system(dead, tmp_path), web_config())
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable: OperationalError"
    scrape = app.test_client().get("/metrics")  # the scrape itself still answers
    assert scrape.status_code == 200 and _metric(scrape.get_data(as_text=True), "yijianshi_database_up") == 0
    dead.db.dispose()


# -- /metrics ------------------------------------------------------------------------------------

def test_metrics_count_requests_and_open_warning_overdue_work(client_for, web_engine):
    first, second = start(web_engine), start(web_engine, enterprise_name="锦江面馆")
    accept(web_engine, first)
    accept(web_engine, second)
    market = client_for("shichang")
    before = _sample("yijianshi_http_requests_total", method="GET", endpoint="/inbox/", status="200")
    timed = REGISTRY.get_sample_value("yijianshi_http_request_duration_seconds_count",
                                      {"method": "GET", "endpoint": "/inbox/"}) or 0
    for _ in range(3):
        market.page("/inbox/")
    assert market.get("/inbox/items/no-such-item").status_code == 404

    text = market.get("/metrics").get_data(as_text=True)
    assert _metric(text, 'yijianshi_http_requests_total{endpoint="/inbox/",method="GET",status="200"}') == before + 3
    assert _metric(text, 'yijianshi_http_request_duration_seconds_count{endpoint="/inbox/",method="GET"}') == timed + 3
    assert 'endpoint="/inbox/items/<work_item_id>",method="GET",status="404"' in text
    ready = [r for case in (first, second) for r in _ready(web_engine, case)]
    assert _metric(text, "yijianshi_work_items_open") == len(ready) > 0
    assert _metric(text, "yijianshi_work_items_warning") == 0
    assert _metric(text, "yijianshi_work_items_overdue") == 0
    assert _metric(text, "yijianshi_database_up") == 1

    web_engine.clock.advance(days=6)  # the signboard reviews are overdue now, the food permits not yet
    overdue = sum(1 for r in ready if r.due_at is not None and r.due_at <= web_engine.clock.now())
    text = market.get("/metrics").get_data(as_text=True)
    assert overdue > 0 and _metric(text, "yijianshi_work_items_overdue") == overdue


def _ready(engine, case_id):
    from tests.web.helpers import ready

    return ready(engine, case_id)


def test_metrics_observe_deadline_lateness_and_scheduler_leadership(client_for, web_engine):
    web_engine.deploy([FIXTURES / "limits.bpmn"])
    case = web_engine.cases.start_case("limited_review", {"limit_days": 3}, MARKET)
    with web_engine.db.reader.connect() as conn:
        (warning, _overdue) = deadline_store.of_case(conn, case.id)
    count = _sample("yijianshi_deadline_lateness_seconds_count")
    total = _sample("yijianshi_deadline_lateness_seconds_sum")
    web_engine.clock.set(warning.due_at + timedelta(seconds=30))  # the scheduler was down for 30 s
    assert [f.fired for f in fire_due(web_engine)] == [True]
    assert _sample("yijianshi_deadline_lateness_seconds_count") == count + 1
    assert abs(_sample("yijianshi_deadline_lateness_seconds_sum") - total - 30) < 0.01
    assert _sample("yijianshi_deadline_lateness_seconds_bucket", le="30.0") == \
        _sample("yijianshi_deadline_lateness_seconds_bucket", le="10.0") + 1

    scheduler = DeadlineScheduler(web_engine, holder="metrics-test")
    assert scheduler.renew()
    try:
        text = client_for().get("/metrics").get_data(as_text=True)
        assert _metric(text, "yijianshi_scheduler_leader") == 1
        assert _metric(text, "yijianshi_scheduler_lease_held") == 1
        assert _metric(text, "yijianshi_scheduler_lease_expires_in_seconds") == 5
        assert _metric(text, 'yijianshi_deadlines{state="armed"}') == 1  # the overdue timer still waits
    finally:
        scheduler.stop()
    text = client_for().get("/metrics").get_data(as_text=True)
    assert _metric(text, "yijianshi_scheduler_leader") == 0
    assert _metric(text, "yijianshi_scheduler_lease_held") == 0


def test_metrics_under_gunicorn_sum_every_worker(tmp_path, sqlite_url):
    """PROMETHEUS_MULTIPROC_DIR + web/gunicorn_conf.py: whichever worker answers the scrape reports
    the requests that all workers answered."""
    db = Database(sqlite_url)
    db.upgrade()
    db.dispose()
    folder = tmp_path / "prom"
    folder.mkdir()
    (folder / "stale_counter_1.db").write_bytes(b"left over from an earlier run")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, YIJIANSHI_DATABASE_URL=sqlite_url, YIJIANSHI_HOME=str(tmp_path),
               YIJIANSHI_SECRET_KEY="k" * 32, PROMETHEUS_MULTIPROC_DIR=str(folder), YIJIANSHI_LOG_LEVEL="WARNING")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "-w", "3", "-b", f"127.0.0.1:{port}", "-c", "web/gunicorn_conf.py",
                               "--log-level", "warning", "yijianshi.web.wsgi:app"], cwd=ROOT, env=env, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(f"{base}/login").read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # Sequential requests may all land on one sync worker; batches of concurrent ones reach several.
        # Keep sending (a bounded number of batches) until at least two workers have answered.
        sent = 1
        served_by: set[str] = set()
        with ThreadPoolExecutor(max_workers=12) as pool:
            for _ in range(40):
                list(pool.map(lambda _: urlopen(f"{base}/login").read(), range(24)))
                sent += 24
                served_by = {f.name.split("_")[-1] for f in folder.glob("counter_*.db")}
                if len(served_by) >= 2:
                    break
        assert len(served_by) >= 2, served_by  # several workers answered ...
        text = urlopen(f"{base}/metrics").read().decode()
        # ... and whichever answers the scrape sums all their counts.
        assert _metric(text, 'yijianshi_http_requests_total{endpoint="/login",method="GET",status="200"}') == sent
        assert not (folder / "stale_counter_1.db").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# -- structured logs -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _keep_logging_as_it_was():
    """configure() changes the root logger of the process; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

def _capture():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("yijianshi")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    def stop():
        logger.removeHandler(handler)
        logger.setLevel(old)
    return lines, stop


def test_log_lines_are_json_with_case_work_item_and_actor(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    lines, stop = _capture()
    try:
        c = client_for("shichang")
        c.get(f"/inbox/items/{food}")
        done = c.post(f"/inbox/items/{food}", {"food_permit_approved": "y", "food_permit_no": "JY1"})
        assert done.status_code == 302
        web_engine.cases.cancel_case(case_id, Actor("admin", is_admin=True), "测试")
    finally:
        stop()
    logged = lines()
    for line in logged:
        assert {"time", "level", "logger", "message"} <= set(line)
    command = next(line for line in logged if line.get("work_item_id") == food)
    assert command["case_id"] == case_id and command["actor"] == "shichang"
    assert command["event"] == "work_item_completed" and command["logger"] == "yijianshi.cases"
    # the command's line also carries the request it ran in
    post = next(line for line in logged if line["logger"] == "yijianshi.web" and line["method"] == "POST"
                and line["path"] == f"/inbox/items/{food}")
    assert post["status"] == 302 and post["actor"] == "shichang" and post["endpoint"] == work_item_url
    assert command["request_id"] == post["request_id"]
    cancelled = next(line for line in logged if line.get("event") == "case_cancelled")
    assert cancelled["case_id"] == case_id and cancelled["actor"] == "admin" and "request_id" not in cancelled


def test_the_command_line_logs_json_with_the_case_id(sqlite_url, monkeypatch, capsys):
    from yijianshi.cli.main import main

    engine = Engine(Database(sqlite_url))
    engine.db.upgrade()
    engine.deploy([FIXTURES / "limits.bpmn"])
    engine.db.dispose()
    monkeypatch.setenv("YIJIANSHI_LOG_LEVEL", "INFO")
    assert main(["--db", sqlite_url, "start", "limited_review", "--data", '{"limit_days": 3}']) == 0
    out, err = capsys.readouterr()
    case_id = int(re.search(r"案件 (\d+)", out).group(1))
    started = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {"logger": "yijianshi.cases", "case_id": case_id, "actor": "cli", "event": "case_started",
            "message": "case started", "level": "INFO"}.items() <= started[-1].items()
    # SpiffWorkflow's line per task state change ("State changed to READY") is not written at INFO.
    assert not [line for line in started if line["logger"].startswith("spiff")], started
    check = Engine(Database(sqlite_url))
    from tests.conftest import check_every_case

    check_every_case(check)
    check.db.dispose()


def test_text_format_for_a_person_at_a_terminal(monkeypatch):
    stream = io.StringIO()
    settings = Settings.from_environ({"YIJIANSHI_LOG_FORMAT": "text"})
    configure_from(settings, "INFO", stream=stream)
    logging.getLogger("yijianshi.test").info("你好", extra={"case_id": 7})
    assert stream.getvalue().rstrip().endswith("INFO yijianshi.test 你好 case_id=7")

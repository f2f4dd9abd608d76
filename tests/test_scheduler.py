"""The APScheduler-driven deadline scheduler in real time: firing a deadline due a second or two
ahead, catching up after downtime, and exactly one active scheduler across processes with a standby
that takes over when the active one is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI, Clock, ControlledClock
from yijianshi.engine.runtime import Engine
from yijianshi.engine.deadlines.scheduler import LEASE_NAME, DeadlineScheduler
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store
from yijianshi.storage.database import Database
from tests.conftest import FIXTURES, check_every_case

DESK = Actor("desk", frozenset({"front_desk"}))


def _wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _real_engine(url: str) -> Engine:
    db = Database(url)
    db.upgrade()
    engine = Engine(db, Clock())
    engine.deploy([FIXTURES / "limits.bpmn"])
    return engine


def _fired_rows(engine, case_id):
    with engine.db.reader.connect() as conn:
        return deadline_store.of_case(conn, case_id, ("fired",))


def test_real_scheduler_fires_a_deadline_due_in_two_seconds(db_url):
    engine = _real_engine(db_url)
    scheduler = DeadlineScheduler(engine, tick_s=0.2)
    scheduler.start()
    try:
        assert scheduler.is_leader
        case = engine.cases.start_case("short_wait", {"wait": "PT2S"}, DESK)
        (armed,) = engine.cases.workflow_of(case.id).get_tasks(spec_name="pause")
        fired = _wait_for(lambda: _fired_rows(engine, case.id), timeout=8)
        assert fired, "the deadline did not fire"
        lateness = (fired[0].fired_at - fired[0].due_at).total_seconds()
        assert 0 <= lateness < 1.0, lateness
        with engine.db.reader.connect() as conn:
            assert [r.task_spec for r in case_store.query_work_items(conn, case_id=case.id)] == ["after_wait"]
    finally:
        scheduler.stop()
    check_every_case(engine)
    engine.db.dispose()


def test_scheduler_start_fires_what_was_missed_during_downtime(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    past = ControlledClock(datetime.now(SHANGHAI) - timedelta(days=30))
    offline = Engine(db, past)
    offline.deploy([FIXTURES / "limits.bpmn"])
    cases = [offline.cases.start_case("short_wait", {"wait": f"PT{i + 1}H"}, DESK).id for i in range(5)]
    engine = Engine(db, Clock())
    scheduler = DeadlineScheduler(engine, tick_s=0.2)
    scheduler.start()
    try:
        assert _wait_for(lambda: all(_fired_rows(engine, c) for c in cases), timeout=10)
    finally:
        scheduler.stop()
    for c in cases:
        assert len(_fired_rows(engine, c)) == 1
        assert sum(e.type == "deadline_fired" for e in engine.history(c)) == 1
    check_every_case(engine)


def test_only_one_scheduler_leads_and_a_standby_takes_over(sqlite_url):
    engine = _real_engine(sqlite_url)
    first = DeadlineScheduler(engine, lease_ttl_s=1.0, renew_every_s=0.2, holder="first")
    second = DeadlineScheduler(engine, lease_ttl_s=1.0, renew_every_s=0.2, holder="second")
    first.start()
    second.start()
    try:
        time.sleep(0.6)
        assert (first.is_leader, second.is_leader) == (True, False)
        first.halt()  # dies without releasing its lease
        started = time.monotonic()
        assert _wait_for(lambda: second.is_leader, timeout=5)
        assert time.monotonic() - started < 3
        case = engine.cases.start_case("short_wait", {"wait": "PT1S"}, DESK)
        assert _wait_for(lambda: _fired_rows(engine, case.id), timeout=6)
    finally:
        second.stop()
    check_every_case(engine)


def _lease_holder(engine):
    with engine.db.reader.connect() as conn:
        row = deadline_store.holder_of(conn, LEASE_NAME)
    if row is None or row.expires_at < datetime.now(SHANGHAI):
        return None
    return row.holder


def test_kill_9_of_the_active_scheduler_process(db_url):
    engine = _real_engine(db_url)
    exe = Path(sys.executable).with_name("yijianshi")
    procs = [subprocess.Popen([str(exe), "--db", db_url, "scheduler", "--lease-ttl", "2", "--tick", "0.2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
             for _ in range(2)]
    try:
        holder = _wait_for(lambda: _lease_holder(engine), timeout=20, step=0.2)
        assert holder, "no scheduler became active"
        pid = int(holder.split(":")[1])
        victim = next(p for p in procs if p.pid == pid)
        survivor = next(p for p in procs if p.pid != pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        new_holder = _wait_for(lambda: (h := _lease_holder(engine)) and h != holder and h, timeout=10, step=0.1)
        assert new_holder and int(new_holder.split(":")[1]) == survivor.pid
        assert time.monotonic() - killed_at < 5, "the standby took too long"
        case = engine.cases.start_case("short_wait", {"wait": "PT1S"}, DESK)
        fired = _wait_for(lambda: _fired_rows(engine, case.id), timeout=8)
        assert len(fired) == 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    check_every_case(engine)
    engine.db.dispose()

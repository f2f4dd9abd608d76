"""kill -9 in the middle of completions, 100 times, on SQLite and on PostgreSQL.

A warm child process (forked from the test, so it starts with the definitions and statements already
loaded, then opens its own connections) completes work items and starts cases in a loop, telling the
test through a pipe which command it is in. After a random 2–40 ms it is killed with SIGKILL. Then:
the case it was working on (and every case at the end) must be sound — its state loads, its ready
work items and open deadlines are what the state says, its status matches, its history chain
verifies, and re-executing its commands reproduces the state (engine/case_integrity.check_case) —
and the command it was killed in is either wholly there or wholly absent."""
from __future__ import annotations

import os
import random
import signal
import time

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.audit.integrity import check_case
from yijianshi.engine.errors import WorkItemUnavailable
from yijianshi.storage import case_store
from yijianshi.storage import integrity_store
from tests.conftest import ALL_GROUPS, deploy_fixtures

KILLS = 100
CLERK = Actor("crash_clerk", ALL_GROUPS, name="崩溃测试办事员")
SUBMISSIONS = {"apply": {"applicant_name": "张三", "amount": 10}, "deliver": {"delivered": True}}
APPROVAL = {"approved": True, "remark": "同意"}


def _child_loop(engine, out: int, seed: int) -> None:
    """Runs in the forked child until killed. Never returns."""
    try:
        engine.db.engine.dispose(close=False)  # own connections; the parent's stay untouched
        rng = random.Random(seed)
        while True:
            with engine.db.reader.connect() as conn:
                rows = case_store.query_work_items(conn, limit=30)
            if len(rows) < 10:
                os.write(out, b"s\n")
                engine.cases.start_case("parallel_review", {}, CLERK, title="崩溃测试")
                os.write(out, b"e\n")
                continue
            row = rng.choice(rows)
            os.write(out, f"c {row.case_id} {row.id}\n".encode())
            try:
                engine.cases.complete_work_item(row.id, SUBMISSIONS.get(row.task_spec, APPROVAL), CLERK)
            except WorkItemUnavailable:
                pass
            os.write(out, b"e\n")
    finally:
        os._exit(0)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def test_kill_9_in_the_middle_of_completions(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    for _ in range(3):  # warm: definitions loaded and statements compiled before the first fork
        engine.cases.start_case("parallel_review", {}, CLERK, title="崩溃测试")
    rng = random.Random(7)
    in_flight = committed = rolled_back = commands = 0
    started = time.perf_counter()
    for kill in range(KILLS):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child_loop(engine, write, kill)
        os.close(write)
        first = os.read(read, 65536)  # the child is connected and at work
        time.sleep(rng.uniform(0.0, 0.060))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        lines = (first.decode() + _read_all(read)).splitlines()
        commands += sum(1 for line in lines if line == "e")
        last = lines[-1] if lines else "e"
        touched = {int(line.split()[1]) for line in lines[-4:] if line.startswith("c ")}
        if last.startswith("c "):  # killed inside complete_work_item
            in_flight += 1
            _, case_id, item = last.split()
            with engine.db.reader.connect() as conn:
                state = integrity_store.work_item_states(conn).get(item)
                done = integrity_store.completion_counts(conn).get(item, 0)
            # All or nothing: completed with one event, or still ready with none.
            assert (state, done) in (("completed", 1), ("ready", 0), ("cancelled", 0)), (kill, state, done)
            committed += state == "completed"
            rolled_back += state == "ready"
        elif last == "s":
            in_flight += 1
        for case_id in touched:
            assert check_case(engine, case_id) == [], f"after kill {kill}"
    elapsed = time.perf_counter() - started

    with engine.db.reader.connect() as conn:
        case_ids = case_store.all_case_ids(conn)
        duplicates = [i for i, n in integrity_store.completion_counts(conn).items() if n > 1]
    failures = [p for cid in case_ids for p in check_case(engine, cid)]
    backend = engine.db.url.get_backend_name()
    print(f"\n[{backend}] {KILLS} kills in {elapsed:.1f} s: {in_flight} inside a command "
          f"({committed} completions committed, {rolled_back} rolled back), {commands} commands finished; "
          f"{len(case_ids)} cases checked, {len(failures)} failures, {len(duplicates)} duplicate completions")
    assert failures == [] and duplicates == []
    # The kills really land in the middle of commands, not only between them.
    assert in_flight >= KILLS // 2 and rolled_back > 0

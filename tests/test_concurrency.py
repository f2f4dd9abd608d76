"""Concurrency on SQLite and PostgreSQL, with 8 concurrent workers: each worker has its own Engine
(own connection pool and workflow cache, as separate processes would); one test uses real processes.

- Two or more clerks completing the same work item: exactly one succeeds, the others are told who
  completed it.
- Departments completing the parallel branches of one case at once: no completion is lost and the
  join fires exactly once (version conflicts are retried inside the engine, never shown)."""
from __future__ import annotations

import json
import multiprocessing
import threading

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.errors import WorkItemUnavailable
from yijianshi.engine.runtime import Engine
from yijianshi.storage.database import Database
from tests.conftest import FIXTURES, check_every_case, deploy_fixtures

WORKERS = 8
ADMIN = Actor("admin", frozenset(), is_admin=True)


def _engines(engine: Engine, n: int) -> list[Engine]:
    url = engine.db.url.render_as_string(hide_password=False)
    return [Engine(Database(url), ControlledClock()) for _ in range(n)]


def _run_threads(targets) -> None:
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        def run():
            barrier.wait()
            try:
                fn()
            except Exception as err:  # collected and re-raised in the test thread
                errors.append(err)
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]


def test_same_work_item_exactly_one_completion(engine):
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {}, ADMIN)
    step = engine.cases.complete_work_item(case.ready[0].id, {"applicant_name": "赵六"}, ADMIN)
    target = next(i.id for i in step.ready if i.task_spec == "dept_market")
    workers = _engines(engine, WORKERS)
    outcomes: dict[str, object] = {}

    def clerk(n: int, eng: Engine):
        actor = Actor(f"clerk{n}", frozenset({"market"}))

        def go():
            try:
                eng.cases.complete_work_item(target, {"approved": True, "remark": f"clerk{n}"}, actor)
                outcomes[actor.id] = "ok"
            except WorkItemUnavailable as err:
                outcomes[actor.id] = err
        return go

    _run_threads([clerk(n, e) for n, e in enumerate(workers)])
    winners = [k for k, v in outcomes.items() if v == "ok"]
    assert len(outcomes) == WORKERS and len(winners) == 1
    for loser, err in outcomes.items():
        if loser != winners[0]:
            assert f"已由 {winners[0]} 于" in str(err), str(err)
    completions = [e for e in engine.history(case.id) if e.type == "work_item_completed" and e.work_item_id == target]
    assert len(completions) == 1 and completions[0].actor == winners[0]
    data = engine.cases.workflow_of(case.id).get_tasks(spec_name="dept_market")[0].data
    assert data["remark"] == winners[0]
    for e in workers:
        e.db.dispose()


@pytest.mark.parametrize("rounds", [4])
def test_parallel_branches_no_lost_completion_and_one_join(engine, rounds):
    deploy_fixtures(engine, "parallel8.bpmn")
    workers = _engines(engine, WORKERS)
    for _ in range(rounds):
        case = engine.cases.start_case("parallel8", {}, ADMIN)
        branches = {i.task_spec: i.id for i in case.ready}
        assert len(branches) == WORKERS

        def dept(n: int, eng: Engine):
            actor = Actor(f"dept{n}", frozenset({f"d{n}"}))
            return lambda: eng.cases.complete_work_item(branches[f"dept_{n}"], {f"opinion_{n}": f"同意{n}"}, actor)

        _run_threads([dept(n, workers[n - 1]) for n in range(1, WORKERS + 1)])
        _assert_joined_once(engine, case.id)
    for e in workers:
        e.db.dispose()


def _assert_joined_once(engine: Engine, case_id: int) -> None:
    events = engine.history(case_id)
    completed = sorted(e.task_spec for e in events if e.type == "work_item_completed")
    assert completed == sorted(f"dept_{n}" for n in range(1, WORKERS + 1))
    finals = [e for e in events if e.type == "work_item_ready" and e.task_spec == "final"]
    assert len(finals) == 1, "the join must fire exactly once"
    wf = engine.cases.workflow_of(case_id)
    data = wf.get_tasks(spec_name="final")[0].data
    assert all(data[f"opinion_{n}"] == f"同意{n}" for n in range(1, WORKERS + 1))
    assert [s for s in (json.loads(e.data) for e in events if e.type == "case_started")]


def _process_worker(url: str, work_item_id: str, n: int, barrier, results) -> None:
    eng = Engine(Database(url), ControlledClock())
    actor = Actor(f"dept{n}", frozenset({f"d{n}"}))
    barrier.wait()
    try:
        eng.cases.complete_work_item(work_item_id, {f"opinion_{n}": f"同意{n}"}, actor)
        results.put((n, "ok"))
    except Exception as err:
        results.put((n, f"{type(err).__name__}: {err}"))
    finally:
        eng.db.dispose()


def test_parallel_branches_from_separate_processes(engine):
    deploy_fixtures(engine, "parallel8.bpmn")
    case = engine.cases.start_case("parallel8", {}, ADMIN)
    branches = {i.task_spec: i.id for i in case.ready}
    url = engine.db.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(url, branches[f"dept_{n}"], n, barrier, results))
             for n in range(1, WORKERS + 1)]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)
    assert outcomes == {n: "ok" for n in range(1, WORKERS + 1)}
    _assert_joined_once(engine, case.id)
    check_every_case(engine)


def test_fixture_has_eight_branches():
    text = (FIXTURES / "parallel8.bpmn").read_text(encoding="utf-8")
    assert text.count("<bpmn:userTask id=\"dept_") == WORKERS

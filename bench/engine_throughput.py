"""Engine throughput: the 6-user-task process (one form → 4 parallel department tasks → join →
final task) run to completion N times through the engine services on SQLite and on PostgreSQL, and
on raw in-memory SpiffWorkflow in the same run.

    python bench/engine_throughput.py [--cases N] [--skip-postgres]

Ends with the line ratio_sqlite_vs_raw=<float>."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.task import TaskState  # noqa: E402

from yijianshi.engine.access.actors import Actor  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.settings import Settings  # noqa: E402

DIAGRAM = ROOT / "tests" / "fixtures" / "parallel_review.bpmn"
CLERK = Actor("bench", frozenset({"front_desk", "market", "health", "fire", "tax"}))
APPLY = {"applicant_name": "张三", "id_number": "120101199001011239", "amount": "100"}
FORMS = {"apply": APPLY, "deliver": {"delivered": "true"}}
DEPT = {"approved": "true", "remark": "同意"}


def _raw_spec():
    parser = CamundaParser()
    parser.add_bpmn_file(str(DIAGRAM))
    return parser.get_spec("parallel_review"), parser.get_subprocess_specs("parallel_review")


def run_raw(spec, subs, n: int) -> float:
    """Seconds for n cases on SpiffWorkflow alone: no storage, no validation, no history."""
    t0 = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        while not wf.completed:
            for task in wf.get_tasks(state=TaskState.READY, manual=True):
                task.data.update(FORMS.get(task.task_spec.name, DEPT))
                task.run()
            wf.do_engine_steps()
    return time.perf_counter() - t0


class EngineRun:
    def __init__(self, url: str, home: str):
        self.system = System.build(Settings.at(home, url))
        self.system.db.upgrade()
        self.engine = self.system.engine
        self.engine.deploy([DIAGRAM])

    def run(self, n: int) -> float:
        """Seconds for n cases through the engine services (validation, locking, history, projection)."""
        cases = self.engine.cases
        t0 = time.perf_counter()
        for i in range(n):
            result = cases.start_case("parallel_review", {"n": i}, CLERK)
            ready = list(result.ready)
            while ready:
                item = ready.pop(0)
                result = cases.complete_work_item(item.id, FORMS.get(item.task_spec, DEPT), CLERK)
                ready.extend(result.ready)
            if result.status != "completed":
                raise SystemExit(f"case {result.id} did not complete: {result}")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.system.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5, help="raw and SQLite runs alternate in this many rounds")
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    n, rounds = args.cases, args.rounds
    per_round = max(1, n // rounds)
    print(f"engine_throughput: {per_round * rounds} cases of parallel_review (6 user tasks, 4 in parallel), "
          f"raw and SQLite interleaved in {rounds} rounds")
    spec, subs = _raw_spec()
    run_raw(spec, subs, 20)  # warm-up
    raw_s = sqlite_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = EngineRun(f"sqlite:///{tmp}/bench.sqlite3", tmp)
        sqlite.run(5)
        for _ in range(rounds):
            raw_s += run_raw(spec, subs, per_round)
            sqlite_s += sqlite.run(per_round)
        sqlite.close()
    total = per_round * rounds
    raw, lite = total / raw_s, total / sqlite_s
    print(f"raw_spiffworkflow_cases_per_s={raw:.1f}")
    print(f"engine_sqlite_cases_per_s={lite:.1f}")
    print(f"engine_sqlite_ms_per_case={1000 * sqlite_s / total:.2f}")
    if not args.skip_postgres:
        from yijianshi.storage.throwaway_postgres import throwaway_postgres

        with throwaway_postgres(durable=True) as url, tempfile.TemporaryDirectory() as tmp:
            pg = EngineRun(url, tmp)
            pg.run(5)
            pg_s = pg.run(total)
            pg.close()
        print(f"engine_postgresql_cases_per_s={total / pg_s:.1f}")
        print(f"ratio_postgresql_vs_raw={(total / pg_s) / raw:.3f}")
    print(f"ratio_sqlite_vs_raw={lite / raw:.3f}")


if __name__ == "__main__":
    main()

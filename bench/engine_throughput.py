"""Engine throughput: the 6-user-task process (one form → 4 parallel department tasks → join →
final task) run to completion N times through the engine services on SQLite and on PostgreSQL, and
on raw in-memory SpiffWorkflow in the same run.

Each database runs twice, on databases of their own: with the hot-path statements on the driver's
cursor (storage/prepared.py, `Database(prepared=True)`) and through plain `Connection.execute`
(`prepared=False`); the rounds alternate so that both see the same machine load.

    python bench/engine_throughput.py [--cases N] [--skip-postgres] [--inline-checkpoint]

Also prints bytes_per_case= (what a finished case occupies in SQLite, tables and indexes with the
history included) and round_trips_per_command_postgresql= (bench/wire_turns.py).

Ends with the line ratio_sqlite_vs_raw=<float> (the prepared SQLite figure)."""
from __future__ import annotations

import argparse
import shutil
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


MODES = {"prepared": True, "plain": False}
BACKGROUND_CHECKPOINT = True  # --inline-checkpoint: SQLite checkpoints in the COMMIT (storage/wal_checkpointer.py)


class EngineRun:
    def __init__(self, url: str, prepared: bool):
        self.home = tempfile.mkdtemp(prefix="yjs-bench-")
        self.system = System.build(Settings.at(self.home, url, prepared_statements=prepared,
                                               sqlite_background_checkpoint=BACKGROUND_CHECKPOINT))
        self.db = self.system.db
        self.db.upgrade()
        self.engine = self.system.engine
        self.engine.deploy([DIAGRAM])
        self.cpu_s = 0.0  # this process's CPU time in run(): less disturbed by a busy machine than wall time

    def run(self, n: int) -> float:
        """Seconds for n cases through the engine services (validation, locking, history, projection)."""
        cases = self.engine.cases
        c0 = time.process_time()
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
        self.cpu_s += time.process_time() - c0
        return time.perf_counter() - t0

    def close(self) -> None:
        self.system.close()
        shutil.rmtree(self.home, ignore_errors=True)


def _interleaved(make_url, modes, rounds: int, per_round: int, raw=None) -> tuple[dict, dict]:
    """Wall seconds per mode (and for raw SpiffWorkflow when given), the modes taking turns each
    round, and this process's CPU seconds per mode."""
    runs = {mode: EngineRun(make_url(mode), MODES[mode]) for mode in modes}
    seconds = dict.fromkeys([*modes, *(["raw"] if raw else [])], 0.0)
    try:
        for run in runs.values():
            run.run(5)  # warm-up: definitions cache, compiled statements, pool
            run.cpu_s = 0.0
        for r in range(rounds):
            if raw:
                seconds["raw"] += raw(per_round)
            order = modes if r % 2 == 0 else modes[::-1]
            for mode in order:
                seconds[mode] += runs[mode].run(per_round)
    finally:
        for run in runs.values():
            run.close()
    return seconds, {mode: run.cpu_s for mode, run in runs.items()}


def bytes_per_case(n: int = 100) -> tuple[float, dict[str, float]]:
    """Bytes a finished case occupies in a SQLite database, tables and indexes together (SQLite's
    dbstat: page bytes in use, growth over n cases), and the share of each table with its indexes."""
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "size.sqlite3"
        run = EngineRun(f"sqlite:///{path}", True)
        try:
            run.run(5)

            def used() -> dict[str, int]:
                with sqlite3.connect(path) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema"))
                    totals: dict[str, int] = {}
                    for name, size in conn.execute("SELECT name, sum(pgsize - unused) FROM dbstat GROUP BY name"):
                        table = owner.get(name, name)
                        totals[table] = totals.get(table, 0) + size
                    return totals

            before = used()
            run.run(n)
            after = used()
        finally:
            run.close()
    per_table = {t: (after[t] - before.get(t, 0)) / n for t in after if after[t] != before.get(t, 0)}
    return sum(per_table.values()), per_table


def round_trips(url: str) -> float:
    """Round trips per case command on PostgreSQL, through bench/wire_turns.py's SlowLink."""
    from sqlalchemy.engine import make_url

    from bench.wire_turns import SlowLink

    target = make_url(url)
    link = SlowLink(target.host, target.port).start()
    run = EngineRun(target.set(port=link.port).render_as_string(hide_password=False), True)
    try:
        run.run(3)
        base = min(run.run(1) for _ in range(3))
        link.latency = 0.05
        slow = run.run(1)
    finally:
        run.close()
        link.stop()
    return (slow - base) / 0.05 / 7  # 7 commands: the start and six completions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20, help="raw and engine runs alternate in this many rounds")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--inline-checkpoint", action="store_true",
                    help="SQLite: WAL checkpoints in the COMMIT, as before storage/wal_checkpointer.py")
    args = ap.parse_args()
    global BACKGROUND_CHECKPOINT
    BACKGROUND_CHECKPOINT = not args.inline_checkpoint
    n, rounds = args.cases, args.rounds
    per_round = max(1, n // rounds)
    total = per_round * rounds
    modes = list(MODES)
    print(f"engine_throughput: {total} cases of parallel_review (6 user tasks, 4 in parallel) per mode "
          f"({', '.join(modes)}), raw and SQLite interleaved in {rounds} rounds")
    spec, subs = _raw_spec()
    run_raw(spec, subs, 20)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        lite, lite_cpu = _interleaved(lambda mode: f"sqlite:///{tmp}/bench-{mode}.sqlite3", modes, rounds, per_round,
                            raw=lambda k: run_raw(spec, subs, k))
    raw = total / lite["raw"]
    print(f"raw_spiffworkflow_cases_per_s={raw:.1f}")
    for mode in modes:
        print(f"engine_sqlite_{mode}_cases_per_s={total / lite[mode]:.1f}")
        print(f"engine_sqlite_{mode}_ms_per_case={1000 * lite[mode] / total:.2f}")
        print(f"engine_sqlite_{mode}_cpu_ms_per_case={1000 * lite_cpu[mode] / total:.2f}")
    print(f"engine_sqlite_prepared_vs_plain={lite['plain'] / lite['prepared']:.3f}")
    print(f"engine_sqlite_prepared_vs_plain_cpu={lite_cpu['plain'] / lite_cpu['prepared']:.3f}")
    print(f"engine_sqlite_cases_per_s={total / lite['prepared']:.1f}")
    if not args.skip_postgres:
        from yijianshi.storage.throwaway_postgres import ThrowawayCluster

        cluster = ThrowawayCluster(durable=True).start()
        try:
            pg, pg_cpu = _interleaved(lambda mode: cluster.create_database(f"bench_{mode}"), modes, rounds, per_round)
        finally:
            cluster.stop()
        for mode in modes:
            print(f"engine_postgresql_{mode}_cases_per_s={total / pg[mode]:.1f}")
            print(f"engine_postgresql_{mode}_client_cpu_ms_per_case={1000 * pg_cpu[mode] / total:.2f}")
        print(f"engine_postgresql_prepared_vs_plain={pg['plain'] / pg['prepared']:.3f}")
        print(f"engine_postgresql_cases_per_s={total / pg['prepared']:.1f}")
        print(f"ratio_postgresql_vs_raw={(total / pg['prepared']) / raw:.3f}")
        cluster = ThrowawayCluster(durable=True).start()
        try:
            print(f"round_trips_per_command_postgresql={round_trips(cluster.create_database('bench_trips')):.2f}")
        finally:
            cluster.stop()
    size, per_table = bytes_per_case()
    print("bytes_per_case_by_table: " + ", ".join(f"{t}={b:.0f}" for t, b in sorted(per_table.items(), key=lambda x: -x[1])))
    print(f"bytes_per_case={size:.0f}")
    print(f"ratio_sqlite_vs_raw={total / lite['prepared'] / raw:.3f}")


if __name__ == "__main__":
    main()

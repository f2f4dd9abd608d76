"""Hostile scripts slow nothing else (issue #13): latency of other work, idle and while hostile
scripts run, on SQLite.

    python bench/hostile_script.py [--samples 500] [--hostile-threads 2] [--probe pow] [--cpu 1.0]

Measures, each as p50 / p99 / max in milliseconds:
- start+complete: start a case of tests/fixtures/hostile.bpmn and complete its first step (which
  runs its script task in a script worker: a harmless script here);
- sign-in: AccountService.authenticate (a write: the last sign-in time);
- healthz: GET /healthz through the Flask app;
first with nothing else running, then while `--hostile-threads` threads keep completing steps whose
script is the hostile probe (default: pow with a 30000-bit modulus, which ran 37-45 s holding the
write lock before the fix; each now ends at the CPU limit with a ScriptError).
Also prints the cost of one expression evaluation in-process and in a script worker.
Ends with the line hostile_slowdown_p99=<float> (start+complete p99 under attack / idle)."""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yijianshi.engine.access.actors import Actor  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.errors import ScriptError  # noqa: E402
from yijianshi.engine.scripting.sandbox import RestrictedEnvironment  # noqa: E402
from yijianshi.engine.settings import Settings  # noqa: E402
from yijianshi.web.app import create_app  # noqa: E402

DIAGRAM = ROOT / "tests" / "fixtures" / "hostile.bpmn"
CLERK = Actor("bench", frozenset({"front_desk"}))
PASSWORD = "Correct-Horse-42"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(system: System, client, samples: int) -> dict[str, list[float]]:
    cases, accounts = system.engine.cases, system.accounts
    out: dict[str, list[float]] = {"start+complete": [], "sign-in": [], "healthz": []}
    for _ in range(samples):
        t0 = time.perf_counter()
        started = cases.start_case("hostile_script", {"probe": "none"}, CLERK)
        cases.complete_work_item(started.ready[0].id, {}, CLERK)
        out["start+complete"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        accounts.authenticate("bench_user", PASSWORD)
        out["sign-in"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.get("/healthz")
        out["healthz"].append(time.perf_counter() - t0)
    return out


def report(label: str, figures: dict[str, list[float]]) -> None:
    for name, values in figures.items():
        key = name.replace("+", "_").replace("-", "_")
        print(f"{label}_{key}_ms p50={1000 * statistics.median(values):.1f} "
              f"p99={1000 * percentile(values, 99):.1f} max={1000 * max(values):.1f} n={len(values)}")


def per_call_costs(system: System, n: int = 2000) -> None:
    env = system.engine.script_engine.environment
    local = RestrictedEnvironment(env.globals)
    data = {"x": [1, 2, 3], "name": "张三", "amount": 1200}
    for label, source, runner in (("in_process_cheap", "amount > 1000 and name == '张三'", env),
                                  ("in_process_restricted", "len(x) + 1", local),
                                  ("worker", "len(x) + 1", env)):
        runner.evaluate(source, data)
        t0 = time.perf_counter()
        for _ in range(n):
            runner.evaluate(source, data)
        print(f"expression_{label}_us={1e6 * (time.perf_counter() - t0) / n:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--hostile-threads", type=int, default=2)
    ap.add_argument("--probe", default="pow", help="a probe of tests/fixtures/hostile.bpmn")
    ap.add_argument("--cpu", type=float, default=1.0, help="the script CPU limit, seconds")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="yjs-hostile-")
    system = System.build(Settings.at(home, password_hash_method="argon2:1:8:1",
                                      script_cpu_seconds=args.cpu))
    try:
        system.db.upgrade()
        system.engine.deploy([DIAGRAM])
        system.accounts.create("bench_user", PASSWORD, "测试员", "front_desk")
        client = create_app(system, {"SECRET_KEY": "bench", "ACCOUNT_CACHE_SECONDS": 0}).test_client()
        print(f"hostile_script: {args.samples} samples idle and under {args.hostile_threads} threads running "
              f"the '{args.probe}' probe; script CPU limit {args.cpu:g} s")
        per_call_costs(system)
        measure(system, client, 10)  # warm-up: workers, caches, pool
        idle = measure(system, client, args.samples)
        report("idle", idle)
        idle_p99 = percentile(idle["start+complete"], 99)

        stop = threading.Event()
        hostile_runs: list[float] = []
        errors: list[str] = []

        def attack() -> None:
            while not stop.is_set():
                started = system.engine.cases.start_case("hostile_script", {"probe": args.probe}, CLERK)
                t0 = time.perf_counter()
                try:
                    system.engine.cases.complete_work_item(started.ready[0].id, {}, CLERK)
                    errors.append("the hostile script was not stopped")
                except ScriptError:
                    hostile_runs.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=attack, daemon=True) for _ in range(args.hostile_threads)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        under = measure(system, client, args.samples)
        stop.set()
        for t in threads:
            t.join(60)
        report("hostile", under)
        print(f"hostile_scripts_stopped={len(hostile_runs)} each_s p50={statistics.median(hostile_runs):.2f} "
              f"max={max(hostile_runs):.2f}" if hostile_runs else "hostile_scripts_stopped=0")
        if errors:
            print(f"hostile_errors={errors[:3]}")
        print(f"hostile_slowdown_p99={percentile(under['start+complete'], 99) / idle_p99:.2f}")
    finally:
        system.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

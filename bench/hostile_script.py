"""Hostile scripts slow nothing else (issue #13): latency of other work on SQLite, with nothing else
running, with another process doing ordinary work, and with that process running hostile scripts.

    python bench/hostile_script.py [--samples 100] [--rounds 10] [--hostile-threads 2] [--probe pow] [--cpu 1.0]
                                   [--no-gate]

Measures, each as p50 / p99 / max in milliseconds:
- start+complete: start a case of tests/fixtures/hostile.bpmn and complete its first step (which
  runs its script task in a script worker: a harmless script here);
- sign-in: AccountService.authenticate (a write: the last sign-in time);
- healthz: GET /healthz through the Flask app.
Rounds are taken in turn, so that the machine's own drift falls on every condition alike:
- idle: nothing else runs;
- benign: another process (as another web worker would be) starts cases and completes their
  scripted step with a harmless script in `--hostile-threads` threads, one case per thread every
  1.5 x the CPU limit (about as often as hostile scripts end): ordinary traffic, the control;
- hostile: the same process and threads complete steps whose script is the hostile probe (default:
  pow with a 30000-bit modulus, which ran 37-45 s holding the write lock before the fix; each now
  ends at the CPU limit with a ScriptError), without pause. Two probes take it apart: `--probe spin`
  (a script of about 0.3 s CPU that is demoted to SCHED_IDLE but ends by itself: no kill, no new
  worker, no failure record) and `--probe raise` (a script that fails at once, paced like the benign
  ones: the failure record without any CPU burnt).
Also prints the cost of one expression evaluation in-process and in a script worker, the attacking
process's own CPU per case (benign and hostile: what a stopped script still costs the process that ran
it), the share of each condition's samples above the idle p99 (1% when a condition changes nothing),
and the p99 ratios hostile/idle and hostile/benign."""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
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
from yijianshi.engine.scripting.foreground_gate import FOREGROUND  # noqa: E402
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


def attacker(home: str, probe: str, threads: int, cpu: float) -> None:
    """The attacking process (`--attacker HOME`): another process on the same database, as another
    web worker would be, that keeps completing steps whose script is the hostile probe while "on".
    While "benign" it does the same work with a harmless script, paced at one case per thread every
    1.5 times the CPU limit (about as often as hostile scripts end): the control, another process's
    ordinary writes without a hostile script. Reads "on" / "benign" / "off" lines; prints
    "stopped <seconds>" per stopped script and "off" once every thread is idle after an "off"."""
    system = System.build(Settings.at(home, password_hash_method="argon2:1:8:1", script_cpu_seconds=cpu))
    on = threading.Event()
    idle = threading.Semaphore(0)
    mode = {"probe": probe}
    done = [0]  # cases this period (a hostile one ends when its script is stopped)

    def attack() -> None:
        while True:
            if not on.is_set():
                idle.release()
                on.wait()
            started = system.engine.cases.start_case("hostile_script", {"probe": mode["probe"]}, CLERK)
            t0 = time.perf_counter()
            try:
                system.engine.cases.complete_work_item(started.ready[0].id, {}, CLERK)
                done[0] += 1
                if mode["probe"] == "none":
                    time.sleep(1.5 * cpu)
                else:
                    print("not-stopped", flush=True)
            except ScriptError:
                done[0] += 1
                print(f"stopped {time.perf_counter() - t0:.3f}", flush=True)
                if mode["probe"] == "raise":
                    time.sleep(1.5 * cpu)  # paced like the benign cases: only the failure path differs

    for _ in range(threads):
        threading.Thread(target=attack, daemon=True).start()
    for _ in range(threads):
        idle.acquire()
    print("off", flush=True)
    cpu0 = time.process_time()
    for line in sys.stdin:
        if line.strip() in ("on", "benign"):
            mode["probe"] = probe if line.strip() == "on" else "none"
            done[0], cpu0 = 0, time.process_time()
            on.set()
        else:
            on.clear()
            for _ in range(threads):
                idle.acquire()
            # This process's own CPU (its threads, not its script workers) per case of the period.
            print(f"cpu {'benign' if mode['probe'] == 'none' else 'hostile'} {time.process_time() - cpu0:.4f} "
                  f"{done[0]}", flush=True)
            print("off", flush=True)


class Attack:
    """The attacker process, switched on for the hostile rounds and off for the idle ones."""

    def __init__(self, home: str, args: argparse.Namespace):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--attacker", home, "--probe", args.probe,
             "--hostile-threads", str(args.hostile_threads), "--cpu", str(args.cpu),
             *(["--no-gate"] if args.no_gate else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.offs = threading.Semaphore(0)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.offs.acquire()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip() == "off":
                self.offs.release()
            else:
                self.lines.append(line.strip())

    def on(self) -> None:
        """Switch on and return once the first hostile script of this round has been stopped (every
        attacking thread is then in its second script, at the latest)."""
        seen = len(self.lines)
        self.process.stdin.write("on\n")
        self.process.stdin.flush()
        while len(self.lines) == seen:
            time.sleep(0.01)

    def benign(self) -> None:
        self.process.stdin.write("benign\n")
        self.process.stdin.flush()

    def off(self) -> None:
        """Switch off and return once no hostile script runs."""
        self.process.stdin.write("off\n")
        self.process.stdin.flush()
        self.offs.acquire()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.reader.join(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=100, help="samples per round")
    ap.add_argument("--rounds", type=int, default=10, help="idle and hostile rounds, taken in turn")
    ap.add_argument("--hostile-threads", type=int, default=2)
    ap.add_argument("--probe", default="pow", help="a probe of tests/fixtures/hostile.bpmn")
    ap.add_argument("--cpu", type=float, default=1.0, help="the script CPU limit, seconds")
    ap.add_argument("--no-gate", action="store_true",
                    help="without the foreground gate (engine/scripting/foreground_gate.py), for comparison")
    ap.add_argument("--attacker", metavar="HOME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.no_gate:
        FOREGROUND.usable = False
    if args.attacker:
        attacker(args.attacker, args.probe, args.hostile_threads, args.cpu)
        return
    home = tempfile.mkdtemp(prefix="yjs-hostile-")
    system = System.build(Settings.at(home, password_hash_method="argon2:1:8:1",
                                      script_cpu_seconds=args.cpu))
    try:
        system.db.upgrade()
        system.engine.deploy([DIAGRAM])
        system.accounts.create("bench_user", PASSWORD, "测试员", "front_desk")
        client = create_app(system, {"SECRET_KEY": "bench", "ACCOUNT_CACHE_SECONDS": 0}).test_client()
        print(f"hostile_script: {args.rounds} rounds of {args.samples} samples idle, then the same while "
              f"another process runs the '{args.probe}' probe in {args.hostile_threads} threads; "
              f"script CPU limit {args.cpu:g} s{'; foreground gate off' if args.no_gate else ''}")
        per_call_costs(system)
        measure(system, client, 10)  # warm-up: workers, caches, pool
        idle: dict[str, list[float]] = {}
        benign: dict[str, list[float]] = {}
        under: dict[str, list[float]] = {}
        attack = Attack(home, args)
        try:
            for _ in range(args.rounds):
                for name, values in measure(system, client, args.samples).items():
                    idle.setdefault(name, []).extend(values)
                attack.benign()
                for name, values in measure(system, client, args.samples).items():
                    benign.setdefault(name, []).extend(values)
                attack.off()
                attack.on()
                for name, values in measure(system, client, args.samples).items():
                    under.setdefault(name, []).extend(values)
                attack.off()
        finally:
            attack.close()
        stopped = [float(line.split()[1]) for line in attack.lines if line.startswith("stopped")]
        not_stopped = sum(1 for line in attack.lines if line == "not-stopped")
        report("idle", idle)
        report("benign", benign)
        report("hostile", under)
        print(f"hostile_scripts_stopped={len(stopped)} each_s p50={statistics.median(stopped):.2f} "
              f"max={max(stopped):.2f}" if stopped else "hostile_scripts_stopped=0")
        if not_stopped:
            print(f"hostile_not_stopped={not_stopped}")
        for label in ("benign", "hostile"):
            spent = [line.split()[2:] for line in attack.lines if line.startswith(f"cpu {label} ")]
            cases_done = sum(int(n) for _, n in spent)
            if cases_done:
                print(f"attacker_cpu_ms_per_{label}_case={1000 * sum(float(c) for c, _ in spent) / cases_done:.1f} "
                      f"cases={cases_done}")
        for name in idle:
            key = name.replace("+", "_").replace("-", "_")
            normal = percentile(idle[name], 99)
            # Under no effect at all, 1% of any condition's samples lie above the idle p99.
            print(f"over_idle_p99_{key} benign={100 * sum(v > normal for v in benign[name]) / len(benign[name]):.1f}% "
                  f"hostile={100 * sum(v > normal for v in under[name]) / len(under[name]):.1f}%")
            print(f"hostile_vs_idle_p99_{key}={percentile(under[name], 99) / percentile(idle[name], 99):.2f} "
                  f"hostile_vs_benign_p99_{key}={percentile(under[name], 99) / percentile(benign[name], 99):.2f}")
    finally:
        system.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

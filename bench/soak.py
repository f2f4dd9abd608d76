"""Soak test on the production shape: PostgreSQL, gunicorn with several workers, two schedulers.

    python bench/soak.py [--duration 300] [--clients 50] [--workers 4] [--faults] [--lease-ttl 5]

The stack is `yijianshi stack` (cli/stack.py) with bench/soak_case.bpmn deployed: intake at the front
desk → three department reviews in parallel → join → a cooling-off timer → delivery. Each case draws
deadlines of a few seconds: a non-interrupting warning on the market review, an interrupting overdue
timer on the urban-management review (its branch then goes to a supervision task), and the wait.

A feeder in this process keeps the inboxes stocked with new cases. The clients are threads, each a
clerk of one department with its own signed-in session: it opens its inbox page, picks one of the
listed items, opens the task page and submits it with the page's CSRF token. A completion is
acknowledged when the answer is the redirect to the page the form named as `next` (a refusal —
someone else was faster, or the overdue timer took the task away — redirects to the plain inbox).
Now and then a client submits an acknowledged item a second time (a double click), which must be
refused. Each client keeps its own log of acknowledged completions (work item, case, time; also
written to <home>/clients/client-NN.jsonl).

With --faults, during the run: kill -9 a gunicorn worker (at 30 %), the active scheduler (at 50 %; the
standby must take over and a new standby is started), and another worker (at 70 %). Requests that die
with a worker end in a connection error: not acknowledged, so the client just moves on.

Afterwards (the services stopped, the database kept):
  lost            acknowledged completions that are not completed in the database with their history
                  event, plus deadlines that fell due before the end and never fired
  duplicates      work items completed more than once in history, completions acknowledged twice,
                  deadlines with more than one firing event, and firing events of no fired deadline
  verify_failures cases whose state does not load, whose projections disagree with their state,
                  whose history chain does not verify, or whose re-execution does not reproduce it
The last line: `lost=<n> duplicates=<n> verify_failures=<n> throughput_per_s=<float>` (acknowledged
completions per second of the run)."""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_client import Session  # noqa: E402
from yijianshi.cli.stack import Stack  # noqa: E402
from yijianshi.engine.access.actors import Actor  # noqa: E402
from yijianshi.engine.audit.integrity import audit_completions, audit_deadlines, check_case  # noqa: E402
from yijianshi.engine.clock import SHANGHAI  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.runtime import Engine  # noqa: E402
from yijianshi.storage import case_store  # noqa: E402
from yijianshi.storage import integrity_store  # noqa: E402

PROCESS = ROOT / "bench" / "soak_case.bpmn"
PASSWORD = "soak-password-1"
# One department per clerk; the front desk does two steps per case (intake and delivery).
DESKS = ("front_desk", "market", "urban_mgmt", "fire", "front_desk", "market", "urban_mgmt", "fire",
         "front_desk", "supervision")
SUBMISSION = {"applicant_name": "压测申请人", "market_approved": "y", "urban_approved": "y", "fire_approved": "y",
              "supervised": "y", "delivered": "y"}
STARTER = Actor("soak_feeder", frozenset({"front_desk"}), name="压测立案")
_ROW = re.compile(r'data-item="([0-9a-f-]{36})"[\s\S]*?办件编号 (\d+)')


@dataclass
class Ack:
    work_item: str
    case_id: int
    at: float


@dataclass
class ClientLog:
    number: int
    acks: list[Ack] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    refused: int = 0  # redirected to the plain inbox: already done, or taken away by a timer
    connection_errors: int = 0
    server_errors: list[str] = field(default_factory=list)
    double_submits: int = 0
    double_acks: int = 0


@dataclass
class SoakResult:
    duration_s: float
    clients: list[ClientLog]
    cases_started: int
    cases_completed: int
    lost: int
    duplicates: int
    verify_failures: int
    server_errors: int
    throughput_per_s: float
    deadlines_fired: int = 0
    faults: list[str] = field(default_factory=list)
    takeover_s: float | None = None
    workers_replaced: int = 0
    report: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return sum(len(c.acks) for c in self.clients)

    @property
    def final_line(self) -> str:
        return (f"lost={self.lost} duplicates={self.duplicates} verify_failures={self.verify_failures} "
                f"throughput_per_s={self.throughput_per_s:.2f}")


def _durations(rng: random.Random) -> dict:
    return {"warn_after": f"PT{rng.randint(2, 20)}S", "overdue_after": f"PT{rng.randint(4, 40)}S",
            "cooling_after": f"PT{rng.randint(1, 4)}S"}


class Feeder(threading.Thread):
    """Starts cases in bulk whenever the ready work runs low."""

    def __init__(self, engine: Engine, stop: threading.Event, low_water: int, batch: int):
        super().__init__(daemon=True)
        self.engine, self.stop, self.low_water, self.batch = engine, stop, low_water, batch
        self.started_cases = 0
        self.rng = random.Random(11)

    def top_up(self) -> None:
        with self.engine.db.reader.connect() as conn:
            ready = case_store.count_work_items(conn)
        if ready < self.low_water:
            for _ in range(self.batch):
                self.engine.cases.start_case("soak_case", _durations(self.rng), STARTER,
                                             title=f"压测办件 {self.started_cases + 1}")
                self.started_cases += 1

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.top_up()


def client_run(number: int, session: Session, log: ClientLog, stop: threading.Event, out: Path) -> None:
    rng = random.Random(1000 + number)
    with out.open("a", encoding="utf-8") as journal:
        while not stop.is_set():
            try:
                status, _, page = session.request("GET", "/inbox/")
                rows = _ROW.findall(page) if status == 200 else []
                if status >= 500:
                    log.server_errors.append(f"inbox {status}")
                if not rows:
                    stop.wait(0.3)
                    continue
                item, case_id = rng.choice(rows)
                status, _, _ = session.request("GET", f"/inbox/items/{item}")
                if status >= 500:
                    log.server_errors.append(f"task page {status}")
                    continue
                stop.wait(rng.expovariate(1 / 0.1))  # reading the page
                done = f"/inbox/?done={item}"
                t0 = time.perf_counter()
                status, location, _ = session.request(
                    "POST", f"/inbox/items/{item}", {"csrf_token": session.token, "next": done, **SUBMISSION})
                t1 = time.perf_counter()
            except OSError:  # the worker died under the request (or the server is restarting one)
                log.connection_errors += 1
                stop.wait(0.2)
                continue
            if status == 302 and location.endswith(done):
                log.acks.append(Ack(item, int(case_id), time.time()))
                log.latencies.append(t1 - t0)
                entry = {"work_item": item, "case_id": int(case_id), "at": time.time()}
                journal.write(json.dumps(entry) + "\n")
                journal.flush()
                if rng.random() < 0.03:  # a double click: must not be acknowledged again
                    log.double_submits += 1
                    form = {"csrf_token": session.token, "next": done, **SUBMISSION}
                    try:
                        status, location, _ = session.request("POST", f"/inbox/items/{item}", form)
                    except OSError:
                        log.connection_errors += 1
                        continue
                    if status == 302 and location.endswith(done):
                        log.double_acks += 1
            elif status == 302:
                log.refused += 1
            elif status >= 500:
                log.server_errors.append(f"complete {status}")
            else:
                log.refused += 1


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_soak(duration: float = 300, clients: int = 50, workers: int = 4, faults: bool = False,
             lease_ttl: float = 5.0, home: Path | None = None, url: str | None = None,
             say=print) -> SoakResult:
    """Start the stack (on `url`, or a throwaway PostgreSQL cluster), run the clients, audit."""
    home = home or Path(tempfile.mkdtemp(prefix="yjs-soak-"))
    (home / "clients").mkdir(parents=True, exist_ok=True)
    stack = Stack(workers=workers, lease_ttl=lease_ttl, deploy=[PROCESS], home=home, url=url)
    t_setup = time.perf_counter()
    stack.start()
    try:
        # The stack's settings, with a cheap password hash for the many clients' accounts.
        system = System.build(stack.settings.replace(password_hash_method="argon2:1:8:1"))
        db, engine, accounts = system.db, system.engine, system.accounts
        for n in range(clients):
            desk = DESKS[n % len(DESKS)]
            accounts.create(f"soak{n:02d}", PASSWORD, f"压测办事员{n:02d}",
                            "front_desk" if desk == "front_desk" else "dept_clerk",
                            () if desk == "front_desk" else (desk,))
        feeder = Feeder(engine, threading.Event(), low_water=clients * 4, batch=max(10, clients // 2))
        feeder.top_up()
        feeder.top_up()
        sessions = [Session(stack.port) for _ in range(clients)]
        for n, s in enumerate(sessions):
            s.sign_in(f"soak{n:02d}", PASSWORD)
        say(f"[soak] stack up in {time.perf_counter() - t_setup:.1f} s: gunicorn {workers} workers "
            f"{stack.worker_pids()}, schedulers {stack.scheduler_pids()} "
            f"(active {stack.active_scheduler_pid()}), "
            f"{clients} clients signed in; running {duration:.0f} s{' with faults' if faults else ''}")

        stop = threading.Event()
        feeder.stop = stop
        logs = [ClientLog(n) for n in range(clients)]
        threads = [threading.Thread(target=client_run, args=(n, s, logs[n], stop,
                                                             home / "clients" / f"client-{n:02d}.jsonl"))
                   for n, s in enumerate(sessions)]
        started = time.time()
        feeder.start()
        for t in threads:
            t.start()
        fault_lines: list[str] = []
        takeover_s = None
        replaced = 0
        plan = [(0.3, "worker"), (0.5, "scheduler"), (0.7, "worker")] if faults else []
        for at, what in plan:
            stop.wait(max(0.0, started + at * duration - time.time()))
            if what == "worker":
                before = stack.worker_pids()
                victim = stack.kill_worker()
                t0 = time.monotonic()
                after = stack.worker_pids()
                while time.monotonic() - t0 < 30 and (victim in after or not set(after) - set(before)):
                    time.sleep(0.05)
                    after = stack.worker_pids()
                replaced += victim not in after and bool(set(after) - set(before))
                fault_lines.append(f"kill -9 gunicorn worker {victim} at {time.time() - started:.0f} s; "
                                   f"workers {before} → {after} (replaced in {time.monotonic() - t0:.1f} s)")
            else:
                t0 = time.monotonic()
                victim = stack.kill_active_scheduler()
                successor = stack.wait_for_active_scheduler(timeout=lease_ttl * 4 + 10, not_pid=victim)
                takeover_s = time.monotonic() - t0
                fault_lines.append(f"kill -9 active scheduler {victim} at {time.time() - started:.0f} s; "
                                   f"standby {successor} active after {takeover_s:.1f} s; "
                                   f"schedulers now {stack.scheduler_pids()}")
            say(f"[soak] {fault_lines[-1]}")
        stop.wait(max(0.0, started + duration - time.time()))
        stop.set()
        for t in threads:
            t.join()
        feeder.join()
        ended = time.time()
        cut_off = datetime.fromtimestamp(ended, SHANGHAI)
        # Let the scheduler fire what fell due in the last moments, then stop the services.
        settle = time.monotonic() + lease_ttl * 2 + 5
        while time.monotonic() < settle:
            with db.reader.connect() as conn:
                nxt = _next_armed(conn)
            if nxt is None or nxt > cut_off:
                break
            time.sleep(0.2)
        stack.stop_services()
        result = _audit(engine, logs, feeder.started_cases, ended - started, cut_off, fault_lines,
                        takeover_s, say)
        result.workers_replaced = replaced
        return result
    finally:
        stack.stop()


def _next_armed(conn):
    from yijianshi.storage import deadline_store

    return deadline_store.next_due_at(conn)


def _audit(engine: Engine, logs: list[ClientLog], started_cases: int, run_s: float, cut_off: datetime,
           fault_lines: list[str], takeover_s: float | None, say) -> SoakResult:
    t0 = time.perf_counter()
    acked = [a.work_item for c in logs for a in c.acks]
    completions = audit_completions(engine, set(acked))
    deadlines = audit_deadlines(engine, cut_off)
    with engine.db.reader.connect() as conn:
        case_ids = case_store.all_case_ids(conn)
        completed_cases = integrity_store.case_status_counts(conn).get("completed", 0)
    broken: list[str] = []
    bad_cases = 0
    for cid in case_ids:
        problems = check_case(engine, cid)
        bad_cases += bool(problems)
        broken.extend(problems)
    audit_s = time.perf_counter() - t0

    latencies = [x for c in logs for x in c.latencies]
    server_errors = [e for c in logs for e in c.server_errors]
    double_acks = sum(c.double_acks for c in logs)
    lost = len(completions.lost) + len(deadlines.missed) + len(deadlines.unrecorded)
    duplicates = (len(completions.duplicates) + double_acks + len(deadlines.fired_twice)
                  + deadlines.stray_events)
    throughput = len(acked) / run_s if run_s else 0.0
    late = deadlines.lateness_s
    report = [
        f"run {run_s:.0f} s, {len(logs)} clients; cases started {started_cases}, completed {completed_cases}",
        f"completions acknowledged {len(acked)} ({throughput:.2f}/s), "
        f"in history {completions.completed_in_history}; "
        f"POST latency p50={_pct(latencies, .5) * 1000:.0f} ms p95={_pct(latencies, .95) * 1000:.0f} ms "
        f"p99={_pct(latencies, .99) * 1000:.0f} ms",
        f"refused (already done / taken by a timer) {sum(c.refused for c in logs)}, connection errors "
        f"{sum(c.connection_errors for c in logs)}, server errors {len(server_errors)} {server_errors[:5]}, "
        f"double submits {sum(c.double_submits for c in logs)} (acknowledged twice: {double_acks})",
        f"deadlines: fell due {deadlines.fell_due}, fired {deadlines.fired}, missed {len(deadlines.missed)}, "
        f"fired twice {len(deadlines.fired_twice)}, fired without event {len(deadlines.unrecorded)}, "
        f"stray firing events {deadlines.stray_events}; "
        f"overtaken by a completion after due {len(deadlines.overtaken)}",
        f"deadline lateness p50={_pct(late, .5):.3f} s p99={_pct(late, .99):.3f} s "
        f"max={max(late, default=0):.3f} s",
        f"lost completions {len(completions.lost)}, work items completed twice {len(completions.duplicates)}",
        f"audit of {len(case_ids)} cases (state, projections, chain, re-execution) in {audit_s:.1f} s: "
        f"{bad_cases} failed",
    ]
    for line in report:
        say(f"[soak] {line}")
    for line in broken[:20]:
        say(f"[soak] FAIL {line}")
    for item in completions.lost[:20]:
        say(f"[soak] LOST {item}")
    return SoakResult(run_s, logs, started_cases, completed_cases, lost, duplicates, bad_cases,
                      len(server_errors), throughput, deadlines.fired, fault_lines, takeover_s, report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--faults", action="store_true",
                        help="kill -9 web workers and the active scheduler mid-run")
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--home", type=Path,
                        help="folder for logs and client journals (default: a temporary one)")
    args = parser.parse_args()
    result = run_soak(args.duration, args.clients, args.workers, args.faults, args.lease_ttl, args.home,
                      say=lambda line: print(line, flush=True))
    print(result.final_line)
    failed = result.lost or result.duplicates or result.verify_failures or result.server_errors
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP load: clerks completing work items through the web app served by gunicorn, on SQLite and on
PostgreSQL.

    python bench/http_load.py [--clerks 20] [--per-clerk 20] [--workers 4] [--think-ms 500]
                              [--skip-postgres]

Setup (not measured): a fresh database, the open-restaurant scenario deployed, cases pushed
through application and acceptance by the engine so that each has four department work items, and one
dept_clerk account per clerk (production password hashing). The app then runs under gunicorn with
several sync workers, configured by environment exactly like a deployment (web/wsgi.py).

Each clerk is a thread with its own session: it signs in through the login page, then for each of
its own work items (no two clerks share one) it fetches the task page, and POSTs the completion with
the page's CSRF token; a completion must answer 302. Two phases per backend, on separate items:

  paced      every clerk thinks between page and submit (exponential, mean --think-ms): 20 clerks
             working concurrently at a brisk human pace. This is the latency a clerk sees.
  saturated  no page fetch, no think time: every clerk submits back to back. This is the
             throughput limit of the machine; latency then is mostly queueing behind the others.

Per phase it prints completion p50/p95/p99/max latency and completions per second (and page-fetch
latency for the paced phase). The last line is `complete_p50_ms=<float>`: the SQLite paced p50."""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_client import Session  # noqa: E402
from yijianshi.cli.stack import start_gunicorn, stop_process  # noqa: E402
from yijianshi.engine.access.actors import Actor  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.runtime import Engine  # noqa: E402
from yijianshi.engine.settings import Settings  # noqa: E402
from yijianshi.storage import case_store  # noqa: E402

# The open-restaurant scenario as first shipped (kept as a test fixture, so the figures stay
# comparable while processes/ evolves).
SCENARIO = ROOT / "tests" / "web" / "fixtures" / "restaurant"
DEPARTMENTS = ("market", "urban_mgmt", "fire")
PASSWORD = "bench-password-1"
APPLICANT = Actor("bench_applicant", frozenset({"applicant"}))
FRONT_DESK = Actor("bench_desk", frozenset({"front_desk"}))
APPLICATION = {
    "enterprise_name": "压测餐饮店", "legal_rep_name": "张三", "legal_rep_id_no": "110101199001011237",
    "contact_phone": "13812345678", "business_address": "成都市武侯区", "floor_area": "80", "seating": "40",
    "item_choice": "package",
}


@dataclass
class Work:
    item_id: str
    form: dict


@dataclass
class Timings:
    complete: list[float] = field(default_factory=list)
    page: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first: float = float("inf")
    last: float = 0.0


def prepare(settings: Settings, clerks: int, per_clerk: int, phases: int) -> list[list[list[Work]]]:
    """Work items per phase per clerk, and the clerk accounts; returns plan[phase][clerk]."""
    system = System.build(settings)
    db, engine, accounts = system.db, system.engine, system.accounts
    db.upgrade()
    engine.deploy([SCENARIO])
    for n in range(clerks):
        accounts.create(f"clerk{n:02d}", PASSWORD, f"压测办事员{n:02d}", "dept_clerk", DEPARTMENTS)
    needed = clerks * per_clerk * phases
    for _ in range((needed + 3) // 4):  # four department items per packaged case
        case = engine.cases.start_case("open_restaurant", {}, APPLICANT, title="开办餐饮店一件事：压测")
        engine.cases.complete_work_item(case.ready[0].id, APPLICATION, APPLICANT)
        [accept] = [r for r in _ready(engine, case.id) if r.task_spec == "accept"]
        engine.cases.complete_work_item(accept.id, {"materials_complete": "true"}, FRONT_DESK)
    with db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, groups=DEPARTMENTS, limit=needed)
    system.close()
    work = [Work(r.id, {f"{r.task_spec.removeprefix('review_')}_approved": "y"}) for r in rows]
    random.Random(7).shuffle(work)
    plan = []
    for p in range(phases):
        chunk = work[p * clerks * per_clerk:(p + 1) * clerks * per_clerk]
        plan.append([chunk[c::clerks] for c in range(clerks)])
    return plan


def _ready(engine: Engine, case_id: int) -> list:
    with engine.db.reader.connect() as conn:
        return case_store.query_work_items(conn, case_id=case_id)


def clerk_run(session: Session, work: list[Work], think_s: float, fetch_page: bool, timings: Timings,
              lock: threading.Lock, seed: int) -> None:
    rng = random.Random(seed)
    for w in work:
        if fetch_page:
            t0 = time.perf_counter()
            status, _, _ = session.request("GET", f"/inbox/items/{w.item_id}")
            page_s = time.perf_counter() - t0
            if status != 200:
                with lock:
                    timings.errors.append(f"page {status}")
                continue
        if think_s:
            time.sleep(rng.expovariate(1 / think_s))
        t0 = time.perf_counter()
        # Without a page fetch nothing would ever show (and so clear) the "done" message the
        # response adds to the session, so that session is not kept: the cookie stays as it was.
        status, location, _ = session.request("POST", f"/inbox/items/{w.item_id}",
                                              {"csrf_token": session.token, **w.form}, keep_cookie=fetch_page)
        t1 = time.perf_counter()
        with lock:
            if status != 302 or "/inbox/" not in location:
                timings.errors.append(f"complete {status}")
                continue
            timings.complete.append(t1 - t0)
            if fetch_page:
                timings.page.append(page_s)
            timings.first = min(timings.first, t0)
            timings.last = max(timings.last, t1)


def run_phase(sessions: list[Session], plan: list[list[Work]], think_s: float, fetch_page: bool) -> Timings:
    timings, lock = Timings(), threading.Lock()
    threads = [threading.Thread(target=clerk_run, args=(s, w, think_s, fetch_page, timings, lock, i))
               for i, (s, w) in enumerate(zip(sessions, plan))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(backend: str, phase: str, t: Timings) -> None:
    if not t.complete:
        print(f"[{backend}] {phase}: no completion succeeded; errors: {t.errors[:5]}")
        return
    wall = t.last - t.first
    print(f"[{backend}] {phase:<9} completions={len(t.complete)} errors={len(t.errors)} "
          f"throughput={len(t.complete) / wall:.1f}/s  complete_ms p50={_ms(t.complete, .5):.1f} "
          f"p95={_ms(t.complete, .95):.1f} p99={_ms(t.complete, .99):.1f} max={max(t.complete) * 1000:.1f} "
          f"mean={statistics.fmean(t.complete) * 1000:.1f}"
          + (f"  page_ms p50={_ms(t.page, .5):.1f} p95={_ms(t.page, .95):.1f}" if t.page else ""))


def bench(backend: str, url: str, args, home: Path) -> dict[str, Timings]:
    t0 = time.perf_counter()
    # The settings gunicorn's workers get too (start_gunicorn passes them as environment variables).
    plan = prepare(Settings.at(home, url), args.clerks, args.per_clerk + 1, 2)  # +1: one warm-up item per clerk
    print(f"[{backend}] prepared {args.clerks * (args.per_clerk + 1) * 2} work items and {args.clerks} "
          f"clerks in {time.perf_counter() - t0:.1f} s; gunicorn -w {args.workers}")
    server, port = start_gunicorn(url, args.workers, home, threads=args.threads, config=args.gunicorn_config)
    try:
        sessions = [Session(port) for _ in range(args.clerks)]
        for n, s in enumerate(sessions):
            s.sign_in(f"clerk{n:02d}", PASSWORD)
        # Warm-up (not measured): every worker loads the definition and compiles its statements.
        run_phase(sessions, [w[:1] for w in plan[0]], 0, True)
        results = {"paced": run_phase(sessions, [w[1:] for w in plan[0]], args.think_ms / 1000, True),
                   "saturated": run_phase(sessions, [w[1:] for w in plan[1]], 0, False)}
    finally:
        stop_process(server)
    for phase, timings in results.items():
        report(backend, phase, timings)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clerks", type=int, default=20)
    parser.add_argument("--per-clerk", type=int, default=20, help="completions per clerk and phase")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread when > 1)")
    parser.add_argument("--think-ms", type=float, default=500, help="mean think time in the paced phase")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--gunicorn-config", help="extra gunicorn config file (e.g. request-timing hooks)")
    args = parser.parse_args()
    print(f"http_load: {args.clerks} clerks x {args.per_clerk} completions per phase, gunicorn "
          f"{args.workers} sync workers, {os.cpu_count()} CPUs, paced think time mean {args.think_ms:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="yjs-http-") as tmp:
        home = Path(tmp)
        sqlite = bench("sqlite", f"sqlite:///{home}/bench.sqlite3", args, home)
        if not args.skip_postgres:
            from yijianshi.storage.throwaway_postgres import throwaway_postgres

            with throwaway_postgres("bench_http") as pg_url:
                bench("postgresql", pg_url, args, home)
    failed = sum(len(t.errors) for t in sqlite.values())
    if failed:
        print(f"{failed} requests failed on SQLite")
    print(f"complete_p50_ms={_ms(sqlite['paced'].complete, .5):.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

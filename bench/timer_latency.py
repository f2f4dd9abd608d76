"""Deadline firing latency with the real scheduler on SQLite, and due-deadline lookup among 1M.

    python bench/timer_latency.py [--cases 10000] [--window 60] [--armed 1000000]

1. Creates N cases whose timers fall due spread over a window of W seconds, starts the APScheduler
   deadline scheduler (in a fresh engine, as a separate scheduler process would be), waits until
   every deadline fired, and reports lateness = fired_at - due_at (p50 / p99 / max).
2. Fills the deadline table with M armed deadlines spread over a year and times the scheduler's
   query for the ones due now.
Ends with the line timer_p99_lateness_s=<float>."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from yijianshi.engine.access.actors import SYSTEM  # noqa: E402
from yijianshi.engine.clock import SHANGHAI, to_utc  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.settings import Settings  # noqa: E402
from yijianshi.storage import deadline_store  # noqa: E402
from yijianshi.storage.database import Database  # noqa: E402
from yijianshi.storage.tables import Deadline  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def lateness_run(settings: Settings, n: int, window: float) -> list[float]:
    system = System.build(settings)
    db = system.db
    db.upgrade()
    creator = system.engine
    creator.deploy([ROOT / "bench" / "timer_case.bpmn"])
    lead = max(10.0, n * 0.004)  # time to create the cases before the first one falls due
    t0 = datetime.now(SHANGHAI) + timedelta(seconds=lead)
    step = window / n
    started = time.perf_counter()
    for i in range(n):
        due = (t0 + timedelta(seconds=i * step)).isoformat()
        creator.cases.start_case("timer_bench", {"due": due}, SYSTEM)
    created = time.perf_counter() - started
    if datetime.now(SHANGHAI) > t0:
        raise SystemExit(f"creating {n} cases took {created:.1f}s, longer than the lead time {lead:.1f}s")
    print(f"created {n} cases in {created:.1f}s; deadlines fall due over {window:.0f}s from {t0:%H:%M:%S}")
    scheduler_system = System.build(settings)
    scheduler = scheduler_system.scheduler(tick_s=0.2)
    scheduler.start()
    try:
        end = t0 + timedelta(seconds=window)
        while True:
            time.sleep(1.0)
            with db.reader.connect() as conn:
                left = deadline_store.count(conn, "armed")
            if left == 0 or datetime.now(SHANGHAI) > end + timedelta(seconds=120):
                break
    finally:
        scheduler.stop()
        scheduler_system.close()
    table = Deadline.__table__
    with db.reader.connect() as conn:
        rows = list(conn.execute(select(table.c.due_at, table.c.fired_at, table.c.state)))
    unfired = sum(r.state != "fired" for r in rows)
    if unfired:
        raise SystemExit(f"{unfired} deadlines did not fire")
    db.dispose()
    return [(r.fired_at - r.due_at).total_seconds() for r in rows]


def lookup_run(settings: Settings, armed: int) -> list[float]:
    system = System.build(settings)
    db = system.db
    db.upgrade()
    engine = system.engine
    engine.deploy([ROOT / "bench" / "timer_case.bpmn"])
    far = (datetime.now(SHANGHAI) + timedelta(days=400)).isoformat()
    case_id = engine.cases.start_case("timer_bench", {"due": far}, SYSTEM).id
    now = to_utc(datetime.now(SHANGHAI))
    table = Deadline.__table__
    started = time.perf_counter()
    chunk = 50_000
    with db.writer.begin() as conn:
        for base in range(0, armed, chunk):
            rows = [{"case_id": case_id, "task_id": f"bench-{i}", "task_spec": "wait_until", "kind": "timer",
                     "due_at": now + timedelta(seconds=60 + (i * 31_536_000) // armed), "state": "armed",
                     "armed_at": now, "fired_at": None}
                    for i in range(base, min(armed, base + chunk))]
            # 200 of them are due now
            if base == 0:
                for r in rows[:200]:
                    r["due_at"] = now - timedelta(seconds=5)
            conn.execute(insert(table), rows)
    print(f"inserted {armed} armed deadlines in {time.perf_counter() - started:.1f}s")
    timings = []
    with db.reader.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for _ in range(50):
            t = time.perf_counter()
            found = deadline_store.due(conn, now, limit=500)
            timings.append((time.perf_counter() - t) * 1000)
    assert len(found) == 200, len(found)
    db.dispose()
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--armed", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        late = lateness_run(Settings.at(tmp, f"sqlite:///{tmp}/timers.sqlite3"), args.cases, args.window)
        print(f"deadlines_fired={len(late)}")
        print(f"lateness_p50_s={percentile(late, 50):.3f}")
        print(f"lateness_p99_s={percentile(late, 99):.3f}")
        print(f"lateness_max_s={max(late):.3f}")
        print(f"lateness_min_s={min(late):.3f}")
        lookups = lookup_run(Settings.at(tmp, f"sqlite:///{tmp}/lookup.sqlite3"), args.armed)
        print(f"due_lookup_among_{args.armed}_median_ms={statistics.median(lookups):.3f}")
        print(f"due_lookup_among_{args.armed}_max_ms={max(lookups):.3f}")
    print(f"timer_p99_lateness_s={percentile(late, 99):.3f}")


if __name__ == "__main__":
    main()

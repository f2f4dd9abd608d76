"""Measured outcomes at district scale: a SQLite database with N finished cases (default 20,000) of
the test scenario outcome_demo (tests/fixtures/outcomes), their history rows and work items inserted
directly in bulk (10 events and 4 work items per case, chosen durations), then timed: the figures of
the scenario over the year measured the first time (every case's events read and measured, the
measurements stored in case_outcomes), cold after a restart (nothing in memory: the stored
measurements read) and warm (kept in memory), the per-element figures for heatmaps, the forecast
accuracy, and one forecast. The query plan of the per-scenario query is printed to show it uses
ix_cases_scenario_ended.

    python bench/outcomes_scale.py [--cases N]

Ends with the line outcomes_cold_s=<seconds> per_case_ms=<milliseconds per case> (after a restart)."""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from yijianshi.engine.clock import SHANGHAI, ControlledClock  # noqa: E402
from yijianshi.engine.runtime import Engine  # noqa: E402
from yijianshi.engine.supervision import completion_forecast, outcomes  # noqa: E402
from yijianshi.storage.database import Database  # noqa: E402
from yijianshi.storage.tables import Case, Event, WorkItem  # noqa: E402

MODELS = sorted((ROOT / "tests" / "fixtures" / "outcomes").glob("*.bpmn"))


def fill(engine: Engine, n: int) -> None:
    calendar = engine.calendar.calendar
    rng = random.Random(7)
    with engine.db.reader.connect() as conn:
        definition_id = conn.execute(text("SELECT id FROM definitions WHERE key = 'outcome_demo'")).scalar_one()
    day = date(2026, 1, 5)
    per_day = max(1, n // 240)
    cases, events, items = [], [], []
    for i in range(1, n + 1):
        if i % per_day == 0:
            day = calendar.next_working_day(day)
        started = datetime.combine(day, dtime(9), SHANGHAI)
        a, b = rng.randint(0, 3), rng.randint(1, 4)
        a_end = calendar.add_working_days(started, a).replace(hour=16, minute=0, second=0) if a else started.replace(hour=16)
        b_end = calendar.add_working_days(started, b).replace(hour=16, minute=0, second=0)
        ended = max(a_end, b_end)
        owner = f"user{rng.randint(1, n // 2)}"
        cases.append(dict(id=i, definition_id=definition_id, definition_key="outcome_demo", business_key=None,
                          title="测评联办", status="completed", version=5, engine_state="", started_by=owner,
                          started_at=started, updated_at=ended, ended_at=ended, history_seq=10, history_head="0" * 64))
        ids = {t: str(uuid.uuid4()) for t in ("apply", "accept", "review_a", "review_b")}
        process = {"apply": "outcome_demo", "accept": "outcome_demo", "review_a": "outcome_item_a",
                   "review_b": "outcome_item_b"}
        timeline = [("case_started", owner, started, None, "{}"),
                    ("work_item_ready", "system", started, "apply", '{"groups":["applicant"],"name":"填写申请"}'),
                    ("work_item_completed", owner, started, "apply", "{}"),
                    ("work_item_ready", "system", started, "accept", '{"groups":["front_desk"],"name":"受理"}'),
                    ("work_item_completed", "clerk", started, "accept", "{}"),
                    ("work_item_ready", "system", started, "review_a", '{"groups":["market"],"name":"甲"}'),
                    ("work_item_ready", "system", started, "review_b", '{"groups":["tax"],"name":"乙"}'),
                    ("work_item_completed", "m", a_end, "review_a", "{}"),
                    ("work_item_completed", "t", b_end, "review_b", "{}"),
                    ("case_completed", "system", ended, None, "{}")]
        for seq, (type_, actor, at, spec, data) in enumerate(timeline, 1):
            events.append(dict(case_id=i, seq=seq, type=type_, actor=actor, at=at, work_item_id=ids.get(spec or ""),
                               task_spec=spec, data=data, prev_hash="0" * 64, hash="0" * 64))
        for spec, wid in ids.items():
            items.append(dict(id=wid, case_id=i, definition_id=definition_id, process_id=process[spec], task_spec=spec,
                              name=spec, groups="x", state="completed", created_at=started, ended_at=ended))
    with engine.db.writer.begin() as conn:
        conn.execute(insert(Case.__table__), cases)
        conn.execute(insert(WorkItem.__table__), items)
        for k in range(0, len(events), 20000):
            conn.execute(insert(Event.__table__), events[k:k + 20000])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        engine = Engine(db, ControlledClock(datetime(2026, 1, 2, 9, tzinfo=SHANGHAI)))
        engine.deploy(MODELS)
        t0 = time.perf_counter()
        fill(engine, args.cases)
        print(f"filled {args.cases} cases in {time.perf_counter() - t0:.1f}s")
        start, end = datetime(2026, 1, 1, tzinfo=SHANGHAI), datetime(2027, 1, 1, tzinfo=SHANGHAI)
        with db.reader.connect() as conn:
            plan = conn.execute(text("EXPLAIN QUERY PLAN SELECT id FROM cases WHERE definition_key = 'outcome_demo' "
                                     "AND ended_at >= '2026-01-01' AND ended_at < '2027-01-01'")).fetchall()
        print("plan:", "; ".join(str(r[-1]) for r in plan))
        t0 = time.perf_counter()
        outcomes.scenario_outcome(engine, "outcome_demo", start, end)
        first_s = time.perf_counter() - t0
        outcomes._case_cache(engine).clear()  # a restart: nothing in memory, the stored measurements remain
        t0 = time.perf_counter()
        cold = outcomes.scenario_outcome(engine, "outcome_demo", start, end)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        outcomes.scenario_outcome(engine, "outcome_demo", start, end)
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        elements = outcomes.element_figures(engine, "outcome_demo", start, end)
        elements_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc = completion_forecast.accuracy(engine, "outcome_demo", start, end)
        acc_s = time.perf_counter() - t0
        engine.clock.set(datetime(2026, 12, 30, 9, tzinfo=SHANGHAI))
        t0 = time.perf_counter()
        completion_forecast.scenario_graph(engine, "outcome_demo")
        completion_forecast.history(engine, "outcome_demo", engine.clock.now(), None)
        forecast_s = time.perf_counter() - t0
        print(f"cases={cold.cases} p50={cold.spread.p50} p90={cold.spread.p90} on_time={cold.spread.on_time_rate}% "
              f"elements={len(elements)} forecast_mae={acc.mean_absolute_error} within_one={acc.within_one_share}%")
        print(f"warm_s={warm_s:.3f} elements_s={elements_s:.3f} accuracy_s={acc_s:.3f} forecast_history_s={forecast_s:.3f}")
        print(f"first_measured_s={first_s:.2f} (events read, measured and stored)")
        print(f"outcomes_cold_s={cold_s:.2f} per_case_ms={1000 * cold_s / max(1, cold.cases):.3f}")
        db.dispose()


if __name__ == "__main__":
    main()

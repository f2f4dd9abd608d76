"""Inbox at scale: a database with 100,000 open work items across departments (rows inserted
directly, in bulk), and the queries a clerk's inbox page runs timed on SQLite and on PostgreSQL:
the default page (first page + quick-filter counts), a filtered page (overdue in one scenario,
sorted by arrival), a search (the start of an enterprise name; an ID number) and the inbox of all
departments.

    python bench/inbox_scale.py [--items N] [--repeat R] [--skip-postgres]

Ends with the line inbox_p50_ms=<the worse of the two databases' p50 for the default page>."""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from yijianshi.storage import case_search, case_store  # noqa: E402
from yijianshi.storage.database import Database  # noqa: E402
from yijianshi.storage.inbox_store import InboxFilter, inbox, inbox_counts  # noqa: E402
from yijianshi.storage.tables import CaseSearchTerm, Definition  # noqa: E402

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=timezone.utc)
# Departments and how much of the open work each holds: a few large ones, a long tail.
DEPARTMENTS = {"market": 24, "front_desk": 16, "tax": 12, "health": 10, "fire": 8, "housing": 7,
               "social_security": 6, "public_security": 5, "civil_affairs": 4, "education": 3,
               "water": 2, "power": 2, "gas": 1}
SCENARIOS = ("open_restaurant", "enterprise_change", "newborn", "retirement", "school_enrolment",
             "utility_connection", "credit_repair", "medical_institution_change")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
SHOPS = ("面馆", "超市", "药房", "茶楼", "书店", "烘焙坊", "火锅店", "便利店")
CLERK = "shichang"
BATCH = 5000


def _id_number(rng: random.Random) -> str:
    return f"51010{rng.randint(0, 9)}{rng.randint(1960, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" \
           f"{rng.randint(0, 999):03d}{rng.choice('0123456789X')}"


def fill(db: Database, items: int, *, seed: int = 7) -> dict:
    """Open work items on about items/1.6 running cases; returns a few values to search for."""
    rng = random.Random(seed)
    depts, weights = list(DEPARTMENTS), list(DEPARTMENTS.values())
    with db.writer.begin() as conn:
        definition_ids = {}
        for key in SCENARIOS:
            definition_ids[key] = conn.execute(insert(Definition.__table__).returning(Definition.__table__.c.id), {
                "key": key, "version": 1, "name": key, "content_hash": "0" * 64, "spec_json": "{}",
                "task_meta_json": "{}", "files_json": "[]", "deployed_at": NOW, "deployed_by": "bench"}).scalar_one()
    probe = {}
    made, case_no = 0, 0
    while made < items:
        cases_rows, item_rows, term_rows = [], {}, []
        with db.writer.begin() as conn:
            for _ in range(BATCH):
                if made >= items:
                    break
                case_no += 1
                key = rng.choice(SCENARIOS)
                started = NOW - timedelta(days=rng.uniform(0, 40))
                name = rng.choice(SURNAMES) + rng.choice(SURNAMES) + rng.choice(SHOPS)
                ident = _id_number(rng)
                cases_rows.append({"id": case_no, "definition_id": definition_ids[key], "definition_key": key,
                                   "business_key": f"BK-{case_no:07d}", "title": f"{name}的申请",
                                   "status": "running", "version": 1, "engine_state": "", "started_by": f"u{case_no}",
                                   "started_at": started, "updated_at": started, "history_seq": 1,
                                   "history_head": "0" * 64, "attention": None})
                term_rows += [{"case_id": case_no, "kind": k, "term": t}
                              for k, t in case_search.terms_of({"enterprise_name": name, "legal_rep_id_no": ident})]
                if case_no == 1000:
                    probe = {"name": name[:2], "identifier": ident, "case_id": case_no}
                for _ in range(1 if rng.random() < 0.45 else 2):  # parallel department steps
                    made += 1
                    groups = rng.choices(depts, weights)
                    if rng.random() < 0.15:  # a joint step of two departments
                        groups = list(dict.fromkeys(groups + rng.choices(depts, weights)))
                    created = started + timedelta(hours=rng.uniform(0, 48))
                    roll = rng.random()
                    if roll < 0.15:
                        due = warning = None
                    else:
                        due = NOW + timedelta(days=rng.uniform(-3, 0) if roll < 0.2 else rng.uniform(0, 20))
                        warning = due - timedelta(days=1)
                    item_rows.setdefault(key, []).append({
                        "id": str(uuid.UUID(int=rng.getrandbits(128))), "case_id": case_no,
                        "definition_id": definition_ids[key], "process_id": key, "task_spec": "review",
                        "name": "审核", "groups": ",".join(groups), "state": "ready",
                        "claimed_by": (CLERK if rng.random() < 0.002 else f"clerk{rng.randint(1, 300)}")
                        if rng.random() < 0.12 else None,
                        "claimed_at": None, "due_at": due, "warning_at": warning, "created_at": created,
                        "ended_at": None, "ended_by": None})
            conn.execute(insert(case_store.cases), cases_rows)
            conn.execute(insert(CaseSearchTerm.__table__), term_rows)
            for key, rows in item_rows.items():
                case_store.insert_work_items(conn, rows, key)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return probe


def page(conn, f: InboxFilter, *, counts: bool = True) -> None:
    """What the inbox page asks the database: the page (one row more, to know of a next page) and counts."""
    inbox(conn, f, NOW, limit=51, offset=0)
    if counts:
        inbox_counts(conn, InboxFilter(f.groups, f.me, definition_key=f.definition_key, search=f.search), NOW)


def scenarios(probe: dict) -> dict[str, InboxFilter]:
    clerk = ("market",)
    return {
        "default_page": InboxFilter(groups=clerk, me=CLERK),
        "two_departments": InboxFilter(groups=("market", "front_desk"), me=CLERK),
        "filtered_page": InboxFilter(groups=clerk, me=CLERK, overdue=True, definition_key="open_restaurant",
                                     sort="received", descending=True),
        "claimed_by_me": InboxFilter(groups=clerk, me=CLERK, claimed_by_me=True),
        "warning": InboxFilter(groups=clerk, me=CLERK, warning=True),
        "search_name": InboxFilter(groups=None, me=CLERK, search=probe["name"]),
        "search_id_number": InboxFilter(groups=None, me=CLERK, search=probe["identifier"]),
        "search_case_number": InboxFilter(groups=None, me=CLERK, search=str(probe["case_id"])),
        "all_departments": InboxFilter(groups=None, me=CLERK, sort="case"),
    }


def measure(db: Database, probe: dict, repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with db.reader.connect() as conn:
        for name, f in scenarios(probe).items():
            page(conn, f)  # warm
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                page(conn, f)
                runs.append((time.perf_counter() - t0) * 1000)
            timings[name] = runs
    return timings


def report(label: str, timings: dict[str, list[float]]) -> float:
    for name, runs in timings.items():
        runs = sorted(runs)
        p95 = runs[min(len(runs) - 1, int(len(runs) * 0.95))]
        print(f"{label} {name}: p50={statistics.median(runs):.2f} ms p95={p95:.2f} ms")
    return statistics.median(timings["default_page"])


def run(url: str, items: int, repeat: int, label: str) -> float:
    db = Database(url)
    db.upgrade()
    t0 = time.perf_counter()
    probe = fill(db, items)
    print(f"{label}: filled {items} open work items in {time.perf_counter() - t0:.1f} s")
    p50 = report(label, measure(db, probe, repeat))
    db.dispose()
    return p50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    print(f"inbox_scale: {args.items} open work items over {len(DEPARTMENTS)} departments, "
          f"{len(SCENARIOS)} scenarios; {args.repeat} runs per query set (started {datetime.now(timezone.utc):%H:%M})")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        worst = max(worst, run(f"sqlite:///{tmp}/inbox.sqlite3", args.items, args.repeat, "sqlite"))
    if not args.skip_postgres:
        from yijianshi.storage.throwaway_postgres import throwaway_postgres

        with throwaway_postgres() as url:
            worst = max(worst, run(url, args.items, args.repeat, "postgresql"))
    print(f"inbox_p50_ms={worst:.2f}")


if __name__ == "__main__":
    main()

"""History checkpoints at scale: a SQLite database with N history events (default 100,000, on
N/20 cases, inserted directly in bulk with real hash chains), then timed: the first checkpoint (the
whole tree, streamed in id order), a second one after 1% more events (only those are read), and
`verify` of the whole history against the checkpoints (the tree recomputed, every event compared).
How much the process's peak resident memory grew during the first checkpoint is printed too: it
stays flat, since no more than one batch of rows is held at a time (the fill before it sets the peak).

    python bench/checkpoint_scale.py [--events N] [--postgres]

--postgres runs on a throwaway PostgreSQL cluster instead (needs the PostgreSQL binaries).
Ends with the line checkpoint_100k_s=<seconds of the first checkpoint per 100,000 events>."""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from yijianshi.engine.audit import anchoring  # noqa: E402
from yijianshi.engine.audit.checkpoints import Checkpoints  # noqa: E402
from yijianshi.engine.cases import history as h  # noqa: E402
from yijianshi.engine.clock import Clock  # noqa: E402
from yijianshi.storage import case_store  # noqa: E402
from yijianshi.storage.database import Database  # noqa: E402
from yijianshi.storage.tables import Definition  # noqa: E402

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=timezone.utc)
PER_CASE = 20
TYPES = (h.WORK_ITEM_READY, h.WORK_ITEM_CLAIMED, h.WORK_ITEM_COMPLETED)


def fill(db: Database, events: int, first_case: int = 1) -> int:
    """Cases of PER_CASE events each, chained as the engine chains them; returns the next case id."""
    with db.writer.begin() as conn:
        definition_id = conn.execute(
            insert(Definition.__table__).returning(Definition.__table__.c.id),
            {"key": f"bench{first_case}", "version": 1, "name": "bench", "content_hash": "0" * 64, "spec_json": "{}",
             "task_meta_json": "{}", "files_json": "[]", "deployed_at": NOW, "deployed_by": "bench"}).scalar_one()
    case_id = first_case
    made = 0
    while made < events:
        with db.writer.begin() as conn:
            case_rows, event_rows = [], []
            for _ in range(250):
                if made >= events:
                    break
                n = min(PER_CASE, events - made)
                at = NOW + timedelta(seconds=case_id)
                new = [h.NewEvent(h.CASE_STARTED, "desk", {"data": {"applicant_name": "张三", "n": case_id}})]
                new += [h.NewEvent(TYPES[i % 3], f"clerk{i}", {"approved": True}, f"w{case_id}-{i}", "review")
                        for i in range(n - 1)]
                rows = h.chain(case_id, 0, h.GENESIS, at, new)
                case_rows.append({"id": case_id, "definition_id": definition_id, "definition_key": "bench",
                                  "business_key": None, "title": f"案件{case_id}", "status": "running", "version": 1,
                                  "engine_state": "", "started_by": "desk", "started_at": at, "updated_at": at,
                                  "history_seq": len(rows), "history_head": rows[-1]["hash"], "attention": None})
                event_rows += rows
                made += n
                case_id += 1
            conn.execute(insert(case_store.cases), case_rows)
            conn.execute(insert(case_store.events), event_rows)
    return case_id


def timed(what: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{what}: {seconds:.2f} s")
    return result, seconds


def run(url: str, folder: Path, events: int) -> float:
    db = Database(url)
    db.upgrade()
    checkpoints = Checkpoints(db, Clock(), folder / "checkpoints", folder / "signing.pem")
    _, seconds = timed(f"fill {events} events", lambda: fill(db, events))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cp, first = timed(f"checkpoint #1 over {events} events", checkpoints.create)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(f"  tree_size={cp.tree_size} root={cp.root_hash[:16]}… peak resident memory grew by {grew / 1024:.1f} MiB")
    more = max(1, events // 100)
    fill(db, more, first_case=events + 1)
    cp2, _ = timed(f"checkpoint #2 after {more} more events", checkpoints.create)
    report, _ = timed(f"verify {cp2.tree_size} events against the checkpoints", lambda: anchoring.verify(checkpoints))
    assert report.ok and report.compared == cp2.tree_size, report.lines()
    size = sum(p.stat().st_size for p in (folder / "checkpoints").iterdir() if p.is_file())
    print(f"  checkpoint folder: {size / 2**20:.1f} MiB ({size / cp2.tree_size:.0f} bytes per event)")
    db.dispose()
    return first * 100_000 / events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="checkpoint-bench-")))
        if args.postgres:
            from yijianshi.storage.throwaway_postgres import throwaway_postgres
            url = stack.enter_context(throwaway_postgres("checkpoint_bench"))
        else:
            url = f"sqlite:///{folder / 'bench.sqlite3'}"
        per_100k = run(url, folder, args.events)
    print(f"checkpoint_100k_s={per_100k:.2f}")


if __name__ == "__main__":
    main()

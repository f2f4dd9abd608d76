"""The floor under bench/engine_throughput.py: how fast a case of the same process could go if a case
command did nothing but what no design of this engine can leave out.

Per command the floor does: one user task run and the engine steps after it (SpiffWorkflow, one task
per command as the engine does it, not the raw loop's four at once), the engine's state encoding and
compression (engine/cases/state_codec.py, storage/state_blob.py), and one durable transaction holding
a version-checked UPDATE of the case row and one INSERT of a hashed event. No work items, group rows,
outbox, search terms, validation, authorisation or history chaining. On PostgreSQL the transaction is
one pipelined round trip (BEGIN, both statements, COMMIT), prepared on the server; a second line adds
the one read a command makes before it writes (the work item and case head), as its own round trip.

    python bench/engine_floor.py [--cases N] [--skip-postgres]

Prints floor_*_ms_per_case and ratio_*_floor_vs_raw: the highest `ratio_*_vs_raw` that
engine_throughput.py could show with this SpiffWorkflow, encoder and database."""
from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.task import TaskState  # noqa: E402

from bench.engine_throughput import DEPT, FORMS, _raw_spec, run_raw  # noqa: E402
from yijianshi.engine.cases.state_codec import CaseStateCodec  # noqa: E402
from yijianshi.storage.state_blob import compress  # noqa: E402

EVENT = '{"submitted":{"approved":true,"remark":"同意"}}'
UPDATE = "UPDATE c SET v = v + 1, s = ? WHERE id = ? AND v = ?"
INSERT = "INSERT INTO e (cid, seq, data, h) VALUES (?, ?, ?, ?)"
READ = "SELECT c.v, c.id FROM c WHERE c.id = ?"


class Store:
    """One durable transaction per command: `write(statements)`; `read(sql, params)` for the
    PostgreSQL variant with a read first."""
    write: Callable[[list[tuple[str, tuple]]], None]
    read: Callable[[str, tuple], object] | None = None


class Floor:
    def __init__(self, store: Store, read_first: bool = False):
        self.spec, self.subs = _raw_spec()
        self.codec = CaseStateCodec()
        self.store = store
        self.read_first = read_first
        self.next_id = 1

    def run(self, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            cid, self.next_id = self.next_id, self.next_id + 1
            wf = BpmnWorkflow(self.spec, self.subs)
            wf.do_engine_steps()
            self.store.write([("INSERT INTO c (id, v, s) VALUES (?, 1, ?)", (cid, self._state(wf)))])
            version = 1
            while not wf.completed:
                if self.read_first and self.store.read is not None:
                    self.store.read(READ, (cid,))
                task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
                task.data.update(FORMS.get(task.task_spec.name, DEPT))
                task.run()
                wf.do_engine_steps()
                state = self._state(wf)
                self.store.write([(UPDATE, (state, cid, version)),
                                  (INSERT, (cid, version, EVENT, hashlib.sha256(state).digest()))])
                version += 1
        return time.perf_counter() - t0

    def _state(self, wf: BpmnWorkflow) -> bytes:
        return compress(self.codec.encode(wf), 6)


def sqlite_store(folder: str) -> Store:
    conn = sqlite3.connect(f"{folder}/floor.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # as storage/database.py
    conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, s BLOB NOT NULL)")
    conn.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, cid INTEGER NOT NULL, seq INTEGER NOT NULL, "
                 "data TEXT NOT NULL, h BLOB NOT NULL, UNIQUE (cid, seq))")
    store = Store()

    def write(statements):
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("COMMIT")

    store.write = write
    return store


def postgres_store(url: str) -> Store:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    conn.execute("CREATE TABLE c (id integer PRIMARY KEY, v integer NOT NULL, s bytea NOT NULL)")
    conn.execute("CREATE TABLE e (id serial PRIMARY KEY, cid integer NOT NULL, seq integer NOT NULL, "
                 "data text NOT NULL, h bytea NOT NULL, UNIQUE (cid, seq))")
    cur = conn.cursor()
    store = Store()

    def write(statements):
        with conn.pipeline():  # one round trip: BEGIN, the statements and COMMIT sent together
            cur.execute("BEGIN")
            for sql, params in statements:
                cur.execute(sql.replace("?", "%s"), params, prepare=True)
            cur.execute("COMMIT")

    def read(sql, params):
        return cur.execute(sql.replace("?", "%s"), params, prepare=True).fetchone()

    store.write, store.read = write, read
    return store


def compare(floor: Floor, rounds: int, per_round: int) -> tuple[float, float]:
    """(raw seconds, floor seconds), taking turns each round so both see the same machine load."""
    spec, subs = _raw_spec()
    run_raw(spec, subs, 20)
    floor.run(20)
    raw = low = 0.0
    for _ in range(rounds):
        raw += run_raw(spec, subs, per_round)
        low += floor.run(per_round)
    return raw, low


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    per_round = max(1, args.cases // args.rounds)
    total = per_round * args.rounds
    print(f"engine_floor: {total} cases of parallel_review, floor and raw SpiffWorkflow taking turns")
    with tempfile.TemporaryDirectory() as tmp:
        raw, low = compare(Floor(sqlite_store(tmp)), args.rounds, per_round)
    print(f"raw_ms_per_case={1000 * raw / total:.2f}")
    print(f"floor_sqlite_ms_per_case={1000 * low / total:.2f}")
    print(f"ratio_sqlite_floor_vs_raw={raw / low:.3f}")
    if args.skip_postgres:
        return
    from yijianshi.storage.throwaway_postgres import ThrowawayCluster

    cluster = ThrowawayCluster(durable=True).start()  # fsync on, as engine_throughput.py
    try:
        for label, read_first in (("", False), ("_with_read", True)):
            store = postgres_store(cluster.create_database(f"floor{label}"))
            raw, low = compare(Floor(store, read_first), args.rounds, per_round)
            print(f"floor_postgresql{label}_ms_per_case={1000 * low / total:.2f}")
            print(f"ratio_postgresql{label}_floor_vs_raw={raw / low:.3f}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

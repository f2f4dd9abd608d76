"""SQL of history checkpoints: the last event id whose place in the id order can no longer change,
and the history events read in id order in batches (a checkpoint's tree is over events in that
order, computed without ever holding all of them in memory)."""
from __future__ import annotations

from collections.abc import Iterator

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from yijianshi.storage.tables import CheckpointMark, Event

events = Event.__table__
marks = CheckpointMark.__table__

# Rows per query while streaming: enough to amortise the round trip, small enough to stay flat.
BATCH = 5000
# How long a checkpoint waits on PostgreSQL for the transactions that are writing history to end.
LOCK_TIMEOUT = "15s"


def settled_last_id(conn: Connection) -> int:
    """The highest event id such that every event with an id up to it is committed (0: none).

    Must run in a write transaction of its own, committed right after. SQLite runs one writer at a
    time, so a committed id is final. On PostgreSQL ids come from a sequence when an INSERT runs, and
    a transaction that drew id 10 may commit after one that drew 11: the SHARE lock waits until every
    transaction that has inserted into events has ended (it conflicts with the ROW EXCLUSIVE lock an
    INSERT takes before it draws its id) and holds new inserts off for the moment the maximum is
    read. Every id drawn after the lock is released is larger. Writers wait at most LOCK_TIMEOUT."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.exec_driver_sql("LOCK TABLE events IN SHARE MODE")
    return conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()


def events_in_id_order(conn: Connection, after_id: int, up_to_id: int | None = None,
                       case_id: int | None = None) -> Iterator:
    """Events with after_id < id (<= up_to_id), optionally of one case, in id order, read in batches."""
    last = after_id
    while True:
        q = select(events).where(events.c.id > last)
        if up_to_id is not None:
            q = q.where(events.c.id <= up_to_id)
        if case_id is not None:
            q = q.where(events.c.case_id == case_id)
        rows = list(conn.execute(q.order_by(events.c.id).limit(BATCH)))
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1].id


def count_after(conn: Connection, after_id: int, case_id: int | None = None) -> int:
    q = select(func.count()).select_from(events).where(events.c.id > after_id)
    if case_id is not None:
        q = q.where(events.c.case_id == case_id)
    return conn.execute(q).scalar_one()


def recorded_before(conn: Connection, after_id: int, before, case_id: int | None = None,
                    limit: int = 100) -> list:
    """Events with an id past after_id whose recorded time is earlier than `before` (an aware
    datetime), in id order: events that a checkpoint taken at `before` should have covered."""
    q = select(events).where(events.c.id > after_id, events.c.at < before)
    if case_id is not None:
        q = q.where(events.c.case_id == case_id)
    return list(conn.execute(q.order_by(events.c.id).limit(limit)))


def latest_mark(conn: Connection):
    """The highest checkpoint signed against this database (number, digest, signed_at), or None."""
    return conn.execute(select(marks).order_by(marks.c.number.desc()).limit(1)).first()


def add_mark(conn: Connection, number: int, digest: str, at: datetime) -> None:
    """Record that checkpoint `number` was signed; a second checkpoint of that number is refused by
    the primary key (IntegrityError)."""
    conn.execute(insert(marks).values(number=number, digest=digest, signed_at=at))

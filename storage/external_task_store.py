"""SQL for open external tasks: the projection's inserts and deletes, and the locks workers take.
A lock is taken by a conditional UPDATE (only while the task is unlocked or its lock expired, and
has retries left), so two workers never hold the same task, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update

from yijianshi.storage.tables import ExternalTask

external_tasks = ExternalTask.__table__
t = external_tasks.c


def insert_tasks(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(external_tasks), rows)


def delete_tasks(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(external_tasks).where(t.id.in_(list(ids))))


def get(conn: Connection, task_id: str) -> Row[Any] | None:
    return conn.execute(select(external_tasks).where(t.id == task_id)).first()


def _available(now: datetime):
    return and_(or_(t.lock_expires_at.is_(None), t.lock_expires_at <= now),
                or_(t.retries.is_(None), t.retries > 0))


def candidates(conn: Connection, topic: str, now: datetime, limit: int, *, business_key: str | None = None,
               definition_key: str | None = None, definition_keys: frozenset[str] | None = None,
               by_priority: bool = True) -> list[str]:
    """Ids of tasks of a topic a worker may lock now, highest priority (then oldest) first."""
    q = select(t.id).where(t.topic == topic, _available(now))
    if business_key is not None:
        q = q.where(t.business_key == business_key)
    if definition_key is not None:
        q = q.where(t.definition_key == definition_key)
    if definition_keys is not None:
        q = q.where(t.definition_key.in_(sorted(definition_keys)))
    order = (t.priority.desc(), t.created_at, t.id) if by_priority else (t.created_at, t.id)
    return list(conn.execute(q.order_by(*order).limit(limit)).scalars())


def try_lock(conn: Connection, task_id: str, worker_id: str, now: datetime, until: datetime) -> bool:
    """Lock the task for the worker if it is still free; False if someone else was first."""
    result = conn.execute(update(external_tasks).where(t.id == task_id, _available(now))
                          .values(worker_id=worker_id, lock_expires_at=until))
    return result.rowcount == 1


def extend_lock(conn: Connection, task_id: str, worker_id: str, now: datetime, until: datetime) -> bool:
    result = conn.execute(update(external_tasks)
                          .where(t.id == task_id, t.worker_id == worker_id, t.lock_expires_at > now)
                          .values(lock_expires_at=until))
    return result.rowcount == 1


def unlock(conn: Connection, task_id: str) -> bool:
    result = conn.execute(update(external_tasks).where(t.id == task_id)
                          .values(worker_id=None, lock_expires_at=None))
    return result.rowcount == 1


def locked_by(conn: Connection, task_id: str, worker_id: str) -> bool:
    """Whether the task is still there and held by this worker (checked in a command's write)."""
    return conn.execute(select(t.id).where(t.id == task_id, t.worker_id == worker_id)).first() is not None


def record_failure(conn: Connection, task_id: str, retries: int, message: str | None, details: str | None,
                   lock_until: datetime | None) -> None:
    """A worker's failure: retries left, the error, and how long the task stays unavailable."""
    conn.execute(update(external_tasks).where(t.id == task_id).values(
        retries=retries, error_message=message, error_details=details, lock_expires_at=lock_until,
        worker_id=None if lock_until is None else t.worker_id))


def set_retries(conn: Connection, task_id: str, retries: int) -> bool:
    return conn.execute(update(external_tasks).where(t.id == task_id).values(retries=retries)).rowcount == 1


def of_case(conn: Connection, case_id: int) -> list[Row[Any]]:
    return list(conn.execute(select(external_tasks).where(t.case_id == case_id).order_by(t.created_at, t.id)))


def listing(conn: Connection, *, topic: str | None = None, case_id: int | None = None,
            worker_id: str | None = None, limit: int = 200) -> list[Row[Any]]:
    q = select(external_tasks)
    if topic is not None:
        q = q.where(t.topic == topic)
    if case_id is not None:
        q = q.where(t.case_id == case_id)
    if worker_id is not None:
        q = q.where(t.worker_id == worker_id)
    return list(conn.execute(q.order_by(t.created_at, t.id).limit(limit)))

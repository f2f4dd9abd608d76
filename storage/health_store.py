"""SQL that operations read: is the database there, how much work is open and late. Cheap enough to
run on every health check and metrics scrape (one aggregate over the ready work items)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, case, func, or_, select

from yijianshi.storage import case_store
from yijianshi.storage.tables import Deadline, WorkItem

work_items = WorkItem.__table__
deadlines = Deadline.__table__


def ping(conn: Connection) -> None:
    conn.exec_driver_sql("SELECT 1").scalar()


def open_work_item_counts(conn: Connection, now: datetime) -> tuple[int, int, int]:
    """Ready work items: all of them, those past their warning time but not yet due, those overdue
    (the same rule the inboxes colour by)."""
    overdue = and_(work_items.c.due_at.is_not(None), work_items.c.due_at <= now)
    warning = and_(work_items.c.warning_at.is_not(None), work_items.c.warning_at <= now,
                   or_(work_items.c.due_at.is_(None), work_items.c.due_at > now))
    row = conn.execute(select(
        func.count(),
        func.coalesce(func.sum(case((warning, 1), else_=0)), 0),
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
    ).where(work_items.c.id.in_(case_store.open_item_ids()))).one()
    return int(row[0]), int(row[1]), int(row[2])


def deadline_counts(conn: Connection) -> dict[str, int]:
    """Deadlines waiting to fire (armed) and waiting for a holiday schedule (blocked)."""
    rows = conn.execute(select(deadlines.c.state, func.count())
                        .where(deadlines.c.state.in_(("armed", "blocked"))).group_by(deadlines.c.state))
    found = {state: int(n) for state, n in rows}
    return {"armed": found.get("armed", 0), "blocked": found.get("blocked", 0)}

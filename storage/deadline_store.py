"""SQL for armed deadlines (BPMN timers of running cases) and scheduler leadership."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from yijianshi.storage.tables import Deadline, SchedulerLease

deadlines = Deadline.__table__
leases = SchedulerLease.__table__

_INSERT = insert(deadlines)
_END = update(deadlines).where(and_(deadlines.c.case_id == bindparam("cid"),
                                    deadlines.c.task_id == bindparam("tid"),
                                    deadlines.c.due_at == bindparam("due"),
                                    or_(deadlines.c.state == "armed", deadlines.c.state == "blocked"))).values(
    state=bindparam("new_state"), fired_at=bindparam("at"))
_DUE = (select(deadlines.c.id, deadlines.c.case_id, deadlines.c.due_at)
        .where(and_(deadlines.c.state == "armed", deadlines.c.due_at <= bindparam("now")))
        .order_by(deadlines.c.due_at).limit(bindparam("limit")))
_NEXT = select(func.min(deadlines.c.due_at)).where(deadlines.c.state == "armed")
_BY_ID = select(deadlines).where(deadlines.c.id == bindparam("id"))


def arm(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_INSERT, rows)


def end(conn: Connection, case_id: int, ended: list[tuple[str, datetime, str]], at: datetime) -> None:
    """Mark deadlines (task id, due, new state) of a case as fired or cancelled."""
    if ended:
        conn.execute(_END, [{"cid": case_id, "tid": tid, "due": due, "new_state": state, "at": at}
                            for tid, due, state in ended])


def due(conn: Connection, now: datetime, limit: int = 500) -> list:
    """Armed deadlines due by `now`, earliest first: one range scan of the (state, due_at) index."""
    return list(conn.execute(_DUE, {"now": now, "limit": limit}))


def next_due_at(conn: Connection) -> datetime | None:
    return conn.execute(_NEXT).scalar()


def by_id(conn: Connection, deadline_id: int):
    return conn.execute(_BY_ID, {"id": deadline_id}).first()


def of_case(conn: Connection, case_id: int, states: tuple[str, ...] = ("armed", "blocked")) -> list:
    return list(conn.execute(select(deadlines).where(
        and_(deadlines.c.case_id == case_id, deadlines.c.state.in_(states))).order_by(deadlines.c.due_at)))


def cases_with_deadlines_between(conn: Connection, start: datetime, end_: datetime) -> list[int]:
    """Cases with an open deadline whose span (armed → due) overlaps [start, end], or one blocked
    for want of a holiday schedule."""
    q = select(deadlines.c.case_id).where(or_(
        deadlines.c.state == "blocked",
        and_(deadlines.c.state == "armed", deadlines.c.armed_at <= end_, deadlines.c.due_at >= start),
    )).distinct()
    return sorted(conn.execute(q).scalars())


def count(conn: Connection, state: str) -> int:
    return conn.execute(select(func.count()).select_from(deadlines).where(deadlines.c.state == state)).scalar_one()


# -- leadership ------------------------------------------------------------------------------

def try_lead(conn: Connection, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
    """Take or renew the lease if it is ours or has expired; True if we hold it now."""
    taken = conn.execute(
        update(leases).where(and_(leases.c.name == name,
                                  or_(leases.c.holder == holder, leases.c.expires_at < now)))
        .values(holder=holder, expires_at=expires_at)
    ).rowcount
    if taken:
        return True
    exists = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
    if exists:
        return False
    try:
        with conn.begin_nested():
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=expires_at, acquired_at=now))
        return True
    except IntegrityError:
        return False


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(update(leases).where(and_(leases.c.name == name, leases.c.holder == holder))
                 .values(expires_at=datetime(1970, 1, 1).astimezone()))


def holder_of(conn: Connection, name: str):
    return conn.execute(select(leases).where(leases.c.name == name)).first()

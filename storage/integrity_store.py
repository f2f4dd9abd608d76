"""SQL for integrity audits after load and faults: completions per work item, deadlines and the
history events that record their firing, and one case's projection rows."""
from __future__ import annotations

from sqlalchemy import Connection, and_, func, select

from yijianshi.storage.tables import Case, Deadline, Event, WorkItem

cases = Case.__table__
events = Event.__table__
work_items = WorkItem.__table__
deadlines = Deadline.__table__

COMPLETED = "work_item_completed"
FIRED = "deadline_fired"


def completion_counts(conn: Connection) -> dict[str, int]:
    """Work item id → how many completion events history holds for it."""
    q = (select(events.c.work_item_id, func.count()).where(events.c.type == COMPLETED)
         .group_by(events.c.work_item_id))
    return {row[0]: row[1] for row in conn.execute(q)}


def work_item_states(conn: Connection) -> dict[str, str]:
    return {row.id: row.state for row in conn.execute(select(work_items.c.id, work_items.c.state))}


def all_deadlines(conn: Connection) -> list:
    return list(conn.execute(select(deadlines).order_by(deadlines.c.id)))


def firing_events(conn: Connection) -> list:
    """Every `deadline_fired` history event: case, timer task spec, and data (due time, kind)."""
    return list(conn.execute(select(events.c.case_id, events.c.task_spec, events.c.at, events.c.data)
                             .where(events.c.type == FIRED).order_by(events.c.id)))


def ready_items_of_case(conn: Connection, case_id: int) -> list:
    return list(conn.execute(select(work_items.c.id, work_items.c.task_spec).where(
        and_(work_items.c.case_id == case_id, work_items.c.state == "ready"))))


def open_deadlines_of_case(conn: Connection, case_id: int) -> list:
    return list(conn.execute(select(deadlines.c.task_id, deadlines.c.due_at).where(
        and_(deadlines.c.case_id == case_id, deadlines.c.state.in_(("armed", "blocked"))))))


def case_status_counts(conn: Connection) -> dict[str, int]:
    q = select(cases.c.status, func.count()).group_by(cases.c.status)
    return {row[0]: row[1] for row in conn.execute(q)}

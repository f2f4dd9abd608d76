"""Read-only queries the inboxes and case pages run on the projections (never on engine state).

Every query filters by department through the indexed work_item_groups rows and sorts by deadline;
warning and overdue are decided in SQL against a given time, so paging stays correct."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select

from yijianshi.storage.tables import Case, Event, WorkItem, WorkItemGroup
from yijianshi.storage.prepared import Prepared

cases = Case.__table__
work_items = WorkItem.__table__
groups_t = WorkItemGroup.__table__
events = Event.__table__

_CASE_COLUMNS = (cases.c.title, cases.c.definition_key, cases.c.business_key, cases.c.started_by,
                 cases.c.started_at, cases.c.status.label("case_status"))
_ITEM_COLUMNS = (work_items.c.id, work_items.c.case_id, work_items.c.definition_id, work_items.c.process_id,
                 work_items.c.task_spec, work_items.c.name, work_items.c.groups, work_items.c.state,
                 work_items.c.claimed_by, work_items.c.claimed_at, work_items.c.due_at, work_items.c.warning_at,
                 work_items.c.created_at, work_items.c.ended_at, work_items.c.ended_by)
_CASE_LIST_COLUMNS = (cases.c.id, cases.c.definition_id, cases.c.definition_key, cases.c.business_key,
                      cases.c.title, cases.c.status, cases.c.started_by, cases.c.started_at, cases.c.updated_at,
                      cases.c.ended_at)


@dataclass(frozen=True)
class InboxFilter:
    """What an inbox shows. groups=None means every department (supervision, administration)."""

    groups: tuple[str, ...] | None
    me: str
    claimed_by_me: bool = False
    unclaimed: bool = False
    warning: bool = False
    overdue: bool = False
    definition_key: str | None = None


def _is_overdue(now: datetime):
    return and_(work_items.c.due_at.is_not(None), work_items.c.due_at <= now)


def _is_warning(now: datetime):
    """Past the warning time but not yet overdue."""
    return and_(work_items.c.warning_at.is_not(None), work_items.c.warning_at <= now,
                or_(work_items.c.due_at.is_(None), work_items.c.due_at > now))


def _scope(q, f: InboxFilter):
    q = q.where(work_items.c.state == "ready")
    if f.groups is not None:
        sub = select(groups_t.c.work_item_id).where(groups_t.c.group_code.in_(list(f.groups)),
                                                   groups_t.c.state == "ready")
        q = q.where(work_items.c.id.in_(sub))
    if f.definition_key:
        q = q.where(cases.c.definition_key == f.definition_key)
    return q


def inbox(conn: Connection, f: InboxFilter, now: datetime, *, limit: int = 50, offset: int = 0) -> list:
    """Ready work items for the filter, soonest deadline first (none last), then oldest."""
    q = _scope(select(*_ITEM_COLUMNS, *_CASE_COLUMNS).join(cases, cases.c.id == work_items.c.case_id), f)
    if f.claimed_by_me:
        q = q.where(work_items.c.claimed_by == f.me)
    if f.unclaimed:
        q = q.where(work_items.c.claimed_by.is_(None))
    if f.warning:
        q = q.where(_is_warning(now))
    if f.overdue:
        q = q.where(_is_overdue(now))
    q = q.order_by(work_items.c.due_at.is_(None), work_items.c.due_at, work_items.c.created_at, work_items.c.id)
    return list(conn.execute(q.limit(limit).offset(offset)))


def inbox_counts(conn: Connection, f: InboxFilter, now: datetime) -> dict[str, int]:
    """Counts for the quick filters of the inbox, in one pass over the scope."""
    def n(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    q = _scope(select(func.count(), n(work_items.c.claimed_by.is_(None)), n(work_items.c.claimed_by == f.me),
                      n(_is_warning(now)), n(_is_overdue(now)))
               .select_from(work_items.join(cases, cases.c.id == work_items.c.case_id)), f)
    total, unclaimed, mine, warning, overdue = conn.execute(q).one()
    return {"all": total, "unclaimed": int(unclaimed), "mine": int(mine), "warning": int(warning),
            "overdue": int(overdue)}


# Statements a page runs on every view: compiled once per dialect (storage/prepared.py).
_WORK_ITEM = Prepared(select(*_ITEM_COLUMNS, *_CASE_COLUMNS).join(cases, cases.c.id == work_items.c.case_id)
                      .where(work_items.c.id == bindparam("wid")))
_CASE_ITEMS = Prepared(select(*_ITEM_COLUMNS).where(work_items.c.case_id == bindparam("cid"))
                       .order_by(work_items.c.created_at, work_items.c.id))
_CASE_GROUPS = Prepared(select(groups_t.c.group_code).join(work_items, work_items.c.id == groups_t.c.work_item_id)
                        .where(work_items.c.case_id == bindparam("cid")).distinct())
_CASE_ROW = Prepared(select(*_CASE_LIST_COLUMNS).where(cases.c.id == bindparam("cid")))


def work_item(conn: Connection, work_item_id: str):
    """One work item (any state) with its case's title, definition and applicant."""
    return _WORK_ITEM.first(conn, {"wid": work_item_id})


def case_items(conn: Connection, case_id: int) -> list:
    """Every work item a case has had, in the order they opened."""
    return _CASE_ITEMS.all(conn, {"cid": case_id})


def case_groups(conn: Connection, case_id: int) -> set[str]:
    """Departments and roles that had any work item on the case (who may look at it)."""
    return {row[0] for row in _CASE_GROUPS.all(conn, {"cid": case_id})}


def case_row(conn: Connection, case_id: int):
    """The case row without its engine state."""
    return _CASE_ROW.first(conn, {"cid": case_id})


def cases_started_by(conn: Connection, username: str, *, limit: int = 50, offset: int = 0) -> list:
    q = (select(*_CASE_LIST_COLUMNS).where(cases.c.started_by == username)
         .order_by(cases.c.id.desc()).limit(limit).offset(offset))
    return list(conn.execute(q))


def ready_items_of(conn: Connection, case_ids: Iterable[int]) -> list:
    """Open work items of several cases (for "who is on it now" in case lists)."""
    ids = list(case_ids)
    if not ids:
        return []
    q = (select(*_ITEM_COLUMNS).where(work_items.c.case_id.in_(ids), work_items.c.state == "ready")
         .order_by(work_items.c.created_at, work_items.c.id))
    return list(conn.execute(q))


_APPLICANT_STEPS = (
    select(*_ITEM_COLUMNS, *_CASE_COLUMNS).join(cases, cases.c.id == work_items.c.case_id)
    .where(cases.c.started_by == bindparam("who"), work_items.c.state == "ready",
           work_items.c.id.in_(select(groups_t.c.work_item_id).where(groups_t.c.group_code == "applicant",
                                                                    groups_t.c.state == "ready")))
    .order_by(work_items.c.created_at, work_items.c.id))
_CASE_ACTORS = select(events.c.actor).where(events.c.case_id == bindparam("cid")).distinct()


def applicant_steps(conn: Connection, username: str) -> list:
    """Steps waiting for this applicant on his own cases (补正, 评价, an unfinished application)."""
    return list(conn.execute(_APPLICANT_STEPS, {"who": username}))


def case_actors(conn: Connection, case_id: int) -> set[str]:
    return set(conn.execute(_CASE_ACTORS, {"cid": case_id}).scalars())

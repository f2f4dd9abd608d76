"""Read-only queries the inboxes and case pages run on the projections (never on engine state).

An inbox page is read in index order from work_item_groups (one index per sort order, the
department first) and stops after the page: its cost depends on the page, not on how many work
items are open. A clerk of several departments gets one such scan per department, merged here.
Warning and overdue are decided in SQL against a given time, so paging stays correct; the counts
of the quick filters stop at COUNT_CAP."""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, func, or_, select, union

from yijianshi.storage import case_search
from yijianshi.storage.tables import EVERY_GROUP, Case, Event, WorkItem, WorkItemGroup, WorkItemGroupLink
from yijianshi.storage.prepared import Prepared

cases = Case.__table__
work_items = WorkItem.__table__
groups_t = WorkItemGroup.__table__
links_t = WorkItemGroupLink.__table__
events = Event.__table__

_CASE_COLUMNS = (cases.c.title, cases.c.definition_key, cases.c.business_key, cases.c.started_by,
                 cases.c.started_at, cases.c.status.label("case_status"))
_ITEM_COLUMNS = (work_items.c.id, work_items.c.case_id, work_items.c.definition_id, work_items.c.process_id,
                 work_items.c.task_spec, work_items.c.name, work_items.c.groups, work_items.c.state,
                 work_items.c.claimed_by, work_items.c.claimed_at, work_items.c.due_at, work_items.c.warning_at,
                 work_items.c.created_at, work_items.c.ended_at, work_items.c.ended_by, work_items.c.priority,
                 work_items.c.follow_up_at)
_CASE_LIST_COLUMNS = (cases.c.id, cases.c.definition_id, cases.c.definition_key, cases.c.business_key,
                      cases.c.title, cases.c.status, cases.c.started_by, cases.c.started_at, cases.c.updated_at,
                      cases.c.ended_at)

# The orders an inbox offers, each an index of work_item_groups after (group_code, state).
SORTS = {
    "deadline": ("due_key", "created_at", "work_item_id"),
    "received": ("created_at", "work_item_id"),
    "case": ("case_id", "created_at", "work_item_id"),
    "scenario": ("definition_key", "due_key", "created_at", "work_item_id"),
    "priority": ("priority_key", "due_key", "created_at", "work_item_id"),  # highest camunda:priority first
}
# The quick-filter counts stop here ("1000+"): counting every open item would read them all.
COUNT_CAP = 1000
MAX_SEARCH = 100


@dataclass(frozen=True)
class InboxFilter:
    """What an inbox shows. groups=None means every department (supervision, administration).
    `search`: a case number, business key, the start of a name, or an ID number / credit code.
    `identifier_hash`: an ID number or credit code searched for, given only as its hash
    (case_search.identifier_hash), for callers that must not keep the number itself."""

    groups: tuple[str, ...] | None
    me: str
    claimed_by_me: bool = False
    unclaimed: bool = False
    warning: bool = False
    overdue: bool = False
    definition_key: str | None = None
    search: str | None = None
    identifier_hash: str | None = None
    sort: str = "deadline"
    descending: bool = False

    def scopes(self) -> tuple[str, ...]:
        return (EVERY_GROUP,) if self.groups is None else tuple(sorted(set(self.groups)))


def _is_overdue(now: datetime):
    return groups_t.c.due_key <= now


def _is_warning(now: datetime):
    """Past the warning time but not yet overdue (a missing due time is stored after every real one)."""
    return and_(groups_t.c.warning_at.is_not(None), groups_t.c.warning_at <= now, groups_t.c.due_key > now)


def matching_cases(text: str):
    """Subquery: the cases a search text finds, or None when the text finds nothing."""
    text = text.strip()[:MAX_SEARCH]
    if not text:
        return None
    found = [select(cases.c.id).where(cases.c.business_key == text), case_search.cases_with_name(text)]
    number = text.removeprefix("#")
    if number.isdigit() and len(number) < 19:
        found.append(select(cases.c.id).where(cases.c.id == int(number)))
    if case_search.looks_like_identifier(text):
        found.append(case_search.cases_with_identifier(text))
    return union(*found)


def _where(f: InboxFilter, now: datetime, *, quick: bool = True) -> list:
    """Conditions on work_item_groups rows besides the department: scenario, search, quick filter."""
    where = [groups_t.c.state == "ready"]
    if f.definition_key:
        where.append(groups_t.c.definition_key == f.definition_key)
    if f.search is not None:
        found = matching_cases(f.search)
        where.append(groups_t.c.case_id.in_(found) if found is not None else groups_t.c.case_id.is_(None))
    if f.identifier_hash is not None:
        where.append(groups_t.c.case_id.in_(case_search.cases_with_identifier_hash(f.identifier_hash)))
    if not quick:
        return where
    if f.claimed_by_me:
        # Through the claimer index of work_items: few rows, found without reading the department's.
        where.append(groups_t.c.work_item_id.in_(select(work_items.c.id).where(
            work_items.c.claimed_by == f.me, work_items.c.state == "ready")))
    if f.unclaimed:
        where.append(groups_t.c.claimed_by.is_(None))
    if f.warning:
        where.append(_is_warning(now))
    if f.overdue:
        where.append(_is_overdue(now))
    return where


def _sort_columns(f: InboxFilter):
    columns = [groups_t.c[name] for name in SORTS.get(f.sort, SORTS["deadline"])]
    return [c.desc() for c in columns] if f.descending else columns


def _page_query(f: InboxFilter, group: str, now: datetime, limit: int):
    keys = [groups_t.c[name].label("sort_" + name) for name in SORTS.get(f.sort, SORTS["deadline"])]
    return (select(*_ITEM_COLUMNS, *_CASE_COLUMNS, *keys)
            .select_from(groups_t.join(work_items, work_items.c.id == groups_t.c.work_item_id)
                         .join(cases, cases.c.id == groups_t.c.case_id))
            .where(groups_t.c.group_code == group, *_where(f, now)).order_by(*_sort_columns(f)).limit(limit))


def inbox(conn: Connection, f: InboxFilter, now: datetime, *, limit: int = 50, offset: int = 0) -> list:
    """Ready work items for the filter in the asked order (by default soonest deadline first, none
    last, then oldest). One index-ordered scan per department, each stopped after the page."""
    wanted = offset + limit
    runs = [list(conn.execute(_page_query(f, group, now, wanted))) for group in f.scopes()]
    if len(runs) == 1:
        return runs[0][offset:]
    names = SORTS.get(f.sort, SORTS["deadline"])
    merged = heapq.merge(*runs, key=lambda r: tuple(getattr(r, "sort_" + n) for n in names), reverse=f.descending)
    seen: set[str] = set()
    rows = []
    for row in merged:  # an item of two of the clerk's departments comes once
        if row.id not in seen:
            seen.add(row.id)
            rows.append(row)
            if len(rows) == wanted:
                break
    return rows[offset:]


def _capped_count(conn: Connection, f: InboxFilter, now: datetime, condition=None) -> int:
    """How many items the filter's scope has (with `condition`), counted up to COUNT_CAP + 1. With
    several departments, each counts the items not already counted under the ones before it."""
    groups = f.scopes()
    total = 0
    for i, group in enumerate(groups):
        where = [groups_t.c.group_code == group, *_where(f, now, quick=False)]
        if condition is not None:
            where.append(condition)
        if i:
            earlier = groups_t.alias("earlier")
            where.append(~select(earlier.c.work_item_id).where(
                earlier.c.work_item_id == groups_t.c.work_item_id, earlier.c.group_code.in_(groups[:i])).exists())
        ids = select(groups_t.c.work_item_id).where(*where).limit(COUNT_CAP + 1 - total)
        total += conn.execute(select(func.count()).select_from(ids.subquery())).scalar_one()
        if total > COUNT_CAP:
            break
    return total


def inbox_counts(conn: Connection, f: InboxFilter, now: datetime) -> dict[str, int]:
    """Counts for the quick filters of the inbox, each stopped after COUNT_CAP + 1."""
    mine = groups_t.c.work_item_id.in_(select(work_items.c.id).where(
        work_items.c.claimed_by == f.me, work_items.c.state == "ready"))
    return {"all": _capped_count(conn, f, now), "unclaimed": _capped_count(conn, f, now, groups_t.c.claimed_by.is_(None)),
            "mine": _capped_count(conn, f, now, mine), "warning": _capped_count(conn, f, now, _is_warning(now)),
            "overdue": _capped_count(conn, f, now, _is_overdue(now))}


# Statements a page runs on every view: compiled once per dialect (storage/prepared.py).
_WORK_ITEM = Prepared(select(*_ITEM_COLUMNS, *_CASE_COLUMNS).join(cases, cases.c.id == work_items.c.case_id)
                      .where(work_items.c.id == bindparam("wid")))
_CASE_ITEMS = Prepared(select(*_ITEM_COLUMNS).where(work_items.c.case_id == bindparam("cid"))
                       .order_by(work_items.c.created_at, work_items.c.id))
_CASE_GROUPS = Prepared(select(links_t.c.group_code).join(work_items, work_items.c.id == links_t.c.work_item_id)
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
    return {row[0] for row in _CASE_GROUPS.all(conn, {"cid": case_id})} - {EVERY_GROUP}


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

"""Grouped queries of supervision (督查) on the projections: open work in warning and overdue by
department, scenario and escalation level; work finished on time; cases that reached each level of
the 有需必应 pathway; the weekly bulletins. Never reads engine state.

Open work is either "now" (`current=True`: the items with inbox rows, through the every-department
rows of work_item_groups) or as of a past
moment (`current=False`: opened by then and not yet ended then), which is how a weekly bulletin
reconstructs the end of its week from the same rows."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, case, delete, distinct, func, insert, literal, or_, select
from sqlalchemy.orm import aliased

from yijianshi.storage.tables import EVERY_GROUP, Case, Definition, DefinitionFile, WorkItem, WorkItemGroup
from yijianshi.storage.tables import Event, WorkItemGroupLink
from yijianshi.storage.tables.cases import ITEM_END_TYPES
from yijianshi.storage.tables import WeeklyBulletin

cases = Case.__table__
work_items = WorkItem.__table__
groups_t = WorkItemGroup.__table__
links_t = WorkItemGroupLink.__table__
events = Event.__table__
definitions = Definition.__table__
files = DefinitionFile.__table__
bulletins = WeeklyBulletin.__table__


@dataclass(frozen=True)
class StaffWork:
    """What counts as the work of staff: not a step of the applicant's (`applicant_group`), and not
    a step an integration client completed (its actor starts with `client_prefix`; a client only
    completes the start form it sends with a start)."""

    applicant_group: str
    client_prefix: str

    def condition(self):
        mine = aliased(links_t)
        applicant_step = (select(mine.c.work_item_id)
                          .where(mine.c.work_item_id == work_items.c.id, mine.c.group_code == self.applicant_group)
                          .exists())
        by_client = and_(work_items.c.ended_by.is_not(None), work_items.c.ended_by.startswith(self.client_prefix))
        return and_(~applicant_step, ~by_client)


def _only(staff: StaffWork | None) -> list:
    return [] if staff is None else [staff.condition()]


# -- open work in warning and overdue ----------------------------------------------------------

def _open_at(as_of: datetime, current: bool):
    if current:  # an open item has inbox rows, one of them under EVERY_GROUP
        return work_items.c.id.in_(select(groups_t.c.work_item_id).where(groups_t.c.group_code == EVERY_GROUP))
    return and_(work_items.c.created_at <= as_of,
                or_(work_items.c.ended_at.is_(None), work_items.c.ended_at > as_of))


def _overdue(as_of: datetime):
    return and_(work_items.c.due_at.is_not(None), work_items.c.due_at <= as_of)


def _warning(as_of: datetime):
    """Past the warning time but not yet overdue."""
    return and_(work_items.c.warning_at.is_not(None), work_items.c.warning_at <= as_of,
                or_(work_items.c.due_at.is_(None), work_items.c.due_at > as_of))


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _urgency_columns(as_of: datetime):
    return (func.count().label("open"), _count_if(_warning(as_of)).label("warning"),
            _count_if(_overdue(as_of)).label("overdue"))


def urgency_by_department(conn: Connection, as_of: datetime, *, current: bool = True,
                          staff: StaffWork | None = None) -> list:
    """(key: department or role code, open, warning, overdue) of open work; an item assigned to
    several departments counts for each."""
    q = (select(links_t.c.group_code.label("key"), *_urgency_columns(as_of))
         .select_from(links_t.join(work_items, work_items.c.id == links_t.c.work_item_id))
         .where(_open_at(as_of, current), *_only(staff)))
    return list(conn.execute(q.group_by(links_t.c.group_code).order_by(links_t.c.group_code)))


def urgency_by_scenario(conn: Connection, as_of: datetime, *, current: bool = True,
                        staff: StaffWork | None = None) -> list:
    """(key: the case's process key, open, warning, overdue) of open work."""
    q = (select(cases.c.definition_key.label("key"), *_urgency_columns(as_of))
         .select_from(work_items.join(cases, cases.c.id == work_items.c.case_id))
         .where(_open_at(as_of, current), *_only(staff))
         .group_by(cases.c.definition_key).order_by(cases.c.definition_key))
    return list(conn.execute(q))


def _level_of(table, levels: Mapping[str, int]):
    return case({spec: literal(n) for spec, n in levels.items()}, value=table.c.task_spec, else_=None)


def _level_items(as_of: datetime, process_id: str, levels: Mapping[str, int], current: bool,
                 staff: StaffWork | None):
    """The open work of an escalation pathway with its level (`key`): that of its own step (`levels`:
    task spec → level); a step outside the levels (the answer, the return visit, …) takes the highest
    level its case has reached; before any level it is 0."""
    reached = aliased(work_items)
    reached_by = [reached.c.case_id == work_items.c.case_id, reached.c.process_id == process_id]
    if not current:
        reached_by.append(reached.c.created_at <= as_of)
    case_level = select(func.max(_level_of(reached, levels))).where(*reached_by).scalar_subquery()
    # Level computed in a subquery and grouped outside: PostgreSQL would not match a GROUP BY
    # expression whose literals are bound parameters of their own.
    return (select(work_items.c.id, func.coalesce(_level_of(work_items, levels), case_level, 0).label("key"),
                   work_items.c.due_at, work_items.c.warning_at)
            .where(work_items.c.process_id == process_id, _open_at(as_of, current), *_only(staff)).subquery())


def urgency_by_level(conn: Connection, as_of: datetime, process_id: str, levels: Mapping[str, int], *,
                     current: bool = True, staff: StaffWork | None = None) -> list:
    """(key: level, open, warning, overdue) of the open work of an escalation pathway (_level_items)."""
    if not levels:
        return []
    items = _level_items(as_of, process_id, levels, current, staff)
    overdue = and_(items.c.due_at.is_not(None), items.c.due_at <= as_of)
    warning = and_(items.c.warning_at.is_not(None), items.c.warning_at <= as_of,
                   or_(items.c.due_at.is_(None), items.c.due_at > as_of))
    q = (select(items.c.key, func.count().label("open"), _count_if(warning).label("warning"),
                _count_if(overdue).label("overdue"))
         .group_by(items.c.key).order_by(items.c.key))
    return list(conn.execute(q))


def top_overdue(conn: Connection, as_of: datetime, *, current: bool = True, limit: int = 10,
                staff: StaffWork | None = None) -> list:
    """Open work overdue at `as_of`, longest overdue first, with its case."""
    q = (select(work_items.c.id, work_items.c.case_id, work_items.c.name, work_items.c.groups,
                work_items.c.due_at, work_items.c.claimed_by, cases.c.title, cases.c.business_key,
                cases.c.definition_key)
         .select_from(work_items.join(cases, cases.c.id == work_items.c.case_id))
         .where(_open_at(as_of, current), _overdue(as_of), *_only(staff))
         .order_by(work_items.c.due_at, work_items.c.id).limit(limit))
    return list(conn.execute(q))


# -- work finished on time -----------------------------------------------------------------------

def _endings() -> dict:
    """How work with a deadline ended: on time, late, timed out (see on_time)."""
    completed = work_items.c.state == "completed"
    return {"on_time": and_(completed, work_items.c.ended_at <= work_items.c.due_at),
            "late": and_(completed, work_items.c.ended_at > work_items.c.due_at),
            "timed_out": and_(work_items.c.state == "cancelled", work_items.c.ended_at >= work_items.c.due_at)}


def _ended_in(start: datetime, end: datetime, unresolved: datetime | None, staff: StaffWork | None) -> list:
    """The conditions of work with a deadline that ended (completed or timed out) in [start, end)."""
    endings = _endings()
    # The ending events of the window (a range of ix_events_item_ends) give the items; their
    # ended_at is the event's time. The types are literals in the SQL (as stored: codes on SQLite),
    # not parameters: the planner uses a partial index only when the query's SQL implies its WHERE.
    ending = bindparam("item_end_types", ITEM_END_TYPES, events.c.type.type, expanding=True,
                       literal_execute=True)
    ended = select(events.c.work_item_id).where(events.c.type.in_(ending), events.c.at >= start,
                                               events.c.at < end)
    where = [work_items.c.id.in_(ended), work_items.c.ended_at >= start, work_items.c.ended_at < end,
             work_items.c.due_at.is_not(None), or_(endings["on_time"], endings["late"], endings["timed_out"]),
             *_only(staff)]
    if unresolved is not None:
        where.append(work_items.c.due_at < unresolved)
    return where


def on_time(conn: Connection, start: datetime, end: datetime, *, by: str | None = None,
            unresolved: datetime | None = None, staff: StaffWork | None = None) -> list:
    """Work with a deadline that ended in [start, end): (key, on_time, late, timed_out). On time:
    completed by its due time; late: completed after it; timed out: taken away at or after its due
    time without completion (an interrupting overdue timer, or the case cancelled while overdue).
    Cancelled before the due time is not counted. `by`: None (one row, key None), "department" or
    "scenario". `unresolved`: the placeholder due time of a deadline waiting for a holiday
    schedule; such work has no known deadline and is left out. `staff`: count only staff work."""
    endings = _endings()
    columns = tuple(_count_if(endings[name]).label(name) for name in ("on_time", "late", "timed_out"))
    where = _ended_in(start, end, unresolved, staff)
    if by is None:
        q = select(literal(None).label("key"), *columns).where(*where)
    elif by == "department":
        q = (select(links_t.c.group_code.label("key"), *columns)
             .select_from(links_t.join(work_items, work_items.c.id == links_t.c.work_item_id))
             .where(*where)
             .group_by(links_t.c.group_code).order_by(links_t.c.group_code))
    elif by == "scenario":
        q = (select(cases.c.definition_key.label("key"), *columns)
             .select_from(work_items.join(cases, cases.c.id == work_items.c.case_id))
             .where(*where).group_by(cases.c.definition_key).order_by(cases.c.definition_key))
    else:
        raise ValueError(f"unknown grouping {by!r}")
    return list(conn.execute(q))


# -- escalations and case counts -------------------------------------------------------------------

def _reaching(start: datetime, end: datetime, process_id: str, levels: Mapping[str, int]):
    """(level, case_id) of every step of a level opened in [start, end)."""
    return (select(_level_of(work_items, levels).label("level"), work_items.c.case_id)
            .where(work_items.c.process_id == process_id, work_items.c.created_at >= start,
                   work_items.c.created_at < end, work_items.c.task_spec.in_(list(levels))).subquery())


def cases_reaching_levels(conn: Connection, start: datetime, end: datetime, process_id: str,
                          levels: Mapping[str, int]) -> list:
    """(level, cases): how many cases had a step of each level opened in [start, end)."""
    if not levels:
        return []
    items = _reaching(start, end, process_id, levels)
    q = (select(items.c.level, func.count(distinct(items.c.case_id)).label("cases"))
         .group_by(items.c.level).order_by(items.c.level))
    return list(conn.execute(q))


def _started_in(start: datetime, end: datetime):
    return and_(cases.c.started_at >= start, cases.c.started_at < end)


def _completed_in(start: datetime, end: datetime):
    return and_(cases.c.status == "completed", cases.c.ended_at >= start, cases.c.ended_at < end)


def case_counts(conn: Connection, start: datetime, end: datetime) -> list:
    """(key: process key, started, completed): cases started, and cases completed, in [start, end)."""
    started = (select(cases.c.definition_key.label("key"), func.count().label("n"))
               .where(_started_in(start, end)).group_by(cases.c.definition_key)
               .subquery())
    completed = (select(cases.c.definition_key.label("key"), func.count().label("n"))
                 .where(_completed_in(start, end))
                 .group_by(cases.c.definition_key).subquery())
    keys = select(started.c.key).union(select(completed.c.key)).subquery()
    q = (select(keys.c.key, func.coalesce(started.c.n, 0).label("started"),
                func.coalesce(completed.c.n, 0).label("completed"))
         .select_from(keys.outerjoin(started, started.c.key == keys.c.key)
                      .outerjoin(completed, completed.c.key == keys.c.key))
         .order_by(keys.c.key))
    return list(conn.execute(q))


# -- the work and the cases behind a figure ----------------------------------------------------------
# Each list is selected by the very conditions its figure above is counted by, so the list of a
# figure has exactly as many rows as the figure says.

_ITEM_COLUMNS = (work_items.c.id.label("work_item_id"), work_items.c.case_id, work_items.c.name.label("task"),
                 work_items.c.groups, work_items.c.created_at, work_items.c.due_at, work_items.c.ended_at,
                 work_items.c.state, cases.c.title, cases.c.business_key, cases.c.definition_key,
                 cases.c.started_at.label("case_started_at"))
_CASE_COLUMNS = (cases.c.id.label("case_id"), cases.c.title, cases.c.business_key, cases.c.definition_key,
                 cases.c.started_at.label("case_started_at"), cases.c.ended_at.label("case_ended_at"),
                 cases.c.status)


def _items(where: list, department: str | None, scenario: str | None):
    source = work_items.join(cases, cases.c.id == work_items.c.case_id)
    if department is not None:
        source = source.join(links_t, links_t.c.work_item_id == work_items.c.id)
        where = [*where, links_t.c.group_code == department]
    if scenario is not None:
        where = [*where, cases.c.definition_key == scenario]
    return (select(*_ITEM_COLUMNS).select_from(source).where(*where)
            .order_by(work_items.c.due_at, work_items.c.created_at, work_items.c.id))


def open_items(conn: Connection, as_of: datetime, *, status: str = "open", current: bool = True,
               department: str | None = None, scenario: str | None = None,
               level: tuple[str, Mapping[str, int], int] | None = None, staff: StaffWork | None = None) -> list:
    """The open work behind an urgency figure: `status` open, warning or overdue; of a department, a
    scenario, or a level of a pathway (`level`: process id, task spec → level, the level)."""
    where = [_open_at(as_of, current), *_only(staff)]
    if status == "warning":
        where.append(_warning(as_of))
    elif status == "overdue":
        where.append(_overdue(as_of))
    elif status != "open":
        raise ValueError(f"unknown status {status!r}")
    if level is not None:
        process_id, levels, n = level
        if not levels:
            return []
        leveled = _level_items(as_of, process_id, levels, current, staff)
        where.append(work_items.c.id.in_(select(leveled.c.id).where(leveled.c.key == n)))
    return list(conn.execute(_items(where, department, scenario)))


def ended_items(conn: Connection, start: datetime, end: datetime, *, ending: str | None = None,
                department: str | None = None, scenario: str | None = None, unresolved: datetime | None = None,
                staff: StaffWork | None = None) -> list:
    """The work behind an on-time figure: `ending` on_time, late, timed_out, or None for all three."""
    where = _ended_in(start, end, unresolved, staff)
    if ending is not None:
        where.append(_endings()[ending])
    return list(conn.execute(_items(where, department, scenario)))


def cases_reaching_level(conn: Connection, start: datetime, end: datetime, process_id: str,
                         levels: Mapping[str, int], level: int) -> list:
    """The cases behind an escalation figure: a step of `level` opened in [start, end)."""
    if not levels:
        return []
    items = _reaching(start, end, process_id, levels)
    ids = select(items.c.case_id).where(items.c.level == level)
    return list(conn.execute(select(*_CASE_COLUMNS).where(cases.c.id.in_(ids)).order_by(cases.c.id)))


def cases_counted(conn: Connection, start: datetime, end: datetime, *, completed: bool,
                  scenario: str | None = None) -> list:
    """The cases behind a case count: started (or completed) in [start, end)."""
    where = [_completed_in(start, end) if completed else _started_in(start, end)]
    if scenario is not None:
        where.append(cases.c.definition_key == scenario)
    return list(conn.execute(select(*_CASE_COLUMNS).where(*where).order_by(cases.c.id)))


def cases_by_id(conn: Connection, case_ids: list[int]) -> list:
    if not case_ids:
        return []
    return list(conn.execute(select(*_CASE_COLUMNS).where(cases.c.id.in_(case_ids)).order_by(cases.c.id)))


def group_known(conn: Connection, code: str) -> bool:
    """Whether any work item was ever assigned to this department or role."""
    return conn.execute(select(links_t.c.work_item_id).where(links_t.c.group_code == code).limit(1)).first() is not None


# -- what the deployed models say ------------------------------------------------------------------

def task_meta_of(conn: Connection, key: str) -> list[str]:
    """The user-task metadata (JSON) of every deployed version of a process."""
    return list(conn.execute(select(definitions.c.task_meta_json).where(definitions.c.key == key)).scalars())


def latest_definitions(conn: Connection) -> list:
    """(key, name, content_hash, files_json) of the newest version of each deployed process."""
    newest = (select(definitions.c.key, func.max(definitions.c.version).label("version"))
              .group_by(definitions.c.key).subquery())
    q = (select(definitions.c.key, definitions.c.name, definitions.c.content_hash, definitions.c.files_json)
         .join(newest, and_(newest.c.key == definitions.c.key, newest.c.version == definitions.c.version))
         .order_by(definitions.c.key))
    return list(conn.execute(q))


def source_files(conn: Connection, hashes: list[str]) -> list:
    """(sha256, filename, content) of stored BPMN/DMN files."""
    if not hashes:
        return []
    q = select(files.c.sha256, files.c.filename, files.c.content).where(files.c.sha256.in_(hashes))
    return list(conn.execute(q.order_by(files.c.filename, files.c.sha256)))


# -- weekly bulletins ------------------------------------------------------------------------------

def replace_bulletin(conn: Connection, values: dict) -> None:
    """Store a week's bulletin, replacing the one stored before (one row per week)."""
    conn.execute(delete(bulletins).where(bulletins.c.week == values["week"]))
    conn.execute(insert(bulletins).values(**values))


def bulletin(conn: Connection, week: str):
    return conn.execute(select(bulletins).where(bulletins.c.week == week)).first()


def has_bulletin(conn: Connection, week: str) -> bool:
    return conn.execute(select(bulletins.c.week).where(bulletins.c.week == week)).first() is not None


def bulletin_list(conn: Connection, *, limit: int = 104, offset: int = 0) -> list:
    """Stored bulletins, newest week first."""
    return list(conn.execute(select(bulletins).order_by(bulletins.c.week.desc())
                             .limit(limit).offset(offset)))


def neighbour_weeks(conn: Connection, week: str) -> tuple[str | None, str | None]:
    """The stored weeks just before and just after `week` (ISO weeks sort as text)."""
    older = conn.execute(select(func.max(bulletins.c.week)).where(bulletins.c.week < week)).scalar()
    newer = conn.execute(select(func.min(bulletins.c.week)).where(bulletins.c.week > week)).scalar()
    return older, newer

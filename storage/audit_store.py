"""Read-only SQL of the audit views: the case search, events in batches for exports, and the
export-job rows. The search reads only indexed columns of `cases` and the `work_item_groups`
projection; engine state is never read."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from yijianshi.storage.tables import ExportJob
from yijianshi.storage.tables import Case, Event, WorkItem, WorkItemGroupLink

cases = Case.__table__
events = Event.__table__
work_items = WorkItem.__table__
links_t = WorkItemGroupLink.__table__
jobs = ExportJob.__table__

_CASE_COLUMNS = (cases.c.id, cases.c.definition_id, cases.c.definition_key, cases.c.business_key, cases.c.title,
                 cases.c.status, cases.c.started_by, cases.c.started_at, cases.c.updated_at, cases.c.ended_at,
                 cases.c.history_seq)


@dataclass(frozen=True)
class CaseSearch:
    """Which cases: every given condition must hold. `started_from` is inclusive, `started_before`
    exclusive (both aware datetimes); `department` is a work-item group the case had work for."""

    definition_key: str | None = None
    started_by: str | None = None
    department: str | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None
    status: str | None = None

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()
                if v is not None}

    @classmethod
    def from_dict(cls, values: dict) -> CaseSearch:
        out = dict(values)
        for key in ("started_from", "started_before"):
            if out.get(key):
                out[key] = datetime.fromisoformat(out[key])
        return cls(**{k: v for k, v in out.items() if k in cls.__dataclass_fields__})


def _where(q, f: CaseSearch):
    if f.definition_key:
        q = q.where(cases.c.definition_key == f.definition_key)
    if f.started_by:
        q = q.where(cases.c.started_by == f.started_by)
    if f.status:
        q = q.where(cases.c.status == f.status)
    if f.started_from is not None:
        q = q.where(cases.c.started_at >= f.started_from)
    if f.started_before is not None:
        q = q.where(cases.c.started_at < f.started_before)
    if f.department:
        # Cases with work for the department: one range of ix_work_item_group_links_group.
        worked = select(links_t.c.case_id).where(links_t.c.group_code == f.department)
        q = q.where(cases.c.id.in_(worked))
    return q


def search_cases(conn: Connection, f: CaseSearch, *, limit: int = 50, offset: int = 0) -> list:
    """Matching cases, newest first (the case row without its engine state)."""
    q = _where(select(*_CASE_COLUMNS), f).order_by(cases.c.id.desc())
    return list(conn.execute(q.limit(limit).offset(offset)))


def count_cases(conn: Connection, f: CaseSearch) -> int:
    return conn.execute(_where(select(func.count()).select_from(cases), f)).scalar_one()


def case_batch(conn: Connection, f: CaseSearch, *, after_id: int = 0, limit: int = 100) -> list:
    """The next matching cases in id order after `after_id` (keyset paging for exports)."""
    q = _where(select(*_CASE_COLUMNS), f).where(cases.c.id > after_id).order_by(cases.c.id)
    return list(conn.execute(q.limit(limit)))


def cases_by_id(conn: Connection, case_ids: list[int]) -> list:
    return list(conn.execute(select(*_CASE_COLUMNS).where(cases.c.id.in_(case_ids)).order_by(cases.c.id)))


def events_of_cases(conn: Connection, case_ids: list[int]) -> list:
    """History rows of the given cases in (case, seq) order, each with the name of its work item."""
    q = (select(events.c.case_id, events.c.seq, events.c.type, events.c.actor, events.c.at,
                events.c.work_item_id, events.c.task_spec, events.c.data, work_items.c.name.label("item_name"))
         .select_from(events.outerjoin(work_items, work_items.c.id == events.c.work_item_id))
         .where(events.c.case_id.in_(case_ids))
         .order_by(events.c.case_id, events.c.seq))
    return list(conn.execute(q))


def case_history(conn: Connection, case_id: int) -> list:
    """Every history row of a case (hash columns included), each with the name of its work item."""
    q = (select(events, work_items.c.name.label("item_name"))
         .select_from(events.outerjoin(work_items, work_items.c.id == events.c.work_item_id))
         .where(events.c.case_id == case_id).order_by(events.c.seq))
    return list(conn.execute(q))


# -- export jobs -------------------------------------------------------------------------------

def create_job(conn: Connection, values: dict) -> int:
    return conn.execute(insert(jobs).values(**values).returning(jobs.c.id)).scalar_one()


def job(conn: Connection, job_id: int):
    return conn.execute(select(jobs).where(jobs.c.id == job_id)).first()


def update_job(conn: Connection, job_id: int, values: dict) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


def jobs_of(conn: Connection, requested_by: str, limit: int = 20) -> list:
    q = select(jobs).where(jobs.c.requested_by == requested_by).order_by(jobs.c.id.desc()).limit(limit)
    return list(conn.execute(q))

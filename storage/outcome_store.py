"""Queries of measured outcomes (实测): the finished cases of a scenario in a period, by the index
ix_cases_scenario_ended (definition_key, ended_at), and the history rows that measuring needs, read
by case id through the events' (case_id, seq) key in batches. Form data of the start event is not
read (only the rows of work items carry data that matters here)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, case, delete, distinct, func, insert, literal, select
from sqlalchemy.orm import aliased

from yijianshi.storage.tables import Case, Event, Material, MeasuredOutcome, WorkItem

cases = Case.__table__
events = Event.__table__
work_items = WorkItem.__table__
materials = Material.__table__
measured = MeasuredOutcome.__table__

BATCH = 500
# The history rows an outcome is measured from; the data column is read for work-item rows only.
MEASURED_TYPES = ("case_started", "work_item_ready", "work_item_completed", "work_item_cancelled", "case_completed")
_DATA_TYPES = ("work_item_ready", "work_item_completed")


def finished_cases(conn: Connection, key: str, start: datetime, end: datetime) -> list:
    """Cases of a scenario completed in [start, end): id, started_by, started_at, ended_at."""
    return list(conn.execute(
        select(cases.c.id, cases.c.started_by, cases.c.started_at, cases.c.ended_at)
        .where(cases.c.definition_key == key, cases.c.ended_at >= start, cases.c.ended_at < end,
               cases.c.status == "completed")
        .order_by(cases.c.ended_at, cases.c.id)))


def case_row(conn: Connection, case_id: int):
    return conn.execute(select(cases.c.id, cases.c.definition_key, cases.c.status, cases.c.started_by,
                               cases.c.started_at, cases.c.ended_at).where(cases.c.id == case_id)).first()


def measured_events(conn: Connection, case_ids: Sequence[int]) -> Iterator:
    """The measured history rows of these cases in (case, seq) order, with the process id of their
    work item: case_id, seq, type, actor, at, work_item_id, task_spec, process_id, data."""
    ids = sorted(case_ids)
    for i in range(0, len(ids), BATCH):
        chunk = ids[i:i + BATCH]
        yield from conn.execute(
            select(events.c.case_id, events.c.seq, events.c.type, events.c.actor, events.c.at,
                   events.c.work_item_id, events.c.task_spec, work_items.c.process_id,
                   case((events.c.type.in_(_DATA_TYPES), events.c.data), else_=literal("")).label("data"))
            .select_from(events.outerjoin(work_items, work_items.c.id == events.c.work_item_id))
            .where(events.c.case_id.in_(chunk), events.c.type.in_(MEASURED_TYPES))
            .order_by(events.c.case_id, events.c.seq))


def reused_materials(conn: Connection, case_ids: Sequence[int]) -> dict[int, int]:
    """Per case: how many distinct application materials (by content) its owner had already handed
    in with an earlier case, so the platform held them before."""
    mine, earlier = aliased(materials), aliased(materials)
    owner, earlier_case = aliased(cases), aliased(cases)
    out: dict[int, int] = {}
    ids = sorted(case_ids)
    for i in range(0, len(ids), BATCH):
        chunk = ids[i:i + BATCH]
        held_before = (select(literal(1)).select_from(earlier.join(earlier_case, earlier_case.c.id == earlier.c.case_id))
                       .where(earlier.c.sha256 == mine.c.sha256, earlier.c.case_id != mine.c.case_id,
                              earlier.c.uploaded_at < owner.c.started_at,
                              earlier_case.c.started_by == owner.c.started_by).exists())
        rows = conn.execute(
            select(mine.c.case_id, func.count(distinct(mine.c.sha256)))
            .select_from(mine.join(owner, owner.c.id == mine.c.case_id))
            .where(mine.c.case_id.in_(chunk), mine.c.kind == "application", and_(held_before))
            .group_by(mine.c.case_id))
        out.update({int(r[0]): int(r[1]) for r in rows})
    return out


# The history rows conformance replays: the steps' lifecycle and 退回.
PATH_TYPES = ("work_item_ready", "work_item_completed", "work_item_cancelled", "work_item_returned")


def path_events(conn: Connection, case_ids: Sequence[int]) -> Iterator:
    """The steps' history rows of these cases in (case, seq) order, with the process id of their work
    item (None when the row is gone, as after 退回): case_id, seq, type, at, work_item_id, task_spec,
    process_id, data (of 退回 rows only)."""
    ids = sorted(case_ids)
    for i in range(0, len(ids), BATCH):
        chunk = ids[i:i + BATCH]
        yield from conn.execute(
            select(events.c.case_id, events.c.seq, events.c.type, events.c.at, events.c.work_item_id,
                   events.c.task_spec, work_items.c.process_id,
                   case((events.c.type == "work_item_returned", events.c.data), else_=literal("")).label("data"))
            .select_from(events.outerjoin(work_items, work_items.c.id == events.c.work_item_id))
            .where(events.c.case_id.in_(chunk), events.c.type.in_(PATH_TYPES))
            .order_by(events.c.case_id, events.c.seq))


def case_definitions(conn: Connection, case_ids: Sequence[int]) -> dict[int, int]:
    """Per case: the id of the deployed version it ran on."""
    ids = sorted(case_ids)
    out: dict[int, int] = {}
    for i in range(0, len(ids), BATCH):
        out.update({int(r[0]): int(r[1]) for r in conn.execute(
            select(cases.c.id, cases.c.definition_id).where(cases.c.id.in_(ids[i:i + BATCH])))})
    return out


def case_titles(conn: Connection, case_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted(case_ids)
    out: dict[int, str] = {}
    for i in range(0, len(ids), BATCH):
        out.update({int(r[0]): r[1] for r in conn.execute(
            select(cases.c.id, cases.c.title).where(cases.c.id.in_(ids[i:i + BATCH])))})
    return out


# -- stored measurements -----------------------------------------------------------------------------

def stored_measurements(conn: Connection, case_ids: Sequence[int], basis: str) -> dict[int, str]:
    """Per case: its stored measurement (JSON) made on `basis`; cases without one are left out."""
    ids = sorted(case_ids)
    out: dict[int, str] = {}
    for i in range(0, len(ids), BATCH):
        out.update({int(r[0]): r[1] for r in conn.execute(
            select(measured.c.case_id, measured.c.measured_json)
            .where(measured.c.case_id.in_(ids[i:i + BATCH]), measured.c.basis == basis))})
    return out


def store_measurements(conn: Connection, rows: Sequence[dict]) -> None:
    """Keep measurements (case_id, basis, measured_json), replacing those of the same cases."""
    ids = [r["case_id"] for r in rows]
    for i in range(0, len(ids), BATCH):
        conn.execute(delete(measured).where(measured.c.case_id.in_(ids[i:i + BATCH])))
    for i in range(0, len(rows), BATCH):
        conn.execute(insert(measured), list(rows[i:i + BATCH]))

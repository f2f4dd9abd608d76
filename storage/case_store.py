"""SQL for cases, their projections and their history. Core statements on a Connection: every
engine command runs a handful of these inside one transaction."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (Connection, Text, and_, bindparam, case, cast, delete, func, insert, literal, literal_column, null,
                        select, union_all, update)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from yijianshi.storage.tables import (
    DEFAULT_PRIORITY,
    EVERY_GROUP,
    GENESIS_HASH,
    IMPLICIT_LINK,
    NO_DEADLINE,
    Case,
    CaseStateBase,
    CaseStateDelta,
    CorrelationValue,
    Event,
    MessageWait,
    WorkItem,
    WorkItemGroup,
    WorkItemGroupLink,
)
from yijianshi.storage import state_blob as state_blob_codec
from yijianshi.storage.prepared import Prepared

cases = Case.__table__
state_deltas = CaseStateDelta.__table__
state_bases = CaseStateBase.__table__
work_items = WorkItem.__table__
groups_t = WorkItemGroup.__table__
links_t = WorkItemGroupLink.__table__
events = Event.__table__
waits = MessageWait.__table__
correlations = CorrelationValue.__table__

_HEAD_COLUMNS = (cases.c.id, cases.c.definition_id, cases.c.definition_key, cases.c.business_key,
                 cases.c.status, cases.c.version, cases.c.history_seq, cases.c.history_head,
                 cases.c.started_by, cases.c.attention, cases.c.title)
_ITEM_COLUMNS = (work_items.c.id, work_items.c.case_id, work_items.c.process_id, work_items.c.task_spec,
                 work_items.c.name, work_items.c.groups, work_items.c.state, work_items.c.claimed_by,
                 work_items.c.ended_at, work_items.c.ended_by, work_items.c.definition_id)


@dataclass(frozen=True)
class CaseHead:
    id: int
    definition_id: int
    definition_key: str
    business_key: str | None
    status: str
    version: int
    history_seq: int
    history_head: str
    started_by: str
    attention: str | None = None
    title: str = ""


class WorkItemRow(NamedTuple):
    """The columns of a work item a command on it reads (`_ITEM_COLUMNS`, in that order)."""

    id: str
    case_id: int
    process_id: str
    task_spec: str
    name: str
    groups: str  # comma-separated department and role codes
    state: str  # ready, completed, cancelled
    claimed_by: str | None
    ended_at: datetime | None
    ended_by: str | None
    definition_id: int


def insert_case(conn: Connection, values: dict) -> int:
    return _INSERT_CASE.first(conn, values)[0]


def set_title(conn: Connection, case_id: int, title: str) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(title=title))


def case_head(conn: Connection, case_id: int) -> CaseHead | None:
    """The case row without its engine state (cheap; enough for claims and cache checks)."""
    row = _CASE_HEAD.first(conn, {"cid": case_id})
    return CaseHead(*row) if row is not None else None


# The hot statements of every command: compiled once per dialect, run on the transaction's cursor
# (storage/prepared.py).
_ITEM_AND_CASE = Prepared(select(*_ITEM_COLUMNS, *[c.label("case_" + c.name) for c in _HEAD_COLUMNS]).join(
    cases, cases.c.id == work_items.c.case_id).where(work_items.c.id == bindparam("wid")))
_CASE_HEAD = Prepared(select(*_HEAD_COLUMNS).where(cases.c.id == bindparam("cid")))
_UPDATE_WHERE = and_(cases.c.id == bindparam("cid"), cases.c.version == bindparam("expected"))
_HISTORY_VALUES: dict[str, Any] = dict(version=bindparam("new_version"), updated_at=bindparam("updated_at"),
                       history_seq=bindparam("history_seq"), history_head=bindparam("history_head"))
_STATE_VALUES: dict[str, Any] = dict(_HISTORY_VALUES, engine_state=bindparam("engine_state"),
                                     attention=bindparam("attention"))
_UPDATE_HISTORY = Prepared(update(cases).where(_UPDATE_WHERE).values(**_HISTORY_VALUES))
# A command whose state change is written as a delta leaves the base (case_states) alone.
_UPDATE_FOR_DELTA = Prepared(update(cases).where(_UPDATE_WHERE).values(**_HISTORY_VALUES, attention=bindparam("attention")))
_INSERT_DELTA = Prepared(insert(state_deltas))
_DROP_DELTAS = Prepared(delete(state_deltas).where(state_deltas.c.case_id == bindparam("cid")))
# The base and its deltas in ONE statement: one snapshot of the database. Read in two, a command
# committed in between (PostgreSQL's READ COMMITTED, an SQLite reader outside a transaction) gave
# the old version's base with the new delta after it, or a compacted case's old base without the
# deltas it needed. The case row comes first (kind 0), its deltas after it in version order.
_STATE_AND_DELTAS = Prepared(union_all(
    select(literal_column("0").label("kind"), cases.c.version, cases.c.engine_state, state_bases.c.base)
    .select_from(cases.outerjoin(state_bases, state_bases.c.case_id == cases.c.id))
    .where(cases.c.id == bindparam("cid")),
    select(literal_column("1"), state_deltas.c.version, cast(null(), Text), state_deltas.c.delta)
    .where(state_deltas.c.case_id == bindparam("cid")),
).order_by("kind", "version"))
# `status` (indexed) only in the statement of the command that ends the case: SQLite rewrites the
# index entry of every indexed column a SET names, changed or not.
_UPDATE_STATE = Prepared(update(cases).where(_UPDATE_WHERE).values(**_STATE_VALUES))
_UPDATE_END = Prepared(update(cases).where(_UPDATE_WHERE).values(
    **_STATE_VALUES, status=bindparam("status"), ended_at=bindparam("ended_at")))
_END_ITEM = Prepared(update(work_items).where(work_items.c.id == bindparam("wid")).values(
    state=bindparam("state"), ended_at=bindparam("ended_at"), ended_by=bindparam("ended_by")))
_DROP_GROUP_ROWS = Prepared(delete(groups_t).where(groups_t.c.work_item_id == bindparam("wid")))
# A link kept from before is left as it is: a returned step (退回) opens again under its old id, a
# transfer (转办) adds the new unit to those the item was for.
_INSERT_LINKS = {"sqlite": Prepared(sqlite_dialect.insert(links_t).on_conflict_do_nothing()),
                 "postgresql": Prepared(postgresql_dialect.insert(links_t).on_conflict_do_nothing())}
# zlib levels: fast while a case runs (its state is written by every command), smallest once it ends.
_RUNNING_LEVEL, _ENDED_LEVEL = 1, 9
_INSERT_CASE = Prepared(insert(cases).returning(cases.c.id))
# A full state: the case's first, or one replacing the base (a compaction, the end).
def _upsert_base(dialect_module) -> Prepared:
    stmt = dialect_module.insert(state_bases)
    return Prepared(stmt.on_conflict_do_update(index_elements=[state_bases.c.case_id],
                                               set_={"base": stmt.excluded.base}))


_WRITE_BASE = {"sqlite": _upsert_base(sqlite_dialect), "postgresql": _upsert_base(postgresql_dialect)}
_INSERT_EVENTS = Prepared(insert(events))
_INSERT_ITEMS = Prepared(insert(work_items))
_INSERT_GROUPS = Prepared(insert(groups_t))


def work_item_and_case(conn: Connection, work_item_id: str) -> tuple[WorkItemRow, CaseHead] | None:
    """A work item and its case head in one round trip: (item, head), or None when there is no
    such work item."""
    row = _ITEM_AND_CASE.first(conn, {"wid": work_item_id})
    if row is None:
        return None
    n = len(_ITEM_COLUMNS)
    return WorkItemRow(*row[:n]), CaseHead(*row[n:])


class StoredState(NamedTuple):
    """A case's engine state as stored: the version (a reader notices a commit made since its head
    read), the base state's JSON and the JSON of each delta written after it, in order."""

    version: int
    base: str
    deltas: list[str]
    base_size: int  # stored (compressed) bytes of the base
    deltas_size: int  # and of the deltas together


def case_state(conn: Connection, case_id: int) -> StoredState:
    rows = _STATE_AND_DELTAS.all(conn, {"cid": case_id})
    if not rows or rows[0].kind != 0:
        raise LookupError(f"case {case_id} has no stored state")
    _, version, text, blob = rows[0]
    blobs = [row.base for row in rows[1:]]
    return StoredState(version, stored_state(text, blob), [state_blob_codec.decompress(b) for b in blobs],
                       len(blob) if blob is not None else len(text), sum(map(len, blobs)))


def stored_state(engine_state: str, base: bytes | None) -> str:
    """The base state's JSON: from case_states (compressed; since 0019), else the plain JSON of a
    case row written before."""
    return state_blob_codec.decompress(base) if base is not None else engine_state


def case_row(conn: Connection, case_id: int):
    return conn.execute(select(cases).where(cases.c.id == case_id)).first()


def update_case(conn: Connection, case_id: int, expected_version: int, values: dict) -> int:
    """Optimistic write: succeeds only if nobody changed the case since it was read, else
    StaleWrite (at once, or when the command's write batch is sent: storage/write_batch.py).
    `values` holds updated_at, history_seq, history_head and, when the engine ran, attention and
    either engine_state (the full state: JSON text or its UTF-8 bytes, stored compressed as the new
    base in case_states; with drop_deltas, the deltas after the old base are deleted) or state_delta (the JSON of
    a delta, stored compressed after the others) or neither (the state is unchanged); status and
    ended_at when the command ended the case. Returns the compressed size of the state written."""
    params = dict(values, cid=case_id, expected=expected_version, new_version=expected_version + 1)
    written = 0
    if "engine_state" in values:
        ended = "status" in values
        stmt = _UPDATE_END if ended else _UPDATE_STATE
        blob = state_blob_codec.compress(values["engine_state"],  # JSON text or bytes
                                         _ENDED_LEVEL if ended else _RUNNING_LEVEL)
        params["engine_state"] = ""
        written = len(blob)
    elif "attention" in values:
        stmt = _UPDATE_FOR_DELTA
    else:
        stmt = _UPDATE_HISTORY
    stmt.execute_guarded(conn, params)  # first: nothing else is written when the version moved on
    if "engine_state" in values:
        _WRITE_BASE[conn.dialect.name].execute(conn, {"case_id": case_id, "base": blob})
    if values.get("drop_deltas"):
        _DROP_DELTAS.execute(conn, {"cid": case_id})
    delta = values.get("state_delta")
    if delta is not None:
        blob = state_blob_codec.compress(delta, _RUNNING_LEVEL)
        _INSERT_DELTA.execute(conn, {"case_id": case_id, "version": expected_version + 1, "delta": blob})
        written = len(blob)
    return written


def list_cases(conn: Connection, *, status: str | None = None, definition_key: str | None = None,
               limit: int = 100, offset: int = 0) -> list:
    q = select(*[c for c in cases.c if c.name != "engine_state"]).order_by(cases.c.id.desc())
    if status:
        q = q.where(cases.c.status == status)
    if definition_key:
        q = q.where(cases.c.definition_key == definition_key)
    return list(conn.execute(q.limit(limit).offset(offset)))


def cases_needing_attention(conn: Connection) -> list:
    return list(conn.execute(select(cases.c.id, cases.c.title, cases.c.attention).where(and_(
        cases.c.attention.is_not(None), cases.c.status == "running")).order_by(cases.c.id)))


def all_case_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(cases.c.id).order_by(cases.c.id)).scalars())


# -- history ---------------------------------------------------------------------------------

def insert_events(conn: Connection, rows: list[dict]) -> None:
    if rows:
        _INSERT_EVENTS.execute_many(conn, rows)


def _linked(case_id: int, from_seq: int = 1):
    """The events of a case from seq from_seq on, each with its link to the row before as prev_hash
    (the previous row's hash where the row stores IMPLICIT_LINK): a subquery, columns as in `events`."""
    digest = events.c.hash.type
    before = func.lag(events.c.hash, 1, literal(GENESIS_HASH, digest), type_=digest).over(order_by=events.c.seq)
    link = case((events.c.prev_hash == IMPLICIT_LINK, before), else_=events.c.prev_hash).label("prev_hash")
    columns = [link if c.name == "prev_hash" else c for c in events.c]
    return select(*columns).where(events.c.case_id == case_id, events.c.seq >= from_seq).subquery()


def case_events(conn: Connection, case_id: int, types: Iterable[str] | None = None) -> list:
    """Every event of a case (or those of the given types) in seq order, prev_hash the link in full."""
    linked = _linked(case_id)
    q = select(linked).order_by(linked.c.seq)
    if types is not None:
        q = q.where(linked.c.type.in_(list(types)))
    return list(conn.execute(q))


def case_events_page(conn: Connection, case_id: int, after_seq: int, limit: int) -> list:
    """Events of a case with seq > after_seq, oldest first (one range scan of uq_events_case_seq from
    the row before the page, which gives the first row its link)."""
    linked = _linked(case_id, after_seq)
    q = select(linked).where(linked.c.seq > after_seq).order_by(linked.c.seq).limit(limit)
    return list(conn.execute(q))


# -- work items ------------------------------------------------------------------------------

def work_item(conn: Connection, work_item_id: str):
    return conn.execute(select(work_items).where(work_items.c.id == work_item_id)).first()


def insert_work_items(conn: Connection, rows: list[dict], definition_key: str) -> None:
    """Work items of one case, with their rows for each department and the every-department row."""
    if not rows:
        return
    rows = [{"priority": DEFAULT_PRIORITY, "follow_up_at": None, **r} for r in rows]
    _INSERT_ITEMS.execute_many(conn, rows)
    codes = [(r, list(dict.fromkeys(g for g in r["groups"].split(",") if g))) for r in rows]
    _INSERT_GROUPS.execute_many(conn, [group_row(r, g, definition_key) for r, gs in codes for g in (EVERY_GROUP, *gs)])
    add_links(conn, [(r["id"], g, r["case_id"]) for r, gs in codes for g in gs])


def add_links(conn: Connection, links: list[tuple[str, str, int]]) -> None:
    """Record that work items were for these departments or units: (work item id, group, case id)."""
    _INSERT_LINKS[conn.dialect.name].execute_many(
        conn, [{"work_item_id": w, "group_code": g, "case_id": c} for w, g, c in links])


def group_row(item: dict, group_code: str, definition_key: str) -> dict:
    """The work_item_groups row of a work item (a dict of its columns) for one department."""
    return {"work_item_id": item["id"], "group_code": group_code, "state": item["state"],
            "due_key": item["due_at"] or NO_DEADLINE, "warning_at": item["warning_at"],
            "created_at": item["created_at"], "case_id": item["case_id"], "definition_key": definition_key,
            "claimed_by": item["claimed_by"], "priority_key": -item.get("priority", DEFAULT_PRIORITY)}


def end_work_items(conn: Connection, ids: list[str], state: str, at: datetime, by: str | None) -> None:
    if not ids:
        return
    _END_ITEM.execute_many(conn, [{"wid": i, "state": state, "ended_at": at, "ended_by": by} for i in ids])
    _DROP_GROUP_ROWS.execute_many(conn, [{"wid": i} for i in ids])  # an ended item is in no inbox


def set_limits(conn: Connection, work_item_id: str, due_at: datetime | None, warning_at: datetime | None) -> None:
    conn.execute(update(work_items).where(work_items.c.id == work_item_id).values(due_at=due_at, warning_at=warning_at))
    conn.execute(update(groups_t).where(groups_t.c.work_item_id == work_item_id)
                 .values(due_key=due_at or NO_DEADLINE, warning_at=warning_at))


def unresolved_items(conn: Connection, case_id: int, sentinel: datetime) -> list:
    """Open work items of a case whose due date is waiting for a holiday schedule."""
    return list(conn.execute(select(work_items.c.id, work_items.c.name, work_items.c.task_spec,
                                    work_items.c.process_id, work_items.c.created_at).where(and_(
        work_items.c.case_id == case_id, work_items.c.state == "ready",
        (work_items.c.due_at == sentinel) | (work_items.c.warning_at == sentinel)))))


def set_claim(conn: Connection, work_item_id: str, claimed_by: str | None, at: datetime | None) -> None:
    conn.execute(update(work_items).where(work_items.c.id == work_item_id)
                 .values(claimed_by=claimed_by, claimed_at=at))
    conn.execute(update(groups_t).where(groups_t.c.work_item_id == work_item_id).values(claimed_by=claimed_by))


def query_work_items(conn: Connection, *, groups: Iterable[str] | None = None, state: str | None = "ready",
                     claimed_by: str | None = None, unclaimed: bool = False, case_id: int | None = None,
                     due_before: datetime | None = None, definition_key: str | None = None,
                     started_by: str | None = None, urgency: str | None = None, now: datetime | None = None,
                     sort: str = "due", limit: int = 100, offset: int = 0) -> list:
    """Inbox query on the projection; sorted by due time (or warning time), none last, then age.
    `urgency` "warning" keeps items past their warning time but not yet due, "overdue" those past
    their due time, as of `now`."""
    q = select(work_items, cases.c.definition_key, cases.c.title, cases.c.business_key, cases.c.started_by).join(
        cases, cases.c.id == work_items.c.case_id)
    if groups is not None:
        groups = list(groups)
        if state == "ready":  # the inbox rows (open items only)
            sub = select(groups_t.c.work_item_id).where(groups_t.c.group_code.in_(groups))
        else:
            sub = select(links_t.c.work_item_id).where(links_t.c.group_code.in_(groups))
        q = q.where(work_items.c.id.in_(sub))
    if state:
        q = q.where(work_items.c.state == state)
    if claimed_by:
        q = q.where(work_items.c.claimed_by == claimed_by)
    if unclaimed:
        q = q.where(work_items.c.claimed_by.is_(None))
    if case_id is not None:
        q = q.where(work_items.c.case_id == case_id)
    if due_before is not None:
        q = q.where(work_items.c.due_at <= due_before)
    if definition_key:
        q = q.where(cases.c.definition_key == definition_key)
    if started_by:
        q = q.where(cases.c.started_by == started_by)
    if urgency is not None:
        if now is None:
            raise ValueError("urgency filters need `now`")
        if urgency == "overdue":
            q = q.where(work_items.c.due_at <= now)
        elif urgency == "warning":
            q = q.where(work_items.c.warning_at <= now).where(
                (work_items.c.due_at.is_(None)) | (work_items.c.due_at > now))
        else:
            raise ValueError(f"unknown urgency {urgency!r}")
    key = work_items.c.warning_at if sort == "warning" else work_items.c.due_at
    q = q.order_by(key.is_(None), key, work_items.c.created_at, work_items.c.id)
    return list(conn.execute(q.limit(limit).offset(offset)))


def open_item_ids():
    """Subquery: ids of the open (ready) work items — their every-department inbox rows, one index
    range (work_items.state is not indexed: see WorkItemGroup)."""
    return select(groups_t.c.work_item_id).where(groups_t.c.group_code == EVERY_GROUP)


def count_work_items(conn: Connection, state: str = "ready") -> int:
    if state == "ready":
        return conn.execute(select(func.count()).select_from(groups_t)
                            .where(groups_t.c.group_code == EVERY_GROUP)).scalar_one()
    return conn.execute(select(func.count()).select_from(work_items).where(work_items.c.state == state)).scalar_one()


# -- message routing -------------------------------------------------------------------------

def replace_waits(conn: Connection, case_id: int, names: set[str]) -> None:
    conn.execute(delete(waits).where(waits.c.case_id == case_id))
    if names:
        conn.execute(insert(waits), [{"case_id": case_id, "message_name": n} for n in sorted(names)])


def replace_correlations(conn: Connection, case_id: int, values: dict[str, str], *, new_case: bool = False) -> None:
    if not new_case:
        conn.execute(delete(correlations).where(correlations.c.case_id == case_id))
    if values:
        conn.execute(insert(correlations),
                     [{"case_id": case_id, "name": k, "value": v} for k, v in sorted(values.items())])


VARIABLE_PREFIX = "var:"  # correlation rows that hold a case variable (engine/cases/work_items.py)


def cases_waiting_for(conn: Connection, message_name: str, correlation: dict[str, str]) -> list[int]:
    """Cases waiting for the message whose correlation values match every key: a key matches a
    correlation property (or the business key) of that name, or else a case variable of that name."""
    q = select(waits.c.case_id).where(waits.c.message_name == message_name)
    for name, value in correlation.items():
        q = q.where(waits.c.case_id.in_(
            select(correlations.c.case_id).where(and_(correlations.c.name.in_([name, VARIABLE_PREFIX + name]),
                                                      correlations.c.value == value))))
    return list(conn.execute(q.order_by(waits.c.case_id)).scalars())


def waits_of(conn: Connection, case_id: int) -> list[str]:
    """Names of the messages a case waits for now."""
    return list(conn.execute(select(waits.c.message_name).where(waits.c.case_id == case_id)
                             .order_by(waits.c.message_name)).scalars())


def correlations_of(conn: Connection, case_id: int) -> dict[str, str]:
    """The correlation values a reply to the case may carry (its business key included; not the
    case variables a reply may also name)."""
    q = select(correlations.c.name, correlations.c.value).where(
        correlations.c.case_id == case_id, ~correlations.c.name.startswith(VARIABLE_PREFIX))
    return {name: value for name, value in conn.execute(q.order_by(correlations.c.name))}


def delete_case_projections(conn: Connection, case_id: int) -> None:
    conn.execute(delete(waits).where(waits.c.case_id == case_id))


def set_definition(conn: Connection, case_id: int, definition_id: int) -> None:
    """A case migrated to another version of its process: its row and its work items point at it."""
    conn.execute(update(cases).where(cases.c.id == case_id).values(definition_id=definition_id))
    conn.execute(update(work_items).where(work_items.c.case_id == case_id).values(definition_id=definition_id))


def running_case_ids(conn: Connection, definition_id: int, limit: int = 1000) -> list[int]:
    """Running cases of one definition version, oldest first (the cases a migration may move)."""
    return list(conn.execute(select(cases.c.id).where(cases.c.definition_id == definition_id,
                                                      cases.c.status == "running")
                             .order_by(cases.c.id).limit(limit)).scalars())


def set_groups(conn: Connection, work_item_id: str, groups: str, definition_key: str) -> None:
    """Give an open work item other departments/units (a transfer, 转办): its row and its rows for
    each department (the every-department row stays); a transfer also clears the claim."""
    conn.execute(update(work_items).where(work_items.c.id == work_item_id)
                 .values(groups=groups, claimed_by=None, claimed_at=None))
    row = conn.execute(select(work_items).where(work_items.c.id == work_item_id)).mappings().one()
    conn.execute(delete(groups_t).where(and_(groups_t.c.work_item_id == work_item_id,
                                             groups_t.c.group_code != EVERY_GROUP)))
    conn.execute(update(groups_t).where(groups_t.c.work_item_id == work_item_id).values(claimed_by=None))
    new = [group_row(dict(row), g, definition_key) for g in dict.fromkeys(g for g in groups.split(",") if g)]
    if new:
        _INSERT_GROUPS.execute_many(conn, new)
        add_links(conn, [(work_item_id, r["group_code"], row["case_id"]) for r in new])


def set_follow_up(conn: Connection, work_item_id: str, follow_up_at: datetime | None) -> None:
    conn.execute(update(work_items).where(work_items.c.id == work_item_id).values(follow_up_at=follow_up_at))


def forget_work_item(conn: Connection, work_item_id: str) -> None:
    """Remove an ended work item's row (and its department rows) before its step opens again under the
    same id (a return, 退回: the history keeps what was done)."""
    conn.execute(delete(groups_t).where(groups_t.c.work_item_id == work_item_id))
    conn.execute(delete(work_items).where(work_items.c.id == work_item_id))

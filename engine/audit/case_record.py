"""A case as an auditor reads it: every history row with the data it changed, and whether the
hash chain holds. One connection, the case's own rows only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import NotFound
from yijianshi.engine.audit.replay import ReplayReport, reexecute
from yijianshi.storage import audit_store
from yijianshi.storage import case_store

_ABSENT = object()


@dataclass(frozen=True)
class FieldChange:
    """A case variable a step set: its value before (`old`, absent when it had none) and after."""

    field: str
    old: Any
    new: Any

    @property
    def had_value(self) -> bool:
        return self.old is not _ABSENT


@dataclass(frozen=True)
class AuditedEvent:
    row: Any  # the history row (seq, type, actor, at, work_item_id, task_spec, data, item_name)
    data: dict
    changes: list[FieldChange]


@dataclass(frozen=True)
class CaseAudit:
    case: Any
    events: list[AuditedEvent]
    chain: h.ChainReport


def data_changes(type_: str, data: dict) -> list[FieldChange]:
    """What a history row says it changed in the case data, as field: old → new.

    A completed work item records what it submitted that differed (`changed`) and the earlier values
    it replaced (`previous`); the start records the initial data; a delivered message its payload."""
    if type_ == h.CASE_STARTED:
        return [FieldChange(k, _ABSENT, v) for k, v in (data.get("data") or {}).items()]
    if type_ == h.WORK_ITEM_COMPLETED:
        # without `changed`: the whole submission (rows written before it was recorded, and rows
        # where nothing submitted was already there); without `previous`: nothing replaced
        data = h.event_data(type_, data)
        previous, changed = data["previous"], data["changed"]
        return [FieldChange(k, previous.get(k, _ABSENT), v) for k, v in changed.items()]
    if type_ == h.MESSAGE_DELIVERED:
        return [FieldChange(k, _ABSENT, v) for k, v in (data.get("payload") or {}).items()]
    return []


def audit_case(engine, case_id: int) -> CaseAudit:
    with engine.db.reader.connect() as conn:
        head = case_store.case_head(conn, case_id)
        if head is None:
            raise NotFound(f"案件 {case_id} 不存在。")
        case = audit_store.cases_by_id(conn, [case_id])[0]
        rows = audit_store.case_history(conn, case_id)
    chain = h.verify_rows(case_id, rows, head.history_seq, head.history_head)
    events = []
    for r in rows:
        data = json.loads(r.data) if r.data else {}
        events.append(AuditedEvent(r, data, data_changes(r.type, data)))
    return CaseAudit(case, events, chain)



def reexecution(engine, case_id: int) -> ReplayReport:
    """Re-execute the case's recorded commands (nothing is written) and compare with the stored state.
    History that was altered may make re-execution fail in any way; that is reported, not raised."""
    try:
        return reexecute(engine, case_id)
    except NotFound:
        raise
    except Exception as err:  # noqa: BLE001 - an audit reports whatever broke
        return ReplayReport(case_id, False, 0, f"重新执行出错：{type(err).__name__}: {err}")

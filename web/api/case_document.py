"""A case as the API shows it, read from the case row, the projections and the history (the engine
state is not deserialized)."""
from __future__ import annotations

import json

from flask import url_for

from yijianshi.engine.cases import history as h
from yijianshi.engine.access.work_item_access import item_groups
from yijianshi.engine.deadlines.timers import UNRESOLVED
from yijianshi.storage import case_store
from yijianshi.storage import definition_store
from yijianshi.storage import inbox_store
from yijianshi.web.case_view import fold_data, group_label


def links(case_id: int) -> dict:
    return {"case": url_for("api.get_case", case_id=case_id),
            "history": url_for("api.case_history", case_id=case_id)}


def command_result(outcome: dict) -> dict:
    """The answer to a command (start, deliver) from the engine's description of what it did."""
    return {"case_id": outcome["case_id"], "status": outcome["status"], "version": outcome["version"],
            "opened_work_items": outcome["opened"], "links": links(outcome["case_id"])}


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def _work_item(item) -> dict:
    unresolved = UNRESOLVED in (item.due_at, item.warning_at)
    return {
        "id": item.id, "name": item.name, "process_id": item.process_id, "task_spec": item.task_spec,
        "departments": [{"code": g, "name": group_label(g, translate=False)} for g in item_groups(item.groups)],
        "claimed_by": item.claimed_by, "created_at": _time(item.created_at),
        "due_at": None if item.due_at == UNRESOLVED else _time(item.due_at),
        "warning_at": None if item.warning_at == UNRESOLVED else _time(item.warning_at),
        "due_unresolved": unresolved,
    }


def case_document(conn, row) -> dict:
    definition = definition_store.by_id(conn, row.definition_id)
    correlation = case_store.correlations_of(conn, row.id)
    items = [i for i in inbox_store.case_items(conn, row.id) if i.state == "ready"]
    return {
        "id": row.id,
        "process": {"key": definition.key, "name": definition.name, "version": definition.version},
        "title": row.title, "business_key": row.business_key, "status": row.status,
        "version": case_store.case_head(conn, row.id).version,
        "started_by": row.started_by, "started_at": _time(row.started_at), "updated_at": _time(row.updated_at),
        "ended_at": _time(row.ended_at),
        "work_items": [_work_item(i) for i in items],
        "waiting_messages": [{"message": name, "correlation": correlation}
                             for name in case_store.waits_of(conn, row.id)],
        "data": fold_data(case_store.case_events(conn, row.id, (h.CASE_STARTED, h.WORK_ITEM_COMPLETED))),
        "links": links(row.id),
    }


def event_document(e, process_key: str) -> dict:
    """A history row as the API gives it; `process_key`: the case's definition key (the process a
    completed work item's step belongs to unless the row names another, engine/cases/history.event_data)."""
    return {"seq": e.seq, "type": e.type, "actor": e.actor, "at": _time(e.at), "work_item_id": e.work_item_id,
            "task_spec": e.task_spec, "data": h.event_data(e.type, json.loads(e.data), process_key), "hash": e.hash, "prev_hash": e.prev_hash}

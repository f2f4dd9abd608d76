"""A finished and a running case of parallel_review.bpmn, signed checkpoints in a temporary folder,
and what a database administrator with write access can do to history: the helpers of
tests/test_checkpoints.py and tests/test_checkpoint_files.py."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, insert, select, update

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.audit.checkpoints import Checkpoints
from yijianshi.engine.cases import history as h
from yijianshi.storage.tables import Case, Event
from tests.conftest import deploy_fixtures

ADMIN = Actor("admin", frozenset(), is_admin=True)
DESK = Actor("desk", frozenset({"front_desk"}))
events_t, cases_t = Event.__table__, Case.__table__


def finished_case(engine) -> int:
    deploy_fixtures(engine, "parallel_review.bpmn")
    case = engine.cases.start_case("parallel_review", {"channel": "窗口"}, DESK, business_key="B-9")
    queue = list(case.ready)
    forms = {"apply": {"applicant_name": "孙七", "amount": "12"}, "deliver": {"delivered": True}}
    while queue:
        item = queue.pop(0)
        engine.cases.claim(item.id, ADMIN)
        queue.extend(engine.cases.complete_work_item(item.id, forms.get(item.task_spec, {"approved": True}),
                                                     ADMIN).ready)
    return case.id


def running_case(engine) -> int:
    return engine.cases.start_case("parallel_review", {"channel": "网上"}, DESK).id


def checkpoints_at(engine, tmp_path: Path) -> Checkpoints:
    return Checkpoints(engine.db, engine.clock, tmp_path / "checkpoints", tmp_path / "keys" / "signing.pem")


def rewrite(engine, case_id: int, edit) -> None:
    """What an administrator with write access can do: switch the append-only guard off, edit the
    case's rows, then renumber and re-hash the whole chain and the head kept on the case, so that the
    per-case check passes again (each link in the form the row stored it). `edit` gets the rows (dicts, in seq order) and returns the new list;
    a row without an id is inserted as a new one."""
    with engine.db.engine.begin() as conn:
        if engine.db.is_sqlite:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_append_only")
        rows = [dict(r._mapping) for r in
                conn.execute(select(events_t).where(events_t.c.case_id == case_id).order_by(events_t.c.seq))]
        rows = edit(rows)
        conn.execute(delete(events_t).where(events_t.c.case_id == case_id))
        prev = h.GENESIS
        for seq, r in enumerate(rows, 1):
            # the link kept in the form the row had (implicit since 0025), as the engine writes it
            r.update(seq=seq, prev_hash=h.IMPLICIT_LINK if r.get("prev_hash") == h.IMPLICIT_LINK else prev)
            r["hash"] = prev = h.event_hash(case_id, seq, r["type"], r["actor"], r["at"], r["work_item_id"],
                                            r["task_spec"], r["data"], prev)
            conn.execute(insert(events_t).values(**r))
        conn.execute(update(cases_t).where(cases_t.c.id == case_id).values(history_seq=len(rows), history_head=prev))


def seq_of(engine, case_id: int, type_: str, task_spec: str | None = None) -> int:
    return next(e.seq for e in engine.history(case_id) if e.type == type_ and (task_spec is None or e.task_spec == task_spec))


def chain_ok(engine, case_id: int) -> bool:
    return engine.verify(case_id)[0].ok

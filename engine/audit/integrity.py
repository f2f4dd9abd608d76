"""Integrity audits that must hold after any load or fault (a killed web worker, a killed
scheduler, a process killed in the middle of a command).

They check that:

- one case is sound: its stored state loads, the projections (ready work items, open deadlines,
  status) say what the state says, its history chain verifies, and re-executing its recorded
  commands reproduces the state;
- acknowledged completions: each work item a user was told is done is completed, with exactly one
  completion in history, and no work item was completed twice;
- deadlines: each deadline that fell due fired (none left armed), and each fired deadline has exactly
  one `deadline_fired` event in its case's history, and there is no firing event without one."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from yijianshi.engine.clock import to_utc
from yijianshi.engine.errors import NotFound
from yijianshi.engine.cases.work_items import project_work_items
from yijianshi.storage import case_store
from yijianshi.storage import integrity_store


def check_case(engine, case_id: int) -> list[str]:
    """Every problem with one case (an empty list when it is sound)."""
    try:
        wf = engine.cases.workflow_of(case_id)
    except Exception as err:  # a state that does not load is exactly what we look for
        return [f"案件 {case_id}：存储状态无法载入：{type(err).__name__}: {err}"]
    problems = []
    projection = project_work_items(wf)
    with engine.db.reader.connect() as conn:
        head = case_store.case_head(conn, case_id)
        ready_rows = integrity_store.ready_items_of_case(conn, case_id)
        open_rows = integrity_store.open_deadlines_of_case(conn, case_id)
    if head is None:  # loaded above, so deleted since
        raise NotFound(f"案件 {case_id} 不存在。")
    if head.status != "cancelled":
        stored_ready = {r.id: r.task_spec for r in ready_rows}
        state_ready = {tid: r.task_spec for tid, r in projection.ready.items()}
        if stored_ready != state_ready:
            problems.append(f"案件 {case_id}：待办投影与流程状态不一致（投影 {sorted(stored_ready.values())}，"
                            f"状态 {sorted(state_ready.values())}）")
        stored_timers = {(r.task_id, to_utc(r.due_at)) for r in open_rows}
        state_timers = {(t.task_id, to_utc(t.due)) for t in projection.timers.values()}
        if stored_timers != state_timers:
            problems.append(f"案件 {case_id}：期限表与流程中等待的定时器不一致"
                            f"（期限表 {len(stored_timers)} 个，状态 {len(state_timers)} 个）")
        if (head.status == "completed") != bool(wf.completed):
            problems.append(f"案件 {case_id}：案件状态 {head.status} 与流程办结状态 {wf.completed} 不一致")
    [chain] = engine.verify(case_id)
    if not chain.ok:
        problems.append(str(chain))
    replay = engine.reexecute(case_id)
    if not replay.ok:
        problems.append(str(replay))
    return problems


@dataclass
class CompletionAudit:
    acknowledged: int
    lost: list[str] = field(default_factory=list)  # acknowledged, but not completed in the database
    duplicates: list[str] = field(default_factory=list)  # completed more than once in history
    completed_in_history: int = 0


def audit_completions(engine, acknowledged: set[str]) -> CompletionAudit:
    with engine.db.reader.connect() as conn:
        counts = integrity_store.completion_counts(conn)
        states = integrity_store.work_item_states(conn)
    audit = CompletionAudit(len(acknowledged), completed_in_history=sum(counts.values()))
    audit.lost = sorted(i for i in acknowledged if states.get(i) != "completed" or counts.get(i, 0) < 1)
    audit.duplicates = sorted(i for i, n in counts.items() if n > 1)
    return audit


@dataclass
class DeadlineAudit:
    fell_due: int = 0  # deadlines due by the cut-off that were still armed when they fell due
    fired: int = 0
    missed: list[int] = field(default_factory=list)  # due by the cut-off and still armed
    fired_twice: list[int] = field(default_factory=list)  # more than one firing event
    unrecorded: list[int] = field(default_factory=list)  # marked fired without a firing event
    stray_events: int = 0  # firing events that belong to no fired deadline
    overtaken: list[int] = field(default_factory=list)  # ended by a user's step after due, before firing
    lateness_s: list[float] = field(default_factory=list)  # fired_at - due_at of those that fired

    @property
    def failures(self) -> int:
        return len(self.missed) + len(self.fired_twice) + len(self.unrecorded) + self.stray_events


def audit_deadlines(engine, due_by: datetime) -> DeadlineAudit:
    """Audit every deadline; those due by `due_by` must have fired (or ended before they fell due)."""
    due_by = to_utc(due_by)
    with engine.db.reader.connect() as conn:
        rows = integrity_store.all_deadlines(conn)
        fired_events = integrity_store.firing_events(conn)
    recorded = Counter((e.case_id, e.task_spec, to_utc(datetime.fromisoformat(json.loads(e.data)["due_at"])))
                       for e in fired_events)
    audit = DeadlineAudit()
    fired_keys = set()
    for r in rows:
        due = to_utc(r.due_at)
        key = (r.case_id, r.task_spec, due)
        if r.state == "fired":
            audit.fired += 1
            audit.fell_due += 1
            audit.lateness_s.append((to_utc(r.fired_at) - due).total_seconds())
            fired_keys.add(key)
            n = recorded.get(key, 0)
            if n == 0:
                audit.unrecorded.append(r.id)
            elif n > 1:
                audit.fired_twice.append(r.id)
        elif r.state in ("armed", "blocked") and due <= due_by:
            audit.fell_due += 1
            audit.missed.append(r.id)
        elif r.state == "cancelled" and r.fired_at is not None and to_utc(r.fired_at) > due:
            audit.overtaken.append(r.id)
    audit.stray_events = sum(n for k, n in recorded.items() if k not in fired_keys)
    return audit

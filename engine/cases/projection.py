"""A case's projections after each command: the difference between the workflow's view before and
after the step becomes work-item rows, external-task rows, deadline rows, message routing rows and events. Everything
is computed (due-date expressions included) before the command's write transaction; the rows are
written in it (CommandContext.later)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.task import TaskState
from sqlalchemy import Connection

from yijianshi.engine.cases import history as h
from yijianshi.engine.access.actors import SYSTEM, personal_group
from yijianshi.engine.access.organisation import stand_ins
from yijianshi.engine.cases.context import CommandContext
from yijianshi.engine.cases.history import canonical_json
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.errors import ScriptError
from yijianshi.engine.deadlines.timers import TIME_VALUE_KINDS, UNRESOLVED, as_point_in_time
from yijianshi.engine.cases.work_items import WorkItemProjection, all_tasks, drain_outbox
from yijianshi.engine.modeling.camunda_dialect import split_list
from yijianshi.engine.modeling.timer_text import executable
from yijianshi.engine.scripting.juel import is_juel
from yijianshi.storage import case_store as store
from yijianshi.engine.modeling.external_service import topic_of
from yijianshi.storage import case_search, deadline_store, external_task_store
from yijianshi.storage.case_store import DEFAULT_PRIORITY


def queue_projection(ctx: CommandContext, before: WorkItemProjection, after: WorkItemProjection,
                     script_engine) -> str | None:
    """Compute what changed between two projections of a case — work items (with due and warning
    times, which may run due-date expressions), deadlines, message waits, correlation values, outbox
    events — add its events and queue its writes on the context (ctx.later). Returns the case's
    attention note (None when nothing needs an administrator)."""
    conn, at = ctx.conn, ctx.at
    actor_id = ctx.actor.id
    completed = {e.work_item_id for e in ctx.events if e.type == h.WORK_ITEM_COMPLETED}
    gone = [tid for tid in before.ready if tid not in after.ready]
    done = [tid for tid in gone if tid in completed]
    cancelled = [tid for tid in gone if tid not in completed]

    def end_items(conn: Connection, case_id: int) -> None:
        store.end_work_items(conn, done, "completed", to_utc(at), actor_id)
        store.end_work_items(conn, cancelled, "cancelled", to_utc(at), actor_id)

    ctx.later(end_items)
    for tid in cancelled:
        ctx.event(h.WORK_ITEM_CANCELLED, {}, work_item_id=tid, task_spec=before.ready[tid].task_spec,
                  actor=SYSTEM)
    sync_deadlines(ctx, before, after)
    unresolved = [t.task_spec for t in after.timers.values() if t.due == UNRESOLVED]
    new_rows = []
    for tid, task in after.ready.items():
        if tid in before.ready:
            if ctx.superseding:  # timers re-armed after a calendar change
                old_due, old_warning = before.limits_of(tid)
                due, warning = after.limits_of(tid)
                if (due, warning) != (old_due, old_warning) and (due or warning):
                    ctx.set_limits(tid, due or old_due, warning or old_warning)
            continue
        meta = ctx.definition.meta_for(task.process_id, task.task_spec)
        groups = groups_of(task, meta, script_engine)
        assignee = assignee_of(task, meta, script_engine)
        users = [*users_of(task, meta, script_engine), *([assignee] if assignee else [])]
        if users:  # an absent person is not offered new work: his deputies of the day are
            away = stand_ins(conn, users, at.astimezone(SHANGHAI).date())
            users = [s for u in users for s in away.get(u, [u])]
            if assignee in away:
                assignee = away[assignee][0]
        groups = tuple(dict.fromkeys([*groups, *(personal_group(u) for u in users)]))
        due_at, warning_at = after.limits_of(tid)
        if due_at is None:
            due_at = due_at_of(task, meta, script_engine)
        if UNRESOLVED in (due_at, warning_at):
            unresolved.append(task.name)
        priority = priority_of(task, meta, script_engine)
        follow_up_at = follow_up_at_of(task, meta, script_engine)
        new_rows.append(dict(
            id=tid, case_id=None, definition_id=ctx.definition.id, process_id=task.process_id,
            task_spec=task.task_spec, name=task.name, groups=",".join(groups), state="ready",
            claimed_by=assignee, claimed_at=to_utc(at) if assignee else None, due_at=due_at,
            warning_at=warning_at, created_at=to_utc(at), ended_at=None, ended_by=None,
            priority=priority, follow_up_at=follow_up_at,
        ))
        # the times only when there are any, like the rest below (the work item row has them too)
        ready: dict[str, Any] = {"name": task.name, "groups": list(groups)}
        if due_at is not None:
            ready["due_at"] = _iso_or_none(due_at)
        if warning_at is not None:
            ready["warning_at"] = _iso_or_none(warning_at)
        if assignee:
            ready["assignee"] = assignee
        if priority != DEFAULT_PRIORITY:
            ready["priority"] = priority
        if follow_up_at is not None:
            ready["follow_up_at"] = follow_up_at.isoformat()
        ctx.event(h.WORK_ITEM_READY, ready, work_item_id=tid, task_spec=task.task_spec, actor=SYSTEM)
    if ctx.head.attention:
        # Work items created earlier with a due date that could not be computed still count.
        ended = set(done) | set(cancelled)
        # (as this command leaves them: limits it sets are not written yet)
        unresolved += [r.name for r in store.unresolved_items(conn, ctx.head.id, UNRESOLVED)
                       if r.id not in ended and UNRESOLVED in ctx.limits.get(r.id, (UNRESOLVED,))]
    definition_key = ctx.head.definition_key
    waits = after.waits if after.waits != before.waits else None
    new_case = ctx.head.version == 0
    corr = None
    if after.correlations != before.correlations or (new_case and ctx.head.business_key):
        corr = dict(after.correlations)
        if ctx.head.business_key:
            corr["business_key"] = ctx.head.business_key
    terms = _search_terms(ctx.events)
    new_external, gone_external = external_rows(ctx, before, after)

    def write_rows(conn: Connection, case_id: int) -> None:
        store.insert_work_items(conn, [{**r, "case_id": case_id} for r in new_rows], definition_key)
        external_task_store.delete_tasks(conn, gone_external)
        external_task_store.insert_tasks(conn, [{**r, "case_id": case_id} for r in new_external])
        if waits is not None:
            store.replace_waits(conn, case_id, waits)
        if corr is not None:
            store.replace_correlations(conn, case_id, corr, new_case=new_case)
        case_search.add_terms(conn, case_id, terms)

    ctx.later(write_rows)
    for message in drain_outbox(ctx.workflow):
        ctx.event(h.MESSAGE_SENT, message, actor=SYSTEM)
    if not unresolved:
        return None
    return ("期限无法计算（所需年度的法定节假日安排尚未导入），请管理员导入后重新计算："
            + "、".join(sorted(set(unresolved))))[:500]


def external_rows(ctx: CommandContext, before: WorkItemProjection,
                  after: WorkItemProjection) -> tuple[list[dict], list[str]]:
    """The external tasks that started waiting for a worker (rows without their case id) and the
    ids of those no longer waiting (completed, cancelled, interrupted by a boundary event)."""
    rows = []
    for tid, task in after.external.items():
        if tid in before.external:
            continue
        rows.append(dict(
            id=tid, case_id=None, definition_id=ctx.definition.id, definition_key=ctx.head.definition_key,
            business_key=ctx.head.business_key, process_id=task.process_id, task_spec=task.task_spec,
            name=task.name[:255], topic=topic_of(task.task.task_spec), priority=0,
            variables_json=canonical_json(task.data), worker_id=None, lock_expires_at=None, retries=None,
            error_message=None, error_details=None, created_at=to_utc(ctx.at)))
        ctx.event(h.EXTERNAL_TASK_CREATED, {"name": task.name, "topic": topic_of(task.task.task_spec)},
                  work_item_id=tid, task_spec=task.task_spec, actor=SYSTEM)
    return rows, [tid for tid in before.external if tid not in after.external]


def _search_terms(events) -> set[tuple[str, str]]:
    """Names and identifiers from the data a case started with and the forms submitted in this command."""
    terms: set[tuple[str, str]] = set()
    for e in events:
        if e.type == h.CASE_STARTED:
            terms |= case_search.terms_of(e.data.get("data") or {})
        elif e.type == h.WORK_ITEM_COMPLETED:
            terms |= case_search.terms_of(e.data.get("submitted") or {})
    return terms


def sync_deadlines(ctx: CommandContext, before: WorkItemProjection, after: WorkItemProjection) -> None:
    """Arm deadlines for timers that started waiting; close those that fired or were cancelled
    (queued on the context like every write of a command)."""
    keyed_before = {(t.task_id, t.due): t for t in before.timers.values()}
    keyed_after = {(t.task_id, t.due): t for t in after.timers.values()}
    at = to_utc(ctx.at)
    ended = []
    if keyed_before.keys() - keyed_after.keys():
        states = {str(t.id): t.state for t in all_tasks(ctx.workflow)}
        for key in keyed_before.keys() - keyed_after.keys():
            state = states.get(key[0])
            if ctx.superseding and state == TaskState.WAITING:
                ended.append((key[0], key[1], "superseded"))
                continue
            # still WAITING with another due time: a cycle timer that fired and re-armed
            fired = state in (TaskState.READY, TaskState.COMPLETED, TaskState.WAITING)
            ended.append((key[0], key[1], "fired" if fired else "cancelled"))
    for tid, due, state in ended:
        if state == "fired":
            t = keyed_before[(tid, due)]
            ctx.event(h.DEADLINE_FIRED, {"due_at": due.isoformat(), "kind": t.kind,
                                         "late_s": round((at - due).total_seconds(), 3)},
                      task_spec=t.task_spec, actor=SYSTEM)
    rows = []
    for key in keyed_after.keys() - keyed_before.keys():
        t = keyed_after[key]
        blocked = t.due == UNRESOLVED
        rows.append(dict(case_id=None, task_id=t.task_id, task_spec=t.task_spec, kind=t.kind,
                         due_at=t.due, state="blocked" if blocked else "armed", armed_at=at, fired_at=None))

    def write_deadlines(conn: Connection, case_id: int) -> None:
        deadline_store.end(conn, case_id, ended, at)
        deadline_store.arm(conn, [{**r, "case_id": case_id} for r in rows])

    ctx.later(write_deadlines)


def due_at_of(task, meta, script_engine) -> datetime | None:
    """The due time from a user task's camunda:dueDate (an expression or an ISO date-time literal),
    evaluated on its data."""
    if meta is None or not meta.due_date:
        return None
    value = script_engine.environment.evaluate(executable("timeDate", meta.due_date), dict(task.data))
    return _as_datetime(value, meta)


def _names(entries, task, meta, script_engine, what: str, expected: str = "用户名") -> list[str]:
    """Names written in an attribute, each `${...}` entry evaluated on the task's data (to a name, a
    comma-separated list or a list of names)."""
    names: list[str] = []
    for entry in entries:
        if not is_juel(entry):
            names.append(entry)
            continue
        value = script_engine.environment.evaluate(entry, dict(task.data))
        found = split_list(value) if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
        if not found or not all(isinstance(n, str) and n.strip() for n in found):
            raise ScriptError(f"任务 {meta.task_id} 的{what}表达式 “{entry}” 没有得到{expected}：{value!r}")
        names.extend(n.strip() for n in found)
    return list(dict.fromkeys(names))


def users_of(task, meta, script_engine) -> list[str]:
    """The candidate users of a ready user task (camunda:candidateUsers), expressions evaluated."""
    if meta is None or not meta.candidate_users:
        return []
    return _names(meta.candidate_users, task, meta, script_engine, "候选办理人")


def assignee_of(task, meta, script_engine) -> str | None:
    """The user a ready user task is assigned to (camunda:assignee, an expression evaluated), or None:
    also when the expression gives null or "" (as in Camunda: nobody is assigned, the candidate groups
    share it — e.g. `${accepted_by}` of a case an API client accepted)."""
    if meta is None or not meta.assignee:
        return None
    if is_juel(meta.assignee):
        value = script_engine.environment.evaluate(meta.assignee, dict(task.data))
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
    names = _names((meta.assignee,), task, meta, script_engine, "办理人")
    if len(names) != 1:
        raise ScriptError(f"任务 {meta.task_id} 的办理人表达式 “{meta.assignee}” 应得到一个用户名：{names!r}")
    return names[0]


def priority_of(task, meta, script_engine) -> int:
    """A ready user task's camunda:priority (an integer or an expression giving one), default 50."""
    if meta is None or not meta.priority:
        return DEFAULT_PRIORITY
    value = (script_engine.environment.evaluate(meta.priority, dict(task.data)) if is_juel(meta.priority)
             else meta.priority)
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    except (TypeError, ValueError) as err:
        raise ScriptError(f"任务 {meta.task_id} 的优先级 “{meta.priority}” 的结果 {value!r} 不是整数。") from err


def follow_up_at_of(task, meta, script_engine) -> datetime | None:
    """The follow-up time from a user task's camunda:followUpDate (an expression or an ISO date-time
    literal), evaluated on its data."""
    if meta is None or not meta.follow_up_date:
        return None
    value = script_engine.environment.evaluate(executable("timeDate", meta.follow_up_date), dict(task.data))
    try:
        return to_utc(as_point_in_time(value))
    except ValueError as err:
        raise ScriptError(f"任务 {meta.task_id} 的跟进日期 “{meta.follow_up_date}” 的结果 {value!r} 不是"
                          f"{TIME_VALUE_KINDS}。") from err


def groups_of(task, meta, script_engine) -> tuple[str, ...]:
    """The groups a ready user task goes to: its candidate groups, with each `${...}` entry evaluated on
    the task's data (to a name, a comma-separated list or a list of names), else its lane."""
    if meta is None:
        return (task.lane,) if task.lane else ()
    return tuple(_names(meta.groups, task, meta, script_engine, "办理部门或角色", "部门或角色代码"))


def _iso_or_none(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None and when != UNRESOLVED else None


def _as_datetime(value, meta) -> datetime:
    try:
        when = as_point_in_time(value)
    except ValueError as err:
        raise ScriptError(f"任务 {meta.task_id} 的办理期限 “{meta.due_date}” 的结果 {value!r} 不是"
                          f"{TIME_VALUE_KINDS}。") from err
    return to_utc(when)

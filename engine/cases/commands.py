"""Case commands: start, claim, unclaim, complete, cancel, deliver a message.

Each command is one transaction: read the case head (version) → run the engine step on the
workflow → write the new state with an optimistic version check, the projected work items and the
chained events → commit. A version conflict re-runs the command from the start, so users never
see it; a command that fails leaves nothing behind."""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Collection, Mapping

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.case_title import case_title
from yijianshi.engine.cases.failures import command_name, record_failure
from yijianshi.engine.access.actors import SYSTEM, Actor
from yijianshi.engine.cases.state_codec import CaseStateCodec
from yijianshi.engine.clock import SHANGHAI, Clock, to_utc
from yijianshi.engine.cases.retry import backoff, is_unique_violation, is_write_conflict
from yijianshi.engine.modeling.definitions import DefinitionCache, LoadedDefinition
from yijianshi.engine.errors import (
    AmbiguousCorrelation,
    ConcurrencyConflict,
    EngineError,
    FormErrors,
    NotFound,
    NotPermitted,
    WorkItemUnavailable,
)
from yijianshi.engine.modeling.forms import validate_submission
from yijianshi.engine.cases.projection import due_at_of, write_projection
from yijianshi.engine.deadlines.timers import UNRESOLVED, command_time, rearm
from yijianshi.engine.cases.work_items import WorkItemProjection, all_tasks, project_work_items
from yijianshi.engine.cases.workflow_cache import WorkflowCache
from yijianshi.engine.cases.engine_steps import deliver, ready_ordinal, run_engine, timer_ordinal
from yijianshi.storage import case_store as store
from yijianshi.storage import deadline_store
from yijianshi.storage import definition_store
from yijianshi.storage.database import Database

log = logging.getLogger("yijianshi.cases")
MAX_ATTEMPTS = 20
APPLICANT_ROLE = "applicant"
MAX_INITIAL_DATA_BYTES = 256 * 1024


@dataclass
class CommandContext:
    """What a command body sees: the case head, its definition, the time, and the workflow on demand."""

    service: "CaseService"
    conn: Any
    head: Any
    definition: LoadedDefinition
    actor: Actor
    at: datetime
    events: list[h.NewEvent] = field(default_factory=list)
    _workflow: BpmnWorkflow | None = None
    before: WorkItemProjection | None = None
    after: WorkItemProjection | None = None
    item: Any = None  # the work item row, for commands addressed to one
    state_changed: bool = False
    superseding: bool = False  # a re-arm replaces due times instead of firing them
    status: str | None = None

    @property
    def workflow(self) -> BpmnWorkflow:
        if self._workflow is None:
            self._workflow, self.before = self.service._checkout(self.conn, self.head, self.definition)
        return self._workflow

    def event(self, type_: str, data: dict, work_item_id: str | None = None, task_spec: str | None = None,
              actor: Actor | None = None) -> None:
        self.events.append(h.NewEvent(type_, (actor or self.actor).id, data, work_item_id, task_spec))


@dataclass(frozen=True)
class ReadyItem:
    id: str
    task_spec: str
    name: str


@dataclass(frozen=True)
class CaseSummary:
    id: int
    status: str
    version: int
    ready: list[ReadyItem]  # work items that this command opened


class CaseService:
    def __init__(self, db: Database, definitions: DefinitionCache, script_engine, clock: Clock,
                 cache_size: int = 4096):
        self.db = db
        self.definitions = definitions
        self.script_engine = script_engine
        self.clock = clock
        self.codec = CaseStateCodec()
        self._cache = WorkflowCache(cache_size)

    # -- commands ------------------------------------------------------------------------------

    def start_case(self, definition_key: str, data: Mapping[str, Any] | None, actor: Actor, *,
                   business_key: str | None = None, title: str | None = None,
                   start_form: Mapping[str, Any] | None = None, started_by: str | None = None,
                   on_behalf_of: str | None = None,
                   within: Callable[[Any, CaseSummary], None] | None = None) -> CaseSummary:
        """Start a case on the latest version of a definition.

        `start_form`: also submit the case's start form (the form of the one step with a form that
        the start opens in the main process) in the same transaction, validated like any form; a
        refusal leaves no case behind. The one who starts a case fills its start form, so the step's
        departments are not checked (entry points check who may start what).
        `started_by`: whose case it is (the applicant who owns its applicant steps) when someone
        else, e.g. an integration client, starts it on their behalf; default the actor.
        `on_behalf_of`: the name of the person or enterprise a member of staff starts it for (a
        counter application, a request received in person), recorded in the start event.
        `within(conn, summary)` runs inside the transaction before it commits."""
        initial = _check_data(data or {})
        owner = started_by or actor.id
        at = self.clock.now()
        with self.db.writer.begin() as conn:
            row = definition_store.latest(conn, definition_key)
            if row is None:
                raise NotFound(f"流程定义“{definition_key}”尚未部署。")
            definition = self.definitions.by_id(conn, row.id)
            wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=self.script_engine)
            wf.task_tree.data.update(initial)
            before = project_work_items(wf)
            with command_time(at):
                run_engine(wf)
            case_id = store.insert_case(conn, dict(
                definition_id=row.id, definition_key=row.key, business_key=business_key,
                title=title or row.name, status="running", version=0, engine_state="",
                started_by=owner, started_at=at, updated_at=at, history_seq=0, history_head=h.GENESIS,
            ))
            head = store.CaseHead(case_id, row.id, row.key, business_key, "running", 0, 0, h.GENESIS, owner)
            ctx = CommandContext(self, conn, head, definition, actor, at, _workflow=wf, before=before,
                                 state_changed=True)
            started = {"definition_id": row.id, "definition_key": row.key, "definition_version": row.version,
                       "business_key": business_key, "data": initial}
            if owner != actor.id:
                started["started_by"] = owner
            if on_behalf_of:
                started["on_behalf_of"] = on_behalf_of[:100]
            ctx.event(h.CASE_STARTED, started)
            with command_time(at):
                new_version = self._persist(ctx)
                following = self._submit_start_form(ctx, start_form) if start_form is not None else None
                if following is not None:
                    ctx = following
                    new_version = self._persist(ctx)
                    if title is None:  # listed by whom it is for, as a start from the web names it
                        meta = definition.meta_for(ctx.item.process_id, ctx.item.task_spec)
                        store.set_title(conn, case_id, case_title(row.name, meta.form, start_form))
            summary = self._summary(case_id, new_version, ctx)
            if within is not None:
                within(conn, summary)
        self._cache.put(case_id, new_version, wf, ctx.after)
        log.info("case started", extra={"case_id": case_id, "actor": actor.id, "event": h.CASE_STARTED})
        return summary

    def _submit_start_form(self, started: CommandContext, submitted: Mapping[str, Any]) -> CommandContext | None:
        """Complete the start form's step of a case just started, in the same transaction. A process
        without a start form takes no data (None: nothing to do)."""
        main = started.definition.spec.name
        entries = [tid for tid, r in started.after.ready.items()
                   if r.process_id == main and (meta := started.definition.meta_for(r.process_id, r.task_spec))
                   is not None and meta.form is not None]
        if len(entries) != 1:
            if not submitted:
                return None
            raise FormErrors({"__all__": "该流程开始时没有唯一的开始表单，不能随立案提交表单数据。"})
        item, head = store.work_item_and_case(started.conn, entries[0])
        ctx = CommandContext(self, started.conn, head, started.definition, started.actor, started.at,
                             _workflow=started._workflow, before=started.after, item=item)
        self._complete(ctx, entries[0], dict(submitted), check_actor=False)
        return ctx

    def complete_work_item(self, work_item_id: str, data: Mapping[str, Any] | None, actor: Actor) -> CaseSummary:
        """Complete a work item with form data validated against its form; nothing is saved on error."""
        submitted = dict(data or {})
        return self._run_on_item(work_item_id, actor, lambda ctx: self._complete(ctx, work_item_id, submitted))

    def _complete(self, ctx: CommandContext, work_item_id: str, submitted: dict, *, check_actor: bool = True) -> None:
        item = ctx.item
        _require_ready(item)
        if check_actor:
            self.check_can_act(item, ctx.actor, ctx.head)
        meta = ctx.definition.meta_for(item.process_id, item.task_spec)
        if meta is not None and meta.form is not None:
            clean = validate_submission(meta.form, submitted)
        elif submitted:
            raise FormErrors({"__all__": "此事项没有表单，不能提交数据。"})
        else:
            clean = {}
        wf = ctx.workflow
        _timers_first(ctx)
        ready = ctx.before.ready.get(work_item_id)
        if ready is None:
            raise WorkItemUnavailable("该事项已不在待办状态。")
        task = ready.task
        ordinal = ready_ordinal(ctx.before, ready)
        previous = {k: task.data[k] for k in clean if k in task.data and task.data[k] != clean[k]}
        changed = {k: v for k, v in clean.items() if task.data.get(k, _MISSING) != v}
        task.data.update(clean)
        task.run()
        run_engine(wf)
        ctx.state_changed = True
        ctx.event(h.WORK_ITEM_COMPLETED, {
            "process_id": item.process_id, "ordinal": ordinal, "submitted": clean,
            "changed": changed, "previous": previous,
        }, work_item_id=work_item_id, task_spec=item.task_spec)

    def claim(self, work_item_id: str, actor: Actor) -> CaseSummary:
        """Take a work item so colleagues see it is being handled (首问负责)."""

        def body(ctx: CommandContext) -> None:
            item = ctx.item
            _require_ready(item)
            self.check_can_act(item, actor, ctx.head)
            if item.claimed_by == actor.id:
                return
            store.set_claim(ctx.conn, work_item_id, actor.id, to_utc(ctx.at))
            ctx.event(h.WORK_ITEM_CLAIMED, {}, work_item_id=work_item_id, task_spec=item.task_spec)

        return self._run_on_item(work_item_id, actor, body)

    def unclaim(self, work_item_id: str, actor: Actor) -> CaseSummary:
        """Give a claimed work item back to its departments' common queue."""

        def body(ctx: CommandContext) -> None:
            item = ctx.item
            _require_ready(item)
            if item.claimed_by is None:
                return
            if item.claimed_by != actor.id and not actor.is_admin:
                raise NotPermitted(f"该事项由 {item.claimed_by} 认领，只有本人或管理员可以退回。")
            store.set_claim(ctx.conn, work_item_id, None, None)
            ctx.event(h.WORK_ITEM_UNCLAIMED, {"was_claimed_by": item.claimed_by},
                      work_item_id=work_item_id, task_spec=item.task_spec)

        return self._run_on_item(work_item_id, actor, body)

    def cancel_case(self, case_id: int, actor: Actor, reason: str = "", *, withdrawn: bool = False) -> CaseSummary:
        """Cancel a running case (or record the applicant's withdrawal, 撤回); open work is cancelled."""

        def body(ctx: CommandContext) -> None:
            if withdrawn and actor.id != ctx.head.started_by and not actor.is_admin:
                raise NotPermitted("只有申请人本人可以撤回申请。")
            if ctx.head.status != "running":
                label = STATUS_LABELS.get(ctx.head.status, ctx.head.status)
                raise EngineError(f"案件已是“{label}”状态，不能再撤销。")
            ctx.workflow.cancel()
            ctx.state_changed = True
            ctx.status = "withdrawn" if withdrawn else "cancelled"
            ctx.event(h.CASE_CANCELLED, {"reason": reason, "withdrawn": withdrawn})

        return self._run(lambda conn: (store.case_head(conn, case_id), None), case_id, actor, body)

    def deliver_message(self, message_name: str, correlation: Mapping[str, Any],
                        payload: Mapping[str, Any] | None, actor: Actor = SYSTEM, *,
                        processes: Collection[str] | None = None) -> CaseSummary:
        """Deliver a message (e.g. a department system's reply) to the one case waiting for it.
        `processes`: the process keys the sender may reach (None: every process)."""
        keys = {str(k): str(v) for k, v in correlation.items()}
        if not keys:
            raise EngineError("投递消息必须给出关联键（例如 business_key 或流程定义的关联属性）。")
        body_payload = _check_data(payload or {})
        with self.db.reader.connect() as conn:
            candidates = store.cases_waiting_for(conn, message_name, keys)
            if processes is not None and candidates:
                candidates = [c for c in candidates if store.case_head(conn, c).definition_key in processes]
                if not candidates:
                    raise NotPermitted(f"等待消息“{message_name}”的案件不属于您可以投递消息的流程。")
        if not candidates:
            raise NotFound(f"没有案件在等待消息“{message_name}”（关联键 {keys}）。")
        if len(candidates) > 1:
            raise AmbiguousCorrelation(f"有 {len(candidates)} 个案件匹配消息“{message_name}”的关联键 {keys}，"
                              "请给出更精确的关联键。")
        case_id = candidates[0]

        def body(ctx: CommandContext) -> None:
            ctx.workflow
            _timers_first(ctx)
            deliver(ctx.workflow, message_name, body_payload, keys)
            ctx.state_changed = True
            ctx.event(h.MESSAGE_DELIVERED, {"message": message_name, "correlation": keys, "payload": body_payload})

        return self._run(lambda conn: (store.case_head(conn, case_id), None), case_id, actor, body)

    def fire_deadline(self, deadline_id: int) -> CaseSummary | None:
        """Let the timer behind a due deadline fire (the scheduler's command). Idempotent: a deadline
        already fired, cancelled, or not yet due is left alone and None is returned."""
        with self.db.reader.connect() as conn:
            row = deadline_store.by_id(conn, deadline_id)
        if row is None or row.state != "armed":
            return None

        def body(ctx: CommandContext) -> None:
            current = deadline_store.by_id(ctx.conn, deadline_id)
            if current.state != "armed" or to_utc(ctx.at) <= current.due_at or ctx.head.status != "running":
                raise _NothingToDo()
            ctx.workflow.refresh_timers()
            run_engine(ctx.workflow)
            ctx.state_changed = True
            ctx.event(h.TIMERS_FIRED, {"deadline_id": deadline_id, "due_at": current.due_at.isoformat()})

        try:
            return self._run(lambda conn: (store.case_head(conn, row.case_id), None), row.case_id, SYSTEM, body)
        except _NothingToDo:
            return None

    def rearm_timers(self, case_id: int, actor: Actor = SYSTEM) -> CaseSummary | None:
        """Compute the due times of a case's waiting timers again, as of when each was armed
        (after the holiday schedule changed). Returns None if nothing changed."""

        def body(ctx: CommandContext) -> None:
            wf = ctx.workflow
            armed = {d.task_id: d.armed_at for d in deadline_store.of_case(ctx.conn, case_id)}
            tasks = {str(t.id): t for t in all_tasks(wf)}
            redone = []
            for timer in ctx.before.timers.values():
                task = tasks[timer.task_id]
                armed_at = armed.get(timer.task_id, ctx.at)
                rearm(task, armed_at)
                redone.append({"process_id": timer.process_id, "task_spec": timer.task_spec,
                               "ordinal": timer_ordinal(ctx.before, timer), "armed_at": armed_at.isoformat()})
            due_dates = []
            for item in store.unresolved_items(ctx.conn, case_id, UNRESOLVED):
                meta = ctx.definition.meta_for(item.process_id, item.task_spec)
                ready = ctx.before.ready.get(item.id)
                if ready is None or meta is None or not meta.due_date:
                    continue
                with command_time(item.created_at):
                    due = due_at_of(ready, meta, self.script_engine)
                _, warning = ctx.before.limits_of(item.id)
                store.set_limits(ctx.conn, item.id, due, warning)
                due_dates.append(item.name)
            if not redone and not due_dates:
                raise _NothingToDo()
            run_engine(wf)
            ctx.state_changed = True
            ctx.superseding = True
            ctx.event(h.TIMERS_REARMED, {"timers": redone, "due_dates": due_dates})

        try:
            return self._run(lambda conn: (store.case_head(conn, case_id), None), case_id, actor, body)
        except _NothingToDo:
            return None

    # -- queries -------------------------------------------------------------------------------

    def workflow_of(self, case_id: int) -> BpmnWorkflow:
        """A private, deserialized copy of a case's workflow (for display and replay checks)."""
        with self.db.reader.connect() as conn:
            head = store.case_head(conn, case_id)
            if head is None:
                raise NotFound(f"案件 {case_id} 不存在。")
            definition = self.definitions.by_id(conn, head.definition_id)
            _, state = store.case_state(conn, case_id)
        return self.codec.loads(state, definition.spec, definition.subprocess_specs)

    # -- the command skeleton ------------------------------------------------------------------

    def _run_on_item(self, work_item_id: str, actor: Actor, body: Callable[[CommandContext], None]) -> CaseSummary:
        def locate(conn):
            item, head = store.work_item_and_case(conn, work_item_id)
            if item is None:
                raise NotFound("待办事项不存在。")
            return head, item

        return self._run(locate, None, actor, body)

    def _run(self, locate, case_id: int | None, actor: Actor, body: Callable[[CommandContext], None]) -> CaseSummary:
        caught_up = False
        for attempt in range(MAX_ATTEMPTS):
            ctx = None
            try:
                if caught_up:
                    _CATCHING_UP.on = True
                with self.db.writer.begin() as conn:
                    head, item = locate(conn)
                    if head is None:
                        raise NotFound(f"案件 {case_id} 不存在。")
                    case_id = head.id
                    definition = self.definitions.by_id(conn, head.definition_id)
                    ctx = CommandContext(self, conn, head, definition, actor, self.clock.now(), item=item)
                    with command_time(ctx.at):
                        body(ctx)
                        new_version = self._persist(ctx)
            except ConcurrencyConflict:
                self._cache.drop(case_id)
                backoff(attempt)
                continue
            except _TimersDue:
                # A deadline of this case fell due and the scheduler has not fired it yet: fire it
                # first, as its own command, so it fires exactly once and before this command.
                self._cache.drop(case_id)
                self._fire_due_deadlines(case_id)
                caught_up = True
                continue
            except Exception as err:
                if case_id is not None:
                    self._cache.drop(case_id)
                if is_write_conflict(err) or (is_unique_violation(err) and self._moved_on(ctx)):
                    backoff(attempt)
                    continue
                if case_id is not None and not isinstance(err, _NothingToDo):  # see engine/cases/failures.py
                    record_failure(self.db, self.clock, case_id, command_name(body), actor, err,
                                   getattr(ctx.item if ctx else None, "id", None))
                raise
            finally:
                _CATCHING_UP.on = False
            if ctx.status is not None:
                self._cache.drop(case_id)  # an ended case takes no more engine steps: keep room for running ones
            elif ctx._workflow is not None:
                self._cache.put(case_id, new_version, ctx._workflow, ctx.after or ctx.before)
            else:
                self._cache.rebase(case_id, ctx.head.version, new_version)
            log.info("case command", extra={"case_id": case_id, "actor": actor.id,
                                            "work_item_id": getattr(ctx.item, "id", None),
                                            "event": ctx.events[0].type if ctx.events else None})
            return self._summary(case_id, new_version, ctx)
        raise EngineError("案件正被频繁修改，请稍后再试。")

    def _fire_due_deadlines(self, case_id: int) -> None:
        now = to_utc(self.clock.now())
        with self.db.reader.connect() as conn:
            due = [d.id for d in deadline_store.of_case(conn, case_id, ("armed",)) if d.due_at < now]
        for deadline_id in due:
            self.fire_deadline(deadline_id)

    def _moved_on(self, ctx: CommandContext | None) -> bool:
        """Whether another command committed on the case since this one read it (then a duplicate
        projection row, e.g. the same next task made ready by both, means we lost the race)."""
        if ctx is None:
            return False
        with self.db.reader.connect() as conn:
            head = store.case_head(conn, ctx.head.id)
        return head is not None and head.version != ctx.head.version

    def _checkout(self, conn, head, definition: LoadedDefinition) -> tuple[BpmnWorkflow, WorkItemProjection]:
        cached = self._cache.take(head.id, head.version)
        if cached is not None:
            wf, projection = cached
        else:
            version, state = store.case_state(conn, head.id)
            if version != head.version:  # committed by someone else since we read the head
                raise ConcurrencyConflict()
            wf = self.codec.loads(state, definition.spec, definition.subprocess_specs)
            projection = project_work_items(wf)
        wf.script_engine = self.script_engine
        return wf, projection

    def _persist(self, ctx: CommandContext) -> int:
        """Write state, projections and events; raises ConcurrencyConflict if the case moved on."""
        head, conn = ctx.head, ctx.conn
        values: dict[str, Any] = {"updated_at": ctx.at}
        if ctx.state_changed:
            values["status"] = head.status
            values["ended_at"] = None
            wf = ctx._workflow
            values["engine_state"] = self.codec.dumps(wf)
            ctx.after = project_work_items(wf)
            values["attention"] = write_projection(ctx, ctx.before, ctx.after, self.script_engine)
            if ctx.status is None and wf.completed:
                ctx.status = "completed"
                ctx.event(h.CASE_COMPLETED, {}, actor=SYSTEM)
            if ctx.status is not None:
                values["status"] = ctx.status
                values["ended_at"] = ctx.at
        if not ctx.events and not ctx.state_changed:
            return head.version
        rows = h.chain(head.id, head.history_seq, head.history_head, ctx.at, ctx.events)
        values["history_seq"] = rows[-1]["seq"] if rows else head.history_seq
        values["history_head"] = rows[-1]["hash"] if rows else head.history_head
        if not store.update_case(conn, head.id, head.version, values):
            raise ConcurrencyConflict()
        store.insert_events(conn, rows)
        return head.version + 1

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def check_can_act(item, actor: Actor, head) -> None:
        """Raise unless `actor` may act on the work item `item` of the case `head` (the rule every
        entry point shares: departments/roles, the applicant's own steps, claims)."""
        groups = tuple(g for g in item.groups.split(",") if g)
        if APPLICANT_ROLE in groups and not actor.is_admin:
            # The applicant's own steps (一表申请, 补正, 评价) belong to the person who applied, not
            # to everyone who holds the applicant role.
            if actor.id != head.started_by:
                raise NotPermitted("这是其他申请人的案件，您无权办理。")
            return
        if not actor.may_work_on(groups):
            raise NotPermitted(f"您不属于办理该事项的部门或角色（{'、'.join(groups) or '无'}）。")
        if item.claimed_by and item.claimed_by != actor.id and not actor.is_admin:
            raise WorkItemUnavailable(f"该事项已由 {item.claimed_by} 认领办理。")

    @staticmethod
    def _summary(case_id: int, version: int, ctx: CommandContext) -> CaseSummary:
        ready = [ReadyItem(e.work_item_id, e.task_spec, e.data["name"])
                 for e in ctx.events if e.type == h.WORK_ITEM_READY]
        return CaseSummary(case_id, ctx.status or ctx.head.status, version, ready)


_MISSING = object()


class _NothingToDo(Exception):
    """Raised inside a command body to end it without writing anything."""


STATUS_LABELS = {"running": "办理中", "completed": "已办结", "cancelled": "已撤销", "withdrawn": "已撤回"}


class _TimersDue(Exception):
    """Raised inside a command body when a waiting timer of the case is past due."""


class _CatchingUp(threading.local):
    on = False


_CATCHING_UP = _CatchingUp()


def _timers_first(ctx: CommandContext) -> None:
    """Refuse to run a command on a case whose deadline is past due but not fired yet (the
    scheduler runs late, or is being handed over); the caller fires it first and runs again."""
    if _CATCHING_UP.on:
        return  # fired what the deadline table had; whatever remains is not ours to force
    at = to_utc(ctx.at)
    if any(t.due < at for t in ctx.before.timers.values()):
        raise _TimersDue()


def _require_ready(item) -> None:
    if item is None:
        raise NotFound("待办事项不存在。")
    if item.state == "completed":
        when = item.ended_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if item.ended_at else ""
        raise WorkItemUnavailable(f"该事项已由 {item.ended_by} 于 {when} 办结，无需重复提交。")
    if item.state != "ready":
        raise WorkItemUnavailable("该事项已撤销，无需办理。")


def _check_data(data: Mapping[str, Any]) -> dict:
    if not isinstance(data, Mapping):
        raise FormErrors({"__all__": "数据必须是键值对象。"})
    out = dict(data)
    bad = [k for k in out if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")]
    if bad:
        raise FormErrors({"__all__": f"数据字段名无效：{', '.join(map(str, bad))}（须为字母、数字、下划线，且不以下划线开头）。"})
    try:
        text = json.dumps(out, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise FormErrors({"__all__": f"数据无法保存为 JSON：{err}"}) from err
    if len(text.encode("utf-8")) > MAX_INITIAL_DATA_BYTES:
        raise FormErrors({"__all__": f"数据超过 {MAX_INITIAL_DATA_BYTES // 1024} KB 上限。"})
    return json.loads(text)

"""Case commands: start, claim, unclaim, complete, hand off (transfer, delegate, return, comment,
follow-up: engine/cases/handoffs.py), cancel, deliver a message, fire a deadline, re-arm timers. Each is run by the command skeleton (command_runner.py): computed on a read connection,
written in one short transaction with a version check; a version conflict re-runs it from the start,
so users never see it; a command that fails leaves nothing behind."""
from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from typing import Any, Callable, Collection, Mapping, Sequence

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import Connection

from yijianshi.engine.access.actors import SYSTEM, Actor, is_person
from yijianshi.engine.access.work_item_access import may_give_back
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases import state_delta
from yijianshi.engine.cases.case_title import case_title
from yijianshi.engine.cases.command_runner import CommandRunner
from yijianshi.engine.cases.context import (
    STATUS_LABELS,
    CaseSummary,
    CommandContext,
    NothingToDo,
    check_can_act,
    check_data,
    require_ready,
    summary_of,
    timers_first,
)
from yijianshi.engine.cases import handoffs, migration
from yijianshi.engine.cases.materials import NewMaterial, material_rows
from yijianshi.engine.cases.engine_steps import deliver, ready_ordinal, run_engine, run_task, timer_ordinal
from yijianshi.engine.cases.projection import due_at_of
from yijianshi.engine.cases.work_items import all_tasks, project_work_items
from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.deadlines.timers import UNRESOLVED, command_time, rearm
from yijianshi.engine.errors import AmbiguousCorrelation, EngineError, FormErrors, NotFound, NotPermitted, \
    WorkItemUnavailable
from yijianshi.engine.modeling.definitions import DefinitionCache
from yijianshi.engine.modeling.forms import Form, validate_submission
from yijianshi.engine.scripting.foreground_gate import foreground_work
from yijianshi.storage import case_store as store
from yijianshi.storage import deadline_store
from yijianshi.storage import definition_store
from yijianshi.storage import material_store
from yijianshi.storage.database import Database

log = logging.getLogger("yijianshi.cases")
_MISSING = object()


class CaseService:
    def __init__(self, db: Database, definitions: DefinitionCache, script_engine: Any, clock: Clock,
                 cache_size: int = 4096):
        self.db = db
        self.definitions = definitions
        self.script_engine = script_engine
        self.clock = clock
        self.runner = CommandRunner(db, definitions, script_engine, clock, self.fire_deadline, cache_size)

    # -- commands ------------------------------------------------------------------------------

    @foreground_work  # long scripts elsewhere pause while a case starts
    def start_case(self, definition_key: str, data: Mapping[str, Any] | None, actor: Actor, *,
                   business_key: str | None = None, title: str | None = None,
                   start_form: Mapping[str, Any] | None = None, started_by: str | None = None,
                   on_behalf_of: str | None = None, start_materials: Sequence[NewMaterial] = (),
                   within: Callable[[Connection, CaseSummary], None] | None = None) -> CaseSummary:
        """Start a case on the latest version of a definition.

        `data`: the case's initial data. When the process has a start-event form (camunda:formData on
        its start event) it is that form's submission: validated like any form (FormErrors naming
        each field, nothing written), and the cleaned, typed values become the case data.
        `start_form`: also submit the case's start form (the form of the one step with a form that
        the start opens in the main process) in the same transaction, validated like any form; a
        refusal leaves no case behind. The one who starts a case fills its start form, so the step's
        departments are not checked (entry points check who may start what).
        `started_by`: whose case it is (the applicant who owns its applicant steps) when someone
        else, e.g. an integration client, starts it on their behalf; default the actor.
        `on_behalf_of`: the name of the person or enterprise a member of staff starts it for (a
        counter application, a request received in person), recorded in the start event.
        `start_materials`: files published for the start form, attached with it (needs `start_form`).
        `within(conn, summary)` runs inside the transaction before it commits."""
        if start_materials and start_form is None:
            raise ValueError("start_materials go with a start_form")
        initial = check_data(data or {})
        owner = started_by or actor.id
        at = self.clock.now()
        # Everything that runs the engine (and so scripts) happens on a read connection; only the
        # writes take the write transaction (see command_runner.py).
        with self.db.reader.connect() as conn:
            row = definition_store.latest(conn, definition_key)
            if row is None:
                raise NotFound(f"流程定义“{definition_key}”尚未部署。")
            definition = self.definitions.by_id(conn, row.id)
            if definition.start_form is not None:
                initial = check_data(validate_submission(definition.start_form, initial))
            if definition.initiator:
                # camunda:initiator: the starting user's id (whose case it is), recorded with the start
                initial[definition.initiator] = owner
            wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=self.script_engine)
            wf.task_tree.data.update(initial)
            before = project_work_items(wf)
            with command_time(at):
                run_engine(wf)
            # The case id is given when the case row is written; until then the head says 0.
            head = store.CaseHead(0, row.id, row.key, business_key, "running", 0, 0, h.GENESIS, owner)
            ctx = self.runner.context(conn, head, definition, actor, at)
            ctx.adopt(wf, before)
            ctx.state_changed = True
            started = {"definition_id": row.id, "definition_key": row.key, "definition_version": row.version,
                       "business_key": business_key, "data": initial}
            if owner != actor.id:
                started["started_by"] = owner
            if on_behalf_of:
                started["on_behalf_of"] = on_behalf_of[:100]
            ctx.event(h.CASE_STARTED, started)
            with command_time(at):
                values = self.runner.prepare(ctx)
                following = self._submit_start_form(ctx, start_form, start_materials) if start_form is not None else None
                following_values = self.runner.prepare(following) if following is not None else None
            case_title_ = title or (case_title(row.name, definition.start_form, initial)
                                    if definition.start_form is not None else row.name)
            if following is not None and title is None and following.item is not None \
                    and definition.start_form is None:
                # listed by whom it is for, as a web start names it
                meta = definition.meta_for(following.item.process_id, following.item.task_spec)
                case_title_ = case_title(row.name, meta.form if meta else None, start_form or {})
            last = following or ctx
            with self.db.command_transaction(conn) as conn:  # the reads are done: write on it
                case_id = store.insert_case(conn, dict(
                    definition_id=row.id, definition_key=row.key, business_key=business_key,
                    title=case_title_, status="running", version=0, engine_state="",
                    started_by=owner, started_at=at, updated_at=at, history_seq=0, history_head=h.GENESIS,
                ))
                ctx.head = dataclasses.replace(head, id=case_id, title=case_title_)
                written = self.runner.apply(conn, ctx, values)
                if following is not None:
                    following.head = written
                    written = self.runner.apply(conn, following, following_values)
                new_version = written.version
                summary = summary_of(case_id, new_version, last)
                if within is not None:
                    within(conn, summary)
        if last.state_write is not None:  # committed: what the database holds of the state
            state_delta.keep_snapshot(wf, last.state_write.stored(last.state_bytes))
        self.runner.cache.put(case_id, new_version, wf, last.after or last.before)
        log.info("case started", extra={"case_id": case_id, "actor": actor.id, "event": h.CASE_STARTED})
        return summary

    def start_event_form(self, definition_key: str) -> Form | None:
        """The start-event form of the latest version (None: the process has none, its start data
        is free and its application form, if any, is the first step's)."""
        with self.db.reader.connect() as conn:
            row = definition_store.latest(conn, definition_key)
            if row is None:
                raise NotFound(f"流程定义“{definition_key}”尚未部署。")
            return self.definitions.by_id(conn, row.id).start_form

    def _submit_start_form(self, started: CommandContext, submitted: Mapping[str, Any],
                           materials: Sequence[NewMaterial] = ()) -> CommandContext | None:
        """Complete the start form's step of a case being started, in the same transaction (its
        head is set when the start is written). A process without a start form takes no data
        (None: nothing to do)."""
        main = started.definition.spec.name
        opened = started.after
        assert opened is not None, "the start was prepared, which projects its work items"
        entries = [tid for tid, r in opened.ready.items()
                   if r.process_id == main and (meta := started.definition.meta_for(r.process_id, r.task_spec))
                   is not None and meta.form is not None]
        if len(entries) != 1:
            if not submitted and not materials:
                return None
            raise FormErrors({"__all__": "该流程开始时没有唯一的开始表单，不能随立案提交表单数据。"})
        ready = opened.ready[entries[0]]
        meta = started.definition.meta_for(ready.process_id, ready.task_spec)
        groups = meta.groups if meta is not None else ((ready.lane,) if ready.lane else ())
        item = store.WorkItemRow(entries[0], started.head.id, ready.process_id, ready.task_spec, ready.name,
                                 ",".join(groups), "ready", None, None, None, started.definition.id)
        head = dataclasses.replace(started.head, version=started.head.version + 1)  # once the start is written
        ctx = self.runner.context(started.conn, head, started.definition, started.actor, started.at, item=item)
        ctx.adopt(started.workflow, opened)
        ctx.new_state = True  # the start's state is a full one: no deltas to drop
        self._complete(ctx, entries[0], dict(submitted), check_actor=False, materials=materials)
        return ctx

    def complete_work_item(self, work_item_id: str, data: Mapping[str, Any] | None, actor: Actor, *,
                           materials: Sequence[NewMaterial] = ()) -> CaseSummary:
        """Complete a work item with form data validated against its form, attaching `materials`
        (files already stored, see MaterialService.publish) in the same transaction and history
        event; nothing is saved on error."""
        submitted = dict(data or {})
        return self.runner.run_on_item(
            work_item_id, actor, lambda ctx: self._complete(ctx, work_item_id, submitted, materials=materials))

    def _complete(self, ctx: CommandContext, work_item_id: str, submitted: dict, *, check_actor: bool = True,
                  materials: Sequence[NewMaterial] = ()) -> None:
        item = require_ready(ctx.item)
        if check_actor:
            check_can_act(item, ctx.actor, ctx.head)
        meta = ctx.definition.meta_for(item.process_id, item.task_spec)
        if meta is not None and meta.form is not None:
            clean = validate_submission(self._shown_form(ctx, work_item_id, meta.form), submitted)
        elif submitted:
            raise FormErrors({"__all__": "此事项没有表单，不能提交数据。"})
        else:
            clean = {}
        if meta is not None and meta.record_actor:  # 首问负责: who completed it, for a later step's assignee
            # a person; an API client or the system accepts for nobody in particular (null)
            clean[meta.record_actor] = ctx.actor.id if is_person(ctx.actor) else None
        wf = ctx.workflow
        timers_first(ctx)
        ready = ctx.before.ready.get(work_item_id)
        if ready is None:
            raise WorkItemUnavailable("该事项已不在待办状态。")
        task = ready.task
        ordinal = ready_ordinal(ctx.before, ready)
        previous = {k: task.data[k] for k in clean if k in task.data and task.data[k] != clean[k]}
        changed = {k: v for k, v in clean.items() if task.data.get(k, _MISSING) != v}
        task.data.update(clean)
        run_task(task)
        run_engine(wf)
        ctx.state_changed = True
        # `changed` only where it is not the whole submission, `previous` only when something was
        # replaced: readers put them back (h.event_data).
        completed = h.completion_data(item.process_id, ctx.definition.key, ordinal, clean)
        if changed != clean:
            completed["changed"] = changed
        if previous:
            completed["previous"] = previous
        if materials:
            rows = material_rows(materials, case_id=ctx.head.id, item=item, actor=ctx.actor, at=ctx.at)
            ctx.later(lambda conn, case_id: material_store.add(conn, [{**r, "case_id": case_id} for r in rows]))
            completed["materials"] = [{k: r[k] for k in ("filename", "content_type", "size_bytes", "sha256", "kind")}
                                      for r in rows]
        ctx.event(h.WORK_ITEM_COMPLETED, completed, work_item_id=work_item_id, task_spec=item.task_spec)

    def claim(self, work_item_id: str, actor: Actor) -> CaseSummary:
        """Take a work item so colleagues see it is being handled (首问负责)."""

        def body(ctx: CommandContext) -> None:
            item = require_ready(ctx.item)
            check_can_act(item, actor, ctx.head)
            if item.claimed_by == actor.id:
                return
            claimed_at = to_utc(ctx.at)
            ctx.later(lambda conn, _: store.set_claim(conn, work_item_id, actor.id, claimed_at))
            ctx.event(h.WORK_ITEM_CLAIMED, {}, work_item_id=work_item_id, task_spec=item.task_spec)

        return self.runner.run_on_item(work_item_id, actor, body)

    def unclaim(self, work_item_id: str, actor: Actor) -> CaseSummary:
        """Give a claimed work item back to its departments' common queue."""

        def body(ctx: CommandContext) -> None:
            item = require_ready(ctx.item)
            if item.claimed_by is None:
                return
            if not may_give_back(item, actor):
                raise NotPermitted(f"该事项由 {item.claimed_by} 认领，只有本人或管理员可以退回。")
            ctx.later(lambda conn, _: store.set_claim(conn, work_item_id, None, None))
            ctx.event(h.WORK_ITEM_UNCLAIMED, {"was_claimed_by": item.claimed_by},
                      work_item_id=work_item_id, task_spec=item.task_spec)

        return self.runner.run_on_item(work_item_id, actor, body)

    # -- hand-offs (engine/cases/handoffs.py) ---------------------------------------------------

    def transfer(self, work_item_id: str, unit_code: str, reason: str, actor: Actor) -> CaseSummary:
        """转办: hand the work item to another unit of the organisation, with a reason."""
        return self.runner.run_on_item(work_item_id, actor, lambda ctx: handoffs.transfer(ctx, unit_code, reason))

    def delegate(self, work_item_id: str, username: str, reason: str, actor: Actor) -> CaseSummary:
        """委派: assign the work item to a colleague, with a reason."""
        return self.runner.run_on_item(work_item_id, actor, lambda ctx: handoffs.delegate(ctx, username, reason))

    def return_item(self, work_item_id: str, reason: str, actor: Actor) -> CaseSummary:
        """退回: cancel the work item and open the case's previous user step again, with a reason."""
        return self.runner.run_on_item(work_item_id, actor, lambda ctx: handoffs.return_item(ctx, reason))

    def comment(self, work_item_id: str, text: str, actor: Actor) -> CaseSummary:
        """Leave a comment on the work item for the next handler."""
        return self.runner.run_on_item(work_item_id, actor, lambda ctx: handoffs.comment(ctx, text))

    def set_follow_up(self, work_item_id: str, follow_up_at: datetime | None, actor: Actor) -> CaseSummary:
        """Set (or clear, None) the work item's follow-up date."""
        return self.runner.run_on_item(work_item_id, actor, lambda ctx: handoffs.set_follow_up(ctx, follow_up_at))

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

        return self.runner.run_on_case(case_id, actor, body)

    def deliver_message(self, message_name: str, correlation: Mapping[str, Any],
                        payload: Mapping[str, Any] | None, actor: Actor = SYSTEM, *,
                        processes: Collection[str] | None = None) -> CaseSummary:
        """Deliver a message (e.g. a department system's reply) to the one case waiting for it.
        `processes`: the process keys the sender may reach (None: every process)."""
        keys = {str(k): str(v) for k, v in correlation.items()}
        if not keys:
            raise EngineError("投递消息必须给出关联键（例如 business_key 或流程定义的关联属性）。")
        body_payload = check_data(payload or {})
        with self.db.reader.connect() as conn:
            candidates = store.cases_waiting_for(conn, message_name, keys)
            if processes is not None and candidates:
                candidates = [c for c in candidates if (head := store.case_head(conn, c)) is not None
                              and head.definition_key in processes]
                if not candidates:
                    raise NotPermitted(f"等待消息“{message_name}”的案件不属于您可以投递消息的流程。")
        if not candidates:
            raise NotFound(f"没有案件在等待消息“{message_name}”（关联键 {keys}）。")
        if len(candidates) > 1:
            raise AmbiguousCorrelation(f"有 {len(candidates)} 个案件匹配消息“{message_name}”的关联键 {keys}，"
                              "请给出更精确的关联键。")
        case_id = candidates[0]

        def body(ctx: CommandContext) -> None:
            ctx.workflow  # checked out before the timers are looked at
            timers_first(ctx)
            deliver(ctx.workflow, message_name, body_payload, keys)
            ctx.state_changed = True
            ctx.event(h.MESSAGE_DELIVERED, {"message": message_name, "correlation": keys, "payload": body_payload})

        return self.runner.run_on_case(case_id, actor, body)

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
                raise NothingToDo()
            ctx.workflow.refresh_timers()
            run_engine(ctx.workflow)
            ctx.state_changed = True
            ctx.event(h.TIMERS_FIRED, {"deadline_id": deadline_id, "due_at": current.due_at.isoformat()})

        try:
            return self.runner.run_on_case(row.case_id, SYSTEM, body)
        except NothingToDo:
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
                ctx.set_limits(item.id, due, warning)
                due_dates.append(item.name)
            if not redone and not due_dates:
                raise NothingToDo()
            run_engine(wf)
            ctx.state_changed = True
            ctx.superseding = True
            ctx.event(h.TIMERS_REARMED, {"timers": redone, "due_dates": due_dates})

        try:
            return self.runner.run_on_case(case_id, actor, body)
        except NothingToDo:
            return None

    # -- queries -------------------------------------------------------------------------------

    def plan_migration(self, case_id: int, target_definition_id: int) -> migration.MigrationPlan:
        """Dry run: what moving a running case to another version of its process would do."""
        with self.db.reader.connect() as conn:
            head = store.case_head(conn, case_id)
            if head is None:
                raise NotFound(f"案件 {case_id} 不存在。")
            source = self.definitions.by_id(conn, head.definition_id)
            target = self.definitions.by_id(conn, target_definition_id)
        if head.status != "running":
            result = migration.MigrationPlan(case_id, source.version, target.version)
            result.blockers.append("办件不在办理中。")
            return result
        return migration.plan(self.runner.codec.serializer.registry, self.workflow_of(case_id), case_id,
                              source, target)[0]

    def plan_migrations(self, source_definition_id: int, target_definition_id: int,
                        limit: int = 1000) -> list[migration.MigrationPlan]:
        """Dry run for every running case of one version (up to `limit`)."""
        with self.db.reader.connect() as conn:
            ids = store.running_case_ids(conn, source_definition_id, limit)
        return [self.plan_migration(case_id, target_definition_id) for case_id in ids]

    def migrate_case(self, case_id: int, target_definition_id: int, actor: Actor, reason: str = "") -> CaseSummary:
        """Move a running case to another (newer) version of its process; refused with the plan's
        reasons when it cannot move. Recorded in the history (replay repeats it)."""

        def body(ctx: CommandContext) -> None:
            if ctx.head.status != "running":
                raise EngineError("办件不在办理中，不能迁移。")
            target = self.definitions.by_id(ctx.conn, target_definition_id)
            wf = ctx.workflow
            result, diffs = migration.plan(self.runner.codec.serializer.registry, wf, ctx.head.id,
                                           ctx.definition, target)
            if diffs is None:
                raise EngineError("办件不能迁移：" + "；".join(result.blockers))
            migration.migrate(wf, diffs, target)
            ctx.definition = target
            ctx.state_changed = True
            ctx.event(h.CASE_MIGRATED, migration.event_data(result, target, reason[:500]))
            ctx.later(lambda conn, cid: store.set_definition(conn, cid, target.id))

        return self.runner.run_on_case(case_id, actor, body)

    @staticmethod
    def _shown_form(ctx: CommandContext, work_item_id: str, form: Form) -> Form:
        """The form as the work item shows it: fields with a shown_if that does not hold in the data
        the task sees are not on it (not required, not accepted)."""
        if not form.conditional:
            return form
        ready = ctx.before.ready.get(work_item_id)
        return form.shown(ready.task.data if ready is not None else {})

    def shown_form(self, case_id: int, work_item_id: str, form: Form | None) -> Form | None:
        """A ready work item's form as its page shows it (see _shown_form), for the web and the API."""
        if form is None or not form.conditional:
            return form
        try:
            task = self.workflow_of(case_id).get_task_from_id(uuid.UUID(work_item_id))
        except Exception:  # no longer in the workflow (done, cancelled): nothing conditional to show
            return form.shown({})
        return form.shown(task.data)

    def workflow_of(self, case_id: int) -> BpmnWorkflow:
        """A private, deserialized copy of a case's workflow (for display and replay checks)."""
        with self.db.reader.connect() as conn:
            head = store.case_head(conn, case_id)
            if head is None:
                raise NotFound(f"案件 {case_id} 不存在。")
            definition = self.definitions.by_id(conn, head.definition_id)
            stored = store.case_state(conn, case_id)
        return self.runner.codec.load_stored(stored.base, stored.deltas, definition.spec,
                                             definition.subprocess_specs, keep=False)

    def cached_version(self, case_id: int) -> int | None:
        """The version of the case whose live workflow is cached, if one is (for tests and figures)."""
        return self.runner.cache.version_of(case_id)

"""The skeleton every case command runs in: on a read connection it reads the case head (version),
runs the command body on the workflow (engine steps, scripts) and computes everything to write;
then one short write transaction writes the new state with an optimistic version check, the
projected work items, the chained events and the outbox rows of the notifications they call for
(engine/notifications/planning.py). No engine step, script or expression ever runs while
the database's write lock is held (SQLite's is database-wide), so a slow script slows only its own
case.

A version conflict re-runs the command from the start, so users never see it; a command that fails
leaves nothing behind. A command that finds a deadline of its case past due but not yet fired fires
it first (as its own command) and runs again."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any, Callable

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import Connection

from yijianshi.engine.access.actors import SYSTEM, Actor
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases import state_delta
from yijianshi.engine.cases.failures import command_name, record_failure
from yijianshi.engine.cases.context import CaseSummary, CommandContext, NothingToDo, TimersDue, summary_of
from yijianshi.engine.cases.projection import queue_projection
from yijianshi.engine.cases.retry import backoff, is_unique_violation, is_write_conflict
from yijianshi.engine.cases.state_codec import CaseStateCodec
from yijianshi.engine.cases.work_items import WorkItemProjection, project_work_items
from yijianshi.engine.cases.workflow_cache import WorkflowCache
from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.deadlines.timers import command_time
from yijianshi.engine.errors import ConcurrencyConflict, EngineError, NotFound
from yijianshi.engine.modeling.definitions import DefinitionCache, LoadedDefinition
from yijianshi.engine.notifications import planning as notifications
from yijianshi.engine.notifications.notices import Notices
from yijianshi.engine.scripting.foreground_gate import foreground_work
from yijianshi.storage import case_store as store
from yijianshi.storage import deadline_store
from yijianshi.storage.case_store import CaseHead, WorkItemRow
from yijianshi.storage.database import Database
from yijianshi.storage.write_batch import Disconnected, StaleWrite, batched

log = logging.getLogger("yijianshi.cases")
MAX_ATTEMPTS = 20

# Finds what a command addresses, inside its transaction: (case head or None, work item or None).
Locate = Callable[[Connection], tuple[CaseHead | None, WorkItemRow | None]]
Body = Callable[[CommandContext], None]


class CommandRunner:
    """Runs command bodies in transactions, keeps the live workflows of running cases cached, and
    writes what a command did."""

    def __init__(self, db: Database, definitions: DefinitionCache, script_engine: Any, clock: Clock,
                 fire_deadline: Callable[[int], object], cache_size: int = 4096):
        self.db = db
        self.definitions = definitions
        self.script_engine = script_engine
        self.clock = clock
        self.codec = CaseStateCodec()
        self.cache = WorkflowCache(cache_size)
        self.fire_deadline = fire_deadline  # the command that fires one deadline, for the catch-up
        # Which notification channels are on (composition.py sets them from the settings).
        self.notices = Notices()

    def context(self, conn: Connection, head: CaseHead, definition: LoadedDefinition, actor: Actor,
                at: datetime, *, item: WorkItemRow | None = None, catching_up: bool = False) -> CommandContext:
        return CommandContext(conn, head, definition, actor, at, self.checkout, item=item, catching_up=catching_up)

    def run_on_item(self, work_item_id: str, actor: Actor, body: Body) -> CaseSummary:
        def locate(conn: Connection) -> tuple[CaseHead | None, WorkItemRow | None]:
            found = store.work_item_and_case(conn, work_item_id)
            if found is None:
                raise NotFound("待办事项不存在。")
            item, head = found
            return head, item

        return self.run(locate, None, actor, body)

    def run_on_case(self, case_id: int, actor: Actor, body: Body) -> CaseSummary:
        return self.run(lambda conn: (store.case_head(conn, case_id), None), case_id, actor, body)

    @foreground_work  # long scripts elsewhere pause while a command is carried out
    def run(self, locate: Locate, case_id: int | None, actor: Actor, body: Body) -> CaseSummary:
        caught_up = False
        for attempt in range(MAX_ATTEMPTS):
            ctx = None
            try:
                with self.db.reader.connect() as conn:
                    head, item = locate(conn)
                    if head is None:
                        raise NotFound(f"案件 {case_id} 不存在。")
                    case_id = head.id
                    definition = self.definitions.by_id(conn, head.definition_id)
                    ctx = self.context(conn, head, definition, actor, self.clock.now(), item=item,
                                       catching_up=caught_up)
                    with command_time(ctx.at):
                        body(ctx)
                        values = self.prepare(ctx)
                    if values is None and not ctx.writes:
                        new_version = ctx.head.version
                    else:  # on the same connection: the reads are done, no engine step runs any more
                        with self.db.command_transaction(conn) as writing:
                            new_version = self.apply(writing, ctx, values).version
            except (ConcurrencyConflict, StaleWrite, Disconnected):
                # StaleWrite: the version check failed when the batched writes reached PostgreSQL.
                # Disconnected: the connection was found dead (the database restarted); it is
                # invalidated and the command runs again on a new one (a re-run after a COMMIT that
                # did land sees the new version and acts on that).
                self._forget(case_id)
                backoff(attempt)
                continue
            except TimersDue:
                # A deadline of this case fell due and the scheduler has not fired it yet: fire it
                # first, as its own command, so it fires exactly once and before this command.
                assert ctx is not None  # raised by the body, so the head was read
                self.cache.drop(ctx.head.id)
                self._fire_due_deadlines(ctx.head.id)
                caught_up = True
                continue
            except Exception as err:
                self._forget(case_id)
                if is_write_conflict(err) or getattr(err, "connection_invalidated", False) \
                        or (is_unique_violation(err) and self._moved_on(ctx)):
                    backoff(attempt)
                    continue
                if case_id is not None and not isinstance(err, NothingToDo):  # see engine/cases/failures.py
                    record_failure(self.db, self.clock, case_id, command_name(body), actor, err,
                                   ctx.item.id if ctx is not None and ctx.item is not None else None)
                raise
            self.remember(ctx, new_version)
            log.info("case command", extra={"case_id": ctx.head.id, "actor": actor.id,
                                            "work_item_id": ctx.item.id if ctx.item is not None else None,
                                            "event": ctx.events[0].type if ctx.events else None})
            return summary_of(ctx.head.id, new_version, ctx)
        raise EngineError("案件正被频繁修改，请稍后再试。")

    def remember(self, ctx: CommandContext, new_version: int) -> None:
        """Keep the live workflow of a case that is still running for its next command."""
        case_id = ctx.head.id
        if ctx.status is not None:
            self.cache.drop(case_id)  # an ended case takes no more engine steps: keep room for running ones
        elif ctx.has_workflow:
            if ctx.state_write is not None:  # committed: what the database now holds of the state
                state_delta.keep_snapshot(ctx.workflow, ctx.state_write.stored(ctx.state_bytes))
            self.cache.put(case_id, new_version, ctx.workflow, ctx.after or ctx.before)
        else:
            self.cache.rebase(case_id, ctx.head.version, new_version)

    def _forget(self, case_id: int | None) -> None:
        if case_id is not None:
            self.cache.drop(case_id)

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

    def checkout(self, conn: Connection, head: CaseHead,
                 definition: LoadedDefinition) -> tuple[BpmnWorkflow, WorkItemProjection]:
        """The case's live workflow and projection as of `head`: from the cache, or deserialized."""
        cached = self.cache.take(head.id, head.version)
        if cached is not None:
            wf, projection = cached
        else:
            stored = store.case_state(conn, head.id)
            if stored.version != head.version:  # committed by someone else since we read the head
                raise ConcurrencyConflict()
            wf = self.codec.load_stored(stored.base, stored.deltas, definition.spec, definition.subprocess_specs,
                                        stored_sizes=(stored.base_size, stored.deltas_size))
            projection = project_work_items(wf)
        wf.script_engine = self.script_engine
        return wf, projection

    def prepare(self, ctx: CommandContext) -> dict[str, Any] | None:
        """Everything a command writes that takes computing: the serialized state, the projection
        (due-date expressions included; its rows are queued on ctx.later) and the events. None when
        the command changed nothing that is kept in the case row."""
        head = ctx.head
        values: dict[str, Any] = {"updated_at": ctx.at}
        if ctx.state_changed:
            wf = ctx.workflow
            ctx.after = project_work_items(wf)
            values["attention"] = queue_projection(ctx, ctx.before, ctx.after, self.script_engine)
            if ctx.status is None and wf.completed:
                ctx.status = "completed"
                ctx.event(h.CASE_COMPLETED, {}, actor=SYSTEM)
            if ctx.status is not None:
                values["status"] = ctx.status
                values["ended_at"] = ctx.at
            # The whole state, or only what changed since what is stored (engine/cases/state_delta.py):
            # UTF-8 JSON, compressed by update_case.
            ctx.state_write = write = state_delta.plan(self.codec.parts(wf), state_delta.snapshot_of(wf),
                                                       ending=ctx.status is not None,
                                                       new_case=head.version == 0 or ctx.new_state)
            if write.full is not None:
                values["engine_state"] = write.full
                values["drop_deltas"] = write.drop_deltas
            elif write.delta is not None:
                values["state_delta"] = write.delta
        if ctx.events:  # the outbox rows are written with the command (engine/notifications/planning.py)
            notifications.queue(ctx, self.notices)
        if not ctx.events and not ctx.state_changed:
            return None
        return values

    def apply(self, conn: Connection, ctx: CommandContext, values: dict[str, Any] | None) -> CaseHead:
        """In the write transaction: check the version and write what `prepare` computed and the
        queued writes; returns the case head as written. Raises ConcurrencyConflict if the case
        moved on since the command read it."""
        head = ctx.head
        if values is None:
            with batched(conn):
                for write in ctx.writes:
                    write(conn, head.id)
            return head
        rows = h.chain(head.id, head.history_seq, head.history_head, ctx.at, ctx.events)
        values = dict(values, history_seq=rows[-1]["seq"] if rows else head.history_seq,
                      history_head=rows[-1]["hash"] if rows else head.history_head)
        try:
            with batched(conn):  # PostgreSQL: every write below in one round trip
                ctx.state_bytes = store.update_case(conn, head.id, head.version, values)
                for write in ctx.writes:
                    write(conn, head.id)
                store.insert_events(conn, rows)
        except StaleWrite:
            raise ConcurrencyConflict() from None
        return dataclasses.replace(head, version=head.version + 1, status=values.get("status", head.status),
                                   history_seq=values["history_seq"], history_head=values["history_head"],
                                   attention=values.get("attention", head.attention))

"""External tasks: the work of service tasks (camunda:type="external") done by workers outside,
over the Camunda 7 engine-rest subset. A worker fetches and locks tasks of its topics for a while,
then completes one (its variables go into the case and the case moves on), reports a failure
(retries count down; at 0 the case has an incident: a failure recorded on its current version,
which lists it among the stuck cases) or throws a BPMN error (an error boundary event catching its
code takes over). Completing and throwing are case commands (command_runner.py) and are replayed;
locks and unlocks touch only the external_tasks table, with conditional updates so two workers never
hold the same task."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.commands import CaseService
from yijianshi.engine.cases.context import CaseSummary, CommandContext, check_data, timers_first
from yijianshi.engine.cases.engine_steps import complete_task, throw_error
from yijianshi.engine.cases.work_items import ReadyTask, WorkItemProjection
from yijianshi.engine.clock import to_utc
from yijianshi.engine.errors import ConcurrencyConflict, EngineError, NotFound, WorkItemUnavailable
from yijianshi.storage import external_task_store as store
from yijianshi.storage import failure_store

MAX_LOCK = timedelta(days=7)
MAX_TASKS = 100


@dataclass(frozen=True)
class TopicRequest:
    """One topic a worker asks for: how long to lock, which variables to return (None: all), and
    optional filters."""

    name: str
    lock_duration_ms: int
    variables: tuple[str, ...] | None = None
    business_key: str | None = None
    process_definition_key: str | None = None


@dataclass(frozen=True)
class LockedTask:
    row: Any  # the external_tasks row, as locked
    variables: dict[str, Any]


class ExternalTaskService:
    def __init__(self, cases: CaseService):
        self.cases = cases
        self.db = cases.db
        self.clock = cases.clock

    # -- locks (no case command) -------------------------------------------------------------------

    def fetch_and_lock(self, worker_id: str, max_tasks: int, topics: Sequence[TopicRequest], *,
                       use_priority: bool = True, processes: frozenset[str] | None = None) -> list[LockedTask]:
        """Lock up to `max_tasks` free tasks of the topics for the worker; none may be held by
        another worker at the same time (each lock is a conditional UPDATE). `processes`: the
        process keys the worker may reach (None: every process)."""
        now = to_utc(self.clock.now())
        locked: list[tuple[str, TopicRequest]] = []
        with self.db.writer.begin() as conn:
            for topic in topics:
                wanted = max_tasks - len(locked)
                if wanted <= 0:
                    break
                until = now + min(timedelta(milliseconds=topic.lock_duration_ms), MAX_LOCK)
                for task_id in store.candidates(conn, topic.name, now, wanted, business_key=topic.business_key,
                                                definition_key=topic.process_definition_key,
                                                definition_keys=processes,
                                                by_priority=use_priority):
                    if store.try_lock(conn, task_id, worker_id, now, until):
                        locked.append((task_id, topic))
            rows = [(store.get(conn, task_id), topic) for task_id, topic in locked]
        out = []
        for row, topic in rows:
            assert row is not None  # locked in this transaction: no command removes a locked row before it
            data = json.loads(row.variables_json)
            if topic.variables is not None:
                data = {k: v for k, v in data.items() if k in topic.variables}
            out.append(LockedTask(row, data))
        return out

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        now = to_utc(self.clock.now())
        until = now + min(timedelta(milliseconds=new_duration_ms), MAX_LOCK)
        with self.db.writer.begin() as conn:
            if store.extend_lock(conn, task_id, worker_id, now, until):
                return
            row = store.get(conn, task_id)
        if row is None:
            raise NotFound(f"外部任务 {task_id} 不存在（可能已完成或已撤销）。")
        raise WorkItemUnavailable(f"工作者“{worker_id}”没有持有外部任务 {task_id} 的有效锁，不能延长锁定。")

    def unlock(self, task_id: str) -> None:
        with self.db.writer.begin() as conn:
            if not store.unlock(conn, task_id):
                raise NotFound(f"外部任务 {task_id} 不存在（可能已完成或已撤销）。")

    def get(self, task_id: str):
        with self.db.reader.connect() as conn:
            row = store.get(conn, task_id)
        if row is None:
            raise NotFound(f"外部任务 {task_id} 不存在（可能已完成或已撤销）。")
        return row

    def listing(self, **filters) -> list:
        with self.db.reader.connect() as conn:
            return store.listing(conn, **filters)

    # -- case commands -------------------------------------------------------------------------------

    def complete(self, task_id: str, worker_id: str, variables: Mapping[str, Any] | None, actor: Actor) -> CaseSummary:
        """The worker's result: its variables go into the case data and the case moves on."""
        data = check_data(variables or {})

        def body(ctx: CommandContext) -> None:
            ready, ordinal = _held(ctx, task_id, worker_id)
            complete_task(ready.task, data)
            ctx.state_changed = True
            ctx.event(h.EXTERNAL_TASK_COMPLETED, {"process_id": ready.process_id, "ordinal": ordinal,
                                                  "worker_id": worker_id, "variables": data},
                      work_item_id=task_id, task_spec=ready.task_spec)

        return self.cases.runner.run_on_case(self._case_of(task_id), actor, body)

    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, error_message: str | None,
                   variables: Mapping[str, Any] | None, actor: Actor) -> CaseSummary:
        """A business error the worker found: the task ends and the error boundary event catching
        `error_code` takes over, with the variables."""
        data = check_data(variables or {})
        if not error_code.strip():
            raise EngineError("BPMN 错误必须给出错误代码（errorCode）。")

        def body(ctx: CommandContext) -> None:
            ready, ordinal = _held(ctx, task_id, worker_id)
            throw_error(ready.task, error_code, error_message, data)
            ctx.state_changed = True
            ctx.event(h.EXTERNAL_TASK_BPMN_ERROR, {"process_id": ready.process_id, "ordinal": ordinal,
                                                   "worker_id": worker_id, "error_code": error_code,
                                                   "error_message": error_message, "variables": data},
                      work_item_id=task_id, task_spec=ready.task_spec)

        return self.cases.runner.run_on_case(self._case_of(task_id), actor, body)

    def handle_failure(self, task_id: str, worker_id: str, error_message: str | None, error_details: str | None,
                       retries: int, retry_timeout_ms: int, actor: Actor) -> CaseSummary:
        """The worker could not do the work: `retries` is how many attempts are left; the task is
        unavailable for `retry_timeout_ms`. At 0 retries no worker gets it any more and the case has
        an incident (recorded as a failure on the case: it shows among the stuck cases)."""
        if retries < 0 or retry_timeout_ms < 0:
            raise EngineError("retries 和 retryTimeout 不能为负数。")
        message = (error_message or "")[:2000] or None
        details = (error_details or "")[:100_000] or None

        def body(ctx: CommandContext) -> None:
            row = _row_held(ctx.conn, task_id, worker_id)
            lock_until = to_utc(ctx.at) + timedelta(milliseconds=retry_timeout_ms) if retry_timeout_ms else None
            incident = retries == 0
            ctx.event(h.EXTERNAL_TASK_FAILED, {"topic": row.topic, "worker_id": worker_id, "retries": retries,
                                               "error_message": message, "incident": incident},
                      work_item_id=task_id, task_spec=row.task_spec)

            def write(conn: Connection, case_id: int) -> None:
                _check_still_held(conn, task_id, worker_id)
                store.record_failure(conn, task_id, retries, message, details, lock_until)
                if incident:
                    failure_store.add(conn, dict(
                        case_id=case_id, command="external_task", work_item_id=task_id, actor=actor.id[:255],
                        error=f"外部任务“{row.name}”（主题 {row.topic}）重试次数已用完：{message or '未说明原因'}"[:2000],
                        failed_at=to_utc(ctx.at)))

            ctx.later(write)

        return self.cases.runner.run_on_case(self._case_of(task_id), actor, body)

    def set_retries(self, task_id: str, retries: int, actor: Actor) -> CaseSummary:
        """Give a task attempts again (resolves its incident: the case is no longer stuck)."""
        if retries < 0:
            raise EngineError("retries 不能为负数。")

        def body(ctx: CommandContext) -> None:
            row = store.get(ctx.conn, task_id)
            if row is None:
                raise NotFound(f"外部任务 {task_id} 不存在（可能已完成或已撤销）。")
            ctx.event(h.EXTERNAL_TASK_RETRIES_SET, {"topic": row.topic, "retries": retries},
                      work_item_id=task_id, task_spec=row.task_spec)
            ctx.later(lambda conn, _: store.set_retries(conn, task_id, retries))

        return self.cases.runner.run_on_case(self._case_of(task_id), actor, body)

    def _case_of(self, task_id: str) -> int:
        return self.get(task_id).case_id


def _row_held(conn: Connection, task_id: str, worker_id: str):
    row = store.get(conn, task_id)
    if row is None:
        raise NotFound(f"外部任务 {task_id} 不存在（可能已完成或已撤销）。")
    if row.worker_id != worker_id:
        held = f"，当前由“{row.worker_id}”锁定" if row.worker_id else "，当前未被锁定"
        raise WorkItemUnavailable(f"外部任务 {task_id} 不能由工作者“{worker_id}”办理{held}。请先 fetchAndLock。")
    return row


def _check_still_held(conn: Connection, task_id: str, worker_id: str) -> None:
    """In the write transaction: the lock the command was computed under still holds (another
    worker may have locked the task since, its lock having expired): else run the command again."""
    if not store.locked_by(conn, task_id, worker_id):
        raise ConcurrencyConflict()


def _held(ctx: CommandContext, task_id: str, worker_id: str) -> tuple[ReadyTask, int]:
    """The waiting task the worker holds, and its position among waiting tasks of its spec."""
    _row_held(ctx.conn, task_id, worker_id)
    ctx.workflow  # checked out before the timers are looked at
    timers_first(ctx)
    ready = ctx.before.external.get(task_id)
    if ready is None:
        raise WorkItemUnavailable(f"外部任务 {task_id} 已不在等待状态。")
    ctx.later(lambda conn, _: _check_still_held(conn, task_id, worker_id))
    return ready, _ordinal(ctx.before, ready)


def _ordinal(projection: WorkItemProjection, ready: ReadyTask) -> int:
    same = [r.task.id for r in projection.external.values()
            if r.task_spec == ready.task_spec and r.process_id == ready.process_id]
    return same.index(ready.task.id)

"""What a case command works with: the context its body sees (the case head, the work item, the
definition, the time, the workflow on demand), what it answers (the case summary), and the checks
every command shares (who may act, a work item still open, timers fired first, data that can be kept)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import Connection

from yijianshi.engine.access.actors import APPLICANT_ROLE, Actor  # noqa: F401 (re-exported)
from yijianshi.engine.access.work_item_access import check_may_act
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.state_delta import StateWrite
from yijianshi.engine.cases.work_items import WorkItemProjection
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.errors import FormErrors, NotFound, NotPermitted, WorkItemUnavailable
from yijianshi.engine.modeling.definitions import LoadedDefinition
from yijianshi.storage import case_store
from yijianshi.storage.case_store import CaseHead, WorkItemRow

MAX_INITIAL_DATA_BYTES = 256 * 1024
STATUS_LABELS = {"running": "办理中", "completed": "已办结", "cancelled": "已撤销", "withdrawn": "已撤回"}

# Loads a case's live workflow and its projection as of the head's version (from the workflow cache
# or the stored state); raises ConcurrencyConflict when the case moved on since the head was read.
Checkout = Callable[[Connection, CaseHead, LoadedDefinition], tuple[BpmnWorkflow, WorkItemProjection]]
# A write a command makes once it has computed everything: called with the writer connection and
# the case's id (known only then for a case being started).
Write = Callable[[Connection, int], object]


@dataclass
class CommandContext:
    """What a command body sees: the case head, its definition, the time, and the workflow on demand.

    `conn` is for reading only: a command computes everything (engine steps, scripts) without holding
    the database's write lock, and hands its writes to `later`; they run, after the version check,
    in the short write transaction that ends the command (command_runner.py)."""

    conn: Connection
    head: CaseHead
    definition: LoadedDefinition
    actor: Actor
    at: datetime
    checkout: Checkout
    item: WorkItemRow | None = None  # the work item, for commands addressed to one
    catching_up: bool = False  # due deadlines were just fired for this attempt: run on regardless
    events: list[h.NewEvent] = field(default_factory=list)
    after: WorkItemProjection | None = None  # the projection written when the command persisted
    state_changed: bool = False
    superseding: bool = False  # a re-arm replaces due times instead of firing them
    status: str | None = None
    writes: list[Write] = field(default_factory=list)
    limits: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)  # set_limits
    state_write: StateWrite | None = None  # how the command writes the engine state (state_delta.py)
    state_bytes: int = 0  # the compressed size of what it wrote of it
    new_state: bool = False  # the case is being started: no state deltas are stored for it yet
    _workflow: BpmnWorkflow | None = field(default=None, init=False, repr=False)
    _before: WorkItemProjection | None = field(default=None, init=False, repr=False)

    def adopt(self, workflow: BpmnWorkflow, before: WorkItemProjection) -> None:
        """Work on a workflow already at hand (a case just started) instead of checking one out."""
        self._workflow, self._before = workflow, before

    @property
    def has_workflow(self) -> bool:
        """Whether the command touched the workflow (otherwise the engine state is unchanged)."""
        return self._workflow is not None

    @property
    def workflow(self) -> BpmnWorkflow:
        if self._workflow is None:
            self._workflow, self._before = self.checkout(self.conn, self.head, self.definition)
        return self._workflow

    @property
    def before(self) -> WorkItemProjection:
        """The case's projection before this command's engine step."""
        if self._before is None:
            self._workflow, self._before = self.checkout(self.conn, self.head, self.definition)
        return self._before

    def later(self, write: Write) -> None:
        """Make `write(conn, case_id)` part of this command's write transaction."""
        self.writes.append(write)

    def set_limits(self, work_item_id: str, due: datetime | None, warning: datetime | None) -> None:
        """New due and warning times of an open work item: written with the command, and what the
        rest of the command sees for it (the last one set wins)."""
        if not self.limits:
            self.later(self._write_limits)
        self.limits[work_item_id] = (due, warning)

    def _write_limits(self, conn: Connection, case_id: int) -> None:
        for work_item_id, (due, warning) in self.limits.items():
            case_store.set_limits(conn, work_item_id, due, warning)

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


def summary_of(case_id: int, version: int, ctx: CommandContext) -> CaseSummary:
    ready = [ReadyItem(e.work_item_id, e.task_spec, e.data["name"])
             for e in ctx.events if e.type == h.WORK_ITEM_READY and e.work_item_id and e.task_spec]
    return CaseSummary(case_id, ctx.status or ctx.head.status, version, ready)


class NothingToDo(Exception):
    """Raised inside a command body to end it without writing anything."""


class TimersDue(Exception):
    """Raised inside a command body when a waiting timer of the case is past due."""


def timers_first(ctx: CommandContext) -> None:
    """Refuse to run a command on a case whose deadline is past due but not fired yet (the
    scheduler runs late, or is being handed over); the caller fires it first and runs again."""
    if ctx.catching_up:
        return  # fired what the deadline table had; whatever remains is not ours to force
    at = to_utc(ctx.at)
    if any(t.due < at for t in ctx.before.timers.values()):
        raise TimersDue()


def check_can_act(item: WorkItemRow, actor: Actor, head: CaseHead) -> None:
    """Raise unless `actor` may act on the work item `item` of the case `head` (the one rule,
    engine/access/work_item_access.py, that every entry point shares)."""
    check_may_act(item, actor, head.started_by)


def require_ready(item: WorkItemRow | None) -> WorkItemRow:
    """The work item, if it is still open; otherwise say why it cannot be acted on."""
    if item is None:
        raise NotFound("待办事项不存在。")
    if item.state == "completed":
        when = item.ended_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if item.ended_at else ""
        raise WorkItemUnavailable(f"该事项已由 {item.ended_by} 于 {when} 办结，无需重复提交。")
    if item.state != "ready":
        raise WorkItemUnavailable("该事项已撤销，无需办理。")
    return item


def check_data(data: Mapping[str, Any]) -> dict:
    """Case data as it will be kept: a JSON object with identifier keys, within the size limit."""
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

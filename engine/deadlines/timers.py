"""BPMN timers on the engine's time.

SpiffWorkflow reads `datetime.now()` inside its timer module. We give that module a `datetime` whose
`now()` returns the time of the command being executed (a context variable set by every command,
and by replay to the recorded time), so arming and firing timers is deterministic and testable
without sleeping."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Iterator

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent

from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import ScriptError

_command_time: ContextVar[datetime | None] = ContextVar("yjs_command_time", default=None)

# A due time this far out marks a timer whose expression could not be computed (a year with no
# published holiday schedule): it waits, flagged, until an administrator loads the year.
UNRESOLVED = datetime(9999, 12, 31, 15, 59, 59, tzinfo=timezone.utc)


class _CommandDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D102 - same contract as datetime.now
        when = _command_time.get()
        if when is None:
            return datetime.now(tz)
        return when.astimezone(tz) if tz is not None else when.astimezone().replace(tzinfo=None)


spiff_timer.datetime = _CommandDatetime

TIME_VALUE_KINDS = "日期时间（datetime）、日期（date）或 ISO 8601 时间字符串"


def as_point_in_time(value) -> datetime:
    """The time a timer date or due date expression means: a datetime, a date (its first moment in
    China Standard Time) or an ISO 8601 string; a time without a zone is China Standard Time.
    ValueError for anything else."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    elif isinstance(value, str):
        when = datetime.fromisoformat(value.strip())  # ValueError when it is not one
    else:
        raise ValueError(f"{type(value).__name__} 不是时间")
    return when if when.tzinfo is not None else when.replace(tzinfo=SHANGHAI)


_spiff_time_date_has_fired = TimeDateEventDefinition.has_fired


def _time_date_has_fired(self, my_task):
    # SpiffWorkflow only parses strings: a timeDate expression such as now() + hours(2) (a datetime)
    # would crash every command on the case. Freeze the value as the ISO string SpiffWorkflow expects.
    if my_task._get_internal_data("event_value") is None:
        value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        try:
            when = as_point_in_time(value)
        except ValueError:
            raise ScriptError(f"定时器时间“{self.expression}”的结果 {value!r} 不是{TIME_VALUE_KINDS}。") from None
        my_task._set_internal_data(event_value=when.isoformat())
    return _spiff_time_date_has_fired(self, my_task)


TimeDateEventDefinition.has_fired = _time_date_has_fired


@contextlib.contextmanager
def command_time(when: datetime) -> Iterator[None]:
    """Within this block, timers and `now()` in expressions see `when`."""
    token = _command_time.set(when)
    try:
        yield
    finally:
        _command_time.reset(token)


def current_time(fallback) -> datetime:
    """The running command's time, or the fallback clock's when no command is running."""
    when = _command_time.get()
    return when if when is not None else fallback.now()


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    process_id: str
    task_spec: str
    due: datetime
    kind: str  # "warning" (non-interrupting boundary), "overdue" (interrupting boundary), "timer"
    attached_to: str | None  # the id of the task a boundary timer watches


def timer_due(task) -> datetime | None:
    """The due time a waiting timer task has frozen (SpiffWorkflow caches it when it starts waiting)."""
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
        value = value.get("next") if isinstance(value, dict) else None
        if value is None:
            return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except (TypeError, ValueError):
        return None


def describe_timer(task) -> WaitingTimer | None:
    """A WAITING timer task as a deadline, or None if it is not a timer or has no due time yet."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return None
    due = timer_due(task)
    if due is None:
        return None
    kind, attached = "timer", None
    if isinstance(task.task_spec, BoundaryEvent):
        kind = "overdue" if task.task_spec.cancel_activity else "warning"
        attached = _main_task_id(task)
    return WaitingTimer(str(task.id), task.workflow.spec.name, task.task_spec.name, due, kind, attached)


def _main_task_id(boundary_task) -> str | None:
    split = boundary_task.parent
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return None
    for sibling in split.children:
        if not isinstance(sibling.task_spec, BoundaryEvent):
            return str(sibling.id)
    return None


def rearm(task, armed_at: datetime) -> None:
    """Forget a waiting timer's frozen due time and compute it again as of when it was armed
    (after the holiday schedule changed)."""
    task.internal_data.pop("event_value", None)
    task.internal_data.pop("event_fired", None)
    with command_time(armed_at):
        definition = task.task_spec.event_definition
        if isinstance(definition, CycleTimerEventDefinition):
            definition.cycle_complete(task)
        else:
            definition.has_fired(task)

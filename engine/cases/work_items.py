"""What a case looks like from outside: its open human tasks, the service tasks waiting for an external worker, the messages it waits for and its
correlation values. Computed from the workflow before and after each command; the difference is
what gets written to the projection tables."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task, TaskState

from yijianshi.engine.deadlines.timers import WaitingTimer, describe_timer
from yijianshi.engine.modeling.external_service import topic_of


@dataclass(frozen=True)
class ReadyTask:
    task: Task

    @property
    def process_id(self) -> str:
        return self.task.workflow.spec.name

    @property
    def task_spec(self) -> str:
        return self.task.task_spec.name

    @property
    def name(self) -> str:
        return self.task.task_spec.bpmn_name or self.task.task_spec.name

    @property
    def lane(self) -> str | None:
        return self.task.task_spec.lane

    @property
    def data(self) -> dict:
        return self.task.data


@dataclass
class WorkItemProjection:
    ready: dict[str, ReadyTask] = field(default_factory=dict)
    waits: set[str] = field(default_factory=set)
    correlations: dict[str, str] = field(default_factory=dict)
    timers: dict[str, WaitingTimer] = field(default_factory=dict)
    external: dict[str, ReadyTask] = field(default_factory=dict)  # service tasks waiting for a worker

    def limits_of(self, task_id: str) -> tuple[datetime | None, datetime | None]:
        """(due, warning) of a work item from the boundary timers watching it."""
        due = warning = None
        for t in self.timers.values():
            if t.attached_to == task_id:
                if t.kind == "overdue":
                    due = t.due if due is None else min(due, t.due)
                elif t.kind == "warning":
                    warning = t.due if warning is None else min(warning, t.due)
        return due, warning


def all_tasks(wf: BpmnWorkflow):
    """Every task of the case, its called subprocesses included, in a stable order (creation order
    within each workflow); cheaper than SpiffWorkflow's tree iterator, which runs on every command."""
    yield from wf.tasks.values()
    for sub in wf.subprocesses.values():
        yield from sub.tasks.values()


def project_work_items(wf: BpmnWorkflow) -> WorkItemProjection:
    ready: dict[str, ReadyTask] = {}
    waits: set[str] = set()
    correlations = {
        prop: str(value)
        for props in wf.correlations.values() if isinstance(props, dict)
        for prop, value in props.items()
    }
    timers: dict[str, WaitingTimer] = {}
    external: dict[str, ReadyTask] = {}
    for task in all_tasks(wf):
        state = task.state
        if state == TaskState.READY and task.task_spec.manual:
            (external if topic_of(task.task_spec) is not None else ready)[str(task.id)] = ReadyTask(task)
        elif state == TaskState.WAITING:
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                waits.add(definition.name)
                correlations.update(_variable_values(task))
                correlations.update(_correlation_values(wf, task, definition))
            else:
                timer = describe_timer(task)
                if timer is not None:
                    timers[timer.task_id] = timer
    return WorkItemProjection(ready, waits, correlations, timers, external)


VARIABLE_PREFIX = "var:"  # a case variable a reply may be correlated by (Camunda's correlationKeys)
_MAX_VARIABLES = 200
_MAX_VALUE = 512


def _variable_values(task: Task) -> dict[str, str]:
    """The waiting case's variables a reply may name to reach it without a declared correlation
    property, as Camunda correlates by process variables: each top-level text, number or yes/no
    value of the catch event's data (up to 200 of them, each up to 512 characters)."""
    values = {}
    for name in sorted(task.data):
        value = task.data[name]
        if isinstance(value, (str, int, float, Decimal)) and not name.startswith("_") and len(name) <= 240:
            text = str(value)
            if len(text) <= _MAX_VALUE:
                values[VARIABLE_PREFIX + name] = text
                if len(values) == _MAX_VARIABLES:
                    break
    return values


def _correlation_values(wf: BpmnWorkflow, task: Task, definition: MessageEventDefinition) -> dict[str, str]:
    """A waiting catch event's correlation properties, evaluated on the case data: the values a
    reply must carry to reach this case (BPMN correlationProperty, by its id)."""
    values = {}
    for prop in definition.correlation_properties:
        try:
            value = wf.script_engine.environment.evaluate(prop.retrieval_expression, dict(task.data))
        except Exception:  # the data may not hold the property yet; then the case is not addressable by it
            continue
        if value is not None:
            values[prop.name] = str(value)
    return values


def drain_outbox(wf: BpmnWorkflow) -> list[dict]:
    """Messages the case threw that nothing inside it caught: for the department systems."""
    out = []
    for event in wf.get_events():
        out.append({
            "message": event.event_definition.name,
            "payload": event.payload,
            "correlations": event.correlations,
        })
    return out

"""Step-through replay: where a case stood after each event of its history.

The states are rebuilt by re-executing the recorded commands (engine/replay.py) on a fresh workflow,
never read from the stored state, so what an auditor steps through is what the history itself
produces. Events that are not commands (a work item opening, a claim, the case completing) belong
to the command before them: the state after such an event is the state after that command."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState

from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import NotFound
from yijianshi.engine.audit.replay import Diverged, recorded_commands, rerun
from yijianshi.engine.cases.work_items import all_tasks
from yijianshi.storage import case_store


@dataclass(frozen=True)
class Position:
    """A BPMN element of one process (the case's own or a called one)."""

    process: str
    element: str

    def as_dict(self) -> dict:
        return {"process": self.process, "task": self.element}


@dataclass(frozen=True)
class StepState:
    """The case right after event `seq`: elements completed, active (ready or running) and waiting
    (timers, messages, joins), plus the claims in force (work item → who)."""

    seq: int
    type: str
    actor: str
    at: datetime
    work_item_id: str | None
    task_spec: str | None
    completed: tuple[Position, ...]
    active: tuple[Position, ...]
    waiting: tuple[Position, ...]
    claims: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReplaySteps:
    case_id: int
    steps: list[StepState]
    problem: str = ""  # set when re-execution diverged; steps then stop before that event


# (completed, active, waiting) elements of a workflow
Positions = tuple[tuple[Position, ...], tuple[Position, ...], tuple[Position, ...]]


def positions(wf: BpmnWorkflow) -> Positions:
    """(completed, active, waiting) BPMN elements of a workflow, each once, in creation order.
    SpiffWorkflow's own structural tasks (no BPMN id) are left out."""
    done: dict[Position, None] = {}
    active: dict[Position, None] = {}
    waiting: dict[Position, None] = {}
    for task in all_tasks(wf):
        element = getattr(task.task_spec, "bpmn_id", None)
        if not element:
            continue
        pos = Position(task.workflow.spec.name, element)
        if task.state == TaskState.COMPLETED:
            done[pos] = None
        elif task.state in (TaskState.READY, TaskState.STARTED):
            active[pos] = None
        elif task.state == TaskState.WAITING:
            waiting[pos] = None
    return tuple(done), tuple(active), tuple(waiting)


def states_after_each_event(engine, case_id: int) -> ReplaySteps:
    """One StepState per history event, in order, from re-executing the case's commands."""
    with engine.db.reader.connect() as conn:
        if case_store.case_head(conn, case_id) is None:
            raise NotFound(f"案件 {case_id} 不存在。")
        events = case_store.case_events(conn, case_id)
    after: dict[int, Positions] = {}
    problem = ""
    try:
        commands, definition = recorded_commands(engine, case_id)
        for command, wf in rerun(engine, commands, definition):
            after[command.seq] = positions(wf)
    except Diverged as err:
        problem = str(err)
    except Exception as err:  # noqa: BLE001 - altered history may break re-execution in any way
        problem = f"重新执行出错：{type(err).__name__}: {err}"
    steps: list[StepState] = []
    current: Positions | None = None
    claims: dict[str, str] = {}
    for ev in events:
        if ev.type in h.COMMAND_TYPES:
            if ev.seq not in after:
                break  # re-execution stopped before this command
            current = after[ev.seq]
        if current is None:
            break
        if ev.type == h.WORK_ITEM_CLAIMED:
            claims[ev.work_item_id] = ev.actor
        elif ev.type in (h.WORK_ITEM_UNCLAIMED, h.WORK_ITEM_COMPLETED, h.WORK_ITEM_CANCELLED):
            claims.pop(ev.work_item_id, None)
        steps.append(StepState(ev.seq, ev.type, ev.actor, ev.at, ev.work_item_id, ev.task_spec,
                               *current, claims=dict(claims)))
    return ReplaySteps(case_id, steps, problem)


def step_payload(step: StepState) -> dict:
    """A step as JSON-ready data (positions in the shape the diagram script marks)."""
    return {
        "seq": step.seq,
        "type": step.type,
        "completed": [p.as_dict() for p in step.completed],
        "active": [p.as_dict() for p in step.active],
        "waiting": [p.as_dict() for p in step.waiting],
        "claims": step.claims,
    }


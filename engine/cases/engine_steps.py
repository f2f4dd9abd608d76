"""Engine steps shared by live commands and by replay: running the engine, delivering a message,
and identifying a task by its position (task ids are not stable across re-execution)."""
from __future__ import annotations

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from yijianshi.engine.errors import NotFound, ProcessFailed, ScriptError
from yijianshi.engine.cases.work_items import ReadyTask, WorkItemProjection


def run_engine(wf: BpmnWorkflow) -> None:
    """do_engine_steps, with engine failures turned into sentences that name the step."""
    try:
        wf.do_engine_steps()
    except SpiffWorkflowException as err:
        cause = err.__cause__ or getattr(err, "exception", None)
        if isinstance(cause, ScriptError):
            raise ScriptError(f"{cause}（{_where(err)}）") from err
        raise ProcessFailed(f"流程执行出错（{_where(err)}）：{err}") from err


def _where(err: SpiffWorkflowException) -> str:
    task = getattr(err, "task", None)
    if task is not None:
        return f"环节 {task.task_spec.bpmn_name or task.task_spec.name}"
    return "流程"


def deliver(wf: BpmnWorkflow, message_name: str, payload: dict, correlation: dict | None = None) -> None:
    waiting = [t for t in wf.get_tasks(state=TaskState.WAITING)
               if getattr(getattr(t.task_spec, "event_definition", None), "name", None) == message_name]
    if not waiting:
        raise NotFound(f"案件未在等待消息“{message_name}”。")
    definition = waiting[0].task_spec.event_definition
    if isinstance(definition, CamundaMessageEventDefinition):
        # Camunda dialect: the reply lands in the catch event's camunda:resultVariable
        # (default "<event id>_Response").
        # Retrieval expressions of the catch event are evaluated on the message; a reply routed by
        # business key does not carry them, so the waiting case's own values stand in.
        context = {**waiting[0].data, **(correlation or {})}
        event = BpmnEvent(definition, {**context, "payload": payload, "result_var": definition.result_var})
    else:
        event = BpmnEvent(definition, {**(correlation or {}), **payload}, dict(wf.correlations))
    wf.send_event(event)
    run_engine(wf)


def ready_ordinal(projection: WorkItemProjection, ready: ReadyTask) -> int:
    """Position among ready tasks of the same spec, stable across re-execution (ids are not)."""
    same = [r.task.id for r in projection.ready.values()
            if r.task_spec == ready.task_spec and r.process_id == ready.process_id]
    return same.index(ready.task.id)


def timer_ordinal(projection: WorkItemProjection, timer) -> int:
    """Position among waiting timers of the same spec (stable across re-execution)."""
    same = [t.task_id for t in projection.timers.values()
            if t.task_spec == timer.task_spec and t.process_id == timer.process_id]
    return same.index(timer.task_id)

"""Engine steps shared by live commands and by replay: running the engine, completing a waiting task,
throwing a BPMN error from one, delivering a message,
and identifying a task by its position (task ids are not stable across re-execution)."""
from __future__ import annotations

from typing import NoReturn

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from yijianshi.engine.errors import EngineError, NotFound, ProcessFailed, ScriptError
from yijianshi.engine.cases.work_items import ReadyTask, WorkItemProjection


def run_engine(wf: BpmnWorkflow) -> None:
    """do_engine_steps, with engine failures turned into sentences that name the step."""
    try:
        wf.do_engine_steps()
    except SpiffWorkflowException as err:
        _readable(err)


def run_task(task) -> None:
    """Run a waiting task (a user task being completed), failures in sentences as run_engine's: its
    successors become ready here, evaluating their camunda:inputOutput input parameters."""
    try:
        task.run()
    except SpiffWorkflowException as err:
        _readable(err)


def _readable(err: SpiffWorkflowException) -> NoReturn:
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
        context = _correlation_context(wf, definition, {**waiting[0].data, **(correlation or {})})
        event = BpmnEvent(definition, {**context, "payload": payload, "result_var": definition.result_var})
    else:
        message = _correlation_context(wf, definition, {**(correlation or {}), **payload})
        event = BpmnEvent(definition, message, dict(wf.correlations))
    wf.send_event(event)
    run_engine(wf)


def _correlation_context(wf: BpmnWorkflow, definition, context: dict) -> dict:
    """What the catch event's correlation properties are evaluated on when the message arrives. A
    property reading a variable that neither the case nor the message has (the reply reached the
    case by its business key or by other variables) reads as null instead of failing the delivery;
    any other failing retrieval expression is refused naming the property and the fix."""
    out = dict(context)
    for prop in getattr(definition, "correlation_properties", None) or []:
        expression = (prop.retrieval_expression or "").strip()
        try:
            wf.script_engine.environment.evaluate(expression, dict(out))
        except Exception as err:  # noqa: BLE001 - turned into a message naming the property
            if expression.isidentifier() and expression not in out:
                out[expression] = None
                continue
            raise EngineError(
                f"消息“{definition.name}”的关联属性“{prop.name}”无法求值（{expression}）：{err}。"
                "请检查该关联属性的 messagePath，或在案件等待该消息之前为它读取的变量赋值。") from None
    return out


def complete_task(task, data: dict) -> None:
    """Complete a waiting task (a user task, an external service task) with data, and run on."""
    task.data.update(data)
    run_task(task)
    if task.state == TaskState.STARTED:  # a service task's run leaves it started: its work was done outside
        task.complete()
    run_engine(task.workflow.top_workflow)


def throw_error(task, error_code: str, message: str | None, data: dict) -> None:
    """A BPMN error thrown by the work of a waiting task (an external task's worker): an error
    boundary event on the task catching its code takes over, else an event subprocess or boundary
    further out; the data goes with the error. Raises EngineError if nothing catches it."""
    event = BpmnEvent(ErrorEventDefinition(error_code, code=error_code),
                      {**data, **({"errorMessage": message} if message else {})})
    catchers = [c for c in (task.parent.children if task.parent is not None else [])
                if c is not task and c.state == TaskState.WAITING and c.task_spec.catches(c, event)]
    wf = task.workflow.top_workflow
    if catchers:
        for catcher in catchers:
            catcher.task_spec.catch(catcher, event)
            catcher.task_spec._update(catcher)
    elif not wf.event_manager.catch(event, internal=False):
        raise EngineError(f"没有边界事件或事件子流程捕获错误代码“{error_code}”：请在流程中为该环节添加错误边界事件。")
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

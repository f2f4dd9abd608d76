"""A case's engine state as one JSON document, stored without the spec (the spec is stored once per
definition version and shared by every case on it)."""
from __future__ import annotations

import json
from types import ModuleType
from uuid import UUID

import orjson

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.task import Task

from engine.errors import EngineError

STATE_FORMAT = "yjs-case/1"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """The stock converter embeds the whole spec in every case (about 40% of its size)."""

    task_converter: "_TaskConverter"

    def to_dict(self, workflow):
        dct = _workflow_fields(self, workflow)
        dct["subprocesses"] = {str(k): self.registry.convert(v) for k, v in workflow.subprocesses.items()}
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _workflow_fields(converter, workflow) -> dict:
    """WorkflowConverter.to_dict with the task mapping done directly (it dominates the cost)."""
    to_dict = converter.task_converter.to_dict
    return {
        "data": converter.registry.convert(converter.registry.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": {_sid(t): to_dict(t) for t in workflow.tasks.values()},
        "root": str(workflow.task_tree.id),
    }


class _TaskConverter(TaskConverter):
    """The stock task converter, rewritten for speed: it runs for every task of every case on
    every command. Output is identical (stock from_dict reads it); ids are stringified once per task."""

    def to_dict(self, task):
        sid = _sid(task)
        pid = task._parent
        tasks = task.workflow.tasks
        if pid is None:
            parent_sid, data, delta = None, task.data, {}
        else:
            parent = tasks[pid]
            parent_sid, pdata, own = _sid(parent), parent.data, task.data
            data = {}
            delta = {
                "updates": {k: v for k, v in own.items() if k not in pdata or v != pdata[k]},
                "deletions": [k for k in pdata if k not in own],
            }
        return {
            "id": sid,
            "parent": parent_sid,
            "children": [_sid(tasks[c]) if c in tasks else str(c) for c in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data) if task.internal_data else {},
            "data": data,
            "delta": delta,
            "typename": self.typename,
        }


def _sid(task) -> str:
    try:
        return task._yjs_sid
    except AttributeError:
        task._yjs_sid = sid = str(task.id)
        return sid


class SpecCodec:
    """Serializes definition specs (process spec + called subprocess specs) once per version."""

    def __init__(self) -> None:
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))

    def dumps(self, spec, subprocess_specs: dict) -> str:
        registry = self.serializer.registry
        return json.dumps(
            {
                "spec": registry.convert(spec),
                "subprocess_specs": {k: registry.convert(v) for k, v in subprocess_specs.items()},
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    def loads(self, text: str):
        dct = json.loads(text)
        registry = self.serializer.registry
        spec = registry.restore(dct["spec"])
        subs = {k: registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs


class CaseStateCodec:
    """Turns a running workflow into a JSON string and back, given the version's spec objects."""

    def __init__(self) -> None:
        registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
        self._converter = _SpeclessWorkflowConverter(BpmnWorkflow, registry)
        self._converter.task_converter = _TaskConverter(Task, registry)
        self._registry = registry
        self.serializer = BpmnWorkflowSerializer(registry)

        def default(obj):
            # What SpiffWorkflow's JSON encoder does: registered types (datetime, timedelta, UUID,
            # events...) become their typed dicts, sets become lists, callables are dropped.
            typename = registry.typenames.get(type(obj))
            if typename is not None:
                return registry.convert_to_dict[typename](obj)
            if isinstance(obj, set):
                return list(obj)
            if callable(obj) or isinstance(obj, ModuleType):
                return None
            raise TypeError(f"cannot store a value of type {type(obj).__name__} in case data")

        self._default = default

    def dumps(self, workflow: BpmnWorkflow) -> str:
        # orjson: the state is written on every command, and the stdlib encoder was a third of that cost.
        self._registry._encoder_mode = True
        try:
            dct = self._converter.to_dict(workflow)
            dct["format"] = STATE_FORMAT
            return orjson.dumps(dct, default=self._default, option=_ORJSON_OPTIONS).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError) as err:
            raise EngineError(f"流程数据中有无法保存的值（{err}），请检查脚本写入的变量。") from err
        finally:
            self._registry._encoder_mode = False

    def loads(self, text: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
        dct = orjson.loads(text)
        if dct.pop("format", None) != STATE_FORMAT:
            raise ValueError("unknown case state format")
        return self._converter.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)


# Datetimes must go through SpiffWorkflow's registry (typed dicts), not orjson's ISO strings, or they
# would come back as strings; keys may be non-strings in task data written by scripts.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS

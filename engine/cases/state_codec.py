"""A case's engine state as one JSON document, stored without the spec (the spec is stored once per
definition version and shared by every case on it). Format "yjs-case/2" (written since #17) leaves out
of every task record its "id" (the record's key in `tasks`) and its "parent" (the record whose
`children` names it, none for the root), keeping "parent" only where the tree does not give it;
"yjs-case/1" (SpiffWorkflow's own task records) is still read: `expand_state` turns the one into the
other."""
from __future__ import annotations

import json
from copy import copy
from types import ModuleType
from typing import Any, Sequence
from uuid import UUID

import orjson

from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.task import Task, TaskState

from yijianshi.engine.cases.state_delta import TOP, Parts, Snapshot, apply_delta, keep_snapshot
from yijianshi.engine.errors import ProcessFailed
from yijianshi.engine.modeling.call_mappings import MappedCallActivity, MappedCallActivityConverter
from yijianshi.engine.modeling.decision_result import MappedBusinessRuleTask, MappedBusinessRuleTaskConverter
from yijianshi.engine.modeling.input_output import CONVERTERS as INPUT_OUTPUT_CONVERTERS

STATE_FORMAT = "yjs-case/2"
STATE_FORMAT_V1 = "yjs-case/1"  # every task record with its "id" and "parent" (cases written before #17)
# The Camunda configuration has no converter for plain service tasks (external tasks here: see
# engine/modeling/external_service.py); the default BPMN converter keeps their extensions. Call
# activities keep their camunda:in / camunda:out mappings (engine/modeling/call_mappings.py), and
# the camunda:inputOutput mappings (engine/modeling/input_output.py) are stored with the spec too, and
# so are a business rule task's camunda:resultVariable / mapDecisionResult (decision_result.py).
SPEC_CONFIG = {**CAMUNDA_CONFIG, ServiceTask: BpmnTaskSpecConverter, MappedCallActivity: MappedCallActivityConverter,
               MappedBusinessRuleTask: MappedBusinessRuleTaskConverter, **INPUT_OUTPUT_CONVERTERS}


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
        workflow.tasks = _tasks_from_dict(self.task_converter, dct["tasks"], workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _SubWorkflowConverter(BpmnSubWorkflowConverter):
    """Called processes: the stock converter with the task mapping done directly, as above."""

    task_converter: "_TaskConverter"

    def to_dict(self, workflow):
        dct = _workflow_fields(self, workflow)
        dct["parent_task_id"] = str(workflow.parent_task_id)
        dct["spec"] = workflow.spec.name
        return dct

    def from_dict(self, dct, task, top_workflow):
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        subprocess.tasks = _tasks_from_dict(self.task_converter, dct["tasks"], subprocess)
        subprocess.task_tree = subprocess.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


def _tasks_from_dict(task_converter, records: dict, workflow) -> dict:
    """The task mapping, parents first as written (a task's data is its parent's plus its delta)."""
    from_dict = task_converter.from_dict
    uuids = _UuidTable()  # each id is written up to three times (itself, its parent's, as a child)
    tasks = {}
    for record in records.values():
        task = from_dict(record, workflow, uuids)
        tasks[task.id] = task
    return tasks


class _UuidTable(dict):
    def __missing__(self, text: str) -> UUID:
        self[text] = value = UUID(text)
        return value


def _workflow_fields(converter, workflow) -> dict:
    """WorkflowConverter.to_dict with the task mapping done directly (it dominates the cost)."""
    return {
        "data": converter.registry.convert(converter.registry.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": _task_records(converter.task_converter, workflow.tasks, workflow.task_tree),
        "root": str(workflow.task_tree.id),
    }


def _task_records(task_converter: "_TaskConverter", tasks: dict, root) -> dict:
    """Every task's record, as _TaskConverter.record writes it (without "id" and "parent"), for a
    whole workflow: the tasks indexed once by their uuid's int (hashing a UUID is a Python call,
    hashing an int is not). A task whose parent is not the one record naming it as a child (none for
    the root) gets its "parent" written explicitly: `expand_state` could not derive it."""
    by_int = {t.id.int: t for t in tasks.values()}
    named: dict[int, int] = {}  # a child's int -> the int of the task naming it (_SEVERAL: more than one)
    record = task_converter.record
    records = {_sid(t): record(t, by_int, named) for t in tasks.values()}
    get = named.get
    for t, rec in zip(tasks.values(), records.values()):  # the same order
        pid = t._parent
        if pid is None:
            if t is root and t.id.int not in named:
                continue
            rec["parent"] = None
        elif get(t.id.int) != pid.int:
            parent = by_int.get(pid.int)
            rec["parent"] = _sid(parent) if parent is not None else str(pid)
    return records


_SEVERAL = -1  # never a uuid's int


_ABSENT = object()


class _TaskConverter(TaskConverter):
    """The stock task converter, rewritten for speed: it runs for every task of every case on
    every command. Its records, with the "id" and "parent" that expand_state puts back, are identical
    (stock from_dict reads them); ids are stringified once per task."""

    def to_dict(self, task):
        """SpiffWorkflow's record of one task (with its "id" and "parent")."""
        record = self.record(task, {t.id.int: t for t in task.workflow.tasks.values()}, {})
        parent = task.parent
        return {"id": _sid(task), "parent": _sid(parent) if parent is not None else None, **record}

    def record(self, task, by_int: dict, named: dict) -> dict:
        """The task's record without its "id" and "parent" (format yjs-case/2); `by_int`: its
        workflow's tasks by their uuid's int; `named` gets the int of each child it names."""
        pid = task._parent
        own = task.data
        delta: dict[str, Any]
        parent = by_int.get(pid.int) if pid is not None else None
        if parent is None:
            # the root (or a parent outside this workflow's tasks: its record says whose child it is)
            data, delta = own, {}
        else:
            pdata = parent.data
            data = {}
            if own == pdata:
                # Most tasks carry their parent's data unchanged: one comparison in C instead of a
                # walk over the keys. (Equal dicts have no key that is missing from the parent's or
                # whose value differs; dict equality counts a value as equal to itself, so a NaN
                # shared with the parent is not written again: stored NaN reads back as null anyway.)
                delta = {"updates": {}, "deletions": []}
            else:
                get = pdata.get
                delta = {
                    "updates": {k: v for k, v in own.items() if (p := get(k, _ABSENT)) is _ABSENT or v != p},
                    "deletions": [k for k in pdata if k not in own],
                }
        children = []
        tid = task.id.int
        for c in task._children:
            ci = c.int
            named[ci] = tid if ci not in named else _SEVERAL
            child = by_int.get(ci)
            children.append(_sid(child) if child is not None else str(c))
        internal = task.internal_data
        return {
            "children": children,
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(internal) if internal else {},
            "data": data,
            "delta": delta,
            "typename": self.typename,
        }

    def from_dict(self, dct, workflow, uuids: dict | None = None):
        """TaskConverter.from_dict without the registry's per-value walk where there is nothing to
        restore (most tasks carry no internal data and an empty delta)."""
        if uuids is None:
            uuids = _UuidTable()
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=uuids[dct["id"]])
        task._yjs_sid = dct["id"]
        parent_id = dct["parent"]
        task._parent = uuids[parent_id] if parent_id is not None else None
        task._children = [uuids[child] for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = self.registry.restore(internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta else None
        if parent is not None:
            # DeepMerge.merge({}, parent.data): a copy of each mutable value, the rest shared
            data = {k: copy(v) if isinstance(v, (dict, list, set)) else v for k, v in parent.data.items()}
            updates = delta.get("updates")
            if updates:
                data.update(self.registry.restore(updates))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


def _sid(task) -> str:
    try:
        return task._yjs_sid
    except AttributeError:
        task._yjs_sid = sid = str(task.id)
        return sid


class SpecCodec:
    """Serializes definition specs (process spec + called subprocess specs) once per version."""

    def __init__(self) -> None:
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPEC_CONFIG))

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
        registry = BpmnWorkflowSerializer.configure(SPEC_CONFIG)
        self._converter = _SpeclessWorkflowConverter(BpmnWorkflow, registry)
        task_converter = _TaskConverter(Task, registry)
        self._converter.task_converter = task_converter
        _SubWorkflowConverter(BpmnSubWorkflow, registry).task_converter = task_converter
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
        return self.encode(workflow).decode("utf-8")

    def encode(self, workflow: BpmnWorkflow) -> bytes:
        """The state as UTF-8 JSON bytes, what dumps gives before decoding (a command stores these
        compressed: no round trip through str)."""
        # orjson: the state is written on every command, and the stdlib encoder was a third of that cost.
        self._registry._encoder_mode = True
        try:
            dct = self._converter.to_dict(workflow)
            dct["format"] = STATE_FORMAT
            return orjson.dumps(dct, default=self._default, option=_ORJSON_OPTIONS)
        except (TypeError, orjson.JSONEncodeError) as err:
            raise ProcessFailed(f"流程数据中有无法保存的值（{err}），请检查脚本写入的变量。") from err
        finally:
            self._registry._encoder_mode = False

    def parts(self, workflow: BpmnWorkflow) -> Parts:
        """The state cut into its parts (engine/cases/state_delta.py): per workflow of the case, its
        fields and each task's record, as JSON bytes; `state_delta.full_state` joins them into what
        `encode` gives."""
        self._registry._encoder_mode = True
        try:
            dumps, default = orjson.dumps, self._default
            top = self._converter.to_dict(workflow)
            subs = top.pop("subprocesses")
            parts: Parts = {}
            for key, dct in ((TOP, top), *subs.items()):
                tasks = dct.pop("tasks")
                parts[key] = (dumps(dct, default=default, option=_ORJSON_OPTIONS),
                              {sid: dumps(rec, default=default, option=_ORJSON_OPTIONS) for sid, rec in tasks.items()})
            return parts
        except (TypeError, orjson.JSONEncodeError) as err:
            raise ProcessFailed(f"流程数据中有无法保存的值（{err}），请检查脚本写入的变量。") from err
        finally:
            self._registry._encoder_mode = False

    def loads(self, text: str | bytes, spec, subprocess_specs: dict) -> BpmnWorkflow:
        """The workflow of a stored state, format yjs-case/2 or yjs-case/1."""
        return self.load_stored(text, (), spec, subprocess_specs, keep=False)

    def load_stored(self, base: str | bytes, deltas: Sequence[str | bytes], spec, subprocess_specs: dict, *,
                    keep: bool = True, stored_sizes: tuple[int, int] = (0, 0)) -> BpmnWorkflow:
        """The workflow of a stored base state (yjs-case/2 or /1) and the deltas written after it
        (engine/cases/state_delta.py); with `keep`, the workflow keeps the snapshot of what is
        stored (`stored_sizes`: the compressed bytes of the base and of the deltas), so that its
        next write can be a delta."""
        dct = orjson.loads(base)
        old_format = dct.get("format") != STATE_FORMAT
        if deltas and old_format:
            raise ValueError("case state: deltas after a base of an older format")
        for change in deltas:
            apply_delta(dct, orjson.loads(change))
        dct = expand_state(dct)
        del dct["format"]
        workflow = self._converter.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        if keep:
            keep_snapshot(workflow, Snapshot(self.parts(workflow), len(deltas), stored_sizes[1], stored_sizes[0],
                                             compact_next=old_format))
        return workflow


def expand_state(dct: dict) -> dict:
    """A decoded state (yjs-case/2 or /1) with SpiffWorkflow's full task records: every record of the
    top workflow and of each called process gets its "id" (its key) and, where not written, its
    "parent" (the record whose children name it; none for the root). Changes `dct` and returns it;
    a record that is neither the root nor anyone's child is a ValueError, not a corrupt tree."""
    fmt = dct.get("format")
    if fmt == STATE_FORMAT:
        _expand_records(dct["tasks"], dct["root"])
        for sub in dct["subprocesses"].values():
            _expand_records(sub["tasks"], sub["root"])
    elif fmt != STATE_FORMAT_V1:
        raise ValueError(f"unknown case state format {fmt!r}")
    return dct


def _expand_records(records: dict, root: str) -> None:
    named: dict[str, str | None] = {}  # a child's id -> the id of the record naming it (None: several)
    for sid, record in records.items():
        for child in record["children"]:
            named[child] = sid if child not in named else None
    for sid, record in records.items():
        record["id"] = sid
        if "parent" in record:
            continue
        parent = named.get(sid, _ABSENT)
        if parent is _ABSENT:
            if sid != root:
                raise ValueError(f"case state: task {sid} is neither the root nor any task's child")
            parent = None
        elif parent is None:
            raise ValueError(f"case state: task {sid} is named as a child by more than one task")
        record["parent"] = parent


# Datetimes must go through SpiffWorkflow's registry (typed dicts), not orjson's ISO strings, or they
# would come back as strings; keys may be non-strings in task data written by scripts.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS

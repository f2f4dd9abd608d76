"""Camunda 7 variable mappings of call activities (`camunda:in` / `camunda:out` in the call
activity's extension elements): reading and checking them, and the call activity task spec that
applies them.

A call activity with at least one `camunda:in` or `camunda:out` follows Camunda: the called process
starts with only the variables its `camunda:in` entries give (`source`: a caller variable under the
`target` name; `sourceExpression`: a JUEL `${...}` or Python expression on the caller's data;
`variables="all"`: every caller variable), and only what its `camunda:out` entries name comes back,
merged into the caller's data (the same forms, evaluated on the called process's final data). A
missing source variable gives null (None), as in Camunda. Entries apply in document order.

A call activity with none keeps SpiffWorkflow's behaviour, which differs from Camunda (where it
passes nothing either way): the called process starts with all of the caller's data and the caller
continues with all of the called process's final data. The shipped scenarios are written for that.

`<camunda:in businessKey="#{execution.processBusinessKey}"/>` is accepted and passes no variable: a
called process here runs inside the caller's case, whose business key it already has (as any
camunda:in, it makes the call activity pass only what is mapped, as in Camunda). Anything else
(another business key, `local="true"` — there are no local variable scopes here —, an entry that
says nothing to pass, a target that cannot be a variable) is refused at validate/deploy, located."""
from __future__ import annotations

import keyword
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Callable

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.default.task_spec import SubWorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.camunda.parser.task_spec import CallActivityParser

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.scripting.sandbox import check_script

# The one business-key mapping that is true here: the called process keeps the case's business key.
_SAME_BUSINESS_KEY = {"#{execution.processBusinessKey}", "${execution.processBusinessKey}"}
_KINDS = ("source", "sourceExpression", "variables", "businessKey")


@dataclass(frozen=True)
class VariableMapping:
    """One camunda:in or camunda:out entry that passes data."""

    target: str | None = None  # the variable set on the receiving side (None for variables="all")
    source: str | None = None  # a variable of the giving side
    expression: str | None = None  # sourceExpression: evaluated on the giving side's data
    all: bool = False  # variables="all"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict."""
        return {"target": self.target, "source": self.source, "expression": self.expression, "all": self.all}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariableMapping:
        """Rebuild from to_dict() output."""
        return cls(target=data.get("target"), source=data.get("source"), expression=data.get("expression"),
                   all=bool(data.get("all", False)))


@dataclass(frozen=True)
class CallMappings:
    """The camunda:in and camunda:out entries of one call activity, in document order."""

    ins: tuple[VariableMapping, ...] = ()
    outs: tuple[VariableMapping, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict."""
        return {"in": [m.to_dict() for m in self.ins], "out": [m.to_dict() for m in self.outs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallMappings:
        """Rebuild from to_dict() output."""
        return cls(ins=tuple(VariableMapping.from_dict(m) for m in data.get("in", ())),
                   outs=tuple(VariableMapping.from_dict(m) for m in data.get("out", ())))


def apply(mappings: tuple[VariableMapping, ...], data: dict[str, Any],
          evaluate: Callable[[str], Any]) -> dict[str, Any]:
    """The variables the mappings give from `data` (copies; `evaluate` runs a sourceExpression)."""
    given: dict[str, Any] = {}
    for m in mappings:
        if m.all:
            given.update(deepcopy(data))
        elif m.target is not None and m.expression is not None:
            given[m.target] = deepcopy(evaluate(m.expression))
        elif m.target is not None and m.source is not None:
            given[m.target] = deepcopy(data.get(m.source))
    return given


def _variable_name_problem(name: str) -> str | None:
    if not name:
        return "缺少 target（接收的变量名）"
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        return f"target “{name}” 不是合法的变量名（只用字母、数字、下划线，且不以数字或下划线开头）"
    return None


def read_mappings(call: etree._Element) -> tuple[CallMappings | None, list[tuple[etree._Element, str]]]:
    """The mappings of one bpmn:callActivity (None when it has no camunda:in / camunda:out at all)
    and the problems found, each with the entry it is about."""
    entries = [el for ext in call.iterfind(f"{BPMN}extensionElements") for el in ext
               if el.tag in (f"{CAMUNDA}in", f"{CAMUNDA}out")]
    if not entries:
        return None, []
    ins: list[VariableMapping] = []
    outs: list[VariableMapping] = []
    problems: list[tuple[etree._Element, str]] = []
    for el in entries:
        direction = etree.QName(el).localname  # "in" | "out"
        what = f"camunda:{direction}"
        kinds = [k for k in _KINDS if el.get(k) is not None]
        local = (el.get("local") or "false").strip().lower()
        if local != "false":
            problems.append((el, f"{what} 的 local=\"{el.get('local')}\"（只传递调用活动的局部变量）不受支持："
                                 "本系统没有局部变量作用域。请删除 local 属性（Modeler 中取消“Local”勾选）。"))
            continue
        if not kinds or (direction == "out" and kinds == ["businessKey"]):
            problems.append((el, f"{what} 没有说明要传递什么。请写 source=\"变量名\" target=\"变量名\"、"
                                 f"sourceExpression=\"${{...}}\" target=\"变量名\" 或 variables=\"all\" 之一"
                                 + ("，或 businessKey=\"#{execution.processBusinessKey}\"。" if direction == "in" else "。")))
            continue
        if len(kinds) > 1:
            problems.append((el, f"{what} 同时写了 {'、'.join(kinds)}。一个映射只能写其中一种，请拆成多个映射。"))
            continue
        kind = kinds[0]
        value = (el.get(kind) or "").strip()
        target = (el.get("target") or "").strip()
        if kind == "businessKey":
            if value not in _SAME_BUSINESS_KEY:
                problems.append((el, f"camunda:in 的 businessKey=\"{value}\" 不受支持：被调用流程在调用方的案件内运行，"
                                     "沿用该案件的业务键。请删除此映射，或写 businessKey=\"#{execution.processBusinessKey}\"。"))
            continue  # the case's own business key: nothing to do
        if kind == "variables":
            if value != "all":
                problems.append((el, f"{what} 的 variables=\"{value}\" 不受支持，只能写 variables=\"all\"（传递全部变量）。"))
            elif target:
                problems.append((el, f"{what} variables=\"all\" 不能带 target。请删除 target，或改用 source。"))
            else:
                (ins if direction == "in" else outs).append(VariableMapping(all=True))
            continue
        target_problem = _variable_name_problem(target)
        if target_problem:
            problems.append((el, f"{what} 的{target_problem}。请填写 target。" if not target
                             else f"{what} 的{target_problem}。请改名。"))
            continue
        if not value:
            problems.append((el, f"{what} 的 {kind} 为空。请填写{'变量名' if kind == 'source' else '表达式'}。"))
            continue
        if kind == "sourceExpression":
            found = check_script(value, "eval")
            for message in found:
                problems.append((el, f"{what} 的 sourceExpression “{value}” 有误：{message}"))
            if found:
                continue
            mapping = VariableMapping(target=target, expression=value)
        else:
            mapping = VariableMapping(target=target, source=value)
        (ins if direction == "in" else outs).append(mapping)
    return CallMappings(tuple(ins), tuple(outs)), problems


def check_call_mappings(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """The mapping problems of every call activity of a file, located at the entry's line."""
    problems: list[Problem] = []
    for call in tree.getroot().iter(f"{BPMN}callActivity"):
        _, found = read_mappings(call)
        problems.extend(Problem(filename, el.sourceline, message, call.get("id")) for el, message in found)
    return problems


class MappedCallActivity(CallActivity):
    """A call activity that passes data as its camunda:in / camunda:out say (SpiffWorkflow's
    CallActivity when it has none)."""

    def __init__(self, wf_spec, bpmn_id, subworkflow_spec, variable_mappings: CallMappings | None = None, **kwargs):
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.variable_mappings = variable_mappings

    def copy_data(self, my_task, subworkflow):
        if self.variable_mappings is None:
            return super().copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        engine = my_task.workflow.script_engine
        start.data = apply(self.variable_mappings.ins, my_task.data, lambda expr: engine.evaluate(my_task, expr))
        return None

    def update_data(self, my_task, subworkflow):
        if self.variable_mappings is None:
            return super().update_data(my_task, subworkflow)
        end = subworkflow.last_task
        engine = subworkflow.script_engine

        def evaluate(expression: str) -> Any:
            try:
                return engine.evaluate(end, expression)
            except WorkflowTaskException as err:  # name the call activity, not the called process's end
                raise WorkflowTaskException(err.args[0] if err.args else str(err), task=my_task) from (err.__cause__ or err)

        returned = apply(self.variable_mappings.outs, end.data, evaluate)
        my_task.data = {**my_task.data, **returned}
        return None


class MappedCallActivityParser(CallActivityParser):
    """Reads the call activity's mappings into its task spec (their problems are check_call_mappings')."""

    def create_task(self):
        task = super().create_task()
        task.variable_mappings, _ = read_mappings(self.node)
        return task


class MappedCallActivityConverter(SubWorkflowConverter):
    """Saves and restores a MappedCallActivity's mappings with the rest of its spec."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        mappings = spec.variable_mappings
        dct["variable_mappings"] = mappings.to_dict() if mappings is not None else None
        return dct

    def from_dict(self, dct):
        mappings = dct.pop("variable_mappings", None)
        spec = super().from_dict(dct)
        spec.variable_mappings = CallMappings.from_dict(mappings) if mappings is not None else None
        return spec

"""Camunda 7 input/output mappings (camunda:inputOutput) on activities: user, script, service
(external), business rule and manual tasks, embedded subprocesses and call activities.

As in Camunda 7, each input parameter is evaluated against the variables around the activity and
becomes a LOCAL variable of it: the task's form, script, worker and expressions see it, and it is
gone again when the activity completes (a case variable of the same name keeps its earlier value).
When the activity completes, each output parameter is evaluated against the activity's variables
(local ones included) and written to the case data. Variables the activity writes that are not
local reach the case data as without a mapping (Camunda 7 sets them on the process instance).
So three parallel reviewers with `approved` as a local input and outputs `approved_a`, `approved_b`,
`approved_c` no longer overwrite each other's decision when their branches join.

A parameter's value is its text (a string; empty: null), a `${...}`/`#{...}` JUEL expression, or a
camunda:list / camunda:map of such values. A camunda:script value, a mapping on an event, a
multi-instance or looped activity, or an event subprocess is refused at deploy with its line.

The mappings ride on SpiffWorkflow's data-association hooks of every BPMN task spec: a
CamundaInputs object among the spec's data input associations runs once the task has inherited
the case data, a CamundaOutputs object among its data output associations runs when it completes,
before its successors inherit. The values a local input hides are kept in the task's internal data,
so a saved and restored case, and a re-executed one, behave the same."""
from __future__ import annotations

import copy
import keyword
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataSpecification

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.scripting.juel import is_juel
from yijianshi.engine.scripting.sandbox import check_script

# Elements Camunda 7 runs an input/output mapping on that this engine runs too.
ACTIVITY_TAGS = {f"{BPMN}{kind}" for kind in (
    "task", "userTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "manualTask", "callActivity", "subProcess", "transaction")}
# Containers SpiffWorkflow makes a workflow spec of their own, named by their id.
_CONTAINERS = {f"{BPMN}process", f"{BPMN}subProcess", f"{BPMN}transaction", f"{BPMN}adHocSubProcess"}
_SHADOWED = "camunda_io_shadowed"  # internal data: the case values the local inputs hide
_FIX = "请改用文本值或 ${...} 表达式"

# A value: ["null"] | ["text", str] | ["expr", str] | ["list", [value, ...]] | ["map", [[key, value], ...]]
Value = list
Parameters = list  # [[name, value], ...] in document order


@dataclass
class Mapping:
    """The input and output parameters of one activity."""

    inputs: Parameters
    outputs: Parameters

    @property
    def local_names(self) -> set[str]:
        return {name for name, _ in self.inputs}


def mapping_element(el: etree._Element) -> etree._Element | None:
    """The element's own camunda:inputOutput (not a connector's)."""
    return el.find(f"{BPMN}extensionElements/{CAMUNDA}inputOutput")


def read_input_outputs(tree: etree._ElementTree, filename: str) -> tuple[dict[tuple[str, str], Mapping], list[Problem]]:
    """{(workflow spec name, element id): mapping} of the activities with camunda:inputOutput, and the
    problems found, each at its line, in words naming the fix."""
    found: dict[tuple[str, str], Mapping] = {}
    problems: list[Problem] = []
    for io in tree.getroot().iter(f"{CAMUNDA}inputOutput"):
        ext = io.getparent()
        owner = ext.getparent() if ext is not None and ext.tag == f"{BPMN}extensionElements" else None
        if owner is None:
            continue  # inside a camunda:connector: the connector itself is refused (external_service.py)
        owner_id = owner.get("id") or ""

        def report(el: etree._Element, message: str, owner_id: str = owner_id) -> None:
            problems.append(Problem(filename, el.sourceline, message, owner_id))

        refusal = _placement_refusal(owner)
        if refusal:
            report(io, refusal)
            continue
        mapping = Mapping(_read_parameters(io, "inputParameter", report), _read_parameters(io, "outputParameter", report))
        found[(_container_id(owner), owner_id)] = mapping
    return found, problems


def _placement_refusal(owner: etree._Element) -> str | None:
    local = etree.QName(owner).localname
    if owner.tag not in ACTIVITY_TAGS:
        return (f"camunda:inputOutput 只支持放在任务、子流程或调用活动上，不支持 <bpmn:{local}>。"
                "请把输入/输出参数移到相邻的任务上。")
    if owner.get("triggeredByEvent") == "true":
        return "事件子流程上的 camunda:inputOutput 暂不支持。请把输入/输出参数移到事件子流程内的任务上。"
    if owner.find(f"{BPMN}multiInstanceLoopCharacteristics") is not None \
            or owner.find(f"{BPMN}standardLoopCharacteristics") is not None:
        return ("多实例或循环环节上的 camunda:inputOutput 暂不支持。请去掉输入/输出参数，"
                "或把多实例放到包含该任务的子流程上、在子流程内的任务上使用输入/输出参数。")
    return None


def _read_parameters(io: etree._Element, kind: str, report) -> Parameters:
    what = "输入参数" if kind == "inputParameter" else "输出参数"
    params: Parameters = []
    seen: set[str] = set()
    for param in io.iterfind(f"{CAMUNDA}{kind}"):
        name = (param.get("name") or "").strip()
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            report(param, f"{what}的名称 “{name}” 不是合法的变量名。请只用字母、数字、下划线，且不要以数字或下划线开头。")
            continue
        if name in seen:
            report(param, f"{what} “{name}” 重复定义。同一环节的{what}名称必须唯一，请删除多余的一个。")
            continue
        seen.add(name)
        value = _read_value(param, f"{what} “{name}”", report)
        if value is not None:
            params.append([name, value])
    return params


def _elements(el: etree._Element) -> list[etree._Element]:
    return [child for child in el if isinstance(child.tag, str)]


def _read_value(el: etree._Element, what: str, report) -> Value | None:
    """The value written inside a parameter, a camunda:value or a camunda:entry; None (reported) when
    it cannot be used."""
    children = _elements(el)
    if not children:
        text = (el.text or "").strip()
        if not text:
            return ["null"]
        if is_juel(text):
            messages = check_script(text, "eval")
            for message in messages:
                report(el, f"{what} 的表达式“{text}”有误：{message}请改正该表达式（${{...}}，可与文字组合），"
                           "或写成不含 ${ 的文本。")
            return None if messages else ["expr", text]
        return ["text", text]
    if len(children) > 1:
        report(children[1], f"{what} 只能有一个值（camunda:list、camunda:map 或文本）。请删除多余的元素。")
        return None
    return _read_element(children[0], what, report)


def _read_element(child: etree._Element, what: str, report) -> Value | None:
    """A value written as an element: camunda:list, camunda:map (camunda:script is refused)."""
    local = etree.QName(child).localname
    if child.tag == f"{CAMUNDA}list":
        items = []
        for item in _elements(child):
            # A list item: a camunda:value (text or expression), or a list, map or script itself.
            value = _read_value(item, what, report) if item.tag == f"{CAMUNDA}value" else _read_element(item, what, report)
            if value is None:
                return None
            items.append(value)
        return ["list", items]
    if child.tag == f"{CAMUNDA}map":
        entries = []
        for entry in _elements(child):
            key = entry.get("key")
            if entry.tag != f"{CAMUNDA}entry" or not key:
                report(entry, f"{what} 的 camunda:map 只能包含带 key 属性的 camunda:entry。请修正该条目。")
                return None
            value = _read_value(entry, f"{what} 的条目 “{key}”", report)
            if value is None:
                return None
            entries.append([key, value])
        return ["map", entries]
    if child.tag == f"{CAMUNDA}script":
        report(child, f"{what} 使用了 camunda:script 计算值，本系统暂不支持。{_FIX}，"
                      "或在本环节前加一个脚本任务算出该值。")
        return None
    report(child, f"{what} 的值 <{local}> 不受支持。{_FIX}，或 camunda:list / camunda:map。")
    return None


def _container_id(el: etree._Element) -> str:
    parent = el.getparent()
    while parent is not None and parent.tag not in _CONTAINERS:
        parent = parent.getparent()
    return (parent.get("id") or "") if parent is not None else ""


def attach_input_output(specs, mappings: dict[tuple[str, str], Mapping]) -> None:
    """Give the activities of these workflow specs their mappings (again: replacing any attached)."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            mapping = mappings.get((spec.name, task_spec.name))
            if mapping is None or not hasattr(task_spec, "data_input_associations"):
                continue
            task_spec.data_input_associations = [
                *(a for a in task_spec.data_input_associations if not isinstance(a, CamundaInputs)),
                CamundaInputs(mapping.inputs)]
            task_spec.data_output_associations = [
                *(a for a in task_spec.data_output_associations if not isinstance(a, CamundaOutputs)),
                CamundaOutputs(mapping.outputs)]


def evaluate(value: Value, task) -> Any:
    """A parameter value, with the task's data as the variables of its expressions."""
    kind = value[0]
    if kind == "text":
        return value[1]
    if kind == "expr":
        return task.workflow.script_engine.evaluate(task, value[1])
    if kind == "list":
        return [evaluate(item, task) for item in value[1]]
    if kind == "map":
        return {key: evaluate(item, task) for key, item in value[1]}
    return None


class CamundaInputs(BpmnDataSpecification):
    """The input parameters of an activity, run when its task has inherited the case data."""

    def __init__(self, parameters: Parameters, bpmn_id: str = "camunda:inputOutput", bpmn_name: str | None = None):
        # SpiffWorkflow drops task data named by an input association's bpmn_id on completion: none is.
        super().__init__(bpmn_id, bpmn_name)
        self.parameters = parameters

    def get(self, my_task, **kwargs) -> None:
        if _SHADOWED in my_task.internal_data:
            return  # already entered
        # Every value is computed from the variables around the activity, as Camunda does.
        values = [(name, evaluate(value, my_task)) for name, value in self.parameters]
        data = my_task.data
        my_task.internal_data[_SHADOWED] = {
            "present": {name: copy.deepcopy(data[name]) for name, _ in values if name in data},
            "absent": [name for name, _ in values if name not in data],
        }
        for name, value in values:
            data[name] = value

    def set(self, my_task, **kwargs) -> None:  # an input writes nothing back
        return None


class CamundaOutputs(BpmnDataSpecification):
    """The output parameters of an activity, run when it completes: the local inputs are dropped
    (the case values they hid come back) and each output is written to the case data."""

    def __init__(self, parameters: Parameters, bpmn_id: str = "camunda:inputOutput", bpmn_name: str | None = None):
        super().__init__(bpmn_id, bpmn_name)
        self.parameters = parameters

    def get(self, my_task, **kwargs) -> None:
        return None

    def set(self, my_task, **kwargs) -> None:
        values = [(name, evaluate(value, my_task)) for name, value in self.parameters]
        data = my_task.data
        shadowed = my_task.internal_data.get(_SHADOWED) or {}
        for name in shadowed.get("absent", ()):
            data.pop(name, None)
        for name, old in shadowed.get("present", {}).items():
            data[name] = copy.deepcopy(old)
        for name, value in values:
            data[name] = value


class _ParametersConverter(BpmnConverter):
    def to_dict(self, spec) -> dict:
        return {"parameters": spec.parameters}

    def from_dict(self, dct) -> Any:
        return self.target_class(dct["parameters"])


# For SPEC_CONFIG (engine/cases/state_codec.py): the mappings are stored with the definition's spec.
CONVERTERS = {CamundaInputs: _ParametersConverter, CamundaOutputs: _ParametersConverter}

"""What a model may contain that the engine cannot run or keep, said as a designer can act on it:
the advice for a BPMN element whose parsed form cannot be stored (a Camunda 7 Java service task, a
send or receive task), and a Chinese rendering of SpiffWorkflow's structural complaints. Deploy
uses these so that no parser or serializer exception text ever reaches a designer."""
from __future__ import annotations

import re

from yijianshi.engine.errors import Problem

# By the BPMN element's local name: why it cannot run here, and what to draw instead.
ADVICE = {
    "serviceTask": "服务任务在本系统中没有可执行的实现（camunda:class、camunda:delegateExpression、"
                   "camunda:expression 调用的是 Camunda 7 中的 Java 代码）。请改为脚本任务（scriptTask）"
                   "写出要做的计算，或用消息事件与部门系统对接",
    "sendTask": "发送任务（sendTask）暂不支持。请改用消息中间抛出事件（intermediateThrowEvent 加 "
                "messageEventDefinition），或消息结束事件",
    "receiveTask": "接收任务（receiveTask）暂不支持。请改用消息中间捕获事件（intermediateCatchEvent 加 "
                   "messageEventDefinition），并设置关联属性",
}
GENERIC_ADVICE = ("本系统不能保存或执行这种元素。请改用用户任务、脚本任务、业务规则任务、调用活动、"
                  "网关或消息/定时/信号事件表达同样的步骤")


def element_advice(local_name: str) -> str:
    """What to do about an element of this kind that the engine cannot keep."""
    return ADVICE.get(local_name, GENERIC_ADVICE)


def unsupported_problem(filename: str, line: int | None, local_name: str, element_id: str | None,
                        name: str | None = None) -> Problem:
    """One message for one element the engine cannot keep."""
    label = f"“{name}”" if name else ""
    return Problem(filename, line, f"<bpmn:{local_name}>{label} 无法部署：{element_advice(local_name)}。",
                   element_id)


_SPIFF_MESSAGES = (
    (re.compile(r"Unsupported (?:Catch|Throw) Event.*compensateEventDefinition", re.S),
     "补偿事件（compensateEventDefinition）暂不支持。请把撤销做成显式的步骤：例如用错误边界事件或网关"
     "分支引到撤销任务"),
    (re.compile(r"Unsupported (Catch|Throw) Event", re.S),
     "这种事件类型暂不支持。请改用消息、定时、信号、错误、升级或条件事件"),
    (re.compile(r'No DMN Diagram available with id "([^"]*)"'),
     "业务规则任务引用的决策“{0}”没有找到。请把定义该决策的 .dmn 文件与流程一起部署，或修正 camunda:decisionRef"),
    (re.compile(r"The process '([^']*)' was not found"),
     "调用活动调用的流程“{0}”没有找到。请把定义该流程的文件一起部署，或修正 calledElement"),
    (re.compile(r"No start event found|no start event", re.I),
     "流程没有开始事件。请添加一个开始事件（startEvent）并用顺序流连到第一步"),
    (re.compile(r"Multiple outgoing flows|Only one outgoing flow", re.I),
     "该元素有多条出口，但它的类型只允许一条。请在分支处使用网关"),
    (re.compile(r"Could not find task|No task spec|could not be found", re.I),
     "引用的元素不存在。请检查顺序流的 sourceRef / targetRef 和其他 ...Ref 属性"),
    (re.compile(r"[Ee]vent [Dd]efinition|eventDefinition", re.I),
     "事件的定义不完整或不受支持。请检查事件下的 messageRef / signalRef / errorRef 等引用"),
)


def structure_message(detail: str) -> str:
    """SpiffWorkflow's complaint about a model's structure, in Chinese with what to do. A complaint
    not recognised keeps its original wording after the Chinese lead, quoted as a detail."""
    for pattern, text in _SPIFF_MESSAGES:
        found = pattern.search(detail)
        if found:
            return f"流程结构有误：{text.format(*found.groups())}。"
    first = detail.strip().splitlines()[0][:200] if detail.strip() else ""
    lead = "流程结构有误，请对照 BPMN 规范检查该元素及其连线。"
    if not first or _RAW.search(first):
        return lead  # a wrapped Python exception says nothing a designer can use
    return f"{lead}（解析器说明：{first}）"


_RAW = re.compile(r"\b\w*(?:Error|Exception)\b|Traceback|object of type|\bb'<", re.I)

"""Lint of messages and signals: every message event names a defined message, every thrown message
has a payload, every signal waited for is thrown somewhere. (A message waited for needs no
correlation property: a reply may reach the case by its business key or by any of its variables.)"""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex, signal_name
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA

_CATCHERS = (f"{BPMN}intermediateCatchEvent", f"{BPMN}boundaryEvent", f"{BPMN}startEvent")
_THROWERS = (f"{BPMN}intermediateThrowEvent", f"{BPMN}endEvent")


def check_messages(f: LintFile) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    messages = {m.get("id"): m for m in root.iter(f"{BPMN}message")}
    for ev in root.iter(*_CATCHERS, *_THROWERS, f"{BPMN}receiveTask", f"{BPMN}sendTask"):
        for md in ([ev] if ev.tag in (f"{BPMN}receiveTask", f"{BPMN}sendTask") else ev.iter(f"{BPMN}messageEventDefinition")):
            ref = md.get("messageRef")
            if ref not in messages:
                problems.append(Problem(f.path, md.sourceline, f"消息事件引用的消息“{ref}”没有定义（bpmn:message）。",
                                        ev.get("id")))
                continue
            name = messages[ref].get("name") or ref
            catching = ev.tag in _CATCHERS or ev.tag == f"{BPMN}receiveTask"
            if not catching and not md.get(f"{CAMUNDA}expression"):
                problems.append(Problem(f.path, md.sourceline, f"发出的消息“{name}”没有内容表达式（camunda:expression），"
                                        "接收方无法知道它属于哪个案件。请在内容中带上关联值。", ev.get("id")))
    return problems


def check_signals(f: LintFile, model: ModelIndex) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for ev in root.iter(*_CATCHERS):
        for sd in ev.iter(f"{BPMN}signalEventDefinition"):
            name = signal_name(root, sd.get("signalRef"))
            if name is None:
                problems.append(Problem(f.path, sd.sourceline, f"信号事件引用的信号“{sd.get('signalRef')}”没有定义（bpmn:signal）。",
                                        ev.get("id")))
            elif name not in model.thrown_signals:
                problems.append(Problem(f.path, ev.sourceline, f"等待的信号“{name}”在这些流程中没有任何地方抛出，"
                                        "此事件永远不会触发。", ev.get("id")))
    return problems

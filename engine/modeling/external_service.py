"""Service tasks as Camunda external tasks: a `bpmn:serviceTask` with camunda:type="external" and a
camunda:topic waits (like a user task, which the engine does not run by itself) until a worker
fetches, locks and completes it over /engine-rest. The topic travels in the task spec's
`extensions` (serialized with the definition); the spec is marked manual so the engine stops there.

A Java implementation (camunda:class, camunda:delegateExpression, camunda:expression, a connector)
cannot run here: the deploy check names it with file:line and says to use an external task topic."""
from __future__ import annotations

from lxml import etree

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA

TOPIC = "external_topic"  # key in a task spec's extensions
# Elements Camunda 7 runs with Java code; here only an external task (a worker over HTTP) can do it.
_JAVA_TAGS = (f"{BPMN}serviceTask", f"{BPMN}sendTask", f"{BPMN}businessRuleTask")
# Containers SpiffWorkflow makes a workflow spec of their own, named by their id.
_CONTAINERS = {f"{BPMN}process", f"{BPMN}subProcess", f"{BPMN}transaction", f"{BPMN}adHocSubProcess"}
_JAVA_ATTRIBUTES = {"class": "Java 类（camunda:class）", "delegateExpression": "委托表达式（camunda:delegateExpression）",
                    "expression": "表达式（camunda:expression）"}


def external_topics(tree: etree._ElementTree, filename: str) -> tuple[dict[tuple[str, str], str], list[Problem]]:
    """{(workflow spec name, task id): topic} of the external service tasks (the spec is the process
    or the embedded subprocess holding the task), and the problems found: Java implementations, and
    service tasks that name no external topic."""
    topics: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    for process in tree.getroot().iterfind(f"{BPMN}process"):
        for el in process.iter(*_JAVA_TAGS):
            task_id = el.get("id") or ""
            kind = etree.QName(el).localname
            if kind == "businessRuleTask" and el.get(f"{CAMUNDA}decisionRef"):
                continue  # a DMN decision, evaluated by the engine
            java = [label for attr, label in _JAVA_ATTRIBUTES.items() if el.get(f"{CAMUNDA}{attr}")]
            if el.find(f"{BPMN}extensionElements/{CAMUNDA}connector") is not None:
                java.append("连接器（camunda:connector）")
            external = el.get(f"{CAMUNDA}type") == "external"
            topic = (el.get(f"{CAMUNDA}topic") or "").strip()
            hint = '请改为外部任务：camunda:type="external" camunda:topic="主题名"，由外部任务工作者通过 /engine-rest 领取办理。'
            if java:
                problems.append(Problem(filename, el.sourceline,
                                        f"本系统不运行 Java 实现（{'、'.join(java)}）。{hint}", task_id))
            elif external and not topic:
                problems.append(Problem(filename, el.sourceline, f"外部任务缺少 camunda:topic（主题名）。{hint}", task_id))
            elif external and kind == "serviceTask":
                topics[(_container_id(el), task_id)] = topic
            elif kind in ("serviceTask", "sendTask"):
                what = "服务任务" if kind == "serviceTask" else "发送任务"
                problems.append(Problem(filename, el.sourceline, f"{what}没有可执行的实现。{hint}", task_id))
    return topics, problems


def _container_id(el: etree._Element) -> str:
    parent = el.getparent()
    while parent is not None and parent.tag not in _CONTAINERS:
        parent = parent.getparent()
    return (parent.get("id") or "") if parent is not None else ""


def mark_external(specs, topics: dict[tuple[str, str], str]) -> None:
    """Make the external service tasks of these workflow specs wait for a worker (manual), with
    their topic in the spec's extensions."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            topic = topics.get((spec.name, task_spec.name))
            if topic is not None:
                task_spec.manual = True
                task_spec.extensions = {**(getattr(task_spec, "extensions", None) or {}), TOPIC: topic}


def topic_of(task_spec) -> str | None:
    """The external task topic of a task spec, None for every other task."""
    extensions = getattr(task_spec, "extensions", None)
    return extensions.get(TOPIC) if isinstance(extensions, dict) else None

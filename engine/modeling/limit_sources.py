"""Where each promised time limit comes from (时限依据). Every element that carries a limit — a user
task with a `camunda:dueDate`, a timer event — documents its source in the camunda:property
`limit_source`: the published document and clause (`《文件名》第X条`, clause as the document numbers
it), or `local default` (optionally followed by `：` and why) when no published figure backs it. A
boundary timer without its own property takes the source of the task it is attached to (the warning
and overdue timers of one limit share one source).

Process properties that state an amount a model reads (`general_limit_days`, `warning_days_before` …)
are assigned once, by the process's first script, to variables of the same name; the timers read the
variables, and the lint checks that the script's number is the documented property."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from yijianshi.engine.modeling.camunda_dialect import extension_properties
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.time_limits import limit_of

LIMIT_SOURCE = "limit_source"
LOCAL_DEFAULT = "local default"
_CITATION = re.compile(r"《[^《》]+》\s*\S.*")  # a document name, then its clause
_LOCAL = re.compile(re.escape(LOCAL_DEFAULT) + r"(\s*[：:].+)?")
TIMER_PARTS = ("timeDate", "timeDuration", "timeCycle")


@dataclass(frozen=True)
class LimitEntry:
    """One limit a model promises: the element carrying it, its expression and its source."""

    element_id: str
    name: str
    expression: str
    source: str | None
    line: int | None = None

    @property
    def text(self) -> str:
        """The limit in words when a literal amount can be read off, else the expression."""
        limit = limit_of(self.expression)
        return str(limit) if limit is not None else self.expression

    @property
    def is_local_default(self) -> bool:
        return (self.source or "").startswith(LOCAL_DEFAULT)


def source_format_problem(value: str) -> str | None:
    """What is wrong with a `limit_source` value, in Chinese, or None when it is well-formed."""
    value = value.strip()
    if _CITATION.fullmatch(value) or _LOCAL.fullmatch(value):
        return None
    return (f"时限依据“{value}”格式不对：应写“《文件名》条款”（如《中华人民共和国行政许可法》第三十二条），"
            f"或写 {LOCAL_DEFAULT}（本地默认值，可加“：说明”）。")


def timer_expression(event: etree._Element) -> str | None:
    """The expression of a timer event's definition, or None when the event is no timer."""
    definition = event.find(f"{BPMN}timerEventDefinition")
    if definition is None:
        return None
    for part in TIMER_PARTS:
        el = definition.find(f"{BPMN}{part}")
        if el is not None and (el.text or "").strip():
            return (el.text or "").strip()
    return ""


def limits_in(process: etree._Element) -> Iterator[LimitEntry]:
    """Every limit a process carries, in document order: due dates of user tasks and timer events
    (not those of nested processes' own limits twice: each element is reported once)."""
    by_id = {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and el.get("id")}
    for el in process.iter(f"{BPMN}userTask", f"{BPMN}boundaryEvent", f"{BPMN}intermediateCatchEvent",
                           f"{BPMN}startEvent"):
        if el.tag == f"{BPMN}userTask":
            expression = (el.get(f"{CAMUNDA}dueDate") or "").strip()
        else:
            expression = timer_expression(el) or ""
        if not expression:
            continue
        source = extension_properties(el).get(LIMIT_SOURCE)
        if source is None and el.get("attachedToRef"):
            task = by_id.get(el.get("attachedToRef"))
            source = extension_properties(task).get(LIMIT_SOURCE) if task is not None else None
        yield LimitEntry(el.get("id") or "", el.get("name") or el.get("id") or "", expression, source,
                         el.sourceline)


def item_limit_source(process: etree._Element) -> str | None:
    """The source of an item process's promised limit: that of its first user task with one."""
    for entry in limits_in(process):
        if entry.source is not None:
            return entry.source
    return None


def script_assignments(process: etree._Element) -> dict[str, tuple[object, int | None]]:
    """The literal values the process's own scripts assign to plain names: name -> (value, line)."""
    found: dict[str, tuple[object, int | None]] = {}
    for st in process.iter(f"{BPMN}scriptTask"):
        body = st.find(f"{BPMN}script")
        try:
            tree = ast.parse((body.text or "") if body is not None else "")
        except SyntaxError:
            continue  # the expression lint reports it
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                found.setdefault(node.targets[0].id, (node.value.value, st.sourceline))
    return found

"""The problems a deploy finds in a file, located for the designer: scripts and expressions that the
sandbox refuses, timer texts that are neither ISO 8601 nor an expression, a process id defined twice,
elements whose parsed form cannot be stored, and the parser's own exceptions turned into a
`file:line [element]` message (the exception itself goes to the log)."""
from __future__ import annotations

import json
import logging

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.timer_text import TIMER_KINDS, executable, timer_problem
from yijianshi.engine.modeling.unsupported import structure_message, unsupported_problem
from yijianshi.engine.scripting.sandbox import check_script

log = logging.getLogger("yijianshi.deploy")


EXPRESSION_TAGS = {
    f"{BPMN}script": "exec",
    f"{BPMN}conditionExpression": "eval",
    f"{BPMN}timeDate": "eval",
    f"{BPMN}timeDuration": "eval",
    f"{BPMN}timeCycle": "eval",
}


def check_expressions(tree, filename: str) -> list[Problem]:
    """Compile every script and expression in the restricted dialect now, so a forbidden construct
    is a deploy-time problem with a line number rather than a failure in a running case."""
    problems = []
    for el in tree.getroot().iter(*EXPRESSION_TAGS):
        if not (el.text or "").strip() or timer_problem(etree.QName(el).localname, el.text or ""):
            continue  # a timer text that is no expression at all has its own message (check_timers)
        for message in check_script(el.text, EXPRESSION_TAGS[el.tag]):
            problems.append(Problem(filename, el.sourceline, f"表达式或脚本不被允许：{message}", owner(el)))
    for el in tree.getroot().iter(f"{BPMN}userTask"):
        due = el.get(f"{CAMUNDA}dueDate")
        if due:
            for message in check_script(executable("timeDate", due), "eval"):
                problems.append(Problem(filename, el.sourceline, f"办理期限表达式不被允许：{message}", el.get("id")))
    return problems


def check_timers(tree, filename: str) -> list[Problem]:
    """Timer texts that are neither an ISO 8601 literal nor an expression (e.g. a cron cycle)."""
    problems = []
    for el in tree.getroot().iter(*(f"{BPMN}{kind}" for kind in TIMER_KINDS)):
        message = timer_problem(etree.QName(el).localname, el.text or "")
        if message:
            problems.append(Problem(filename, el.sourceline, message, owner(el)))
    return problems


def owner(el) -> str | None:
    """The id of the flow element a nested expression belongs to (the event, not its definition)."""
    while el is not None:
        if el.get("id") and etree.QName(el).localname not in ("timerEventDefinition", "conditionExpression"):
            return el.get("id")
        el = el.getparent()
    return None


def check_duplicate_processes(tree, src, process_files, problems) -> None:
    for process in tree.getroot().iter(f"{BPMN}process"):
        pid = process.get("id")
        if pid in process_files and process_files[pid].filename != src.filename:
            problems.append(Problem(src.filename, process.sourceline,
                                    f"流程 ID “{pid}” 已在 {process_files[pid].filename} 中定义，请改用唯一的 ID。",
                                    pid))



def unsavable_elements(parser, codec, specs) -> list[Problem]:
    """The elements whose parsed form cannot be stored (the parser read them, but no converter
    knows their class: a Java service task, a send or receive task), one problem each."""
    found = []
    registry = codec.serializer.registry
    for spec in specs:
        try:
            node = parser.get_process_parser(spec.name).node
            filename = parser.get_process_parser(spec.name).filename
        except Exception:  # noqa: BLE001 - an unknown process: no location to give
            node, filename = None, spec.file or spec.name
        for ts in spec.task_specs.values():
            try:
                json.dumps(registry.convert(ts))
            except (TypeError, ValueError):
                el = element_by_id(node, ts.bpmn_id) if node is not None else None
                local = etree.QName(el).localname if el is not None else type(ts).__name__
                found.append(unsupported_problem(filename, el.sourceline if el is not None else None,
                                                 local, ts.bpmn_id or ts.name,
                                                 el.get("name") if el is not None else ts.bpmn_name))
    return found


def element_by_id(root, element_id):
    if root is None or not element_id:
        return None
    return next((el for el in root.iter() if isinstance(el.tag, str) and el.get("id") == element_id), None)


def problem_from_validation(err: ValidationException, filename: str, tree=None) -> Problem:
    element = err.id or None
    line = err.line_number if isinstance(err.line_number, int) else None
    if line is None and tree is not None:
        found = element_by_id(tree.getroot(), element)
        line = found.sourceline if found is not None else None
    return Problem(err.file_name or filename, line, structure_message(str(err)), element or err.tag or None)


def problem_from_exception(err: Exception, filename: str, tree=None, process=None) -> Problem:
    """Any other failure while reading a file: located at the element it names (a ValidationException-
    like `id`, else the process being built), in words a designer can act on; the exception itself
    goes to the log for the operators."""
    if isinstance(err, SpiffWorkflowException) and not isinstance(err, ValidationException):
        element = getattr(err, "id", None) or None
    else:
        element = None
    found = element_by_id(tree.getroot(), element) if tree is not None and element else None
    where = found if found is not None else process
    log.warning("model could not be read", extra={"file": filename}, exc_info=err)
    return Problem(filename, where.sourceline if where is not None else None,
                   "本系统无法读取此处的模型内容（可能使用了 Camunda 7 专有、本系统不支持的构造）。"
                   "请对照 README“Writing processes”一节列出的支持构造修改该元素，或删除它后重新上传。",
                   (where.get("id") if where is not None else None))

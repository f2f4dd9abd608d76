"""Lint of the sources of promised time limits (时限依据): every user task due date and timer event
names its source in `limit_source` (or inherits it from the task a boundary timer is attached to),
the value is a `《文件名》条款` citation or `local default`, and a process property that documents an
amount (general_limit_days …) equals the number the process's scripts assign to that name.

Codes (at the start of each message): LS01 a limit without a source, LS02 a malformed source,
LS03 a property and the script that carries it disagree.

LS01 is an error once any file checked together documents a source (a catalogue that follows the
convention, such as processes/): then a new limit without one cannot slip in. Files that document
none (an older upload, a test fixture) get LS01 as a warning instead."""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.camunda_dialect import extension_properties
from yijianshi.engine.modeling.limit_sources import (
    LIMIT_SOURCE, LOCAL_DEFAULT, limits_in, script_assignments, source_format_problem)
from yijianshi.engine.modeling.lint.model_index import LintFile
from yijianshi.engine.modeling.namespaces import BPMN

# Process properties that state an amount the model's timers read through a variable of that name.
AMOUNT_PROPERTY_SUFFIXES = ("_days", "_days_before", "_months")


def uses_limit_sources(files: list[LintFile]) -> bool:
    """Whether any of these files documents a limit source (the catalogue follows the convention)."""
    return any(entry.source is not None for f in files if f.kind == "bpmn"
               for process in f.tree.getroot().iter(f"{BPMN}process") for entry in limits_in(process))


def check_limit_sources(f: LintFile, required: bool = True) -> list[Problem]:
    """LS02 and LS03 always; LS01 when `required` (see uses_limit_sources), else nothing."""
    problems = []
    for process in f.tree.getroot().iter(f"{BPMN}process"):
        for entry in limits_in(process):
            if entry.source is None:
                if required:
                        problems.append(missing_source(f, entry))
                continue
            wrong = source_format_problem(entry.source)
            if wrong:
                problems.append(Problem(f.path, entry.line, f"LS02 “{entry.name}”的{wrong}", entry.element_id))
        problems += _check_amounts(f, process)
    return problems


def missing_sources(f: LintFile) -> list[Problem]:
    """LS01 for every limit of this file that names no source (as warnings where not required)."""
    return [missing_source(f, e) for process in f.tree.getroot().iter(f"{BPMN}process")
            for e in limits_in(process) if e.source is None]


def missing_source(f: LintFile, entry) -> Problem:
    return Problem(f.path, entry.line, f"LS01 时限无依据：“{entry.name}”的时限（{entry.text}）没有 camunda:property "
                   f"{LIMIT_SOURCE}；请写明“《文件名》条款”，无公开依据的写 {LOCAL_DEFAULT}。", entry.element_id)


def _check_amounts(f: LintFile, process) -> list[Problem]:
    props = extension_properties(process)
    assigned = script_assignments(process)
    problems = []
    for name, value in props.items():
        if not name.endswith(AMOUNT_PROPERTY_SUFFIXES) or name not in assigned:
            continue
        script_value, line = assigned[name]
        if str(script_value) != value.strip():
            problems.append(Problem(f.path, line, f"LS03 流程属性 {name} 为 {value}，脚本却赋值 {script_value}："
                                    "计时读取的数值应与流程属性一致。", process.get("id")))
    return problems

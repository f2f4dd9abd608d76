"""Timer definitions as Camunda Modeler writes them: an unquoted ISO 8601 literal (`P3D`, `PT2H`,
`2026-03-01T09:00:00+08:00`, `R3/PT1H`), a JUEL expression (`${workingDays(7)}`) or, as before, a
Python expression (`add_working_days(accepted_at, 5)`, `"P3D"`).

SpiffWorkflow evaluates every timer text as an expression, so before a file is handed to it each
literal becomes the Python string literal of itself; JUEL and Python texts are left to the script
engine. `timer_problem` names what cannot work (a cron cycle, a malformed literal) in Chinese."""
from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.scripting import juel

TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")
_DURATION = re.compile(r"P(?=[0-9.,]*[YMWDTHS])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+W)?(?:[0-9]+D)?"
                       r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:[.,][0-9]+)?S)?)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
                   r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?")
# What a designer writing a literal types: capitals, digits and ISO punctuation, no spaces or calls.
_LOOKS_LITERAL = re.compile(r"[PR0-9][0-9A-Z.,:+/-]*")
_CRON = re.compile(r"\S+(?:\s+\S+){4,6}")


def _is_duration(text: str) -> bool:
    return bool(_DURATION.fullmatch(text)) and not text.endswith("T")


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_cycle(text: str) -> bool:
    match = re.fullmatch(r"R([0-9]*)/(.+)", text)
    if match is None:
        return False
    parts = match.group(2).split("/")
    if len(parts) == 1:
        return _is_duration(parts[0])
    if len(parts) == 2:
        return (_is_date(parts[0]) and _is_duration(parts[1])) or (_is_duration(parts[0]) and _is_date(parts[1]))
    return False


def is_literal(kind: str, text: str | None) -> bool:
    """Whether a timer text of this kind (timeDate/timeDuration/timeCycle) is an ISO 8601 literal."""
    value = (text or "").strip()
    if kind == "timeDuration":
        return _is_duration(value)
    if kind == "timeDate":
        return _is_date(value)
    if kind == "timeCycle":
        return _is_cycle(value)
    return False


def executable(kind: str, text: str) -> str:
    """The timer text SpiffWorkflow should evaluate: a literal quoted, anything else unchanged."""
    return repr(text.strip()) if is_literal(kind, text) else text


def timer_problem(kind: str, text: str) -> str | None:
    """What is wrong with a timer text that is neither a literal nor an expression (Chinese), or None."""
    value = text.strip()
    if kind not in TIMER_KINDS or not value or is_literal(kind, value) or juel.is_juel(value):
        return None
    if kind == "timeCycle" and _CRON.fullmatch(value) and not value.startswith(("R", '"', "'")):
        return (f"循环定时器“{value}”像是 cron 表达式，本引擎不支持。"
                "请改用 ISO 8601 重复间隔，例如 R3/PT1H（每小时一次，共 3 次）。")
    if _LOOKS_LITERAL.fullmatch(value) and not value.isdigit():
        example = {"timeDate": "2026-03-01T09:00:00+08:00", "timeDuration": "P3D 或 PT2H",
                   "timeCycle": "R3/PT1H"}[kind]
        return f"“{value}”不是有效的 ISO 8601 {_WORDS[kind]}，例如 {example}。"
    return None


_WORDS = {"timeDate": "日期时间", "timeDuration": "时长", "timeCycle": "重复间隔"}


_VARIABLE = re.compile(r"\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*")


def make_executable(tree: etree._ElementTree) -> None:
    """Quote every ISO literal timer text of a parsed BPMN file in place (before SpiffWorkflow reads
    it); and name the variable of a multi-instance `camunda:collection="${list}"` (SpiffWorkflow reads
    the attribute as a variable name, so the JUEL brackets would make it look for "${list}")."""
    for el in tree.getroot().iter(*(f"{BPMN}{kind}" for kind in TIMER_KINDS)):
        if el.text and el.text.strip():
            el.text = executable(etree.QName(el).localname, el.text)
    for loop in tree.getroot().iter(f"{BPMN}multiInstanceLoopCharacteristics"):
        for attribute in (f"{CAMUNDA}collection", f"{CAMUNDA}elementVariable"):
            plain = _VARIABLE.fullmatch(loop.get(attribute) or "")
            if plain:
                loop.set(attribute, plain.group(1))

"""Promised time limits (办理时限) as the models write them: the working-day calendar functions'
parameters, the limit a due-date or timer expression states (N working days, calendar days or hours),
and an item process's promised limit."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.scripting.juel import JuelError, as_python

# The parameters of the working-day functions expressions call (engine/deadlines/calendar_holder.py).
CALENDAR_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "add_working_days": ("start", "n", "region"),
    "working_days": ("n", "region"),
    "warning_before": ("n", "before", "region"),
    "is_working_day": ("day", "region"),
}
# Functions whose amount argument `n` states a limit, and its unit.
_LIMIT_UNITS = {"add_working_days": "working_days", "working_days": "working_days", "days": "days", "hours": "hours"}
_PARAMETERS = {**CALENDAR_FUNCTIONS, "days": ("n",), "hours": ("n",)}
LIMIT_WORDS = {"working_days": "%(n)s 个工作日", "days": "%(n)s 日", "hours": "%(n)s 小时"}


@dataclass(frozen=True)
class Limit:
    """A promised time limit: an amount of working days, calendar days or hours."""

    amount: int
    unit: str  # working_days | days | hours

    def __str__(self) -> str:
        return LIMIT_WORDS[self.unit] % {"n": self.amount}


def arguments(call: ast.Call, parameter: str) -> list[ast.expr]:
    """What a call of a calendar function (or days/hours) passes as `parameter`: by keyword, then by
    position."""
    found = [kw.value for kw in call.keywords if kw.arg == parameter]
    names = _PARAMETERS.get(call.func.id, ()) if isinstance(call.func, ast.Name) else ()
    if parameter in names and len(call.args) > names.index(parameter):
        found.append(call.args[names.index(parameter)])
    return found


def limit_of(expression: str | None) -> Limit | None:
    """The limit an expression (Python or JUEL) states: the first call (outermost first) of
    add_working_days, working_days, days or hours with a literal whole amount, or an ISO duration
    literal of whole days or hours; None when none can be read off."""
    if not expression:
        return None
    literal = re.fullmatch(r"P([0-9]+)D|PT([0-9]+)H", expression.strip())  # an ISO duration as Camunda writes it
    if literal:
        return Limit(int(literal.group(1)), "days") if literal.group(1) else Limit(int(literal.group(2)), "hours")
    try:
        tree = ast.parse(as_python(expression).strip(), mode="eval")
    except (SyntaxError, JuelError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _LIMIT_UNITS:
            for arg in arguments(node, "n"):
                if isinstance(arg, ast.Constant) and type(arg.value) is int and arg.value >= 0:
                    return Limit(arg.value, _LIMIT_UNITS[node.func.id])
    return None


def item_limit(process) -> int | None:
    """The promised limit (working days) of an item process: N of the interrupting boundary timer
    `add_working_days(start, N)` on its first user task that has one, else of its due date."""
    tasks = list(process.iter(f"{BPMN}userTask"))
    for task in tasks:
        for b in process.iter(f"{BPMN}boundaryEvent"):
            if b.get("attachedToRef") != task.get("id") or b.get("cancelActivity", "true") == "false":
                continue
            for t in b.iter(f"{BPMN}timeDate"):
                n = _working_days(t.text)
                if n is not None:
                    return n
    for task in tasks:
        n = _working_days(task.get(f"{CAMUNDA}dueDate"))
        if n is not None:
            return n
    return None


def _working_days(expression: str | None) -> int | None:
    limit = limit_of(expression)
    return limit.amount if limit is not None and limit.unit == "working_days" else None

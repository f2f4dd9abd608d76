"""Lint of timers and due dates on the working-day calendar: each evaluates with sample data to a
zoned time (or an ISO duration) not before it was armed, and names only registered regions."""
from __future__ import annotations

import ast
from datetime import date, datetime, timedelta

from lxml import etree

from yijianshi.engine.clock import SHANGHAI, Clock
from yijianshi.engine.deadlines.timers import TIME_VALUE_KINDS, UNRESOLVED, as_point_in_time
from yijianshi.engine.deadlines.working_calendar import WorkingCalendar, bundled_schedules
from yijianshi.engine.errors import Problem, ScriptError
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex, owner_id
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.registry import Registry
from yijianshi.engine.modeling.time_limits import CALENDAR_FUNCTIONS, arguments
from yijianshi.engine.modeling.timer_text import executable, timer_problem
from yijianshi.engine.scripting.isolated import IsolatedEnvironment
from yijianshi.engine.scripting.juel import HELPERS as juel_helpers
from yijianshi.engine.scripting.juel import JuelError, as_python
from yijianshi.engine.scripting.sandbox import check_script

SAMPLE_START = datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)  # a Friday before a holiday: a demanding sample


class _BundledCalendar:
    """The official schedules shipped with the engine, for evaluating expressions without a database."""

    calendar = WorkingCalendar(bundled_schedules())

    @staticmethod
    def refresh_if_changed() -> bool:
        return False


class _SampleClock(Clock):
    """The clock of the lint's sample evaluations: `now()` is the sample start."""

    def now(self) -> datetime:
        return SAMPLE_START


def _sample_environment() -> IsolatedEnvironment:
    # Designers' expressions cost no more here than when a case runs them: hard limits, in a worker.
    return IsolatedEnvironment(_SampleClock(), _BundledCalendar())


def _placeholder(name: str, model: ModelIndex):
    """A sample value for a variable an expression reads, from how the models define it."""
    if name in model.time_vars or name.endswith("_at"):
        return SAMPLE_START.isoformat(timespec="seconds")
    ftype, default, low = model.field_types.get(name, (None, None, None))
    if ftype == "long":
        for candidate in (default, low):
            if candidate is None:
                continue
            try:
                return int(candidate)
            except (TypeError, ValueError):
                continue
        return 5
    if ftype == "date":
        return SAMPLE_START.date().isoformat()
    if ftype == "boolean":
        return False
    if ftype is not None:
        return default or ""
    if "days" in name or "limit" in name:
        return 5
    return None


def _parse(expression: str) -> ast.Expression | None:
    """The Python AST of a Python or JUEL expression; None when it does not parse."""
    try:
        return ast.parse(as_python(expression).strip(), mode="eval")
    except (SyntaxError, JuelError):
        return None


def _free_names(expression: str) -> set[str]:
    tree = _parse(expression)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def check_timers(f: LintFile, model: ModelIndex, registry: Registry | None) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    env = _sample_environment()
    checks = []
    for el in root.iter(f"{BPMN}timeDate", f"{BPMN}timeDuration", f"{BPMN}timeCycle"):
        if expression := (el.text or "").strip():
            kind = etree.QName(el).localname
            if timer_problem(kind, expression):
                continue  # reported by the expression rule
            checks.append((executable(kind, expression), kind, el.sourceline, owner_id(el)))
    for ut in root.iter(f"{BPMN}userTask"):
        if due := ut.get(f"{CAMUNDA}dueDate"):
            checks.append((executable("timeDate", due.strip()), "dueDate", ut.sourceline, ut.get("id")))
    for expression, kind, line, owner in checks:
        if check_script(expression, "eval"):
            continue  # reported by the expression rule
        problems += _region_arguments(f.path, expression, line, owner, registry)
        names = _free_names(expression) - set(env.globals) - set(juel_helpers)
        context = {n: _placeholder(n, model) for n in names}
        unknown = sorted(n for n, v in context.items() if v is None)
        if unknown:
            continue  # cannot guess sample values; the engine reports failures when the timer arms
        what = {"dueDate": "办理期限", "timeDate": "定时器时间", "timeDuration": "定时器时长", "timeCycle": "循环定时器"}[kind]
        try:
            value = env.evaluate(expression, context)
        except ScriptError as err:
            problems.append(Problem(f.path, line, f"{what}表达式在示例数据下无法计算：{err}", owner))
            continue
        message = _check_time_value(kind, value)
        if message:
            problems.append(Problem(f.path, line, f"{what}表达式“{expression}”{message}", owner))
    return problems


def _check_time_value(kind: str, value) -> str | None:
    if kind == "timeDuration":
        from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

        try:
            TimerEventDefinition.parse_iso_duration(str(value))
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception for a malformed duration
            return f"的结果 {value!r} 不是 ISO 8601 时长（例如 \"P3D\"）。"
        return None
    if kind == "timeCycle":
        return None if isinstance(value, str) and value.startswith("R") else f"的结果 {value!r} 不是循环定时（例如 \"R3/PT24H\"）。"
    if not isinstance(value, (datetime, date, str)):
        return f"的结果 {value!r} 不是{TIME_VALUE_KINDS}。请使用 now()、add_working_days(...) 等函数。"
    try:
        when = as_point_in_time(value)
    except ValueError:
        return f"的结果 {value!r} 不是日期时间。请使用 add_working_days(...) 等日历函数。"
    if isinstance(value, str) and datetime.fromisoformat(value.strip()).tzinfo is None:
        return "得到的时间没有时区，会按服务器时区理解。请用日历函数或 now() 计算（结果带 +08:00）。"
    if when == UNRESOLVED:
        return "需要尚未公布的年度节假日安排（示例起算日 2025-09-26）。"
    if when < SAMPLE_START - timedelta(seconds=1):
        return f"得到的时间 {when.isoformat()} 早于起算时间（示例 {SAMPLE_START.isoformat()}），期限天数可能写成了负数。"
    return None


def _region_arguments(path, expression, line, owner, registry) -> list[Problem]:
    if registry is None:
        return []
    problems = []
    tree = _parse(expression)
    if tree is None:
        return []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in CALENDAR_FUNCTIONS):
            continue
        for arg in arguments(call, "region"):
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and registry.kind(arg.value) != "region":
                problems.append(Problem(path, line, f"地区“{arg.value}”未在登记表中登记为地区（kind=region）。", owner))
    return problems

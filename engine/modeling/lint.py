"""Designer lint: rules beyond the XSD and the engine's own deploy checks, as `file:line` problems a
designer can act on. Pure functions over the parsed files; nothing is deployed or run except
expressions, which are evaluated in the restricted sandbox on sample data.

Rules:
- every user task is assigned to a department or role registered in registry.json (candidateGroups,
  else its lane) and has a form or says it is form-less;
- form field ids are English snake_case, labels and task names are Chinese;
- every call activity calls a process among the files, every business rule task a decision;
- scripts, conditions, timers, due dates and DMN cells use no forbidden construct;
- every timer and due date evaluates on the working-day calendar with sample data to a zoned time
  (or an ISO duration), not before it was armed; region arguments are registered regions;
- diverging exclusive and inclusive gateways have a default flow and conditions on the others;
- every message a process waits for has a correlation property, every thrown message a payload;
  every signal a process waits for is thrown somewhere;
- scenario metadata for the model metrics (materials, form_fields, visits) is well-formed;
- a file with a diagram draws every element: a shape for every flow node, lane and pool, an edge
  with at least two waypoints for every sequence flow (else the modeler shows them stacked at 0,0)."""
from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from lxml import etree

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta, read_user_tasks
from yijianshi.engine.deadlines.working_calendar import WorkingCalendar, bundled_schedules
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.modeling.definitions import SourceFile, read_sources
from yijianshi.engine.errors import DefinitionError, Problem, ScriptError
from yijianshi.engine.modeling.registry import Registry, find_registry, load_registry
from yijianshi.engine.scripting.sandbox import RestrictedEnvironment, check_script
from yijianshi.engine.deadlines.timers import TIME_VALUE_KINDS, UNRESOLVED, as_point_in_time
from yijianshi.engine.modeling.xml_loading import kind_of, parse_xml

B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
C = "{http://camunda.org/schema/1.0/bpmn}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SAMPLE_START = datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)  # a Friday before a holiday: a demanding sample
_FIELD_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_CALENDAR_FUNCTIONS = ("add_working_days", "working_days", "warning_before", "is_working_day")
SELECTION_FIELDS = re.compile(r"item_choice|want_[a-z0-9_]+")  # the merged form's choice of items


@dataclass
class _File:
    path: str
    tree: etree._ElementTree
    kind: str  # bpmn | dmn
    metas: dict[str, UserTaskMeta] = field(default_factory=dict)


@dataclass
class _Model:
    """What the rules need across all files: processes, decisions, variables, signals."""

    files: list[_File]
    processes: dict[str, tuple[_File, etree._Element]] = field(default_factory=dict)
    decisions: set[str] = field(default_factory=set)
    field_types: dict[str, tuple[str, str | None, object]] = field(default_factory=dict)  # id -> (type, default, min)
    time_vars: set[str] = field(default_factory=set)  # variables scripts set from now()/now_iso()
    thrown_signals: set[str] = field(default_factory=set)


def lint_files(paths: Iterable[str | Path], registry: Registry | None = None) -> list[Problem]:
    """Every lint problem in the BPMN/DMN files at these paths (folders are searched recursively).
    The registry is the registry.json in or above the paths unless one is given."""
    paths = list(paths)
    problems: list[Problem] = []
    try:
        sources = read_sources(paths)
    except DefinitionError as err:
        return err.problems
    if registry is None:
        found = find_registry(paths)
        if found is not None:
            try:
                registry = load_registry(found)
            except DefinitionError as err:
                problems.extend(err.problems)
    return problems + lint_sources(sources, registry)


def lint_sources(sources: Iterable[SourceFile], registry: Registry | None = None) -> list[Problem]:
    """Every lint problem in these files, read already (an upload); without a registry the rules
    that need one are skipped."""
    problems: list[Problem] = []
    files = []
    for src in sources:
        try:
            tree = parse_xml(src.data, src.filename)
            files.append(_File(src.filename, tree, kind_of(tree)))
        except DefinitionError:
            continue  # unreadable files are the schema check's to report
    model = _index(files)
    for f in files:
        if f.kind == "dmn":
            problems += _dmn_expressions(f)
            continue
        problems += _user_tasks(f, registry)
        problems += _call_targets(f, model)
        problems += _expressions(f)
        problems += _timers(f, model, registry)
        problems += _gateways(f)
        problems += _messages(f)
        problems += _signals(f, model)
        problems += _scenario_metadata(f, model)
        problems += _diagram(f)
    return problems


# -- the index ---------------------------------------------------------------------------------------

def _index(files: list[_File]) -> _Model:
    model = _Model(files)
    for f in files:
        root = f.tree.getroot()
        if f.kind == "dmn":
            model.decisions.update(d.get("id") for d in root.iter("{*}decision"))
            continue
        f.metas, _ = read_user_tasks(f.tree, f.path)
        for process in root.iter(f"{B}process"):
            model.processes.setdefault(process.get("id"), (f, process))
        for ff in root.iter(f"{C}formField"):
            model.field_types.setdefault(ff.get("id"), (ff.get("type"), ff.get("defaultValue"), _min_of(ff)))
        for s in root.iter(f"{B}script"):
            model.time_vars.update(_time_assignments(s.text or ""))
        for ev in root.iter(f"{B}intermediateThrowEvent", f"{B}endEvent"):
            for sd in ev.iter(f"{B}signalEventDefinition"):
                name = _signal_name(root, sd.get("signalRef"))
                if name:
                    model.thrown_signals.add(name)
    return model


def _min_of(ff) -> str | None:
    for c in ff.iter(f"{C}constraint"):
        if c.get("name") == "min":
            return c.get("config")
    return None


def _time_assignments(script: str) -> set[str]:
    """Names a script assigns from now() / now_iso(): times later expressions count from."""
    try:
        tree = ast.parse(textwrap.dedent(script).strip())
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id in ("now", "now_iso"):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _signal_name(root, ref: str | None) -> str | None:
    for s in root.iter(f"{B}signal"):
        if s.get("id") == ref:
            return s.get("name") or ref
    return None


def _owner_id(el) -> str | None:
    while el is not None:
        if el.get("id") and etree.QName(el).localname not in ("timerEventDefinition", "conditionExpression"):
            return el.get("id")
        el = el.getparent()
    return None


# -- user tasks ----------------------------------------------------------------------------------------

def _user_tasks(f: _File, registry: Registry | None) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    elements = {el.get("id"): el for el in root.iter(f"{B}userTask")}
    for meta in f.metas.values():
        def p(msg: str, line: int | None = None, meta: UserTaskMeta = meta) -> None:
            problems.append(Problem(f.path, line or meta.line, msg, meta.task_id))

        if registry is not None:
            where = "camunda:candidateGroups" if meta.candidate_groups else "泳道名称"
            for g in meta.groups:
                kind = registry.kind(g)
                if kind is None:
                    p(f"办理部门或角色“{g}”（{where}）未在 {Path(registry.path).name} 登记。请改用已登记的代码，"
                      "或先在登记表中新增该部门/角色。")
                elif kind == "region":
                    p(f"“{g}”是地区代码，不能作为办理部门或角色（{where}）。")
        if meta.form is None and not meta.formless:
            p("用户任务既没有表单，也没有声明为无表单任务。请添加 camunda:formData 表单字段，或添加扩展属性 "
              "formless=true。")
        if not _CJK_RE.search(meta.name or ""):
            p(f"用户任务名称“{meta.name}”应使用简体中文，办事人员和申请人在待办中看到的就是它。")
        if meta.form is not None:
            el = elements.get(meta.task_id)
            lines = {ff.get("id"): ff.sourceline for ff in el.iter(f"{C}formField")} if el is not None else {}
            for fld in meta.form.fields:
                line = lines.get(fld.id, meta.line)
                if not _FIELD_ID_RE.fullmatch(fld.id):
                    p(f"表单字段 id “{fld.id}” 应为英文小写加下划线（snake_case），例如 enterprise_name。", line)
                if not _CJK_RE.search(fld.label or ""):
                    p(f"表单字段 “{fld.id}” 的标签“{fld.label}”应使用简体中文。", line)
    return problems


# -- references ----------------------------------------------------------------------------------------

def _call_targets(f: _File, model: _Model) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for ca in root.iter(f"{B}callActivity"):
        target = (ca.get("calledElement") or "").strip()
        if not target:
            problems.append(Problem(f.path, ca.sourceline, "调用活动没有设置被调用的流程（calledElement）。", ca.get("id")))
        elif target not in model.processes:
            problems.append(Problem(f.path, ca.sourceline, f"调用活动引用的流程“{target}”不在这些文件中。"
                                    "请检查流程 ID，或把被调用流程的文件一起校验、部署。", ca.get("id")))
    for brt in root.iter(f"{B}businessRuleTask"):
        ref = brt.get(f"{C}decisionRef")
        if ref and ref not in model.decisions:
            problems.append(Problem(f.path, brt.sourceline, f"业务规则任务引用的决策“{ref}”不在这些 DMN 文件中。",
                                    brt.get("id")))
    return problems


# -- expressions ---------------------------------------------------------------------------------------

_MODES = {f"{B}script": "exec", f"{B}conditionExpression": "eval", f"{B}timeDate": "eval",
          f"{B}timeDuration": "eval", f"{B}timeCycle": "eval"}


def _expressions(f: _File) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for el in root.iter(*_MODES):
        if (el.text or "").strip():
            for message in check_script(el.text, _MODES[el.tag]):
                problems.append(Problem(f.path, el.sourceline, f"表达式或脚本使用了不允许的写法：{message}", _owner_id(el)))
    for ut in root.iter(f"{B}userTask"):
        due = ut.get(f"{C}dueDate")
        if due:
            for message in check_script(due, "eval"):
                problems.append(Problem(f.path, ut.sourceline, f"办理期限表达式使用了不允许的写法：{message}", ut.get("id")))
    return problems


def _dmn_expressions(f: _File) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for el in root.iter("{*}inputExpression", "{*}outputEntry"):
        text = el.find("{*}text")
        if text is not None and (text.text or "").strip():
            for message in check_script(text.text, "eval"):
                problems.append(Problem(f.path, text.sourceline, f"决策表单元格使用了不允许的写法：{message}",
                                        el.get("id")))
    for el in root.iter("{*}inputEntry"):
        text = el.find("{*}text")
        value = (text.text or "").strip() if text is not None else ""
        if value in ("", "-"):
            continue
        value = value.replace("?", "dmninputexpr")
        # The DMN engine compares with == when the entry is an expression, else prefixes the input.
        if check_script(value, "eval") and check_script(f"dmninputexpr {value}", "eval"):
            for message in check_script(value, "eval"):
                problems.append(Problem(f.path, text.sourceline, f"决策表条件单元格使用了不允许的写法：{message}",
                                        el.get("id")))
    return problems


# -- timers and due dates on the calendar --------------------------------------------------------------

class _BundledCalendar:
    """The official schedules shipped with the engine, for evaluating expressions without a database."""

    calendar = WorkingCalendar(bundled_schedules())

    @staticmethod
    def refresh_if_changed() -> bool:
        return False


def _sample_environment() -> RestrictedEnvironment:
    from yijianshi.engine.deadlines.calendar_holder import calendar_functions

    def now():
        return SAMPLE_START

    functions = {"now": now, "now_iso": lambda: SAMPLE_START.isoformat(timespec="seconds"),
                 "today": lambda: SAMPLE_START.date().isoformat(), "days": lambda n: timedelta(days=n),
                 "hours": lambda n: timedelta(hours=n)}
    functions.update(calendar_functions(_BundledCalendar(), now))
    return RestrictedEnvironment(functions)


def _placeholder(name: str, model: _Model):
    """A sample value for a variable an expression reads, from how the models define it."""
    if name in model.time_vars or name.endswith("_at"):
        return SAMPLE_START.isoformat(timespec="seconds")
    ftype, default, low = model.field_types.get(name, (None, None, None))
    if ftype == "long":
        for candidate in (default, low):
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


def _free_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _timers(f: _File, model: _Model, registry: Registry | None) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    env = _sample_environment()
    checks = []
    for el in root.iter(f"{B}timeDate", f"{B}timeDuration", f"{B}timeCycle"):
        if (el.text or "").strip():
            checks.append((el.text.strip(), etree.QName(el).localname, el.sourceline, _owner_id(el)))
    for ut in root.iter(f"{B}userTask"):
        if ut.get(f"{C}dueDate"):
            checks.append((ut.get(f"{C}dueDate").strip(), "dueDate", ut.sourceline, ut.get("id")))
    for expression, kind, line, owner in checks:
        if check_script(expression, "eval"):
            continue  # reported by the expression rule
        problems += _region_arguments(f.path, expression, line, owner, registry)
        names = _free_names(expression) - set(env.globals)
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
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _CALENDAR_FUNCTIONS):
            continue
        position = {"add_working_days": 2, "working_days": 1, "warning_before": 2, "is_working_day": 1}[call.func.id]
        args = [kw.value for kw in call.keywords if kw.arg == "region"]
        if len(call.args) > position:
            args.append(call.args[position])
        for arg in args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and registry.kind(arg.value) != "region":
                problems.append(Problem(path, line, f"地区“{arg.value}”未在登记表中登记为地区（kind=region）。", owner))
    return problems


# -- gateways ------------------------------------------------------------------------------------------

def _gateways(f: _File) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for process in root.iter(f"{B}process"):
        flows = {fl.get("id"): fl for fl in process.iter(f"{B}sequenceFlow")}
        outgoing: dict[str, list] = {}
        for fl in flows.values():
            outgoing.setdefault(fl.get("sourceRef"), []).append(fl)
        for gw in process.iter(f"{B}exclusiveGateway", f"{B}inclusiveGateway"):
            outs = outgoing.get(gw.get("id"), [])
            if len(outs) < 2:
                continue
            default = gw.get("default")
            kind = "排他网关" if gw.tag == f"{B}exclusiveGateway" else "包容网关"
            if not default:
                problems.append(Problem(f.path, gw.sourceline, f"{kind}有 {len(outs)} 条出口但没有默认流向：所有条件都不成立时"
                                        "案件会出错停住。请把其中一条设为默认流（default）。", gw.get("id")))
            for fl in outs:
                if fl.get("id") != default and fl.find(f"{B}conditionExpression") is None:
                    problems.append(Problem(f.path, fl.sourceline, f"{kind}“{gw.get('name') or gw.get('id')}”的出口"
                                            f"“{fl.get('name') or fl.get('id')}”既不是默认流，也没有条件。", fl.get("id")))
    return problems


# -- messages and signals ------------------------------------------------------------------------------

_CATCHERS = (f"{B}intermediateCatchEvent", f"{B}boundaryEvent", f"{B}startEvent")
_THROWERS = (f"{B}intermediateThrowEvent", f"{B}endEvent")


def _messages(f: _File) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    messages = {m.get("id"): m for m in root.iter(f"{B}message")}
    correlated = {e.get("messageRef") for e in root.iter(f"{B}correlationPropertyRetrievalExpression")}
    for ev in root.iter(*_CATCHERS, *_THROWERS, f"{B}receiveTask", f"{B}sendTask"):
        for md in ([ev] if ev.tag in (f"{B}receiveTask", f"{B}sendTask") else ev.iter(f"{B}messageEventDefinition")):
            ref = md.get("messageRef")
            if ref not in messages:
                problems.append(Problem(f.path, md.sourceline, f"消息事件引用的消息“{ref}”没有定义（bpmn:message）。",
                                        ev.get("id")))
                continue
            name = messages[ref].get("name") or ref
            catching = ev.tag in _CATCHERS or ev.tag == f"{B}receiveTask"
            if catching and ref not in correlated:
                problems.append(Problem(f.path, messages[ref].sourceline, f"消息“{name}”没有关联属性：案件等待它时，"
                                        "回复只能按业务编号投递。请添加 bpmn:correlationProperty 及其对该消息的取值表达式"
                                        "（例如办件编号、12345 工单号）。", ref))
            if not catching and not md.get(f"{C}expression"):
                problems.append(Problem(f.path, md.sourceline, f"发出的消息“{name}”没有内容表达式（camunda:expression），"
                                        "接收方无法知道它属于哪个案件。请在内容中带上关联值。", ev.get("id")))
    return problems


def _signals(f: _File, model: _Model) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for ev in root.iter(*_CATCHERS):
        for sd in ev.iter(f"{B}signalEventDefinition"):
            name = _signal_name(root, sd.get("signalRef"))
            if name is None:
                problems.append(Problem(f.path, sd.sourceline, f"信号事件引用的信号“{sd.get('signalRef')}”没有定义（bpmn:signal）。",
                                        ev.get("id")))
            elif name not in model.thrown_signals:
                problems.append(Problem(f.path, ev.sourceline, f"等待的信号“{name}”在这些流程中没有任何地方抛出，"
                                        "此事件永远不会触发。", ev.get("id")))
    return problems


# -- scenario metadata (the model metrics) --------------------------------------------------------------

def _properties(el) -> dict[str, str]:
    ext = el.find(f"{B}extensionElements")
    if ext is None:
        return {}
    return {p.get("name"): p.get("value") or "" for p in ext.iterfind(f"{C}properties/{C}property")}


def _scenario_metadata(f: _File, model: _Model) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for process in root.iter(f"{B}process"):
        props = _properties(process)
        for key in ("visits_before", "visits"):
            if key in props and not props[key].strip().isdigit():
                problems.append(Problem(f.path, process.sourceline, f"流程属性 {key} 应为非负整数（跑动次数），而不是“{props[key]}”。",
                                        process.get("id")))
        entry_fields = _entry_form_fields(f, process)
        if entry_fields is None:
            continue  # not a scenario: no applicant form
        for ca in process.iter(f"{B}callActivity"):
            target = model.processes.get(ca.get("calledElement"))
            if target is None:
                continue
            tfile, tprocess = target
            item = _properties(tprocess)
            missing = [k for k in ("materials", "form_fields", "visits_before") if k not in item]
            if missing:
                problems.append(Problem(tfile.path, tprocess.sourceline, "事项流程缺少场景指标属性 "
                                        f"{'、'.join(missing)}（camunda:properties），无法计算“一表申请、一套材料、跑动次数”指标。",
                                        tprocess.get("id")))
            unknown = [x for x in _split(item.get("form_fields", ""), ",") if x not in entry_fields]
            if unknown:
                problems.append(Problem(tfile.path, tprocess.sourceline, f"form_fields 中的 {'、'.join(unknown)} 不是场景"
                                        f"“{process.get('id')}”一表申请中的字段。", tprocess.get("id")))
    return problems


def _entry_form_fields(f: _File, process) -> set[str] | None:
    """The fields of the applicant's first form in a scenario process, or None if it has none."""
    metas = [m for m in f.metas.values() if m.process_id == process.get("id") and "applicant" in m.groups and m.form]
    if not metas:
        return None
    first = min(metas, key=lambda m: m.line or 0)
    return {fld.id for fld in first.form.fields}


def _split(text: str, sep: str) -> list[str]:
    return [x.strip() for x in text.split(sep) if x.strip()]


# -- diagram interchange ---------------------------------------------------------------------------

DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
_DRAWN = ("task", "userTask", "scriptTask", "serviceTask", "businessRuleTask", "callActivity", "subProcess",
          "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
          "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "sequenceFlow",
          "lane", "participant", "receiveTask", "sendTask", "manualTask")


def _diagram(f: _File) -> list[Problem]:
    """Elements without diagram interchange in a file that has a diagram."""
    root = f.tree.getroot()
    if root.find(f"{DI}BPMNDiagram") is None:
        return []
    shapes = {el.get("bpmnElement"): el for el in root.iter(f"{DI}BPMNShape")}
    edges = {el.get("bpmnElement"): el for el in root.iter(f"{DI}BPMNEdge")}
    problems = []
    for el in root.iter(*(f"{B}{t}" for t in _DRAWN)):
        eid = el.get("id")
        if el.tag == f"{B}sequenceFlow":
            edge = edges.get(eid)
            if edge is None or len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) < 2:
                problems.append(Problem(f.path, el.sourceline, "顺序流在图中没有连线（BPMNEdge 及至少两个拐点），"
                                        "建模工具无法显示。请在建模工具中重新连线后保存。", eid))
        elif eid not in shapes or shapes[eid].find("{http://www.omg.org/spec/DD/20100524/DC}Bounds") is None:
            problems.append(Problem(f.path, el.sourceline, "元素在图中没有位置（BPMNShape），建模工具会把它画在左上角。"
                                    "请在建模工具中摆放后保存。", eid))
    return problems

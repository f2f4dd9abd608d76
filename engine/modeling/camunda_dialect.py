"""What the application reads from Camunda-flavoured BPMN itself: user-task assignment (candidate
groups, candidate users and the assignee, each entry a name or a `${...}` expression evaluated when
the task becomes ready), due and follow-up dates (an expression or an ISO date-time literal), the
priority, forms, and the start event's camunda:initiator."""
from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.forms import FIELD_TYPES, FORMATS, Form, FormField, coerce_value, parse_iso_date
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.scripting.juel import is_juel
from yijianshi.engine.scripting.sandbox import check_script

_CONSTRAINTS = ("required", "readonly", "minlength", "maxlength", "min", "max", *FORMATS,
                "required_if", "at_least_one", "confirm", "checked", "shown_if")
_SHOWN_IF_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(=[^=,]+)?")
# Containers whose lanes/flowNodeRefs can place the user tasks nested inside them.
_SUBPROCESS_TAGS = {f"{BPMN}subProcess", f"{BPMN}transaction", f"{BPMN}adHocSubProcess"}


_VARIABLE_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class UserTaskMeta:
    """Assignment, due date and form of one bpmn:userTask."""

    process_id: str
    task_id: str
    name: str
    line: int | None
    candidate_groups: tuple[str, ...] = ()
    lane: str | None = None
    due_date: str | None = None
    form: Form | None = None
    formless: bool = False
    assignee: str | None = None  # camunda:assignee: a user name or a `${...}` expression
    candidate_users: tuple[str, ...] = ()  # camunda:candidateUsers: names and `${...}` expressions
    priority: str | None = None  # camunda:priority: an integer or a `${...}` expression
    follow_up_date: str | None = None  # camunda:followUpDate: like due_date
    # extension property record_actor: the variable that keeps who completed the task (首问负责:
    # a later step's camunda:assignee="${accepted_by}" gives it back to that clerk)
    record_actor: str | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        """Groups allowed to work on the task: explicit candidate groups, else the lane (unless the
        task names its people: an assignee or candidate users)."""
        if self.candidate_groups or self.assignee or self.candidate_users:
            return self.candidate_groups
        return (self.lane,) if self.lane else ()

    @property
    def assigned(self) -> bool:
        """Whether anyone is named to work on the task (groups, lane, candidate users or assignee)."""
        return bool(self.groups or self.assignee or self.candidate_users)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict."""
        return {"process_id": self.process_id, "task_id": self.task_id, "name": self.name, "line": self.line,
                "candidate_groups": list(self.candidate_groups), "lane": self.lane, "due_date": self.due_date,
                "form": self.form.to_dict() if self.form is not None else None, "formless": self.formless,
                "assignee": self.assignee, "candidate_users": list(self.candidate_users),
                "priority": self.priority, "follow_up_date": self.follow_up_date,
                "record_actor": self.record_actor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserTaskMeta:
        """Rebuild from to_dict() output."""
        form = data.get("form")
        return cls(process_id=data["process_id"], task_id=data["task_id"], name=data.get("name") or "",
                   line=data.get("line"), candidate_groups=tuple(data.get("candidate_groups", ())),
                   lane=data.get("lane"), due_date=data.get("due_date"),
                   form=Form.from_dict(form) if form is not None else None,
                   formless=bool(data.get("formless", False)), assignee=data.get("assignee"),
                   candidate_users=tuple(data.get("candidate_users", ())), priority=data.get("priority"),
                   follow_up_date=data.get("follow_up_date"), record_actor=data.get("record_actor"))


class _Reporter:
    """Collects problems for one task so each message carries the file, line and task id."""

    def __init__(self, filename: str, task_id: str, problems: list[Problem]):
        self.filename, self.task_id, self.problems = filename, task_id, problems

    def __call__(self, el: etree._Element, message: str) -> None:
        self.problems.append(Problem(self.filename, el.sourceline, message, self.task_id))


def _lane_names(container: etree._Element) -> dict[str, str]:
    """Map flow node id -> name of the innermost lane of this container that references it."""
    names: dict[str, str] = {}
    for lane_set in container.findall(f"{BPMN}laneSet"):
        # Child lanes follow their parent in document order, so later (inner) lanes win.
        for lane in lane_set.iter(f"{BPMN}lane"):
            name = (lane.get("name") or "").strip()
            if not name:
                continue
            for ref in lane.findall(f"{BPMN}flowNodeRef"):
                if ref.text and ref.text.strip():
                    names[ref.text.strip()] = name
    return names


def _lane_of(task: etree._Element, lanes: dict[etree._Element, dict[str, str]]) -> str | None:
    """Lane of the task, else of its nearest enclosing (sub)process that lies in a lane."""
    node_id = task.get("id")
    # Keyed by element (not id()): the dict keeps each lxml proxy alive, so keys cannot be recycled.
    for ancestor in task.iterancestors():
        if ancestor.tag in _SUBPROCESS_TAGS or ancestor.tag == f"{BPMN}process":
            if ancestor not in lanes:
                lanes[ancestor] = _lane_names(ancestor)
            table = lanes[ancestor]
            if node_id in table:
                return table[node_id]
            node_id = ancestor.get("id")
    return None


def split_list(text: str | None, sep: str = ",") -> tuple[str, ...]:
    """The non-empty entries of a list written in one attribute or property ("market, fire")."""
    return tuple(x.strip() for x in (text or "").split(sep) if x.strip())


def split_groups(text: str | None) -> tuple[str, ...]:
    """The entries of camunda:candidateGroups: names and `${...}` expressions (a comma inside an
    expression does not split it)."""
    entries: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text or "":
        if char == "," and depth == 0:
            entries.append("".join(current))
            current = []
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        current.append(char)
    entries.append("".join(current))
    return tuple(x.strip() for x in entries if x.strip())


def extension_properties(el: etree._Element) -> dict[str, str]:
    """The camunda:properties of an element, name -> value (a later property of the same name wins)."""
    ext = el.find(f"{BPMN}extensionElements")
    if ext is None:
        return {}
    return {p.get("name") or "": p.get("value") or ""
            for p in ext.iterfind(f"{CAMUNDA}properties/{CAMUNDA}property")}


def _is_formless(ext: etree._Element | None) -> bool:
    if ext is None:
        return False
    return any((prop.get("name") or "").strip() == "formless"
               and (prop.get("value") or "").strip().lower() == "true"
               for prop in ext.iterfind(f"{CAMUNDA}properties/{CAMUNDA}property"))


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _int_config(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _float_config(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _read_field(xml_field: etree._Element, report: _Reporter) -> FormField | None:
    """Build one FormField, reporting each designer mistake; None when the field is unusable."""
    field_id = (xml_field.get("id") or "").strip()
    field_type = (xml_field.get("type") or "").strip()
    usable = True
    if not field_id.isidentifier() or keyword.iskeyword(field_id):
        report(xml_field, f"表单字段 id “{field_id}” 不是合法的变量名（字段 id 会成为流程变量）。"
                          "请只用字母、数字、下划线，且不要以数字开头。")
        usable = False
    elif field_id.startswith("_"):
        # The restricted script environment refuses names starting with "_", so scripts could never read it.
        report(xml_field, f"表单字段 id “{field_id}” 不能以下划线开头，否则脚本无法读取。请改名。")
        usable = False
    if not field_type:
        report(xml_field, f"表单字段 “{field_id}” 缺少 type 属性。请选择 {' / '.join(FIELD_TYPES)} 之一。")
        usable = False
    elif field_type not in FIELD_TYPES:
        report(xml_field, f"表单字段 “{field_id}” 的类型 “{field_type}” 不受支持。"
                          f"请使用 {' / '.join(FIELD_TYPES)} 之一。")
        usable = False
    options = []
    for value in xml_field.iterfind(f"{CAMUNDA}value"):
        option_id = (value.get("id") or "").strip()
        if not option_id:
            report(value, f"枚举字段 “{field_id}” 有一个选项缺少 id。请为每个选项设置 id。")
            continue
        options.append((option_id, value.get("name") or option_id))
    if field_type == "enum" and not options:
        report(xml_field, f"枚举字段 “{field_id}” 没有任何选项。请添加至少一个 camunda:value。")
        usable = False
    attrs: dict[str, Any] = {"required": False, "readonly": False}
    for constraint in xml_field.iterfind(f"{CAMUNDA}validation/{CAMUNDA}constraint"):
        name, config = (constraint.get("name") or "").strip(), constraint.get("config")
        if name in ("required", "readonly"):
            attrs[name] = (config or "true").strip().lower() != "false"
        elif name == "checked":
            # Our extension: "required" only asks for a value (false is one), this asks for a tick.
            if field_type != "boolean":
                report(constraint, f"字段 “{field_id}” 不是 boolean 类型，不能使用 checked（必须勾选）约束。"
                                   "必填请用 required。")
            else:
                attrs[name] = (config or "true").strip().lower() != "false"
        elif name in ("minlength", "maxlength"):
            attrs[name] = _int_config(config)
            if attrs[name] is None:
                report(constraint, f"字段 “{field_id}” 的 {name} 约束值 “{config}” 不是非负整数。请填写整数。")
        elif name in ("min", "max"):
            if field_type == "date":
                try:
                    attrs[name] = parse_iso_date(config).isoformat()
                except ValueError:
                    report(constraint, f"字段 “{field_id}” 的 {name} 约束值 “{config}” 不是有效日期。"
                                       "请使用 YYYY-MM-DD 格式。")
            else:
                attrs[name] = _float_config(config)
                if attrs[name] is None:
                    report(constraint, f"字段 “{field_id}” 的 {name} 约束值 “{config}” 不是数字。请填写数字。")
        elif name in FORMATS:
            attrs["format"] = name
            if field_type != "string":
                report(constraint, f"字段 “{field_id}” 的 {name} 约束只适用于 string 类型的字段。")
        elif name == "required_if":
            # config="other=value, other2=value2": required when all of them hold
            pairs = [tuple(p.strip() for p in part.split("=", 1)) for part in _split_config(config)]
            if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
                report(constraint, f"字段 “{field_id}” 的 required_if 约束值 “{config}” 应写成 字段=值（多个用逗号分隔）。")
            else:
                attrs["required_if"] = tuple(pairs)
        elif name == "shown_if":
            # config="variable=value, variable2" (bare: set and not empty): shown only when all hold in
            # the case variables as the task sees them (forms.is_shown)
            parts = _split_config(config)
            if not parts or not all(_SHOWN_IF_RE.fullmatch(p) for p in parts):
                report(constraint, f"字段 “{field_id}” 的 shown_if 约束值 “{config}” 应写成 变量=值 或 变量"
                                   "（变量已赋值且非空时显示；多个条件用逗号分隔，值可用 | 列出多个）。")
            else:
                attrs["shown_if"] = tuple((n.strip(), v.strip()) for n, _, v in (p.partition("=") for p in parts))
        elif name == "at_least_one":
            # config="value: box1, box2": when this field has the value, one of the boxes is ticked
            when, _, boxes = (config or "").partition(":")
            names = tuple(_split_config(boxes))
            if not when.strip() or not names:
                report(constraint, f"字段 “{field_id}” 的 at_least_one 约束值 “{config}” 应写成 值: 字段1, 字段2。")
            else:
                attrs["at_least_one"] = (when.strip(), names)
        elif name == "confirm":
            # config="value: question": the page asks the question before sending this value
            when, _, question = (config or "").partition(":")
            if not when.strip() or not question.strip():
                report(constraint, f"字段 “{field_id}” 的 confirm 约束值 “{config}” 应写成 值: 确认提示。")
            else:
                attrs["confirm"] = (when.strip(), question.strip())
        else:
            # Silently skipping a custom validator would let invalid data through unnoticed.
            report(constraint, f"字段 “{field_id}” 使用了不支持的校验约束 “{name}”。"
                               f"只支持 {' / '.join(_CONSTRAINTS)}。")
    for low, high in (("min", "max"), ("minlength", "maxlength")):
        if attrs.get(low) is not None and attrs.get(high) is not None and attrs[low] > attrs[high]:
            report(xml_field, f"字段 “{field_id}” 的 {low}（{attrs[low]}）大于 {high}（{attrs[high]}），"
                              "任何输入都无法通过。请修正约束。")
    if not usable:
        return None
    field = FormField(id=field_id, label=xml_field.get("label") or field_id, type=field_type,
                      default=xml_field.get("defaultValue"), options=tuple(options), **attrs)
    if field.default is not None and field.default.strip():
        try:
            coerce_value(field, field.default)
        except ValueError as exc:
            report(xml_field, f"字段 “{field_id}” 的默认值 “{field.default}” 无效：{exc}。请修正默认值。")
    return field


def _split_config(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _read_form(task: etree._Element, report: _Reporter) -> Form | None:
    fields: list[FormField] = []
    seen: set[str] = set()
    elements = {}
    for xml_field in task.iterfind(f"{BPMN}extensionElements/{CAMUNDA}formData/{CAMUNDA}formField"):
        field = _read_field(xml_field, report)
        if field is None:
            continue
        if field.id in seen:
            report(xml_field, f"表单字段 id “{field.id}” 重复。同一表单内字段 id 必须唯一。")
            continue
        seen.add(field.id)
        fields.append(field)
        elements[field.id] = xml_field
    types = {f.id: f.type for f in fields}
    for field in fields:
        # A rule between fields naming a field this form does not have could never hold.
        for other, _value in field.required_if:
            if other not in types:
                report(elements[field.id], f"字段 “{field.id}” 的 required_if 引用了表单中不存在的字段 “{other}”。")
        for other in field.at_least_one[1] if field.at_least_one else ():
            if types.get(other) != "boolean":
                report(elements[field.id], f"字段 “{field.id}” 的 at_least_one 引用的 “{other}” 不是本表单的 boolean 字段。")
    return Form(tuple(fields)) if fields else None


def read_user_tasks(tree: etree._ElementTree, filename: str) -> tuple[dict[str, UserTaskMeta], list[Problem]]:
    """Read every user task's assignment, due date and form; also return the designer mistakes found."""
    tasks: dict[str, UserTaskMeta] = {}
    problems: list[Problem] = []
    lanes: dict[etree._Element, dict[str, str]] = {}
    for process in tree.getroot().iterfind(f"{BPMN}process"):
        process_id = process.get("id") or ""
        for task in process.iter(f"{BPMN}userTask"):
            task_id = task.get("id") or ""
            report = _Reporter(filename, task_id, problems)
            ext = task.find(f"{BPMN}extensionElements")
            groups = split_groups(task.get(f"{CAMUNDA}candidateGroups"))
            for group in groups:
                if is_juel(group):
                    for message in check_script(group, "eval"):
                        report(task, f"办理部门或角色表达式“{group}”有误：{message}")
            users = split_groups(task.get(f"{CAMUNDA}candidateUsers"))
            assignee = (task.get(f"{CAMUNDA}assignee") or "").strip() or None
            for what, entry in [*(("候选办理人", u) for u in users), *((("办理人", assignee),) if assignee else ())]:
                if is_juel(entry):  # a literal user name cannot be checked here: accounts change
                    for message in check_script(entry, "eval"):
                        report(task, f"{what}表达式“{entry}”有误：{message}")
            priority = (task.get(f"{CAMUNDA}priority") or "").strip() or None
            if priority is not None:
                if is_juel(priority):
                    for message in check_script(priority, "eval"):
                        report(task, f"优先级表达式“{priority}”有误：{message}")
                elif not _is_integer(priority):
                    report(task, f"优先级“{priority}”不是整数。请填写整数（如 50），或 ${{...}} 表达式。")
            record_actor = (extension_properties(task).get("record_actor") or "").strip() or None
            if record_actor is not None and not _VARIABLE_RE.fullmatch(record_actor):
                report(task, f"扩展属性 record_actor 的值“{record_actor}”应是流程变量名（英文小写加下划线）。")
            tasks[task_id] = UserTaskMeta(
                process_id=_runs_in(task, process_id), task_id=task_id, name=(task.get("name") or "").strip(),
                line=task.sourceline, candidate_groups=groups,
                lane=_lane_of(task, lanes), due_date=task.get(f"{CAMUNDA}dueDate"),
                form=_read_form(task, report), formless=_is_formless(ext), assignee=assignee,
                candidate_users=users, priority=priority,
                follow_up_date=(task.get(f"{CAMUNDA}followUpDate") or "").strip() or None,
                record_actor=record_actor)
    return tasks, problems


def _runs_in(task: etree._Element, process_id: str) -> str:
    """The id of the process the engine runs the task in: an embedded subprocess (or a
    transaction, an event subprocess) is a process of its own to SpiffWorkflow, named by its id."""
    for ancestor in task.iterancestors():
        if ancestor.tag in _SUBPROCESS_TAGS and ancestor.get("id"):
            return ancestor.get("id") or process_id
        if ancestor.tag == f"{BPMN}process":
            break
    return process_id


def read_start_forms(tree: etree._ElementTree, filename: str) -> tuple[dict[str, Form], list[Problem]]:
    """The start-event form of each process (camunda:formData on a start event directly in the
    process, the data given when a case starts), by process id; also the designer mistakes found.
    Start events inside subprocesses, and those started by a message, timer or signal, take no form."""
    forms: dict[str, Form] = {}
    problems: list[Problem] = []
    for process in tree.getroot().iterfind(f"{BPMN}process"):
        process_id = process.get("id") or ""
        with_form = [s for s in process.iterfind(f"{BPMN}startEvent")
                     if s.find(f"{BPMN}extensionElements/{CAMUNDA}formData") is not None]
        for start in with_form:
            report = _Reporter(filename, start.get("id") or "", problems)
            if any(etree.QName(child).localname.endswith("EventDefinition") for child in start):
                report(start, "只有空开始事件（没有消息、定时、信号等定义）可以带开始表单（camunda:formData）。"
                              "请把表单移到空开始事件上，或移到第一个用户任务上。")
                continue
            form = _read_form(start, report)
            if form is None:
                continue
            if process_id in forms:
                report(start, "流程有多个带开始表单的开始事件。一个流程只能有一个开始表单，请只保留一个。")
                continue
            forms[process_id] = form
    return forms, problems


def read_initiators(tree: etree._ElementTree, filename: str) -> tuple[dict[str, str], list[Problem]]:
    """The variable each process sets to the starting user's id (camunda:initiator on a start event
    directly in the process), by process id; also the names that cannot be variables."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for process in tree.getroot().iterfind(f"{BPMN}process"):
        for start in process.iterfind(f"{BPMN}startEvent"):
            name = (start.get(f"{CAMUNDA}initiator") or "").strip()
            if not name:
                continue
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                problems.append(Problem(filename, start.sourceline, f"camunda:initiator “{name}” 不是合法的变量名。"
                                        "请只用字母、数字、下划线，且不要以数字或下划线开头。", start.get("id")))
                continue
            found.setdefault(process.get("id") or "", name)
    return found, problems

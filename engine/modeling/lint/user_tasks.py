"""Lint of user tasks: assigned to a registered department or role (or to users: camunda:assignee and
camunda:candidateUsers, whose expressions must parse), with a form or declared form-less,
named in Chinese, with snake_case field ids and Chinese field labels; a dynamic assignment (an
expression in candidate groups, candidate users or the assignee) reads only variables something in
the model sets, so it can resolve when the task becomes ready."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from yijianshi.engine.access.org_rules import UNIT_PREFIX
from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.registry import Registry
from yijianshi.engine.scripting.juel import FUNCTIONS, JuelError, is_juel, to_python
from yijianshi.engine.scripting.sandbox import check_script

_FIELD_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def check_user_tasks(f: LintFile, registry: Registry | None) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    elements = {el.get("id"): el for el in root.iter(f"{BPMN}userTask")}
    for meta in f.metas.values():
        def p(msg: str, line: int | None = None, meta: UserTaskMeta = meta) -> None:
            problems.append(Problem(f.path, line or meta.line, msg, meta.task_id))

        for g in meta.groups:
            if is_juel(g):  # evaluated when the task becomes ready
                for message in check_script(g, "eval"):
                    p(f"办理部门或角色表达式“{g}”有误：{message}")
        # A literal user name cannot be checked against the registry (accounts change): accepted.
        for what, entry in [*(("候选办理人", u) for u in meta.candidate_users),
                            *((("办理人", meta.assignee),) if meta.assignee else ())]:
            if is_juel(entry):
                for message in check_script(entry, "eval"):
                    p(f"{what}表达式“{entry}”有误：{message}")
        if meta.priority and is_juel(meta.priority):
            for message in check_script(meta.priority, "eval"):
                p(f"优先级表达式“{meta.priority}”有误：{message}")
        if registry is not None:
            where = "camunda:candidateGroups" if meta.candidate_groups else "泳道名称"
            for g in meta.groups:
                if is_juel(g) or g.startswith(UNIT_PREFIX):  # units live in the database, not the registry
                    continue
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
            lines = {ff.get("id"): ff.sourceline for ff in el.iter(f"{CAMUNDA}formField")} if el is not None else {}
            for fld in meta.form.fields:
                line = lines.get(fld.id, meta.line)
                if not _FIELD_ID_RE.fullmatch(fld.id):
                    p(f"表单字段 id “{fld.id}” 应为英文小写加下划线（snake_case），例如 enterprise_name。", line)
                if not _CJK_RE.search(fld.label or ""):
                    p(f"表单字段 “{fld.id}” 的标签“{fld.label}”应使用简体中文。", line)
    return problems


def check_dynamic_assignments(f: LintFile, model: ModelIndex) -> list[Problem]:
    """Each variable a dynamic assignment or a form field's shown_if reads must be set by something in
    the files checked together
    (a form field, a script, a decision or call result, a mapping, record_actor, the initiator, or the
    start data the process declares in its extension property input_variables):
    otherwise the task cannot be given to anyone when it becomes ready."""
    problems = []
    for meta in f.metas.values():
        entries = [("办理部门或角色", g) for g in meta.groups] + [("候选办理人", u) for u in meta.candidate_users]
        if meta.assignee:
            entries.append(("办理人", meta.assignee))
        for what, entry in entries:
            missing = sorted(read_variables(entry) - model.variables)
            if missing:
                problems.append(Problem(
                    f.path, meta.line, f"{what}表达式“{entry}”读取的变量 {'、'.join(missing)} 在模型中没有来源"
                    "（表单字段、脚本赋值、决策结果、输入输出映射、record_actor，或流程扩展属性 input_variables "
                    "声明的启动数据），任务就绪时无法确定办理人。",
                    meta.task_id))
        for fld in meta.form.fields if meta.form is not None else ():
            unknown = sorted({name for name, _ in fld.shown_if} - model.variables)
            if unknown:
                problems.append(Problem(
                    f.path, meta.line, f"表单字段 “{fld.id}” 的显示条件 shown_if 读取的变量 {'、'.join(unknown)} "
                    "在模型中没有来源（表单字段、脚本赋值、决策结果、输入输出映射或 input_variables），"
                    "该字段永远不会显示。", meta.task_id))
    return problems


def read_variables(entry: str) -> set[str]:
    """The process variables a JUEL entry reads (none for a literal or one that does not parse: its
    syntax is reported elsewhere)."""
    if not is_juel(entry):
        return set()
    try:
        source = to_python(entry.strip())
    except JuelError:
        return set()
    called = set(FUNCTIONS.values())
    return {n.id for n in ast.walk(ast.parse(source, mode="eval"))
            if isinstance(n, ast.Name) and not n.id.startswith("_juel_") and n.id not in called}

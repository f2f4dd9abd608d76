"""Lint of the scenario metadata the model metrics read: visit counts are whole numbers, every item
a scenario calls states its materials, form fields and visits, and its form fields are on the
scenario's merged form, or are provided by a data-sharing service task of one of its items (the
task's `shares_fields`: the register's answer replaces them, so the merged form does not ask them)."""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.camunda_dialect import extension_properties, split_list
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA


def check_scenario_metadata(f: LintFile, model: ModelIndex) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for process in root.iter(f"{BPMN}process"):
        props = extension_properties(process)
        for key in ("visits_before", "visits"):
            if key in props and not props[key].strip().isdigit():
                problems.append(Problem(f.path, process.sourceline, f"流程属性 {key} 应为非负整数（跑动次数），而不是“{props[key]}”。",
                                        process.get("id")))
        entry_fields = _entry_form_fields(f, process)
        if entry_fields is None:
            continue  # not a scenario: no applicant form
        targets = [t for ca in process.iter(f"{BPMN}callActivity")
                   if (t := model.processes.get(ca.get("calledElement"))) is not None]
        shared = {x for _, tprocess in targets for x in shared_fields(tprocess)}
        for tfile, tprocess in targets:
            item = extension_properties(tprocess)
            missing = [k for k in ("materials", "form_fields", "visits_before") if k not in item]
            if missing:
                problems.append(Problem(tfile.path, tprocess.sourceline, "事项流程缺少场景指标属性 "
                                        f"{'、'.join(missing)}（camunda:properties），无法计算“一表申请、一套材料、跑动次数”指标。",
                                        tprocess.get("id")))
            unknown = [x for x in split_list(item.get("form_fields")) if x not in entry_fields and x not in shared]
            if unknown:
                problems.append(Problem(tfile.path, tprocess.sourceline, f"form_fields 中的 {'、'.join(unknown)} 不是场景"
                                        f"“{process.get('id')}”一表申请中的字段。", tprocess.get("id")))
    return problems


def shared_fields(process) -> set[str]:
    """The fields the process's data-sharing service tasks (external, `shares_fields`) provide."""
    return {x for task in process.iter(f"{BPMN}serviceTask") if task.get(f"{CAMUNDA}type") == "external"
            for x in split_list(extension_properties(task).get("shares_fields"))}


def _entry_form_fields(f: LintFile, process) -> set[str] | None:
    """The fields of the applicant's first form in a scenario process, or None if it has none."""
    metas = [m for m in f.metas.values() if m.process_id == process.get("id") and "applicant" in m.groups and m.form]
    if not metas:
        return None
    first = min(metas, key=lambda m: m.line or 0)
    return {fld.id for fld in first.form.fields} if first.form else None

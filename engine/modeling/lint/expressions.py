"""Lint of expressions: scripts, conditions, timers, due dates and DMN cells use no construct the
restricted sandbox forbids; JUEL (`${...}`) parses; timer texts are ISO 8601 literals or expressions."""
from __future__ import annotations

import copy

from lxml import etree

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.dmn_language import translate_tree
from yijianshi.engine.modeling.lint.model_index import LintFile, owner_id
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.timer_text import executable, timer_problem
from yijianshi.engine.scripting.sandbox import check_script

_MODES = {f"{BPMN}script": "exec", f"{BPMN}conditionExpression": "eval", f"{BPMN}timeDate": "eval",
          f"{BPMN}timeDuration": "eval", f"{BPMN}timeCycle": "eval"}


def check_expressions(f: LintFile) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for el in root.iter(*_MODES):
        if (source := el.text or "").strip():
            kind = etree.QName(el).localname
            if problem := timer_problem(kind, source):
                problems.append(Problem(f.path, el.sourceline, problem, owner_id(el)))
                continue
            for message in check_script(executable(kind, source), _MODES[str(el.tag)]):
                problems.append(Problem(f.path, el.sourceline, f"表达式或脚本使用了不允许的写法：{message}", owner_id(el)))
    for ut in root.iter(f"{BPMN}userTask"):
        due = ut.get(f"{CAMUNDA}dueDate")
        if due:
            for message in check_script(executable("timeDate", due), "eval"):
                problems.append(Problem(f.path, ut.sourceline, f"办理期限表达式使用了不允许的写法：{message}", ut.get("id")))
    return problems


def check_dmn_expressions(f: LintFile) -> list[Problem]:
    # FEEL cells are checked as the Python they translate to (a copy: the lint never changes its input).
    tree = copy.deepcopy(f.tree)
    problems = translate_tree(tree, f.path)
    root = tree.getroot()
    for el in root.iter("{*}inputExpression", "{*}outputEntry"):
        text = el.find("{*}text")
        if text is not None and (source := text.text or "").strip():
            for message in check_script(source, "eval"):
                problems.append(Problem(f.path, text.sourceline, f"决策表单元格使用了不允许的写法：{message}",
                                        el.get("id")))
    for el in root.iter("{*}inputEntry"):
        text = el.find("{*}text")
        value = (text.text or "").strip() if text is not None else ""
        if text is None or value in ("", "-"):
            continue
        value = value.replace("?", "dmninputexpr")
        # The DMN engine compares with == when the entry is an expression, else prefixes the input.
        if check_script(value, "eval") and check_script(f"dmninputexpr {value}", "eval"):
            for message in check_script(value, "eval"):
                problems.append(Problem(f.path, text.sourceline, f"决策表条件单元格使用了不允许的写法：{message}",
                                        el.get("id")))
    return problems

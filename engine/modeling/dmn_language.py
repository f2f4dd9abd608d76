"""The expression language of DMN decision tables: cells written in FEEL (Camunda Modeler's default:
no `expressionLanguage` on <definitions>, `feel` or the FEEL namespace URI; a cell's own
`expressionLanguage` wins) are translated in the parsed XML tree, before SpiffWorkflow reads it, into
the Python its DMN engine evaluates (engine/scripting/feel.py). The translation is thus what the
deployed spec stores, so running cases and replays after a restart evaluate the same text. Tables in
`python` (this product's own DMN files) are left as they are; any other language is refused."""
from __future__ import annotations

from lxml import etree

from yijianshi.engine.errors import Problem
from yijianshi.engine.scripting import feel

PYTHON = "python"
_FEEL = {"feel", *(ns.lower() for ns in feel.FEEL_NAMESPACES)}
_CELLS = ("{*}inputExpression", "{*}inputEntry", "{*}outputEntry")
_KINDS = {"inputExpression": "输入表达式", "inputEntry": "条件单元格", "outputEntry": "结果单元格"}


def language(cell: etree._Element) -> str:
    """"feel", "python" or the unknown language named, for an inputExpression/inputEntry/outputEntry."""
    root = cell.getroottree().getroot()
    declared = cell.get("expressionLanguage") or root.get("expressionLanguage") or "feel"
    declared = declared.strip().lower()
    if declared in _FEEL or declared.rstrip("/") in {n.rstrip("/") for n in _FEEL}:
        return "feel"
    return declared


def translate_tree(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Rewrite every FEEL cell of a DMN tree in place as Python; the problems of cells that cannot be."""
    problems = []
    for cell in tree.getroot().iter(*_CELLS):
        kind = etree.QName(cell).localname
        lang = language(cell)
        text = cell.find("{*}text")
        if lang == PYTHON:
            continue
        where = f"{_KINDS[kind]}"
        if lang != "feel":
            problems.append(Problem(filename, cell.sourceline,
                                    f"{where}的表达式语言“{cell.get('expressionLanguage') or lang}”不受支持。"
                                    "请使用 FEEL（Camunda Modeler 的默认）或 python。", cell.get("id")))
            continue
        if text is None:
            continue
        source = text.text or ""
        try:
            if kind == "inputEntry":
                translated = feel.unary_tests(source)
                text.text = "-" if translated is None else translated
            elif source.strip():
                text.text = feel.expression(source)
        except feel.FeelError as err:
            text.text = None  # reported once here; nothing else checks the untranslated text
            problems.append(Problem(filename, text.sourceline,
                                    f"{where}“{_short(source)}”：{err}", cell.get("id")))
    return problems


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 60 else text[:60] + "…"

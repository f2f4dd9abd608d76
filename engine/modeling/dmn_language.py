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
    """"feel", "python" or the unknown language named, for <definitions> or one of its cells."""
    root = cell.getroottree().getroot()
    declared = cell.get("expressionLanguage") or root.get("expressionLanguage") or "feel"
    declared = declared.strip().lower()
    if declared in _FEEL or declared.rstrip("/") in {n.rstrip("/") for n in _FEEL}:
        return "feel"
    return declared


def uses_feel(tree: etree._ElementTree) -> bool:
    """Whether any cell of this DMN tree is written in FEEL."""
    return any(language(cell) == "feel" for cell in tree.getroot().iter(*_CELLS))


def translate_tree(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Rewrite every FEEL cell of a DMN tree in place as Python; the problems of cells that cannot be."""
    root = tree.getroot()
    problems = _table_problems(root, filename)
    unknown = language(root) not in ("feel", PYTHON)
    if unknown:
        problems.append(Problem(filename, root.sourceline,
                                f"决策表的表达式语言“{root.get('expressionLanguage')}”不受支持。"
                                "请删除 expressionLanguage 属性（即 FEEL，Camunda Modeler 的默认）或改为 python。",
                                root.get("id")))
    for cell in root.iter(*_CELLS):
        kind = etree.QName(cell).localname
        lang = language(cell)
        text = cell.find("{*}text")
        if lang == PYTHON or (unknown and cell.get("expressionLanguage") is None):
            continue  # python, or the unknown language of the whole file (reported once above)
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


def _table_problems(root: etree._Element, filename: str) -> list[Problem]:
    """Table features the DMN engine would silently ignore: a COLLECT aggregation (C+, C#, C<, C>)."""
    problems = []
    for table in root.iter("{*}decisionTable"):
        if table.get("aggregation"):
            problems.append(Problem(filename, table.sourceline,
                                    f"命中策略 COLLECT 的聚合 {table.get('aggregation')} 不受支持（会返回列表而不是聚合值）。"
                                    "请删除聚合（命中策略选 Collect 不带运算），在后续脚本任务中计算。", table.get("id")))
    return problems


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 60 else text[:60] + "…"

"""Safe loading of untrusted BPMN/DMN XML and validation against the standard XSDs."""
from __future__ import annotations

import copy
import io
import os
import re
import threading

import SpiffWorkflow
from lxml import etree

from yijianshi.engine.errors import DefinitionError, Problem
from yijianshi.engine.modeling.namespaces import BPMN_NS, BPMNDI_NS, DMN_NAMESPACES

MAX_FILE_BYTES = 5 * 1024 * 1024

_SPIFF_DIR = os.path.dirname(SpiffWorkflow.__file__)
_BPMN_XSD = os.path.join(_SPIFF_DIR, "bpmn", "parser", "schema", "BPMN20.xsd")
_DMN_XSDS = {
    DMN_NAMESPACES[0]: os.path.join(_SPIFF_DIR, "dmn", "parser", "schema", "DMN.xsd"),
    DMN_NAMESPACES[1]: os.path.join(_SPIFF_DIR, "dmn", "parser", "schema", "DMN12.xsd"),
    DMN_NAMESPACES[2]: os.path.join(_SPIFF_DIR, "dmn", "parser", "schema", "DMN13.xsd"),
}
_ALLOWED_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii"}
_NS_ABBREV = {BPMN_NS: "bpmn", BPMNDI_NS: "bpmndi",
              **{ns: "dmn" for ns in DMN_NAMESPACES}}


def _fail(filename: str, line: int | None, message: str, element: str | None = None) -> DefinitionError:
    return DefinitionError([Problem(filename, line, message, element)])


def _line_at(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _check_prolog(data: bytes, filename: str) -> None:
    """Refuse any markup declaration before the root element, before libxml2 ever sees it."""
    # A DTD can only appear in the prolog, so walking the prolog token by token is exact: no false
    # positives from "<!DOCTYPE" inside a script body, and no way to hide one behind a comment.
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    n = len(data)
    while pos < n:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            pos = n if end < 0 else end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = n if end < 0 else end + 3
        elif data.startswith(b"<!", pos):
            raise _fail(filename, _line_at(data, pos),
                        "文件包含 DOCTYPE 或实体（ENTITY）声明，出于安全原因不予接受。"
                        "请删除 <!DOCTYPE …> 部分后重新上传（建模工具导出的文件不会包含它）。")
        else:
            return


def _check_encoding(data: bytes, filename: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(filename, _line_at(data, exc.start),
                    f"文件不是 UTF-8 编码的文本（第 {_line_at(data, exc.start)} 行附近有无法识别的字节）。"
                    "请确认上传的是 .bpmn 或 .dmn 文件，并以 UTF-8 编码保存。") from None
    declared = re.match(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", data)
    if declared and declared.group(1).decode("ascii").lower() not in _ALLOWED_ENCODINGS:
        # libxml2 would honour the declaration and silently turn the UTF-8 bytes into mojibake.
        raise _fail(filename, 1, f"文件声明的编码是 {declared.group(1).decode('ascii')}，只接受 UTF-8。"
                                 "请将文件另存为 UTF-8，并把 XML 声明改为 encoding=\"UTF-8\"。")


def _make_parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parser objects must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_blank_text=False)


def parse_xml(data: bytes, filename: str) -> etree._ElementTree:
    """Parse an uploaded BPMN/DMN file without trusting it; every failure is a DefinitionError."""
    if len(data) > MAX_FILE_BYTES:
        raise _fail(filename, None, f"文件大小为 {len(data) // 1024} KB，超过上限 {MAX_FILE_BYTES // 1024 // 1024} MB。"
                                    "请拆分流程或删除不必要的内容（如嵌入的图片）。")
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise _fail(filename, None, "文件为空。请上传由建模工具导出的 .bpmn 或 .dmn 文件。")
    _check_encoding(data, filename)
    _check_prolog(data, filename)
    try:
        tree = etree.parse(io.BytesIO(data), _make_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        detail = (exc.msg or "").split(", line ")[0].strip()
        raise _fail(filename, line, f"文件不是格式正确的 XML：第 {line or '?'} 行出错（{detail}）。"
                                    "请检查标签是否闭合、属性值引号是否成对、文件是否完整。") from None
    # Belt and braces: the prolog scan should make these unreachable.
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _fail(filename, 1, "文件包含 DOCTYPE 声明，出于安全原因不予接受。请删除 <!DOCTYPE …> 部分。")
    root = tree.getroot()
    accepted = {f"{{{ns}}}definitions" for ns in (BPMN_NS, *DMN_NAMESPACES)}
    if root.tag not in accepted:
        raise _fail(filename, root.sourceline,
                    f"根元素是 <{_short(str(root.tag))}>，不是 BPMN 2.0 或 DMN 的 <definitions>。"
                    "请上传由 Camunda Modeler 等建模工具导出的 .bpmn 或 .dmn 文件。", _local(root))
    return tree


def kind_of(tree: etree._ElementTree) -> str:
    """Return "bpmn" or "dmn" for a tree accepted by parse_xml."""
    tag = etree.QName(tree.getroot())
    if tag.localname == "definitions" and tag.namespace == BPMN_NS:
        return "bpmn"
    if tag.localname == "definitions" and tag.namespace in DMN_NAMESPACES:
        return "dmn"
    raise ValueError(f"not a BPMN or DMN definitions tree: {tag.text}")


def _short(text: str) -> str:
    """Replace well-known namespace URIs in Clark notation by their usual prefixes."""
    def repl(m: re.Match[str]) -> str:
        prefix = _NS_ABBREV.get(m.group(1))
        return f"{prefix}:" if prefix else m.group(0)
    return re.sub(r"\{([^}]*)\}", repl, text)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _describe(el: etree._Element) -> str:
    ident = el.get("id")
    return f"{_local(el)}#{ident}" if ident else _local(el)


_HINTS = (
    (re.compile(r"The attribute '([^']+)' is required but missing"), "缺少必需的属性 {0}"),
    (re.compile(r"The attribute '([^']+)' is not allowed"), "不允许出现属性 {0}"),
    (re.compile(r"This element is not expected"), "此处不允许出现该元素，可能是元素名拼写错误或位置不对"),
    (re.compile(r"Missing child element"), "缺少必需的子元素"),
    (re.compile(r"is not a valid value of"), "属性值格式不正确"),
    (re.compile(r"[Dd]uplicate key-sequence|is not unique"), "id 重复"),
)


def _problems_from_log(tree: etree._ElementTree, log: etree._ListErrorLog, filename: str,
                       standard: str) -> list[Problem]:
    by_line: dict[int, list[etree._Element]] = {}
    for el in tree.getroot().iter(etree.Element):
        by_line.setdefault(el.sourceline or 0, []).append(el)
    problems = []
    for entry in log:
        element = None
        candidates = by_line.get(entry.line, [])
        named = re.match(r"Element '([^']+)'", entry.message)
        # Several elements may share a line; the tag quoted in the message picks the right one.
        matching = [el for el in candidates if named and el.tag == named.group(1)] or candidates
        if matching:
            element = _describe(matching[0])
        hint = next((fmt.format(*m.groups()) for rx, fmt in _HINTS if (m := rx.search(entry.message))), None)
        advice = hint or "请对照规范修改该元素"
        problems.append(Problem(filename, entry.line or None,
                                f"不符合 {standard} 规范：{advice}。详情：{_short(entry.message)}", element))
    return problems


_schema_lock = threading.Lock()
_schemas: dict[str, etree.XMLSchema | None] = {}


def _schema(path: str) -> etree.XMLSchema | None:
    """Compile an XSD once per process; None when the bundled XSD itself does not compile."""
    with _schema_lock:
        if path not in _schemas:
            try:
                # Trusted local files; relative xsd:import/include resolve against the file path.
                _schemas[path] = etree.XMLSchema(etree.parse(path))
            except (etree.XMLSchemaParseError, OSError):
                _schemas[path] = None
        return _schemas[path]


def _validate(schema: etree.XMLSchema, tree: etree._ElementTree, filename: str,
              standard: str) -> list[Problem]:
    # The validator's error_log is per-instance state, so concurrent validations must not interleave.
    with _schema_lock:
        if schema.validate(tree):
            return []
        log = schema.error_log
    return _problems_from_log(tree, log, filename, standard)


def validate_bpmn_schema(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Check a BPMN tree against the BPMN 2.0 XSD and return every violation found."""
    schema = _schema(_BPMN_XSD)
    assert schema is not None, "SpiffWorkflow's BPMN20.xsd failed to compile"
    retrieval = f"{{{BPMN_NS}}}correlationPropertyRetrievalExpression/{{{BPMN_NS}}}formalExpression"
    if tree.getroot().find(f".//{retrieval}") is not None:
        # bpmn-js writes formalExpression where the XSD wants messagePath; fix a copy, not the caller's tree.
        tree = copy.deepcopy(tree)
        for el in tree.getroot().iterfind(f".//{retrieval}"):
            el.tag = f"{{{BPMN_NS}}}messagePath"
    return _validate(schema, tree, filename, "BPMN 2.0")


def validate_dmn_schema(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Check a DMN tree against the matching DMN XSD (structural check where no usable XSD ships)."""
    root = tree.getroot()
    ns = etree.QName(root).namespace
    path = _DMN_XSDS.get(ns or "")
    schema = _schema(path) if path else None
    if schema is not None:
        return _validate(schema, tree, filename, "DMN")
    # SpiffWorkflow 3.2's DMN12.xsd imports a DI schema with the wrong namespace and does not compile.
    return _dmn_structure(tree, filename, ns or "")


def _dmn_structure(tree: etree._ElementTree, filename: str, ns: str) -> list[Problem]:
    root = tree.getroot()
    problems = []
    decisions = root.findall(f"{{{ns}}}decision")
    if not decisions:
        problems.append(Problem(filename, root.sourceline, "DMN 文件中没有任何 <decision>。请至少定义一个决策。",
                                _local(root)))
    for el in [root, *decisions]:
        if not el.get("id"):
            problems.append(Problem(filename, el.sourceline, f"<{_local(el)}> 缺少 id 属性。请为它设置 id。",
                                    _local(el)))
    for decision in decisions:
        for table in decision.findall(f"{{{ns}}}decisionTable"):
            if table.find(f"{{{ns}}}output") is None:
                problems.append(Problem(filename, table.sourceline, "决策表没有任何输出列（<output>）。请添加输出列。",
                                        _describe(table)))
    return problems

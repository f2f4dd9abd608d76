"""Safe loading of untrusted BPMN/DMN XML and validation against the standard XSDs."""
from __future__ import annotations

import codecs
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


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DECLARATION = re.compile(r"^(<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._-]+)([\"'])")


def _bom_codec(data: bytes) -> tuple[str | None, int]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None, 0


def to_utf8(data: bytes, filename: str) -> bytes:
    """The file as UTF-8 bytes with its XML declaration saying so: a file saved by another tool in
    the encoding it declares (ISO-8859-1, GBK, GB18030, UTF-16 with a byte order mark ...) is decoded
    by that declaration (or its BOM) and re-encoded, line for line, so every later reader (the
    parser, the stored copy, the diagram shown in the browser) sees one encoding. A file that is
    not text in the encoding it claims is refused with the line where it stops being so."""
    codec, skip = _bom_codec(data)
    head = data[skip:skip + 200]
    if codec is None or codec == "utf-8":
        declared = re.match(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", head)
        name = declared.group(1).decode("ascii") if declared else "UTF-8"
    else:
        name = codec
    try:
        python_codec = codecs.lookup(name).name
    except LookupError:
        raise _fail(filename, 1, f"文件声明的编码 {name} 无法识别。请将文件另存为 UTF-8，"
                                 "并把 XML 声明改为 encoding=\"UTF-8\"。") from None
    if codec == "utf-8" and python_codec != "utf-8":
        raise _fail(filename, 1, f"文件以 UTF-8 字节顺序标记开头，却声明编码为 {name}。"
                                 "请把 XML 声明改为 encoding=\"UTF-8\"。")
    body = data[skip:]
    if python_codec == "utf-8" and skip == 0:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = _line_at(body, exc.start)
            raise _fail(filename, line,
                        f"文件不是 UTF-8 编码的文本（第 {line} 行附近有无法识别的字节），XML 声明中也没有注明其他编码。"
                        "请确认上传的是 .bpmn 或 .dmn 文件；若用其他编码保存，请在 XML 声明中写明，"
                        "如 encoding=\"GB18030\"，或另存为 UTF-8。") from None
        return data
    try:
        text = body.decode(python_codec)
    except UnicodeDecodeError as exc:
        line = body[:exc.start].decode(python_codec, errors="replace").count("\n") + 1
        raise _fail(filename, line, f"文件声明的编码是 {name}，但第 {line} 行附近的字节不是有效的 {name} 文本。"
                                    "请在建模工具中以声明的编码重新保存，或另存为 UTF-8。") from None
    if "\x00" in text:
        raise _fail(filename, 1, f"文件按声明的编码 {name} 解码后含有空字符，编码声明与文件内容不符。"
                                 "请另存为 UTF-8，并把 XML 声明改为 encoding=\"UTF-8\"。")
    return _DECLARATION.sub(r"\1UTF-8\3", text, count=1).encode("utf-8")


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
    data = to_utf8(data, filename)
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


def is_executable(process: etree._Element) -> bool:
    """Whether a <bpmn:process> is deployed: isExecutable="true", or no isExecutable at all (as
    Camunda 7 does; the deploy warns about the missing attribute)."""
    value = process.get("isExecutable")
    return value is None or value.strip().lower() == "true"


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

"""Tests for engine.xml_loading: hostile input is refused cleanly, schema problems are located precisely."""
from __future__ import annotations

import time

import pytest
from lxml import etree

from yijianshi.engine.modeling import xml_loading
from yijianshi.engine.errors import DefinitionError, Problem
from yijianshi.engine.modeling.xml_loading import (
    MAX_FILE_BYTES,
    kind_of,
    parse_xml,
    to_utf8,
    validate_bpmn_schema,
    validate_dmn_schema,
)

CAMUNDA_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
  <bpmn:process id="birth" name="出生一件事" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="StartEvent_1" camunda:initiator="applicant">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="fill_form" name="填写申请" camunda:candidateGroups="applicant" camunda:dueDate="P3D">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="child_name" label="新生儿姓名" type="string">
            <camunda:validation>
              <camunda:constraint name="required" />
            </camunda:validation>
          </camunda:formField>
        </camunda:formData>
        <camunda:properties>
          <camunda:property name="formless" value="false" />
        </camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="fill_form" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="fill_form" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="birth">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="fill_form_di" bpmnElement="fill_form">
        <dc:Bounds x="270" y="77" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_1_di" bpmnElement="EndEvent_1">
        <dc:Bounds x="432" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="215" y="117" />
        <di:waypoint x="270" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="370" y="117" />
        <di:waypoint x="432" y="117" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

DMN13 = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" xmlns:camunda="http://camunda.org/schema/1.0/dmn" id="Definitions_d" name="DRD" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="subsidy" name="补贴标准">
    <decisionTable id="DecisionTable_1" hitPolicy="FIRST">
      <input id="Input_1" label="户籍" camunda:inputVariable="hukou">
        <inputExpression id="InputExpression_1" typeRef="string">
          <text>hukou</text>
        </inputExpression>
      </input>
      <output id="Output_1" label="金额" name="amount" typeRef="integer" />
      <rule id="Rule_1">
        <inputEntry id="UnaryTests_1"><text>"local"</text></inputEntry>
        <outputEntry id="LiteralExpression_1"><text>1000</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_1">
      <dmndi:DMNShape id="DMNShape_1" dmnElementRef="subsidy">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def line_of(text: str, marker: str) -> int:
    """1-based line of the first occurrence of marker, so tests do not hard-code line numbers."""
    index = text.index(marker)
    return text.count("\n", 0, index) + 1


def only_problem(exc_info: pytest.ExceptionInfo[DefinitionError]) -> Problem:
    assert len(exc_info.value.problems) == 1
    return exc_info.value.problems[0]


def test_valid_camunda_file_parses_and_has_no_schema_problems() -> None:
    tree = parse_xml(CAMUNDA_BPMN.encode(), "birth.bpmn")
    assert kind_of(tree) == "bpmn"
    assert validate_bpmn_schema(tree, "birth.bpmn") == []
    # Line numbers survive parsing; later layers rely on them for their own messages.
    task = tree.getroot().find(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")
    assert task.sourceline == line_of(CAMUNDA_BPMN, '<bpmn:userTask id="fill_form"')


def test_utf8_bom_is_accepted() -> None:
    tree = parse_xml(b"\xef\xbb\xbf" + CAMUNDA_BPMN.encode(), "bom.bpmn")
    assert kind_of(tree) == "bpmn"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:documentation>&lol9;</bpmn:documentation>
</bpmn:definitions>
"""


def test_billion_laughs_is_rejected_quickly_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("libxml2 must never see a document with a DTD")

    monkeypatch.setattr(xml_loading.etree, "parse", no_parse)
    start = time.perf_counter()
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(BILLION_LAUGHS, "lol.bpmn")
    assert time.perf_counter() - start < 1.0
    problem = only_problem(exc_info)
    assert problem.file == "lol.bpmn"
    assert problem.line == 2
    assert "DOCTYPE" in problem.message and "删除" in problem.message


def test_external_entity_is_rejected_and_file_never_read() -> None:
    xxe = (b'<?xml version="1.0"?>\n<!-- harmless comment -->\n'
           b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</bpmn:definitions>')
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(xxe, "xxe.bpmn")
    problem = only_problem(exc_info)
    assert problem.line == 3
    assert "ENTITY" in problem.message


def test_hardened_parser_alone_does_not_resolve_external_entities() -> None:
    # Defence in depth: even if the prolog scan were bypassed, the parser must not read local files.
    xxe = (b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b'<d>&xxe;</d>')
    root = etree.fromstring(xxe, xml_loading._make_parser())
    assert "root:" not in etree.tostring(root).decode()
    assert not (root.text or "").strip()


def test_doctype_alone_is_rejected() -> None:
    data = (b'<!DOCTYPE definitions>\n<bpmn:definitions '
            b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x"/>')
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "doctype.bpmn")
    assert only_problem(exc_info).line == 1
    assert "DOCTYPE" in only_problem(exc_info).message


def test_doctype_text_inside_a_script_body_is_not_a_false_positive() -> None:
    text = CAMUNDA_BPMN.replace("<bpmn:endEvent id=\"EndEvent_1\">",
                                "<bpmn:endEvent id=\"EndEvent_1\">\n"
                                "<bpmn:documentation><![CDATA[<!DOCTYPE x>]]></bpmn:documentation>")
    assert kind_of(parse_xml(text.encode(), "cdata.bpmn")) == "bpmn"


def test_oversize_file_is_rejected_without_parsing() -> None:
    data = CAMUNDA_BPMN.encode() + b" " * (MAX_FILE_BYTES + 1 - len(CAMUNDA_BPMN.encode()))
    assert len(data) == MAX_FILE_BYTES + 1
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "big.bpmn")
    assert "超过上限 5 MB" in only_problem(exc_info).message
    # Exactly at the limit is still accepted.
    assert kind_of(parse_xml(data[:-1], "edge.bpmn")) == "bpmn"


def test_truncated_xml_names_the_line() -> None:
    cut = CAMUNDA_BPMN[: CAMUNDA_BPMN.index("<bpmn:endEvent")]
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(cut.encode(), "cut.bpmn")
    problem = only_problem(exc_info)
    expected_line = cut.count("\n") + 1
    assert problem.line in (expected_line - 1, expected_line)
    assert f"第 {problem.line} 行" in problem.message
    assert "格式正确的 XML" in problem.message and "闭合" in problem.message


def test_mismatched_tag_reports_its_line() -> None:
    data = b'<?xml version="1.0"?>\n<a>\n  <b>\n  </c>\n</a>\n'
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "bad.bpmn")
    assert only_problem(exc_info).line == 4


def test_binary_garbage_is_rejected_as_not_utf8() -> None:
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256))
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(garbage, "picture.bpmn")
    assert "UTF-8" in only_problem(exc_info).message


@pytest.mark.parametrize("encoding, name, codec", [
    ("ISO-8859-1", "Geburt Café Ü", "latin-1"),
    ("GBK", "出生一件事", "gbk"),
    ("GB18030", "出生一件事", "gb18030"),
    ("UTF-16", "出生一件事", "utf-16"),  # Python writes the byte order mark
    ("windows-1252", "Naïve", "cp1252"),
])
def test_a_file_in_its_declared_encoding_is_read(encoding, name, codec) -> None:
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n'
            f'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
            f'  <bpmn:process id="p" name="{name}" isExecutable="true"/>\n</bpmn:definitions>\n')
    data = text.encode(codec)
    tree = parse_xml(data, "other_tool.bpmn")
    process = tree.getroot()[0]
    assert process.get("name") == name and process.sourceline == 3
    utf8 = to_utf8(data, "other_tool.bpmn")
    assert utf8.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and name.encode() in utf8


def test_bytes_not_in_the_declared_encoding_name_it_and_the_line() -> None:
    data = '<?xml version="1.0" encoding="GBK"?>\n<a>\n<b/>\n</a>'.encode() + b"\xff\xfe\xff"
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "gbk.bpmn")
    problem = only_problem(exc_info)
    assert "GBK" in problem.message and problem.line == 4


def test_an_unknown_declared_encoding_is_refused_with_the_fix() -> None:
    data = '<?xml version="1.0" encoding="KLINGON-8"?>\n<a/>'.encode()
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "k.bpmn")
    assert "KLINGON-8" in only_problem(exc_info).message and 'encoding="UTF-8"' in only_problem(exc_info).message


def test_a_doctype_in_utf16_is_still_refused() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<x>&e;</x>'
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data.encode("utf-16"), "xxe16.bpmn")
    assert "DOCTYPE" in only_problem(exc_info).message


@pytest.mark.parametrize("data", [b"", b"   \n\t", b"\xef\xbb\xbf"])
def test_empty_file_is_rejected(data: bytes) -> None:
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "empty.bpmn")
    assert "文件为空" in only_problem(exc_info).message


def test_plain_text_is_not_xml() -> None:
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(b"just some words", "words.bpmn")
    assert only_problem(exc_info).line == 1
    assert "XML" in only_problem(exc_info).message


@pytest.mark.parametrize("data", [
    b"<html><body/></html>",
    b'<definitions xmlns="http://example.com/not-bpmn"/>',
    b'<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p"/>',
])
def test_root_must_be_bpmn_or_dmn_definitions(data: bytes) -> None:
    with pytest.raises(DefinitionError) as exc_info:
        parse_xml(data, "other.xml")
    problem = only_problem(exc_info)
    assert problem.line == 1
    assert "<definitions>" in problem.message


@pytest.mark.parametrize("namespace", [
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
])
def test_dmn_roots_are_recognised(namespace: str) -> None:
    tree = parse_xml(f'<definitions xmlns="{namespace}" id="d" name="n" namespace="x"/>'.encode(), "d.dmn")
    assert kind_of(tree) == "dmn"


def test_kind_of_refuses_foreign_trees() -> None:
    with pytest.raises(ValueError):
        kind_of(etree.ElementTree(etree.Element("html")))


def test_schema_errors_are_all_reported_with_lines_and_elements() -> None:
    text = CAMUNDA_BPMN.replace('<bpmn:sequenceFlow id="Flow_2" sourceRef="fill_form" ',
                                '<bpmn:sequenceFlow id="Flow_2" ')
    text = text.replace('<bpmn:endEvent id="EndEvent_1">',
                        '<bpmn:endEvent id="EndEvent_1">\n      <bpmn:bogusElement id="x" />')
    problems = validate_bpmn_schema(parse_xml(text.encode(), "bad.bpmn"), "bad.bpmn")
    assert len(problems) == 2
    by_line = {p.line: p for p in problems}
    bogus = by_line[line_of(text, "<bpmn:bogusElement")]
    assert bogus.element == "bogusElement#x"
    assert bogus.message.startswith("不符合 BPMN 2.0 规范")
    assert "not expected" in bogus.message
    flow = by_line[line_of(text, '<bpmn:sequenceFlow id="Flow_2"')]
    assert flow.element == "sequenceFlow#Flow_2"
    assert "sourceRef" in flow.message and "缺少必需的属性" in flow.message
    assert all(p.file == "bad.bpmn" for p in problems)


def test_schema_error_names_the_right_element_when_several_share_a_line() -> None:
    text = CAMUNDA_BPMN.replace(
        '<bpmn:endEvent id="EndEvent_1">',
        '<bpmn:task id="Task_x" /><bpmn:sequenceFlow id="Flow_x" targetRef="Task_x" />'
        '<bpmn:endEvent id="EndEvent_1">')
    problems = validate_bpmn_schema(parse_xml(text.encode(), "same.bpmn"), "same.bpmn")
    assert [(p.line, p.element) for p in problems] == [(line_of(text, "Flow_x"), "sequenceFlow#Flow_x")]


def test_camunda_extensions_are_not_schema_errors() -> None:
    # Extra camunda:* attributes on many element kinds and arbitrary camunda elements in extensionElements.
    text = CAMUNDA_BPMN.replace(
        '<bpmn:endEvent id="EndEvent_1">',
        '<bpmn:endEvent id="EndEvent_1" camunda:asyncBefore="true" camunda:jobPriority="5">\n'
        '      <bpmn:extensionElements><camunda:executionListener class="x.Y" event="start" />'
        '<camunda:inputOutput><camunda:inputParameter name="a">1</camunda:inputParameter>'
        '</camunda:inputOutput></bpmn:extensionElements>')
    assert validate_bpmn_schema(parse_xml(text.encode(), "ext.bpmn"), "ext.bpmn") == []


def test_bpmn_js_correlation_quirk_is_tolerated_without_touching_the_tree() -> None:
    text = CAMUNDA_BPMN.replace(
        '<bpmn:process id="birth"',
        '<bpmn:message id="Msg_1" name="m" />\n'
        '  <bpmn:correlationProperty id="cp" name="cp">\n'
        '    <bpmn:correlationPropertyRetrievalExpression messageRef="Msg_1">\n'
        '      <bpmn:formalExpression>case_id</bpmn:formalExpression>\n'
        '    </bpmn:correlationPropertyRetrievalExpression>\n'
        '  </bpmn:correlationProperty>\n'
        '  <bpmn:process id="birth"')
    tree = parse_xml(text.encode(), "corr.bpmn")
    assert validate_bpmn_schema(tree, "corr.bpmn") == []
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    assert tree.getroot().find(f".//{bpmn}formalExpression") is not None


def test_schema_is_compiled_once() -> None:
    validate_bpmn_schema(parse_xml(CAMUNDA_BPMN.encode(), "a.bpmn"), "a.bpmn")
    cached = dict(xml_loading._schemas)
    validate_bpmn_schema(parse_xml(CAMUNDA_BPMN.encode(), "b.bpmn"), "b.bpmn")
    assert all(xml_loading._schemas[k] is v for k, v in cached.items())


def test_valid_dmn13_has_no_problems() -> None:
    tree = parse_xml(DMN13.encode(), "subsidy.dmn")
    assert validate_dmn_schema(tree, "subsidy.dmn") == []


def test_dmn13_schema_error_is_located() -> None:
    text = DMN13.replace('<output id="Output_1"', '<outptu id="Output_1"')
    problems = validate_dmn_schema(parse_xml(text.encode(), "bad.dmn"), "bad.dmn")
    assert problems
    assert problems[0].line == line_of(text, "<outptu")
    assert problems[0].element == "outptu#Output_1"
    assert problems[0].message.startswith("不符合 DMN 规范")


def test_dmn12_falls_back_to_structural_check() -> None:
    text = DMN13.replace("https://www.omg.org/spec/DMN/20191111/MODEL/",
                         "http://www.omg.org/spec/DMN/20180521/MODEL/")
    assert validate_dmn_schema(parse_xml(text.encode(), "ok.dmn"), "ok.dmn") == []
    broken = text.replace('<output id="Output_1" label="金额" name="amount" typeRef="integer" />', "")
    problems = validate_dmn_schema(parse_xml(broken.encode(), "bad.dmn"), "bad.dmn")
    assert [p.line for p in problems] == [line_of(broken, "<decisionTable")]
    assert "输出" in problems[0].message
    empty = '<definitions xmlns="http://www.omg.org/spec/DMN/20180521/MODEL/" id="d"/>'
    problems = validate_dmn_schema(parse_xml(empty.encode(), "e.dmn"), "e.dmn")
    assert len(problems) == 1 and "decision" in problems[0].message

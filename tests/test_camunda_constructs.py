"""Models like the public Camunda 7 examples: each one either validates or gets, per construct the
engine cannot run, one `file:line [element]` message in Chinese saying what to do — never a parser
or serializer exception text. Also: files in other encodings deploy, and a process without
isExecutable deploys with a warning."""
from __future__ import annotations

import json
import re

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.engine.modeling.upload_check import check_sources
from yijianshi.storage import definition_store

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_{id}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0">
{extra}  <bpmn:process id="{id}" name="{id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t1" />
{body}
  </bpmn:process>
</bpmn:definitions>
"""
END = '    <bpmn:endEvent id="end"><bpmn:incoming>fe</bpmn:incoming></bpmn:endEvent>'
TO_END = '    <bpmn:sequenceFlow id="fe" sourceRef="t1" targetRef="end" />\n' + END


def task(tag: str, attrs: str = "", inner: str = "") -> str:
    return (f'    <bpmn:{tag} id="t1" name="办事" {attrs}><bpmn:incoming>f0</bpmn:incoming>'
            f'<bpmn:outgoing>fe</bpmn:outgoing>{inner}</bpmn:{tag}>\n' + TO_END)


def event(tag: str, definition: str) -> str:
    return (f'    <bpmn:{tag} id="t1"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fe</bpmn:outgoing>'
            f'{definition}</bpmn:{tag}>\n' + TO_END)


MESSAGE = '  <bpmn:message id="m1" name="reply" />\n'
MODELS = {
    "svc_class": ("", task("serviceTask", 'camunda:class="org.example.Delegate"')),
    "svc_delegate": ("", task("serviceTask", 'camunda:delegateExpression="${myDelegate}"')),
    "svc_expression": ("", task("serviceTask", 'camunda:expression="${service.run(execution)}"')),
    "svc_external": ("", task("serviceTask", 'camunda:type="external" camunda:topic="charge"')),
    "send_task": (MESSAGE, task("sendTask", 'messageRef="m1" camunda:class="x.Y"')),
    "receive_task": (MESSAGE, task("receiveTask", 'messageRef="m1"')),
    "data_object": ("", task("scriptTask", 'scriptFormat="python"',
                             '<bpmn:dataOutputAssociation id="doa"><bpmn:targetRef>dor</bpmn:targetRef>'
                             '</bpmn:dataOutputAssociation><bpmn:script>x = 1</bpmn:script>')
                    + '\n    <bpmn:dataObjectReference id="dor" name="结果" dataObjectRef="do1" />'
                      '\n    <bpmn:dataObject id="do1" />'),
    "default_flow": ("", """    <bpmn:exclusiveGateway id="t1" default="fdef"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fdef</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="fa" sourceRef="t1" targetRef="end"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${amount &gt; 5}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fdef" sourceRef="t1" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>fa</bpmn:incoming><bpmn:incoming>fdef</bpmn:incoming></bpmn:endEvent>"""),
    "inclusive": ("", """    <bpmn:inclusiveGateway id="t1" default="fb"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:inclusiveGateway>
    <bpmn:sequenceFlow id="fa" sourceRef="t1" targetRef="j"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${a}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fb" sourceRef="t1" targetRef="j" />
    <bpmn:inclusiveGateway id="j"><bpmn:incoming>fa</bpmn:incoming><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fe</bpmn:outgoing></bpmn:inclusiveGateway>
    <bpmn:sequenceFlow id="fe" sourceRef="j" targetRef="end" />
""" + END),
    "event_based": (MESSAGE, """    <bpmn:eventBasedGateway id="t1"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:sequenceFlow id="fa" sourceRef="t1" targetRef="msg" />
    <bpmn:sequenceFlow id="fb" sourceRef="t1" targetRef="tim" />
    <bpmn:intermediateCatchEvent id="msg"><bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fc</bpmn:outgoing><bpmn:messageEventDefinition messageRef="m1" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="tim"><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fd</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="fc" sourceRef="msg" targetRef="end" />
    <bpmn:sequenceFlow id="fd" sourceRef="tim" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>fc</bpmn:incoming><bpmn:incoming>fd</bpmn:incoming></bpmn:endEvent>"""),
    "message_throw": (MESSAGE, event("intermediateThrowEvent", '<bpmn:messageEventDefinition messageRef="m1" camunda:class="x.Y" />')),
    "signal": ('  <bpmn:signal id="s1" name="alarm" />\n', event("intermediateThrowEvent", '<bpmn:signalEventDefinition signalRef="s1" />')),
    "escalation": ('  <bpmn:escalation id="e1" name="esc" escalationCode="E1" />\n',
                   event("intermediateThrowEvent", '<bpmn:escalationEventDefinition escalationRef="e1" />')),
    "conditional": ("", event("intermediateCatchEvent", '<bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">${ready}</bpmn:condition></bpmn:conditionalEventDefinition>')),
    "multi_instance": ("", task("userTask", 'camunda:candidateGroups="clerk" camunda:assignee="${reviewer}"',
                                '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}" camunda:elementVariable="reviewer" />')),
    "dmn_rule": ("", task("businessRuleTask", 'camunda:decisionRef="decide" camunda:resultVariable="result" camunda:mapDecisionResult="singleEntry"')),
    "compensation": ("", """    <bpmn:serviceTask id="t1" camunda:type="external" camunda:topic="pay"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:boundaryEvent id="cb" attachedToRef="t1"><bpmn:compensateEventDefinition /></bpmn:boundaryEvent>
    <bpmn:scriptTask id="undo" isForCompensation="true" scriptFormat="python"><bpmn:script>x = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f1" sourceRef="t1" targetRef="th" />
    <bpmn:intermediateThrowEvent id="th"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>fe</bpmn:outgoing><bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="fe" sourceRef="th" targetRef="end" />
""" + END + '\n    <bpmn:association id="a1" associationDirection="One" sourceRef="cb" targetRef="undo" />'),
}
# What each must give: None = validates; else the elements named, one message each.
EXPECTED = {
    "svc_class": ["t1"], "svc_delegate": ["t1"], "svc_expression": ["t1"], "send_task": ["t1"],
    "receive_task": ["t1"], "dmn_rule": ["t1"], "compensation": ["cb"],
    "data_object": None, "default_flow": None, "inclusive": None, "event_based": None, "message_throw": None,
    "signal": None, "escalation": None, "conditional": None, "multi_instance": None,
}
RAW = re.compile(r"Traceback|TypeError|object of type|Error\(|Exception|NotImplemented|\bb'<", re.I)
HAN = re.compile(r"[\u4e00-\u9fff]")


def model(name: str) -> SourceFile:
    extra, body = MODELS[name]
    return SourceFile(f"{name}.bpmn", HEAD.format(id=name, extra=extra, body=body).encode())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_camunda_7_example_validates_or_gets_one_located_chinese_message_per_construct(name):
    try:
        parse_deployment([model(name)])
    except DefinitionError as err:
        problems = err.problems
    else:
        problems = []
    for p in problems:
        assert p.file == f"{name}.bpmn" and p.line and p.line > 1 and p.element, str(p)
        assert HAN.search(p.message) and "请" in p.message, str(p)
        assert not RAW.search(p.message), str(p)
    expected = EXPECTED.get(name, "either")
    if expected != "either":
        assert [p.element for p in problems] == (expected or []), [str(p) for p in problems]


def test_the_service_task_message_says_what_to_draw_instead():
    with pytest.raises(DefinitionError) as err:
        parse_deployment([model("svc_class")])
    (problem,) = err.value.problems
    assert str(problem).startswith("svc_class.bpmn:6: [t1] 本系统不运行 Java 实现（Java 类（camunda:class））")
    assert 'camunda:type="external" camunda:topic=' in problem.message


def test_a_process_without_is_executable_deploys_with_a_warning():
    src = model("default_flow")
    src = SourceFile(src.filename, src.data.replace(b' isExecutable="true"', b""))
    parsed = parse_deployment([src])
    assert [d.key for d in parsed.definitions] == ["default_flow"]
    (warning,) = parsed.warnings
    assert str(warning).startswith("default_flow.bpmn:3: [default_flow]")
    assert '在 <bpmn:process> 上加 isExecutable="true"' in warning.message
    assert check_sources([src], None)[1] == []  # a warning does not block


def test_the_only_process_not_executable_names_it_and_the_fix():
    src = model("default_flow")
    src = SourceFile(src.filename, src.data.replace(b'isExecutable="true"', b'isExecutable="false"'))
    with pytest.raises(DefinitionError) as err:
        parse_deployment([src])
    (problem,) = err.value.problems
    assert (problem.file, problem.line, problem.element) == ("default_flow.bpmn", 3, "default_flow")
    assert 'isExecutable="true"' in problem.message


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "GB18030", "UTF-16"])
def test_a_model_saved_in_another_encoding_deploys_as_utf8(sqlite_engine, encoding):
    text = HEAD.format(id="enc", extra="", body=task("scriptTask", 'scriptFormat="python"',
                                                    "<bpmn:script>x = 1</bpmn:script>"))
    text = text.replace('encoding="UTF-8"', f'encoding="{encoding}"').replace('name="办事"', 'name="Prüfung"')
    data = text.encode({"UTF-16": "utf-16"}.get(encoding, encoding))
    (deployed,) = sqlite_engine.deploy(sources=[SourceFile("enc.bpmn", data)])
    with sqlite_engine.db.reader.connect() as conn:
        row = definition_store.by_id(conn, deployed.id)
        (stored,) = json.loads(row.files_json)
        content = definition_store.file_content(conn, stored["sha256"]).content
    assert content.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "Prüfung" in content
    case = sqlite_engine.cases.start_case("enc", {}, Actor("a", frozenset()))
    assert case.status == "completed"


def test_validate_prints_the_is_executable_warning_and_succeeds(tmp_path, capsys):
    from yijianshi.cli.main import main

    src = model("default_flow")
    path = tmp_path / "default_flow.bpmn"
    path.write_bytes(src.data.replace(b' isExecutable="true"', b""))
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and "全部有效" in out
    assert f"提示：{path}:3: [default_flow]" in err and 'isExecutable="true"' in err


def test_a_wrapped_python_exception_never_reaches_the_message():
    from yijianshi.engine.modeling.unsupported import structure_message

    message = structure_message("TypeError('Object of type Foo is not JSON serializable')")
    assert message.startswith("流程结构有误") and "TypeError" not in message
    assert "没有找到" in structure_message('No DMN Diagram available with id "d1", Available DMN ids are: .')

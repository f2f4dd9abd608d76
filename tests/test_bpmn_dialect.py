"""Tests for engine.bpmn_dialect: assignment, lanes, formless flag and form lint, with line numbers."""
from __future__ import annotations

import json

import pytest

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta, read_user_tasks
from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.forms import Form, FormField
from yijianshi.engine.modeling.xml_loading import parse_xml, validate_bpmn_schema

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
"""

LANES_BPMN = HEADER + """  <bpmn:collaboration id="Collab_1">
    <bpmn:participant id="Participant_1" name="出生一件事" processRef="birth" />
  </bpmn:collaboration>
  <bpmn:process id="birth" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_hospital" name="医院">
        <bpmn:flowNodeRef>issue_cert</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_police" name=" 公安户籍 ">
        <bpmn:flowNodeRef>register</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>insurance_sub</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:userTask id="issue_cert" name="签发出生医学证明" />
    <bpmn:userTask id="register" name="户口登记" camunda:candidateGroups=" police_a, police_b ,, " camunda:dueDate="${dueDate}" />
    <bpmn:userTask id="review" name="复核">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="formless" value="true" />
        </camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:subProcess id="insurance_sub" name="医保参保">
      <bpmn:userTask id="enrol" name="参保登记" />
    </bpmn:subProcess>
  </bpmn:process>
  <bpmn:process id="free_process" isExecutable="false">
    <bpmn:userTask id="unassigned" name="无人认领" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collab_1">
      <bpmndi:BPMNShape id="Participant_1_di" bpmnElement="Participant_1" isHorizontal="true">
        <dc:Bounds x="130" y="80" width="800" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_hospital_di" bpmnElement="Lane_hospital" isHorizontal="true">
        <dc:Bounds x="160" y="80" width="770" height="125" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_police_di" bpmnElement="Lane_police" isHorizontal="true">
        <dc:Bounds x="160" y="205" width="770" height="125" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="issue_cert_di" bpmnElement="issue_cert">
        <dc:Bounds x="200" y="100" width="100" height="80" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def line_of(text: str, marker: str) -> int:
    """1-based line of the first occurrence of marker."""
    return text.count("\n", 0, text.index(marker)) + 1


def read(text: str) -> tuple[dict[str, UserTaskMeta], list[Problem]]:
    return read_user_tasks(parse_xml(text.encode(), "t.bpmn"), "t.bpmn")


def form_bpmn(fields_xml: str) -> str:
    """A one-task Camunda file whose user task carries the given formField elements."""
    return HEADER + f"""  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask id="apply" name="申请" camunda:formKey="embedded:app:forms/apply.html">
      <bpmn:extensionElements>
        <camunda:formData>
{fields_xml}
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="p">
      <bpmndi:BPMNShape id="apply_di" bpmnElement="apply">
        <dc:Bounds x="200" y="100" width="100" height="80" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_fixture_files_are_schema_valid() -> None:
    # Guards the fixtures themselves, so lint tests are not accidentally testing malformed BPMN.
    for text in (LANES_BPMN, form_bpmn('<camunda:formField id="a" label="A" type="string" />')):
        assert validate_bpmn_schema(parse_xml(text.encode(), "t.bpmn"), "t.bpmn") == []


def test_candidate_groups_lanes_and_due_date() -> None:
    tasks, problems = read(LANES_BPMN)
    assert problems == []
    assert set(tasks) == {"issue_cert", "register", "review", "enrol", "unassigned"}
    register = tasks["register"]
    assert register.candidate_groups == ("police_a", "police_b")
    assert register.lane == "公安户籍"
    assert register.groups == ("police_a", "police_b")
    assert register.due_date == "${dueDate}"
    assert register.process_id == "birth"
    assert register.name == "户口登记"
    assert register.line == line_of(LANES_BPMN, '<bpmn:userTask id="register"')


def test_lane_is_the_fallback_group() -> None:
    tasks, _ = read(LANES_BPMN)
    assert tasks["issue_cert"].candidate_groups == ()
    assert tasks["issue_cert"].lane == "医院"
    assert tasks["issue_cert"].groups == ("医院",)
    assert tasks["issue_cert"].due_date is None


def test_task_inside_subprocess_inherits_the_subprocess_lane() -> None:
    tasks, _ = read(LANES_BPMN)
    enrol = tasks["enrol"]
    # Keyed by the process the engine runs it in: an embedded subprocess is one of its own.
    assert enrol.process_id == "insurance_sub"
    assert enrol.lane == "公安户籍"
    assert enrol.line == line_of(LANES_BPMN, '<bpmn:userTask id="enrol"')


def test_task_without_lane_or_groups_has_no_groups() -> None:
    tasks, _ = read(LANES_BPMN)
    assert tasks["unassigned"].process_id == "free_process"
    assert tasks["unassigned"].lane is None
    assert tasks["unassigned"].groups == ()


def test_nested_lane_wins_over_parent_lane() -> None:
    text = LANES_BPMN.replace(
        """        <bpmn:flowNodeRef>issue_cert</bpmn:flowNodeRef>
      </bpmn:lane>""",
        """        <bpmn:flowNodeRef>issue_cert</bpmn:flowNodeRef>
        <bpmn:childLaneSet id="LaneSet_2">
          <bpmn:lane id="Lane_obstetrics" name="产科">
            <bpmn:flowNodeRef>issue_cert</bpmn:flowNodeRef>
          </bpmn:lane>
        </bpmn:childLaneSet>
      </bpmn:lane>""")
    tasks, _ = read(text)
    assert tasks["issue_cert"].lane == "产科"


def test_formless_flag() -> None:
    tasks, _ = read(LANES_BPMN)
    assert tasks["review"].formless is True
    assert tasks["register"].formless is False
    assert tasks["review"].form is None
    text = LANES_BPMN.replace('<camunda:property name="formless" value="true" />',
                              '<camunda:property name="formless" value="false" />')
    assert read(text)[0]["review"].formless is False


def test_form_of_every_type_is_read() -> None:
    text = form_bpmn("""          <camunda:formField id="name" label="姓名" type="string" defaultValue="张三">
            <camunda:validation>
              <camunda:constraint name="required" />
              <camunda:constraint name="minlength" config="2" />
              <camunda:constraint name="maxlength" config="20" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="age" label="年龄" type="long">
            <camunda:validation>
              <camunda:constraint name="min" config="0" />
              <camunda:constraint name="max" config="150" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="agree" label="同意" type="boolean" />
          <camunda:formField id="approved" label="通过" type="boolean">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="attest" label="承诺" type="boolean">
            <camunda:validation><camunda:constraint name="checked" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="birth" type="date">
            <camunda:validation>
              <camunda:constraint name="min" config="2000-01-01" />
              <camunda:constraint name="readonly" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="kind" label="类别" type="enum">
            <camunda:value id="local" name="本地" />
            <camunda:value id="other" name="外地" />
          </camunda:formField>""")
    tasks, problems = read(text)
    assert problems == []
    form = tasks["apply"].form
    assert form == Form((
        FormField(id="name", label="姓名", type="string", default="张三", required=True,
                  minlength=2, maxlength=20),
        FormField(id="age", label="年龄", type="long", min=0.0, max=150.0),
        FormField(id="agree", label="同意", type="boolean"),
        FormField(id="approved", label="通过", type="boolean", required=True),
        FormField(id="attest", label="承诺", type="boolean", checked=True),
        FormField(id="birth", label="birth", type="date", readonly=True, min="2000-01-01"),
        FormField(id="kind", label="类别", type="enum", options=(("local", "本地"), ("other", "外地"))),
    ))


def test_form_is_read_without_form_key() -> None:
    text = form_bpmn('<camunda:formField id="a" label="A" type="string" />').replace(
        ' camunda:formKey="embedded:app:forms/apply.html"', "")
    tasks, _ = read(text)
    assert tasks["apply"].form is not None
    assert tasks["apply"].form.field("a") is not None


def test_meta_round_trips_through_json() -> None:
    text = form_bpmn('<camunda:formField id="k" type="enum">'
                     '<camunda:value id="x" name="X" /></camunda:formField>')
    tasks, _ = read(text)
    tasks.update(read(LANES_BPMN)[0])
    for meta in tasks.values():
        assert UserTaskMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


LINT_CASES = [
    ('<camunda:formField id="a" label="A" type="money" />', '<camunda:formField id="a"', "不受支持"),
    ('<camunda:formField id="a" label="A" />', '<camunda:formField id="a"', "缺少 type"),
    ('<camunda:formField id="a" type="string" />\n<camunda:formField id="a" type="long" />',
     '<camunda:formField id="a" type="long"', "重复"),
    ('<camunda:formField id="k" type="enum" />', '<camunda:formField id="k"', "没有任何选项"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="minlength" config="two" /></camunda:validation></camunda:formField>',
     'name="minlength"', "不是非负整数"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="maxlength" config="-3" /></camunda:validation></camunda:formField>',
     'name="maxlength"', "不是非负整数"),
    ('<camunda:formField id="a" type="long"><camunda:validation>\n'
     '<camunda:constraint name="min" config="abc" /></camunda:validation></camunda:formField>',
     'name="min"', "不是数字"),
    ('<camunda:formField id="a" type="long"><camunda:validation>\n'
     '<camunda:constraint name="max" config="" /></camunda:validation></camunda:formField>',
     'name="max"', "不是数字"),
    ('<camunda:formField id="d" type="date"><camunda:validation>\n'
     '<camunda:constraint name="max" config="2025-02-30" /></camunda:validation></camunda:formField>',
     'name="max"', "不是有效日期"),
    ('<camunda:formField id="a" type="long"><camunda:validation>\n'
     '<camunda:constraint name="min" config="10" />\n<camunda:constraint name="max" config="5" />'
     '</camunda:validation></camunda:formField>', '<camunda:formField id="a"', "大于 max"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="minlength" config="10" />\n<camunda:constraint name="maxlength" config="5" />'
     '</camunda:validation></camunda:formField>', '<camunda:formField id="a"', "大于 maxlength"),
    ('<camunda:formField id="first-name" type="string" />', '<camunda:formField id="first-name"', "合法的变量名"),
    ('<camunda:formField id="1st" type="string" />', '<camunda:formField id="1st"', "合法的变量名"),
    ('<camunda:formField id="class" type="string" />', '<camunda:formField id="class"', "合法的变量名"),
    ('<camunda:formField id="__class__" type="string" />', '<camunda:formField id="__class__"', "下划线"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="validator" config="x.Y" /></camunda:validation></camunda:formField>',
     'name="validator"', "不支持的校验约束"),
    ('<camunda:formField id="n" type="long" defaultValue="many" />', '<camunda:formField id="n"', "默认值"),
    ('<camunda:formField id="n" type="long"><camunda:validation>\n'
     '<camunda:constraint name="idcard" /></camunda:validation></camunda:formField>',
     'name="idcard"', "只适用于 string 类型"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="required_if" config="b" /></camunda:validation></camunda:formField>',
     'name="required_if"', "应写成 字段=值"),
    ('<camunda:formField id="a" type="string"><camunda:validation>\n'
     '<camunda:constraint name="required_if" config="gone=true" /></camunda:validation></camunda:formField>',
     '<camunda:formField id="a"', "不存在的字段 “gone”"),
    ('<camunda:formField id="c" type="enum"><camunda:validation>\n'
     '<camunda:constraint name="at_least_one" config="custom: a" /></camunda:validation>'
     '<camunda:value id="custom" /></camunda:formField>\n<camunda:formField id="a" type="string" />',
     '<camunda:formField id="c"', "不是本表单的 boolean 字段"),
    ('<camunda:formField id="a" type="boolean"><camunda:validation>\n'
     '<camunda:constraint name="confirm" config="false" /></camunda:validation></camunda:formField>',
     'name="confirm"', "应写成 值: 确认提示"),
    ('<camunda:formField id="s" type="string"><camunda:validation>\n'
     '<camunda:constraint name="checked" /></camunda:validation></camunda:formField>',
     'name="checked"', "不是 boolean 类型"),
]


def test_checked_numbers_and_rules_between_fields_are_read() -> None:
    tasks, problems = read(form_bpmn(
        '<camunda:formField id="id_no" type="string"><camunda:validation><camunda:constraint name="idcard" />'
        '</camunda:validation></camunda:formField>\n'
        '<camunda:formField id="ok" type="boolean"><camunda:validation>'
        '<camunda:constraint name="confirm" config="false: 确定不通过吗？" /></camunda:validation></camunda:formField>\n'
        '<camunda:formField id="why" type="string"><camunda:validation>'
        '<camunda:constraint name="required_if" config="ok=false, id_no=x" /></camunda:validation></camunda:formField>\n'
        '<camunda:formField id="how" type="enum"><camunda:validation>'
        '<camunda:constraint name="at_least_one" config="custom: ok" /></camunda:validation>'
        '<camunda:value id="custom" /></camunda:formField>'))
    assert problems == []
    form = tasks["apply"].form
    assert form.field("id_no").format == "idcard"
    assert form.field("ok").confirm == ("false", "确定不通过吗？")
    assert form.field("why").required_if == (("ok", "false"), ("id_no", "x"))
    assert form.field("how").at_least_one == ("custom", ("ok",))


@pytest.mark.parametrize(("fields_xml", "marker", "fragment"), LINT_CASES)
def test_each_lint_problem_is_reported_with_its_line(fields_xml: str, marker: str, fragment: str) -> None:
    text = form_bpmn(fields_xml)
    _, problems = read(text)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == "t.bpmn"
    assert problem.element == "apply"
    assert problem.line == line_of(text, marker)
    assert fragment in problem.message


def test_several_problems_are_all_reported() -> None:
    text = form_bpmn('<camunda:formField id="a b" type="string" />\n'
                     '<camunda:formField id="e" type="enum" />\n'
                     '<camunda:formField id="ok" type="string" />')
    tasks, problems = read(text)
    assert [p.line for p in problems] == [line_of(text, 'id="a b"'), line_of(text, 'id="e"')]
    # The usable part of the form is still read, so the caller can show it in previews.
    assert [f.id for f in tasks["apply"].form.fields] == ["ok"]


def test_chinese_field_ids_are_valid_identifiers() -> None:
    _, problems = read(form_bpmn('<camunda:formField id="姓名" type="string" />'))
    assert problems == []

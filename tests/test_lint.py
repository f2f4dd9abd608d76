"""Designer lint (engine/modeling/lint/): each rule finds its mistake at the right file and line, the shipped
processes and the test fixtures are clean, and `validate` prints lint problems like schema problems."""
from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import pytest

from yijianshi.cli.definitions_cmds import cmd_validate as validate_with_lint
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.lint import lint_files
from yijianshi.engine.modeling.registry import find_registry, load_registry, parse_registry

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = {"entries": [
    {"code": "applicant", "name": "申请人", "kind": "role"},
    {"code": "market", "name": "市场监管局", "kind": "department"},
    {"code": "supervision", "name": "督查督办", "kind": "role"},
    {"code": "ninghe", "name": "宁河区", "kind": "region"},
]}
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'id="d" targetNamespace="http://yijianshi.example/lint">\n')
FORM = ('<bpmn:extensionElements><camunda:formData><camunda:formField id="ok" label="同意" type="boolean" />'
        '</camunda:formData></bpmn:extensionElements>')
BAD = HEAD + f"""  <bpmn:message id="Msg_reply" name="dept_reply" />
  <bpmn:message id="Msg_out" name="notify" />
  <bpmn:signal id="Sig_never" name="never_thrown" />
  <bpmn:process id="bad" name="错误示例" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="unknown_group" name="未知部门" camunda:candidateGroups="tax_bureau">{FORM}</bpmn:userTask>
    <bpmn:userTask id="region_group" name="地区当部门" camunda:candidateGroups="ninghe">{FORM}</bpmn:userTask>
    <bpmn:userTask id="no_form" name="没有表单" camunda:candidateGroups="market" />
    <bpmn:userTask id="english" name="Review" camunda:candidateGroups="market">{FORM}</bpmn:userTask>
    <bpmn:userTask id="bad_field" name="字段" camunda:candidateGroups="market"><bpmn:extensionElements><camunda:formData>
      <camunda:formField id="EnterpriseName" label="Enterprise name" type="string" />
    </camunda:formData></bpmn:extensionElements></bpmn:userTask>
    <bpmn:userTask id="bad_due" name="期限" camunda:candidateGroups="market" camunda:dueDate="now() - days(2)">{FORM}</bpmn:userTask>
    <bpmn:callActivity id="call_missing" name="调用" calledElement="no_such_process" />
    <bpmn:businessRuleTask id="rule_missing" name="决策" camunda:decisionRef="no_such_decision" />
    <bpmn:scriptTask id="forbidden" name="脚本" scriptFormat="python"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="naive_timer" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">"2025-10-01T09:00:00"</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="delta_timer" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">hours(2)</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="number_due" name="期限" camunda:candidateGroups="market" camunda:dueDate="5">{FORM}</bpmn:userTask>
    <bpmn:intermediateCatchEvent id="bad_region" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">add_working_days(now(), 3, "mars")</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="bad_duration" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"3 days"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="wait_reply" name="等回复"><bpmn:messageEventDefinition messageRef="Msg_reply" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateThrowEvent id="send" name="发出"><bpmn:messageEventDefinition messageRef="Msg_out" /></bpmn:intermediateThrowEvent>
    <bpmn:intermediateCatchEvent id="wait_signal" name="等信号"><bpmn:signalEventDefinition signalRef="Sig_never" /></bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="gw" name="判断" />
    <bpmn:endEvent id="end_a" />
    <bpmn:endEvent id="end_b" />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="gw" />
    <bpmn:sequenceFlow id="f_a" sourceRef="gw" targetRef="end_a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">ok == True</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_b" sourceRef="gw" targetRef="end_b" />
  </bpmn:process>
</bpmn:definitions>
"""


def _line(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


@pytest.fixture
def bad_dir(tmp_path):
    (tmp_path / "registry.json").write_text(json.dumps(REGISTRY, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bad.bpmn").write_text(BAD, encoding="utf-8")
    return tmp_path


def _found(problems, element: str, words: str) -> list[str]:
    return [str(p) for p in problems if p.element == element and words in p.message]


@pytest.mark.parametrize("element, words, marker", [
    ("unknown_group", "“tax_bureau”（camunda:candidateGroups）未在 registry.json 登记", 'id="unknown_group"'),
    ("region_group", "是地区代码", 'id="region_group"'),
    ("no_form", "既没有表单", 'id="no_form"'),
    ("english", "应使用简体中文", 'id="english"'),
    ("bad_field", "snake_case", 'id="EnterpriseName"'),
    ("bad_field", "标签“Enterprise name”应使用简体中文", 'id="EnterpriseName"'),
    ("bad_due", "早于起算时间", 'id="bad_due"'),
    ("call_missing", "“no_such_process”不在这些文件中", 'id="call_missing"'),
    ("rule_missing", "“no_such_decision”不在这些 DMN 文件中", 'id="rule_missing"'),
    ("forbidden", "不允许的写法", "import os"),
    ("naive_timer", "没有时区", '"2025-10-01T09:00:00"'),
    ("delta_timer", "不是日期时间（datetime）、日期（date）或 ISO 8601 时间字符串", "hours(2)"),
    ("number_due", "不是日期时间（datetime）、日期（date）或 ISO 8601 时间字符串", 'id="number_due"'),
    ("bad_region", "地区“mars”未在登记表", '"mars"'),
    ("bad_duration", "不是 ISO 8601 时长", '"3 days"'),
    ("send", "没有内容表达式", 'messageRef="Msg_out"'),
    ("wait_signal", "没有任何地方抛出", 'id="wait_signal"'),
    ("gw", "没有默认流向", 'id="gw"'),
    ("f_b", "既不是默认流，也没有条件", 'id="f_b"'),
])
def test_each_rule_reports_at_the_line(bad_dir, element, words, marker):
    problems = lint_files([bad_dir])
    found = [p for p in problems if p.element == element and words in p.message]
    assert found, [str(p) for p in problems]
    assert found[0].line == _line(BAD, marker)
    assert str(found[0]).startswith(f"{bad_dir / 'bad.bpmn'}:{found[0].line}: [{element}]")


def test_timer_and_due_date_expressions_may_give_a_datetime_a_date_or_an_iso_string(tmp_path):
    """What passes here must also run: a datetime timer (now() + hours(...)) is armed by the engine
    (tests/test_cases.py), a timedelta or a number is refused with its file and line."""
    task = '<bpmn:userTask id="{id}" name="期限" camunda:candidateGroups="market" camunda:dueDate="{due}">' + FORM + '</bpmn:userTask>'
    good = HEAD + '<bpmn:process id="good" name="示例" isExecutable="true">' + "".join(
        task.format(id=f"t{i}", due=due) for i, due in enumerate(
            ["now() + hours(0.02)", "add_working_days(now(), 3)", "now().date() + days(3)", "now_iso()"])) + "</bpmn:process></bpmn:definitions>"
    (tmp_path / "good.bpmn").write_text(good, encoding="utf-8")
    assert [str(p) for p in lint_files([tmp_path])] == []


def test_shipped_processes_and_fixtures_are_clean():
    assert lint_files([ROOT / "processes"]) == []
    # The Camunda corpus's refused files (tests/fixtures/camunda/corpus/refused/) are refused on purpose
    # (Java implementations): they are checked by tests/test_camunda_corpus.py, not here.
    refused = ROOT / "tests" / "fixtures" / "camunda" / "corpus" / "refused"
    fixtures = sorted(p for p in (ROOT / "tests" / "fixtures").rglob("*") if p.suffix in (".bpmn", ".dmn")
                      and refused not in p.parents)
    assert refused.is_dir() and len(fixtures) > 20
    assert lint_files(fixtures) == []


def test_an_element_without_a_position_in_a_drawn_diagram(tmp_path):
    source = (ROOT / "processes" / "open_restaurant" / "items" / "signboard.bpmn").read_text(encoding="utf-8")
    cut = source.replace('<bpmndi:BPMNShape id="review_signboard_di" bpmnElement="review_signboard">',
                         '<bpmndi:BPMNShape id="review_signboard_di" bpmnElement="start">')
    (tmp_path / "signboard.bpmn").write_text(cut, encoding="utf-8")
    problems = lint_files([tmp_path], registry=load_registry(ROOT / "processes" / "registry.json"))
    assert [p.element for p in problems if "没有位置" in p.message] == ["review_signboard"]


def test_scenario_metadata_must_match_the_merged_form(tmp_path):
    folder = ROOT / "processes" / "open_restaurant"
    (tmp_path / "items").mkdir()
    for f in folder.rglob("*.bpmn"):
        text = f.read_text(encoding="utf-8")
        if f.name == "food_permit.bpmn":
            text = text.replace('name="visits_before" value="2"', 'name="visits_before" value="两次"') \
                       .replace("floor_area,serves_alcohol", "floor_area,shop_sign")
        (tmp_path / f.relative_to(folder)).write_text(text, encoding="utf-8")
    (tmp_path / "route.dmn").write_bytes((folder / "route.dmn").read_bytes())
    problems = lint_files([tmp_path], registry=load_registry(ROOT / "processes" / "registry.json"))
    messages = [p.message for p in problems]
    assert any("visits_before 应为非负整数" in m for m in messages)
    assert any("shop_sign 不是场景“open_restaurant”一表申请中的字段" in m for m in messages)


def test_a_field_provided_by_data_sharing_need_not_be_on_the_merged_form(tmp_path):
    folder = ROOT / "processes" / "school_enrolment"
    (tmp_path / "items").mkdir()
    for f in folder.rglob("*.*"):
        if f.is_file():
            text = f.read_bytes()
            if f.name == "hukou_verification.bpmn":  # the register no longer says it provides the address
                text = text.replace(b'<camunda:property name="shares_fields" value="hukou_address"/>', b"")
            (tmp_path / f.relative_to(folder)).write_bytes(text)
    registry = load_registry(ROOT / "processes" / "registry.json")
    assert not [p for p in lint_files([folder], registry=registry) if "一表申请中的字段" in p.message]
    flagged = [p.message for p in lint_files([tmp_path], registry=registry) if "一表申请中的字段" in p.message]
    assert len(flagged) == 2 and all("hukou_address" in m for m in flagged)  # hukou and enrolment items


def test_registry_file_problems_are_located(tmp_path):
    text = json.dumps({"entries": [{"code": "market", "name": "市场监管局", "kind": "department"},
                                   {"code": "market", "name": "重复", "kind": "department"},
                                   {"code": "Tax", "name": "税务局", "kind": "department"},
                                   {"code": "x", "name": "", "kind": "team"}]}, ensure_ascii=False, indent=1)
    with pytest.raises(DefinitionError) as err:
        parse_registry(text, "registry.json")
    messages = " ".join(p.message for p in err.value.problems)
    assert "market 重复登记" in messages and "'Tax' 无效" in messages and "kind 为 'team'" in messages
    assert "缺少中文名称" in messages
    with pytest.raises(DefinitionError) as err:
        parse_registry("{not json", "registry.json")
    assert err.value.problems[0].line == 1


def test_the_shipped_registry_names_every_code_the_processes_use():
    registry = load_registry(ROOT / "processes" / "registry.json")
    assert find_registry([ROOT / "processes" / "newborn" / "items"]) == ROOT / "processes" / "registry.json"
    assert registry.name("supervision") == "督查督办" and registry.kind("ninghe") == "region"
    assert registry.is_group("front_desk") and not registry.is_group("hedong")


def test_validate_prints_lint_problems_and_fails(bad_dir, capsys):
    args = Namespace(paths=[str(bad_dir)])
    # The bad file is schema-valid apart from the dangling call: fix that so the lint runs.
    text = BAD.replace('<bpmn:callActivity id="call_missing" name="调用" calledElement="no_such_process" />', "") \
              .replace('<bpmn:businessRuleTask id="rule_missing" name="决策" camunda:decisionRef="no_such_decision" />', "") \
              .replace("import os", "x = 1").replace('id="gw" name="判断"', 'id="gw" name="判断" default="f_b"')
    (bad_dir / "bad.bpmn").write_text(text, encoding="utf-8")
    assert validate_with_lint(args) == 1
    err = capsys.readouterr().err
    line = _line(text, 'id="no_form"')
    assert f"{bad_dir / 'bad.bpmn'}:{line}: [no_form] 用户任务既没有表单" in err
    assert "（设计规范检查）" in err

    assert validate_with_lint(Namespace(paths=[str(ROOT / "processes")])) == 0
    assert "全部有效" in capsys.readouterr().out


INPUTS = ('<bpmn:extensionElements><camunda:properties><camunda:property name="input_variables" '
          'value="reviewer, urgent" /></camunda:properties></bpmn:extensionElements>\n')


def test_a_dynamic_assignment_must_read_variables_the_model_sets(tmp_path):
    """#14.2: an expression in candidate groups, candidate users or the assignee that reads a variable
    nothing sets cannot resolve when the task becomes ready: located; one set by a form field, a
    decision's output, record_actor or declared start data (input_variables) passes."""
    task = '<bpmn:userTask id="{id}" name="办理" {attrs}>' + FORM + '</bpmn:userTask>'
    text = HEAD + '<bpmn:process id="dyn" name="示例" isExecutable="true">\n' + INPUTS + "\n".join([
        task.format(id="by_field", attrs='camunda:candidateGroups="unit:${ok}"'),
        task.format(id="by_input", attrs='camunda:candidateUsers="${reviewer}"'),
        task.format(id="by_decision", attrs='camunda:candidateGroups="${grid_group}"'),
        task.format(id="lost_group", attrs='camunda:candidateGroups="unit:${lead_unit}"'),
        task.format(id="lost_assignee", attrs='camunda:assignee="${urgent ? accepted_by : owner}"'),
    ]) + "\n</bpmn:process></bpmn:definitions>"
    (tmp_path / "dyn.bpmn").write_text(text, encoding="utf-8")
    (tmp_path / "grid.dmn").write_text(
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">'
        '<decision id="grid" name="片区"><decisionTable id="t"><input id="i"><inputExpression id="ie">'
        '<text>address</text></inputExpression></input><output id="o" name="grid_group" />'
        '<rule id="r"><inputEntry id="ri"><text>-</text></inputEntry><outputEntry id="ro"><text>"street"</text>'
        '</outputEntry></rule></decisionTable></decision></definitions>', encoding="utf-8")
    problems = [p for p in lint_files([tmp_path]) if "没有来源" in p.message]
    assert {p.element: p.line for p in problems} == {
        "lost_group": _line(text, 'id="lost_group"'), "lost_assignee": _line(text, 'id="lost_assignee"')}
    messages = {p.element: p.message for p in problems}
    assert "lead_unit" in messages["lost_group"]
    assert "accepted_by、owner" in messages["lost_assignee"]


def test_assignee_and_candidate_users_literal_names_pass_bad_expressions_are_located(tmp_path):
    task = ('<bpmn:userTask id="{id}" name="审核" {attrs}>' + FORM + '</bpmn:userTask>')
    text = HEAD + '<bpmn:process id="users" name="示例" isExecutable="true">\n' + INPUTS + "\n".join([
        task.format(id="ok", attrs='camunda:assignee="zhangsan" camunda:candidateUsers="lisi,${reviewer}" '
                                   'camunda:priority="${urgent ? 80 : 20}"'),
        task.format(id="bad_assignee", attrs='camunda:assignee="${starter +}"'),
        task.format(id="bad_users", attrs='camunda:candidateUsers="lisi,${execution.getVariable(\'x\')}"'),
        task.format(id="bad_priority", attrs='camunda:assignee="lisi" camunda:priority="${urgent ?}"'),
    ]) + "\n</bpmn:process></bpmn:definitions>"
    (tmp_path / "users.bpmn").write_text(text, encoding="utf-8")
    problems = lint_files([tmp_path])
    assert {p.element for p in problems} == {"bad_assignee", "bad_users", "bad_priority"}, [str(p) for p in problems]
    assert all(p.line == _line(text, f'id="{p.element}"') for p in problems)


def test_a_unit_group_is_not_checked_against_the_registry(tmp_path):
    """`unit:<code>` names an organisation unit (a database row, engine/access/organisation.py):
    accepted at deploy like a user name; a plain unknown code is still refused."""
    task = '<bpmn:userTask id="{id}" name="属地办理" camunda:candidateGroups="{groups}">' + FORM + '</bpmn:userTask>'
    text = HEAD + '<bpmn:process id="units" name="示例" isExecutable="true">' + task.format(
        id="t1", groups="unit:dongcheng") + task.format(id="t2", groups="dongcheng") + "</bpmn:process></bpmn:definitions>"
    (tmp_path / "units.bpmn").write_text(text, encoding="utf-8")
    problems = lint_files([tmp_path], registry=load_registry(ROOT / "processes" / "registry.json"))
    assert [p.element for p in problems] == ["t2"], [str(p) for p in problems]


def test_a_shown_if_condition_is_checked_at_deploy_and_its_variable_by_lint(tmp_path, engine):
    """A form field's shown_if: a malformed condition refuses the deploy at the line; a variable nothing
    in the model sets (the field would never be shown) is a lint problem; a set one passes."""
    task = ('<bpmn:userTask id="{id}" name="评价" camunda:candidateGroups="applicant"><bpmn:extensionElements>'
            '<camunda:formData><camunda:formField id="rating_a" label="事项评价" type="string"><camunda:validation>'
            '<camunda:constraint name="shown_if" config="{config}"/></camunda:validation></camunda:formField>'
            '</camunda:formData></bpmn:extensionElements></bpmn:userTask>')
    text = HEAD + '<bpmn:process id="shown" name="示例" isExecutable="true">\n' + INPUTS + "\n".join([
        task.format(id="by_input", config="reviewer"),
        task.format(id="by_value", config="reviewer=甲|乙"),
        task.format(id="lost", config="a_result"),
    ]) + "\n</bpmn:process></bpmn:definitions>"
    (tmp_path / "shown.bpmn").write_text(text, encoding="utf-8")
    problems = [p for p in lint_files([tmp_path]) if "shown_if" in p.message]
    assert [(p.element, p.line) for p in problems] == [("lost", _line(text, 'id="lost"'))]
    assert "a_result" in problems[0].message
    (tmp_path / "shown.bpmn").write_text(text.replace('config="reviewer=甲|乙"', 'config="reviewer=="'),
                                         encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        engine.deploy([tmp_path / "shown.bpmn"])
    assert any("shown_if 约束值" in p.message for p in err.value.problems)

"""DMN decision tables in FEEL, as Camunda Modeler writes them (issue #12 item 5): each construct of the
supported subset is translated at deploy time into the Python the DMN engine evaluates, a Modeler
table runs end to end with camunda:resultVariable / mapDecisionResult, anything outside the subset is
refused at deploy and validate with a located Chinese message, and the product's own python tables
are untouched. The `sqlite_engine` fixture re-executes every case (replay) at teardown."""
from __future__ import annotations

import json
import re

import pytest
from SpiffWorkflow.util.task import TaskState

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.decision_result import map_result
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.engine.modeling.lint import lint_sources
from yijianshi.engine.scripting import feel, juel
from yijianshi.engine.scripting.sandbox import check_script
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "camunda" / "corpus"
DESK = Actor("desk", frozenset({"front_desk"}), name="窗口")
HAN = re.compile(r"[\u4e00-\u9fff]")


def matches(test: str, value, **variables) -> bool:
    source = feel.unary_tests(test)
    if source is None:
        return True
    assert check_script(source, "eval") == [], source
    return eval(source, {"__builtins__": {}}, {**juel.HELPERS, **variables, feel.INPUT: value})


def value_of(expression: str, **variables):
    source = feel.expression(expression)
    assert check_script(source, "eval") == [], source
    return eval(source, {"__builtins__": {}}, {**juel.HELPERS, **variables})


# ---- translation, construct by construct -----------------------------------------------------------

@pytest.mark.parametrize("text", ["-", "", "  ", None])
def test_dash_and_empty_match_anything(text):
    assert feel.unary_tests(text) is None


@pytest.mark.parametrize("test, value, expected", [
    ('"餐饮"', "餐饮", True), ('"餐饮"', "零售", False), ("1000", 1000, True), ("1000", 999, False),
    ("2.5", 2.5, True), ("-3", -3, True), ("true", True, True), ("true", False, False), ("false", False, True),
    ("null", None, True), ("null", 0, False),
])
def test_a_literal_means_equality(test, value, expected):
    assert matches(test, value) is expected


@pytest.mark.parametrize("test, below, at, above", [
    ("< 1000", True, False, False), ("<= 1000", True, True, False),
    ("> 1000", False, False, True), (">= 1000", False, True, True),
])
def test_comparisons_and_their_boundary(test, below, at, above):
    assert (matches(test, 999), matches(test, 1000), matches(test, 1001)) == (below, at, above)


@pytest.mark.parametrize("test, low, high", [
    ("[1000..5000]", True, True), ("]1000..5000[", False, False), ("(1000..5000)", False, False),
    ("[1000..5000)", True, False), ("(1000..5000]", False, True), ("]1000..5000]", False, True),
    ("[1000..5000[", True, False),
])
def test_ranges_include_or_exclude_their_ends_as_feel_says(test, low, high):
    assert matches(test, 1000) is low and matches(test, 5000) is high
    assert matches(test, 3000) and not matches(test, 999) and not matches(test, 5001)


def test_a_comma_list_matches_any_and_not_negates_the_whole_list():
    assert matches('"餐饮","零售"', "零售") and not matches('"餐饮","零售"', "危化")
    assert matches('"餐饮", "零售"', "餐饮")
    assert matches('< 10, [20..30], "x"', 25) and not matches("< 10, [20..30]", 15)
    assert not matches('not("危化")', "危化") and matches('not("危化")', "餐饮")
    assert matches('not("a", "b")', "c") and not matches('not("a", "b")', "b")
    assert not matches("not(< 5, [7..9])", 8) and matches("not(< 5, [7..9])", 6)


def test_a_name_or_path_means_equality_with_that_variable():
    assert matches("limit", 5, limit=5) and not matches("limit", 6, limit=5)
    assert matches("policy.max", 5, policy={"max": 5}) and not matches("< policy.max", 5, policy={"max": 5})
    assert matches("[policy.min..policy.max]", 3, policy={"min": 1, "max": 3})


def test_comparing_with_null_does_not_match_and_does_not_fail():
    assert not matches("< 1000", None) and not matches("[1..2]", None) and not matches('"A"', None)


def test_a_boolean_expression_over_the_input_value_question_mark():
    assert matches("? > 5 and ? != 7", 6) and not matches("? > 5 and ? != 7", 7) and not matches("? > 5", 5)
    assert matches('? = "a?"', "a?") and not matches("not(? > 3)", 4)
    with pytest.raises(feel.FeelError, match="只能用在条件单元格"):
        feel.expression("? + 1")


def test_dates_are_iso_literals():
    assert matches('date("2026-01-01")', "2026-01-01")
    assert matches('>= date("2026-01-01")', "2026-03-01") and not matches('< date("2026-01-01")', "2026-03-01")
    assert matches('date and time("2026-01-01T09:00:00")', "2026-01-01T09:00:00")


@pytest.mark.parametrize("text, value", [
    ('"他说\\"好\\""', '他说"好"'), ('"what?"', "what?"), ('"it\'s"', "it's"), ('"a\\\\b"', "a\\b"),
    ('"line\\nnext"', "line\nnext"), ('"tab\\there"', "tab\there"), ('"\\u4e2d"', "中"), ('"?\'\\"?"', "?'\"?"),
])
def test_strings_with_escapes_quotes_and_question_marks_survive(text, value):
    assert matches(text, value) and value_of(text) == value
    # the DMN engine rewrites every `?` outside quotes: the translation carries none at all
    assert "?" not in feel.unary_tests(text)


@pytest.mark.parametrize("expression, expected", [
    ("amount * 2 + 1", 2001), ("amount / 4 - 0.5", 249.5), ("-amount", -1000), ("(1 + 2) * 3", 9),
    ("amount = 1000", True), ("amount != 1000", False), ("amount >= 1000 and kind = \"A\"", True),
    ("amount < 10 or kind = \"B\"", False), ("not(amount > 10)", False), ("applicant.name", "张三"),
    ("applicant.missing", None), ('if amount > 500 then "大额" else "小额"', "大额"),
    ('if missing > 500 then "大额" else "小额"', "小额"), ("true", True), ("null", None), ('"A"', "A"),
])
def test_expressions(expression, expected):
    variables = {"amount": 1000, "kind": "A", "applicant": {"name": "张三"}, "missing": None}
    assert value_of(expression, **variables) == expected


@pytest.mark.parametrize("text, words", [
    ("count(items)", "FEEL 函数 count"), ("for i in xs return i", "for"), ("x in [1, 2]", "in 运算"),
    ("[1, 2, 3]", "列表"), ("{a: 1}", "上下文"), ("[1..", "不完整"), ("5 between 1 and 7", "between"),
    ('date("2026-13-01")', "2026-01-01"), ("True", "小写"), ('not("a"), "b"', "整个条件"),
    ("_secret", "下划线"),
])
def test_anything_outside_the_subset_is_refused_in_chinese_naming_the_construct(text, words):
    with pytest.raises(feel.FeelError) as err:
        feel.unary_tests(text)
    assert words in str(err.value) and HAN.search(str(err.value))


# ---- deploy, run, replay -----------------------------------------------------------------------------

def _fee_sources(dmn_text: str | None = None, bpmn_text: str | None = None) -> list[SourceFile]:
    bpmn = bpmn_text if bpmn_text is not None else (CORPUS / "c22_decision_fee.bpmn").read_text(encoding="utf-8")
    dmn = dmn_text if dmn_text is not None else (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8")
    return [SourceFile("c22_decision_fee.bpmn", bpmn.encode()), SourceFile("c22_decision_fee.dmn", dmn.encode())]


def test_the_translation_is_what_the_deployed_spec_stores():
    (definition,) = parse_deployment(_fee_sources()).definitions
    table = json.loads(definition.spec_json)["spec"]["task_specs"]["Activity_fee"]["decision_table"]
    lhs = [[entry["lhs"][0] for entry in rule["input_entries"]] for rule in table["rules"]]
    assert lhs[1] == ['_juel_cmp_("ge", dmninputexpr, 1000) and _juel_cmp_("le", dmninputexpr, 5000)', None]
    assert lhs[2][1] == 'not _juel_cmp_("eq", dmninputexpr, "危化")' and lhs[3] == [None, None]
    assert [r["output_entries"][0]["text"] for r in table["rules"]] == ['"A"', '"B"', '"C"', '"D"']


@pytest.mark.parametrize("amount, category, fee, path", [
    (500, "餐饮", "A", "Activity_fast"), (500, "危化", "D", "Activity_normal"), (999, "零售", "A", "Activity_fast"),
    (1000, "危化", "B", "Activity_normal"), (3000, "餐饮", "B", "Activity_normal"),
    (5000, "x", "B", "Activity_normal"), (9000, "零售", "C", "Activity_normal"), (9000, "危化", "D", "Activity_normal"),
    (500, "", "C", "Activity_normal"),
])
def test_the_modeler_table_runs_end_to_end_for_each_row(sqlite_engine, tmp_path, amount, category, fee, path):
    for src in _fee_sources():
        (tmp_path / src.filename).write_bytes(src.data)
    sqlite_engine.deploy([tmp_path / "c22_decision_fee.bpmn", tmp_path / "c22_decision_fee.dmn"])
    case = sqlite_engine.cases.start_case("corpus_decision_fee", {}, DESK)
    wf = sqlite_engine.cases.workflow_of(case.id)
    (apply,) = wf.get_tasks(state=TaskState.READY)
    sqlite_engine.cases.complete_work_item(str(apply.id), {"amount": str(amount), "category": category}, DESK)
    (ready,) = sqlite_engine.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)
    assert ready.task_spec.name == path
    assert ready.data["fee"] == fee and "level" not in ready.data  # Camunda: only the result variable
    assert sqlite_engine.cases.complete_work_item(str(ready.id), {}, DESK).status == "completed"


# ---- mapDecisionResult ------------------------------------------------------------------------------

_TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="n" namespace="x">
  <decision id="grade" name="评级">
    <decisionTable id="t" hitPolicy="{hit}">
      <input id="i1"><inputExpression id="ie1" typeRef="integer"><text>score</text></inputExpression></input>
      {outputs}
      <rule id="r1"><inputEntry id="e1"><text>&gt;= 60</text></inputEntry>{out1}</rule>
      <rule id="r2"><inputEntry id="e2"><text>&gt;= 90</text></inputEntry>{out2}</rule>
    </decisionTable>
  </decision>
</definitions>"""
_ONE = '<output id="o1" name="grade" typeRef="string" />'
_TWO = _ONE + '<output id="o2" name="points" typeRef="integer" />'


def _table(hit: str, two: bool) -> str:
    def outs(grade: str, points: str) -> str:
        cells = f'<outputEntry id="x{grade}"><text>"{grade}"</text></outputEntry>'
        return cells + (f'<outputEntry id="y{grade}"><text>{points}</text></outputEntry>' if two else "")
    return _TABLE.format(hit=hit, outputs=_TWO if two else _ONE, out1=outs("及格", "score"),
                         out2=outs("优秀", "score * 2"))


_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="x">
  <bpmn:process id="grading" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="rule" name="评级" camunda:decisionRef="grade" {attrs}><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:userTask id="look" name="查看" camunda:candidateGroups="front_desk"><bpmn:extensionElements><camunda:properties><camunda:property name="formless" value="true" /></camunda:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="rule" />
    <bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="look" />
    <bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""


def _decide(engine, tmp_path, attrs: str, hit: str, two: bool, score: int) -> dict:
    (tmp_path / "grading.bpmn").write_text(_PROCESS.format(attrs=attrs), encoding="utf-8")
    (tmp_path / "grade.dmn").write_text(_table(hit, two), encoding="utf-8")
    engine.deploy([tmp_path / "grading.bpmn", tmp_path / "grade.dmn"])
    case = engine.cases.start_case("grading", {"score": score}, DESK)
    (ready,) = engine.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)
    data = dict(ready.data)
    assert engine.cases.complete_work_item(str(ready.id), {}, DESK).status == "completed"
    return data


@pytest.mark.parametrize("attrs, hit, two, score, expected", [
    ('camunda:resultVariable="r" camunda:mapDecisionResult="singleEntry"', "FIRST", False, 95, "及格"),
    ('camunda:resultVariable="r" camunda:mapDecisionResult="singleEntry"', "FIRST", False, 10, None),
    ('camunda:resultVariable="r" camunda:mapDecisionResult="singleResult"', "FIRST", True, 70,
     {"grade": "及格", "points": 70}),
    ('camunda:resultVariable="r" camunda:mapDecisionResult="collectEntries"', "COLLECT", False, 95, ["及格", "优秀"]),
    ('camunda:resultVariable="r" camunda:mapDecisionResult="resultList"', "COLLECT", True, 95,
     [{"grade": "及格", "points": 95}, {"grade": "优秀", "points": 190}]),
    ('camunda:resultVariable="r"', "COLLECT", True, 70, [{"grade": "及格", "points": 70}]),  # default: resultList
])
def test_map_decision_result_stores_the_result_as_camunda_does(sqlite_engine, tmp_path, attrs, hit, two, score,
                                                               expected):
    data = _decide(sqlite_engine, tmp_path, attrs, hit, two, score)
    assert data["r"] == expected
    assert "grade" not in data and "points" not in data


def test_without_result_variable_the_outputs_are_merged_as_before(sqlite_engine, tmp_path):
    data = _decide(sqlite_engine, tmp_path, "", "FIRST", True, 95)
    assert data["grade"] == "及格" and data["points"] == 95 and "r" not in data


@pytest.mark.parametrize("mapping, results, message", [
    ("singleEntry", [{"a": 1}, {"a": 2}], "最多命中一条规则"), ("singleResult", [{"a": 1}, {"a": 2}], "最多命中一条规则"),
    ("singleEntry", [{"a": 1, "b": 2}], "只有一个输出列"), ("collectEntries", [{"a": 1, "b": 2}], "只有一个输出列"),
])
def test_results_camunda_cannot_map_fail_with_a_chinese_message(mapping, results, message):
    with pytest.raises(ValueError, match=message):
        map_result(mapping, results)


def test_an_unknown_map_decision_result_is_refused_at_deploy():
    bpmn = _PROCESS.format(attrs='camunda:resultVariable="r" camunda:mapDecisionResult="firstEntry"')
    with pytest.raises(DefinitionError) as err:
        parse_deployment([SourceFile("grading.bpmn", bpmn.encode()), SourceFile("grade.dmn", _table("FIRST", False).encode())])
    (problem,) = err.value.problems
    assert problem.element == "rule" and problem.line == 5 and "singleEntry" in problem.message


# ---- refused at deploy and validate -----------------------------------------------------------------

def test_unsupported_cells_are_refused_at_deploy_and_validate_with_file_line_and_cell():
    dmn = (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8")
    dmn = dmn.replace("<text>[1000..5000]</text>", "<text>count(items) &gt; 2</text>")
    dmn = dmn.replace('<text>"C"</text>', '<text>string length(category)</text>')
    sources = _fee_sources(dmn_text=dmn)
    with pytest.raises(DefinitionError) as err:
        parse_deployment(sources)
    lines = {n + 1 for n, line in enumerate(dmn.splitlines()) if "count(items)" in line or "string length" in line}
    for problems in (err.value.problems, lint_sources(sources, None)):
        assert {(p.file, p.line, p.element) for p in problems} == {
            ("c22_decision_fee.dmn", min(lines), "UnaryTests_b1"), ("c22_decision_fee.dmn", max(lines), "LiteralExpression_c")}
        for p in problems:
            assert HAN.search(p.message) and "请" in p.message and "Error" not in p.message, p.message
        assert any("FEEL 函数 count" in p.message for p in problems)


def test_an_unknown_expression_language_is_refused():
    dmn = (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8").replace(
        '<inputEntry id="UnaryTests_a1">', '<inputEntry id="UnaryTests_a1" expressionLanguage="javascript">')
    with pytest.raises(DefinitionError) as err:
        parse_deployment(_fee_sources(dmn_text=dmn))
    (problem,) = err.value.problems
    assert problem.element == "UnaryTests_a1" and "javascript" in problem.message and "FEEL" in problem.message


def test_a_cell_may_declare_python_inside_a_feel_table():
    dmn = (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8").replace(
        '<inputEntry id="UnaryTests_b1">\n          <text>[1000..5000]</text>',
        '<inputEntry id="UnaryTests_b1" expressionLanguage="python">\n          <text>1000 &lt;= ? &lt;= 5000</text>')
    assert "1000 &lt;= ?" in dmn
    (definition,) = parse_deployment(_fee_sources(dmn_text=dmn)).definitions
    assert "1000 <= ? <= 5000" in definition.spec_json


@pytest.mark.parametrize("language", ["feel", "FEEL", "https://www.omg.org/spec/DMN/20191111/FEEL/"])
def test_the_feel_language_may_be_named(language):
    dmn = (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8").replace(
        'id="Definitions_fee_level"', f'id="Definitions_fee_level" expressionLanguage="{language}"')
    assert "dmninputexpr" in parse_deployment(_fee_sources(dmn_text=dmn)).definitions[0].spec_json


def test_the_shipped_python_tables_are_left_as_they_are():
    folder = FIXTURES.parent.parent / "processes" / "open_restaurant"
    sources = [SourceFile(p.name, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.suffix in (".bpmn", ".dmn")]
    (definition,) = [d for d in parse_deployment(sources).definitions if d.key == "open_restaurant"]
    assert "dmninputexpr" not in definition.spec_json and '"\\"package\\""' in definition.spec_json


def test_after_a_restart_the_stored_translation_and_result_mapping_decide_the_same(migrated_sqlite_url, tmp_path):
    from tests.conftest import check_every_case, make_engine
    first = make_engine(migrated_sqlite_url)
    for src in _fee_sources():
        (tmp_path / src.filename).write_bytes(src.data)
    first.deploy([tmp_path / "c22_decision_fee.bpmn", tmp_path / "c22_decision_fee.dmn"])
    case = first.cases.start_case("corpus_decision_fee", {}, DESK)
    first.db.dispose()
    again = make_engine(migrated_sqlite_url)  # a new process: the spec comes from the database only
    try:
        (apply,) = again.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)
        again.cases.complete_work_item(str(apply.id), {"amount": "2000", "category": "餐饮"}, DESK)
        (ready,) = again.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)
        assert ready.task_spec.name == "Activity_normal" and ready.data["fee"] == "B"
        check_every_case(again)  # the replay from history decides the same
    finally:
        again.db.dispose()


def test_an_unknown_language_of_the_whole_file_is_reported_once_and_a_collect_aggregation_is_refused():
    dmn = (CORPUS / "c22_decision_fee.dmn").read_text(encoding="utf-8").replace(
        'id="Definitions_fee_level"', 'id="Definitions_fee_level" expressionLanguage="javascript"').replace(
        'hitPolicy="FIRST"', 'hitPolicy="COLLECT" aggregation="SUM"')
    with pytest.raises(DefinitionError) as err:
        parse_deployment(_fee_sources(dmn_text=dmn))
    assert [(p.line, p.element) for p in err.value.problems] == [(4, "DecisionTable_fee"), (2, "Definitions_fee_level")]
    assert "SUM" in err.value.problems[0].message and "javascript" in err.value.problems[1].message


@pytest.mark.parametrize("text", [" or ".join(["a = 1"] * 300), "+".join(["a"] * 900), "(" * 900 + "1" + ")" * 900])
def test_a_huge_cell_is_refused_or_translated_quickly_never_a_raw_recursion_error(text):
    import time
    started = time.monotonic()
    try:
        source = feel.expression(text)
    except feel.FeelError as err:
        assert "过于复杂" in str(err) or "过长" in str(err)
    else:
        assert check_script(source, "eval") is not None
    assert time.monotonic() - started < 1.0


def test_files_deployed_by_an_earlier_release_make_a_new_version_when_deployed_again():
    """Earlier releases stored FEEL cells untranslated and merged every result: the same files now
    hash differently, so deploying them again gives a version that runs them as described here."""
    import hashlib
    sources = _fee_sources()
    (definition,) = parse_deployment(sources).definitions
    old = hashlib.sha256("".join(sorted(s.sha256 for s in sources)).encode()).hexdigest()
    assert definition.content_hash != old
    folder = FIXTURES.parent.parent / "processes" / "open_restaurant"
    shipped = [SourceFile(p.name, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.suffix in (".bpmn", ".dmn")]
    (main,) = [d for d in parse_deployment(shipped).definitions if d.key == "open_restaurant"]
    from yijianshi.engine.modeling.definitions import _MAPPINGS_MARK
    files = "".join(sorted(f["sha256"] for f in main.files))
    assert main.content_hash in {hashlib.sha256((files + mark).encode()).hexdigest() for mark in ("", _MAPPINGS_MARK)}

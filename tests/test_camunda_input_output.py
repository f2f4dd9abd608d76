"""camunda:inputOutput on activities (issue #12 item 5): input parameters are local variables of the
activity, output parameters reach the case data when it completes. The Modeler-drawn fixture
(tests/fixtures/camunda/corpus/c21_parallel_input_output.bpmn) has three parallel reviewers that
each fill in `approved`, made local by an input parameter and written out as approved_a/_b/_c; a
script task after the join reads them through a camunda:list input. Also: the lint warning for the
unmapped parallel version, the refused constructs with their located messages, a save/restore round
trip and the re-execution of a case driven through the engine; an embedded subprocess with a script
inside, an external task's worker, and a failing input expression."""
from __future__ import annotations

import re

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases.state_codec import CaseStateCodec, SpecCodec
from yijianshi.engine.errors import DefinitionError, ScriptError
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.engine.modeling.lint import lint_sources, lint_warnings
from yijianshi.engine.modeling.upload_check import check_sources
from yijianshi.engine.scripting.sandbox import SafeScriptEngine
from tests.conftest import FIXTURES

MODEL = FIXTURES / "camunda" / "corpus" / "c21_parallel_input_output.bpmn"
UNMAPPED = FIXTURES / "camunda" / "corpus" / "c03_parallel_departments.bpmn"
KEY = "corpus_parallel_input_output"
ACTOR = Actor("io", frozenset({"front_desk", "market", "fire", "health"}), name="输入输出测试员")
HAN = re.compile(r"[\u4e00-\u9fff]")
REVIEWS = {"review_a": (True, "同意"), "review_b": (False, "材料不全"), "review_c": (True, "符合要求")}


def _source(text: str | None = None, name: str = MODEL.name) -> SourceFile:
    return SourceFile(name, (text if text is not None else MODEL.read_text(encoding="utf-8")).encode())


def _workflow(start: dict | None = None) -> tuple[BpmnWorkflow, object, dict]:
    (definition,) = parse_deployment([_source()]).definitions
    spec, subs = SpecCodec().loads(definition.spec_json)  # as every case gets it: stored, then restored
    wf = BpmnWorkflow(spec, subs, script_engine=SafeScriptEngine())
    wf.task_tree.data.update(start or {})
    wf.do_engine_steps()
    return wf, spec, subs


def _complete(wf: BpmnWorkflow, spec_name: str, data: dict) -> None:
    (task,) = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.name == spec_name]
    task.data.update(data)
    task.run()
    wf.do_engine_steps()


def _review(wf, name):
    approved, opinion = REVIEWS[name]
    _complete(wf, name, {"approved": approved, "opinion": opinion})


def test_each_reviewer_sees_its_local_inputs_and_writes_only_its_outputs():
    wf, _, _ = _workflow({"approved": "立案时的值"})
    _complete(wf, "Activity_accept", {"applicant_name": "张三"})
    ready = {t.task_spec.name: t.data for t in wf.get_tasks(state=TaskState.READY)}
    assert set(ready) == set(REVIEWS)
    # The input parameters: a JUEL literal, a text literal (a string), an empty one (null);
    # the local `approved` hides the case's value while the task is open.
    assert ready["review_b"] == {"approved": False, "department": "fire", "opinion": None, "applicant_name": "张三"}
    for name in ("review_b", "review_a", "review_c"):
        _review(wf, name)
    assert wf.completed
    data = wf.last_task.data
    assert {k: data[k] for k in ("approved_a", "approved_b", "approved_c")} == {
        "approved_a": True, "approved_b": False, "approved_c": True}
    assert (data["opinion_a"], data["opinion_b"], data["opinion_c"]) == ("同意", "材料不全", "符合要求")
    assert data["reviewer_b"] == {"department": "fire", "applicant": "张三"}  # a camunda:map output
    # The locals are gone; the case's own `approved` has its value from before the reviews again.
    assert data["approved"] == "立案时的值"
    assert "department" not in data and "opinion" not in data and "votes" not in data
    # The script task after the join: `votes` (a camunda:list input) is local, `all_ok` is not
    # (a variable that is no input reaches the case, as in Camunda 7), `all_approved` is the output.
    assert data["all_ok"] is False and data["all_approved"] is False


def test_without_the_mapping_the_last_reviewer_overwrites_the_others():
    """The failure the mapping fixes (and what the mapping changed: the same steps, one variable)."""
    text = re.sub(r"<camunda:inputOutput>.*?</camunda:inputOutput>", "", MODEL.read_text(encoding="utf-8"), flags=re.S)
    text = text.replace("<bpmn:script>all_ok = all(votes)</bpmn:script>", "<bpmn:script>all_ok = approved</bpmn:script>")
    (definition,) = parse_deployment([_source(text)]).definitions
    spec, subs = SpecCodec().loads(definition.spec_json)
    wf = BpmnWorkflow(spec, subs, script_engine=SafeScriptEngine())
    wf.do_engine_steps()
    _complete(wf, "Activity_accept", {"applicant_name": "张三"})
    for name in ("review_a", "review_c", "review_b"):
        _review(wf, name)
    assert wf.last_task.data["approved"] is False and "approved_a" not in wf.last_task.data


def test_a_saved_and_restored_case_keeps_its_locals_and_restores_the_hidden_value():
    wf, spec, subs = _workflow({"approved": "立案时的值"})
    codec = CaseStateCodec()

    def round_trip(w):
        restored = codec.loads(codec.dumps(w), spec, subs)
        restored.script_engine = SafeScriptEngine()
        return restored

    _complete(wf, "Activity_accept", {"applicant_name": "张三"})
    for name in ("review_c", "review_a", "review_b"):
        wf = round_trip(wf)  # the hidden values travel in the open task's internal data
        _review(wf, name)
    wf = round_trip(wf)
    assert wf.completed
    data = wf.last_task.data
    assert (data["approved_a"], data["approved_b"], data["approved_c"], data["approved"]) == (True, False, True, "立案时的值")


def test_the_mappings_are_stored_with_the_definition():
    (definition,) = parse_deployment([_source()]).definitions
    spec, _ = SpecCodec().loads(definition.spec_json)
    review = spec.task_specs["review_a"]
    (inputs,) = review.data_input_associations
    (outputs,) = review.data_output_associations
    assert inputs.parameters == [["approved", ["expr", "${false}"]], ["department", ["text", "market"]],
                                 ["opinion", ["null"]]]
    assert [name for name, _ in outputs.parameters] == ["approved_a", "opinion_a", "reviewer_a"]
    assert SpecCodec().dumps(spec, {}) == SpecCodec().dumps(*SpecCodec().loads(SpecCodec().dumps(spec, {})))


def test_a_case_runs_end_to_end_and_re_executes(engine):
    engine.deploy([MODEL])
    case = engine.cases.start_case(KEY, {}, ACTOR)
    (accept,) = case.ready
    case = engine.cases.complete_work_item(accept.id, {"applicant_name": "李四"}, ACTOR)
    items = {i.task_spec: i for i in case.ready}
    assert set(items) == set(REVIEWS)
    for name in ("review_a", "review_c", "review_b"):
        approved, opinion = REVIEWS[name]
        engine.cases.complete_work_item(items[name].id, {"approved": str(approved).lower(), "opinion": opinion}, ACTOR)
    wf = engine.cases.workflow_of(case.id)
    assert wf.completed
    data = wf.last_task.data
    assert (data["approved_a"], data["approved_b"], data["approved_c"]) == (True, False, True)
    assert "approved" not in data and "department" not in data and "votes" not in data
    assert data["all_approved"] is False
    assert engine.reexecute(case.id).ok


def test_the_unmapped_parallel_reviewers_get_a_warning_naming_both_and_the_variable():
    warnings = lint_warnings([SourceFile(UNMAPPED.name, UNMAPPED.read_bytes())])
    pairs = {(w.element, re.search(r"与“[^”]*（(\w+)）”", w.message).group(1)) for w in warnings}
    assert pairs == {("Activity_fire", "Activity_health"), ("Activity_fire", "Activity_market"),
                     ("Activity_health", "Activity_market")}
    for w in warnings:
        assert w.file == UNMAPPED.name and w.line and "“approved”" in w.message and "camunda:inputOutput" in w.message
    # A warning: shown with the deploy's notes, not a problem that stops the deploy.
    parsed, problems, lint = check_sources([SourceFile(UNMAPPED.name, UNMAPPED.read_bytes())], None)
    assert problems == [] and not [p for p in lint if "并行分支" in p.message]
    assert sorted(w.element for w in parsed.warnings) == ["Activity_fire", "Activity_fire", "Activity_health"]


def test_the_mapped_model_gets_no_warning_but_a_shared_output_name_does():
    assert lint_warnings([_source()]) == []
    text = MODEL.read_text(encoding="utf-8").replace('name="approved_b"', 'name="approved_a"')
    (warning,) = lint_warnings([_source(text)])
    assert warning.element == "review_a" and "review_b" in warning.message and "“approved_a”" in warning.message


def test_parallel_scripts_and_called_processes_are_writers_too():
    text = MODEL.read_text(encoding="utf-8")
    script = ('<bpmn:scriptTask id="review_b" name="自动核验" scriptFormat="python"><bpmn:incoming>Flow_b</bpmn:incoming>'
              '<bpmn:outgoing>Flow_b2</bpmn:outgoing><bpmn:script>opinion_a = "自动"\nfor i in [1]:\n    pass\n'
              'seen = [x for x in [1]]</bpmn:script></bpmn:scriptTask>')
    text = re.sub(r'<bpmn:userTask id="review_b".*?</bpmn:userTask>', script, text, flags=re.S)
    (warning,) = lint_warnings([_source(text)])
    assert {warning.element, "review_b"} == {"review_a", "review_b"} and "“opinion_a”" in warning.message
    assert "“x”" not in warning.message


REFUSED = [
    ('<camunda:inputParameter name="department">market</camunda:inputParameter>',
     '<camunda:inputParameter name="department"><camunda:script scriptFormat="groovy">"market"</camunda:script>'
     '</camunda:inputParameter>', "camunda:script"),
    ('<camunda:inputParameter name="department">market</camunda:inputParameter>',
     '<camunda:inputParameter name="department">${execution.getVariable("x")}</camunda:inputParameter>', "表达式"),
    ('<camunda:inputParameter name="department">market</camunda:inputParameter>',
     '<camunda:inputParameter name="1department">market</camunda:inputParameter>', "变量名"),
    ('<camunda:inputParameter name="department">market</camunda:inputParameter>',
     '<camunda:inputParameter name="department">部门：${department</camunda:inputParameter>', "表达式"),
]


@pytest.mark.parametrize("old,new,word", REFUSED)
def test_a_refused_value_gets_a_located_chinese_message(old, new, word):
    text = MODEL.read_text(encoding="utf-8").replace(old, new, 1)
    with pytest.raises(DefinitionError) as err:
        parse_deployment([_source(text)])
    (problem,) = err.value.problems
    line = text[:text.index(new)].count("\n") + 1
    assert (problem.file, problem.line, problem.element) == (MODEL.name, line, "review_a"), str(problem)
    assert word in problem.message and HAN.search(problem.message) and "请" in problem.message, str(problem)
    assert "Traceback" not in problem.message


@pytest.mark.parametrize("where,word", [("event", "bpmn:endEvent"), ("multi", "多实例")])
def test_a_mapping_where_it_cannot_run_is_refused_at_its_line(where, word):
    text = MODEL.read_text(encoding="utf-8")
    io = '<bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="x">1</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>'
    if where == "event":
        text = text.replace('<bpmn:endEvent id="Event_end" name="办结">', '<bpmn:endEvent id="Event_end" name="办结">\n' + io)
        element = "Event_end"
    else:
        text = text.replace('<bpmn:outgoing>Flow_a2</bpmn:outgoing>',
                            '<bpmn:outgoing>Flow_a2</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics camunda:collection="${xs}" />')
        element = "review_a"
    with pytest.raises(DefinitionError) as err:
        parse_deployment([_source(text)])
    (problem,) = err.value.problems
    assert problem.element == element and problem.line and word in problem.message and "请" in problem.message, str(problem)
    # the lint of an upload says nothing more about it than the deploy check does
    assert not [p for p in lint_sources([_source(text)]) if "inputOutput" in p.message]


SEQUENCE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="io_sequence" name="顺序" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="first" name="受理" camunda:candidateGroups="market">
      <bpmn:extensionElements><camunda:formData><camunda:formField id="note" label="备注" type="string" /></camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="second" name="复核" camunda:candidateGroups="market">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="label">${undefined_variable}</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_failing_input_expression_names_the_step_and_saves_nothing(engine):
    engine.deploy(sources=[SourceFile("io_sequence.bpmn", SEQUENCE.encode())])
    case = engine.cases.start_case("io_sequence", {}, ACTOR)
    (first,) = case.ready
    with pytest.raises(ScriptError) as err:
        engine.cases.complete_work_item(first.id, {"note": "好"}, ACTOR)
    assert "undefined_variable" in str(err.value) and "环节 复核" in str(err.value)
    assert [t.task_spec.name for t in engine.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)] == ["first"]


SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="io_subprocess" name="子流程" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:subProcess id="inner" name="内部核验">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="limit">${amount * 2}</camunda:inputParameter>
        <camunda:outputParameter name="checked">${within}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:startEvent id="inner_start" />
      <bpmn:scriptTask id="check" name="核验" scriptFormat="python">
        <bpmn:extensionElements><camunda:inputOutput>
          <camunda:inputParameter name="scratch">${limit - 1}</camunda:inputParameter>
        </camunda:inputOutput></bpmn:extensionElements>
        <bpmn:script>within = scratch &lt; 100
scratch = 0</bpmn:script>
      </bpmn:scriptTask>
      <bpmn:endEvent id="inner_end" />
      <bpmn:sequenceFlow id="i1" sourceRef="inner_start" targetRef="check" />
      <bpmn:sequenceFlow id="i2" sourceRef="check" targetRef="inner_end" />
    </bpmn:subProcess>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
    <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_an_embedded_subprocess_and_a_script_inside_it_keep_their_inputs_local():
    (definition,) = parse_deployment([SourceFile("io_subprocess.bpmn", SUBPROCESS.encode())]).definitions
    spec, subs = SpecCodec().loads(definition.spec_json)
    wf = BpmnWorkflow(spec, subs, script_engine=SafeScriptEngine())
    wf.task_tree.data.update({"amount": 30, "scratch": "案件的值"})
    wf.do_engine_steps()
    assert wf.completed
    # limit (60) is local to the subprocess, scratch (59) to the script; within reaches the subprocess
    # scope, which is no input there either, so it reaches the case; checked is the subprocess's output.
    assert wf.last_task.data == {"amount": 30, "scratch": "案件的值", "within": True, "checked": True}


EXTERNAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="io_external" name="外部核验" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="credit" name="信用核验" camunda:type="external" camunda:topic="io-credit">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="purpose">开办餐馆</camunda:inputParameter>
        <camunda:inputParameter name="ids"><camunda:list><camunda:value>${applicant_id}</camunda:value><camunda:value>B</camunda:value></camunda:list></camunda:inputParameter>
        <camunda:outputParameter name="credit_score">${score}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="credit" />
    <bpmn:sequenceFlow id="f2" sourceRef="credit" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_an_external_task_worker_gets_the_inputs_and_its_result_goes_through_the_outputs(engine):
    from yijianshi.engine.cases.external_tasks import TopicRequest

    engine.deploy(sources=[SourceFile("io_external.bpmn", EXTERNAL.encode())])
    case = engine.cases.start_case("io_external", {"applicant_id": "A"}, ACTOR)
    [task] = engine.external_tasks.fetch_and_lock("io-worker", 1, [TopicRequest("io-credit", 60_000)])
    assert task.variables == {"applicant_id": "A", "purpose": "开办餐馆", "ids": ["A", "B"]}
    engine.external_tasks.complete(task.row.id, "io-worker", {"score": 720, "purpose": "改写"}, ACTOR)
    wf = engine.cases.workflow_of(case.id)
    assert wf.completed
    # purpose is local (the worker's value too); score is no input, so it reaches the case as Camunda 7 does
    assert wf.last_task.data == {"applicant_id": "A", "score": 720, "credit_score": 720}
    assert engine.reexecute(case.id).ok

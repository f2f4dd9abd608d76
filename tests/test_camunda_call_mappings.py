"""Camunda 7 variable mappings of call activities (`camunda:in` / `camunda:out`) in models saved as
Camunda Modeler saves them (tests/fixtures/camunda/fire_check.bpmn is called by fire_bundle.bpmn —
two parallel call activities of it — and fire_all.bpmn), driven through the engine on SQLite: the
called process sees only what is mapped in, only what is mapped out comes back, malformed mappings
are refused at deploy with their line, and a case saved mid-call resumes and re-executes the same.
The `sqlite_engine` fixture re-executes every case and verifies its history at teardown."""
from __future__ import annotations

import pytest
from SpiffWorkflow.util.task import TaskState

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases.state_codec import CaseStateCodec, SpecCodec
from yijianshi.engine.errors import DefinitionError, ScriptError
from yijianshi.engine.modeling.call_mappings import CallMappings, MappedCallActivity, VariableMapping
from tests.conftest import FIXTURES, deploy_fixtures, make_engine

FIRE = Actor("xiaofang", frozenset({"fire"}), name="消防 小方")
DESK = Actor("chuangkou", frozenset({"front_desk"}), name="窗口 小窗")
CALLER_DATA = {"applicant_name": "张三", "amount": 21, "secret": "内部备注"}
BUNDLE = ("camunda/fire_check.bpmn", "camunda/fire_bundle.bpmn")


def _called(engine, case_id) -> dict[str, tuple[str, dict]]:
    """{call activity id: (work item id of the called process's ready step, the data the called
    process started with)}."""
    wf = engine.cases.workflow_of(case_id)
    found = {}
    for task_id, sub in wf.subprocesses.items():
        caller = wf.get_task_from_id(task_id)
        start = next(t for t in sub.tasks.values() if t.task_spec.name == "Start")
        ready = [t for t in sub.tasks.values() if t.task_spec.name == "Activity_check" and t.state == TaskState.READY]
        if ready:
            found[caller.task_spec.name] = (str(ready[0].id), dict(start.data))
    return found


def _summary_data(engine, case_id) -> dict:
    wf = engine.cases.workflow_of(case_id)
    (summary,) = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.name == "Activity_summary"]
    return dict(summary.data)


def _start_bundle(engine):
    deploy_fixtures(engine, *BUNDLE)
    return engine.cases.start_case("fire_bundle", dict(CALLER_DATA), DESK, business_key="XF-2026-001")


def test_in_by_source_and_expression_gives_the_called_process_only_those(sqlite_engine):
    case = _start_bundle(sqlite_engine)
    called = _called(sqlite_engine, case.id)
    assert set(called) == {"call_fire", "call_fire_again"}
    # source + sourceExpression (JUEL): nothing else, not even the caller's other variables
    assert called["call_fire"][1] == {"name": "张三", "double_amount": 42}
    # variables="all": every caller variable
    assert called["call_fire_again"][1] == CALLER_DATA


def test_parallel_calls_of_one_process_keep_both_results_and_unmapped_results_stay_behind(sqlite_engine):
    case = _start_bundle(sqlite_engine)
    called = _called(sqlite_engine, case.id)
    sqlite_engine.cases.complete_work_item(called["call_fire"][0], {"result": "ok", "note": "通道畅通"}, FIRE)
    sqlite_engine.cases.complete_work_item(called["call_fire_again"][0], {"result": "fail", "note": "缺灭火器"}, FIRE)
    data = _summary_data(sqlite_engine, case.id)
    # out by source and by sourceExpression (JUEL on the called process's data, and Python)
    assert data == {**CALLER_DATA, "fire_result": "ok", "fire_ok": True, "second_result": "fail", "second_score": 8}
    # the called process's own variables (result, note, internal_score) and the in targets stay there
    assert not {"result", "note", "internal_score", "name", "double_amount"} & set(data)
    (summary,) = [i for i in sqlite_engine.cases.workflow_of(case.id).get_tasks(state=TaskState.READY)]
    assert sqlite_engine.cases.complete_work_item(str(summary.id), {}, DESK).status == "completed"


def test_variables_all_in_and_out_merges_into_the_callers_data(sqlite_engine):
    deploy_fixtures(sqlite_engine, "camunda/fire_check.bpmn", "camunda/fire_all.bpmn")
    case = sqlite_engine.cases.start_case("fire_all", dict(CALLER_DATA), DESK)
    ((item, seen),) = _called(sqlite_engine, case.id).values()
    assert seen == CALLER_DATA
    sqlite_engine.cases.complete_work_item(item, {"result": "ok", "note": "合格"}, FIRE)
    data = _summary_data(sqlite_engine, case.id)
    assert {k: data[k] for k in ("applicant_name", "amount", "secret", "result", "note", "internal_score")} == \
        {**CALLER_DATA, "result": "ok", "note": "合格", "internal_score": 7}


def test_without_any_mapping_the_spiffworkflow_default_is_kept(sqlite_engine, tmp_path):
    """All in, all out: the caller continues with the called process's final data (Camunda would pass
    nothing; the shipped scenarios rely on this)."""
    text = (FIXTURES / "camunda" / "fire_all.bpmn").read_text(encoding="utf-8")
    plain = text.replace('<camunda:in variables="all" />', "").replace('<camunda:out variables="all" />', "")
    assert "camunda:in" not in plain and "camunda:out" not in plain
    (tmp_path / "fire_all.bpmn").write_text(plain, encoding="utf-8")
    sqlite_engine.deploy([FIXTURES / "camunda" / "fire_check.bpmn", tmp_path / "fire_all.bpmn"])
    case = sqlite_engine.cases.start_case("fire_all", dict(CALLER_DATA), DESK)
    ((item, seen),) = _called(sqlite_engine, case.id).values()
    assert seen == CALLER_DATA
    sqlite_engine.cases.complete_work_item(item, {"result": "fail"}, FIRE)
    data = _summary_data(sqlite_engine, case.id)
    assert data["result"] == "fail" and data["internal_score"] == 7 and data["applicant_name"] == "张三"


def test_the_business_key_in_mapping_passes_no_variable_as_in_camunda(sqlite_engine, tmp_path):
    text = (FIXTURES / "camunda" / "fire_all.bpmn").read_text(encoding="utf-8")
    only_key = text.replace('<camunda:in variables="all" />', '<camunda:in businessKey="#{execution.processBusinessKey}" />')
    (tmp_path / "fire_all.bpmn").write_text(only_key.replace('<camunda:out variables="all" />', ""), encoding="utf-8")
    sqlite_engine.deploy([FIXTURES / "camunda" / "fire_check.bpmn", tmp_path / "fire_all.bpmn"])
    case = sqlite_engine.cases.start_case("fire_all", dict(CALLER_DATA), DESK, business_key="XF-2026-002")
    ((item, seen),) = _called(sqlite_engine, case.id).values()
    assert seen == {}
    sqlite_engine.cases.complete_work_item(item, {"result": "ok"}, FIRE)
    assert _summary_data(sqlite_engine, case.id) == CALLER_DATA  # no camunda:out: nothing comes back


def test_a_failing_out_expression_names_the_call_activity_and_changes_nothing(sqlite_engine, tmp_path):
    text = (FIXTURES / "camunda" / "fire_all.bpmn").read_text(encoding="utf-8")
    (tmp_path / "fire_all.bpmn").write_text(text.replace(
        '<camunda:out variables="all" />', '<camunda:out sourceExpression="missing + 1" target="x" />'), encoding="utf-8")
    sqlite_engine.deploy([FIXTURES / "camunda" / "fire_check.bpmn", tmp_path / "fire_all.bpmn"])
    case = sqlite_engine.cases.start_case("fire_all", dict(CALLER_DATA), DESK)
    ((item, _),) = _called(sqlite_engine, case.id).values()
    with pytest.raises(ScriptError) as err:
        sqlite_engine.cases.complete_work_item(item, {"result": "ok"}, FIRE)
    assert "missing" in str(err.value) and str(err.value).endswith("（环节 消防核查）")
    assert [i for i, _ in _called(sqlite_engine, case.id).values()] == [item]  # still waiting, as before


_CALL_FIRE_IN = '<camunda:in source="applicant_name" target="name" />'


@pytest.mark.parametrize("entry,words", [
    ('<camunda:in target="name" />', ["没有说明要传递什么", "source=", "variables=\"all\""]),
    ('<camunda:out target="name" />', ["camunda:out 没有说明要传递什么"]),
    ('<camunda:in source="applicant_name" target="name" local="true" />', ["local", "没有局部变量作用域", "删除 local"]),
    ('<camunda:in businessKey="${order_no}" />', ["businessKey", "#{execution.processBusinessKey}"]),
    ('<camunda:in source="applicant_name" />', ["缺少 target", "请填写 target"]),
    ('<camunda:in source="applicant_name" target="2name" />', ["不是合法的变量名"]),
    ('<camunda:in variables="local" />', ["variables=\"all\""]),
    ('<camunda:in source="amount" sourceExpression="${amount}" target="x" />', ["同时写了", "拆成多个映射"]),
    ("<camunda:in sourceExpression=\"${execution.getVariable('amount')}\" target=\"x\" />", ["sourceExpression", "execution"]),
])
def test_a_malformed_mapping_is_refused_at_its_line(sqlite_engine, tmp_path, entry, words):
    text = (FIXTURES / "camunda" / "fire_bundle.bpmn").read_text(encoding="utf-8")
    assert _CALL_FIRE_IN in text
    (tmp_path / "fire_bundle.bpmn").write_text(text.replace(_CALL_FIRE_IN, entry), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if _CALL_FIRE_IN in row)
    paths = [FIXTURES / "camunda" / "fire_check.bpmn", tmp_path / "fire_bundle.bpmn"]
    (problem,) = sqlite_engine.validate(paths)
    assert (problem.line, problem.element) == (line, "call_fire")
    assert str(problem).startswith(f"{tmp_path / 'fire_bundle.bpmn'}:{line}: [call_fire] ")
    assert all(w in problem.message for w in words), problem.message
    with pytest.raises(DefinitionError) as err:
        sqlite_engine.deploy(paths)
    assert [str(p) for p in err.value.problems] == [str(problem)]


def test_the_mappings_are_stored_with_the_definition():
    deployed = {d.key: d for d in _parsed().definitions}
    spec, _subs = SpecCodec().loads(deployed["fire_bundle"].spec_json)
    call = spec.task_specs["call_fire"]
    assert isinstance(call, MappedCallActivity)
    assert call.variable_mappings == CallMappings(
        ins=(VariableMapping(target="name", source="applicant_name"),
             VariableMapping(target="double_amount", expression="${amount * 2}")),
        outs=(VariableMapping(target="fire_result", source="result"),
              VariableMapping(target="fire_ok", expression="${result == 'ok'}")))
    assert spec.task_specs["call_fire_again"].variable_mappings.ins == (VariableMapping(all=True),)


def _parsed():
    from yijianshi.engine.modeling.definitions import parse_deployment, read_sources

    return parse_deployment(read_sources([FIXTURES / n for n in BUNDLE]))


def test_a_case_saved_mid_call_resumes_on_a_fresh_engine_and_re_executes(sqlite_engine, migrated_sqlite_url):
    case = _start_bundle(sqlite_engine)
    called = _called(sqlite_engine, case.id)
    sqlite_engine.cases.complete_work_item(called["call_fire"][0], {"result": "ok"}, FIRE)
    # the state as stored, restored and stored again, is the same
    wf = sqlite_engine.cases.workflow_of(case.id)
    codec = CaseStateCodec()
    assert codec.dumps(codec.loads(codec.dumps(wf), wf.spec, wf.subprocess_specs)) == codec.dumps(wf)
    # another engine (its own definition cache: the spec comes back from the database) finishes the call
    other = make_engine(migrated_sqlite_url)
    try:
        other.cases.complete_work_item(called["call_fire_again"][0], {"result": "fail"}, FIRE)
        data = _summary_data(other, case.id)
        assert (data["fire_result"], data["fire_ok"], data["second_result"], data["second_score"]) == ("ok", True, "fail", 8)
        assert "result" not in data
        assert other.reexecute(case.id).ok
    finally:
        other.db.dispose()


def test_files_with_mappings_hash_apart_from_versions_that_ignored_them():
    """A version stored before mappings were applied is not taken for the same files deployed now;
    files without mappings keep their content hash (no needless new versions)."""
    import hashlib

    deployed = {d.key: d for d in _parsed().definitions}
    plain = {key: hashlib.sha256("".join(sorted(f["sha256"] for f in d.files)).encode()).hexdigest()
             for key, d in deployed.items()}
    assert deployed["fire_check"].content_hash == plain["fire_check"]
    assert deployed["fire_bundle"].content_hash != plain["fire_bundle"]

"""Deployment: versions by content hash, all-or-nothing, call activities across files, and clear
problems (file, line, element) for anything wrong."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.errors import DefinitionError
from yijianshi.storage import tables
from yijianshi.storage.tables import Definition, DefinitionFile
from tests.conftest import FIXTURES, deploy_fixtures


def _count(engine, model) -> int:
    with engine.db.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_redeploying_unchanged_files_is_a_no_op(engine):
    first = deploy_fixtures(engine, "parallel_review.bpmn", "callflow")
    assert all(d.created for d in first)
    again = deploy_fixtures(engine, "parallel_review.bpmn", "callflow")
    assert [d.created for d in again] == [False] * len(first)
    assert [(d.key, d.version) for d in again] == [(d.key, d.version) for d in first]
    assert _count(engine, Definition) == len(first)


def test_changed_file_makes_new_version_and_running_cases_stay(engine, clerk, tmp_path):
    src = tmp_path / "pr.bpmn"
    shutil.copy(FIXTURES / "parallel_review.bpmn", src)
    (v1,) = engine.deploy([src])
    old_case = engine.cases.start_case("parallel_review", {}, clerk)

    src.write_text(src.read_text(encoding="utf-8").replace("统一出件", "统一出件（新版）"), encoding="utf-8")
    (v2,) = engine.deploy([src])
    assert (v1.version, v2.version) == (1, 2) and v2.created
    new_case = engine.cases.start_case("parallel_review", {}, clerk)

    with engine.db.reader.connect() as conn:
        rows = dict(conn.execute(select(tables.Case.id,
                                        tables.Case.definition_id)).all())
    assert rows[old_case.id] == v1.id and rows[new_case.id] == v2.id
    # The old case still runs to completion on version 1.
    _finish_parallel_review(engine, old_case, clerk)
    wf = engine.cases.workflow_of(old_case.id)
    assert wf.completed
    assert wf.spec.task_specs["deliver"].bpmn_name == "统一出件"


def _finish_parallel_review(engine, case, clerk):
    forms = {"apply": {"applicant_name": "王五"}, "deliver": {"delivered": True}}
    queue = list(case.ready)
    while queue:
        item = queue.pop(0)
        result = engine.cases.complete_work_item(item.id, forms.get(item.task_spec, {"approved": True}), clerk)
        queue.extend(result.ready)
    return result


def test_called_file_is_part_of_the_callers_version(engine, tmp_path):
    shutil.copytree(FIXTURES / "callflow", tmp_path / "flow")
    before = {d.key: d for d in engine.deploy([tmp_path / "flow"])}
    child = tmp_path / "flow" / "child.bpmn"
    child.write_text(child.read_text(encoding="utf-8").replace("市场监管审查", "市场监管局审查"), encoding="utf-8")
    after = {d.key: d for d in engine.deploy([tmp_path / "flow"])}
    # Both the called process and the process that calls it get a new version.
    assert after["dept_review"].version == before["dept_review"].version + 1
    assert after["licence_bundle"].version == before["licence_bundle"].version + 1


def test_a_deploy_with_one_bad_file_writes_nothing(engine, tmp_path):
    shutil.copy(FIXTURES / "parallel_review.bpmn", tmp_path / "good.bpmn")
    (tmp_path / "bad.bpmn").write_text(
        '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'targetNamespace="x">\n<bpmn:process id="p" isExecutable="true">\n'
        '<bpmn:startEvent id="s"/>\n<bpmn:sequenceFlow id="f1" sourceRef="s"/>\n</bpmn:process>\n</bpmn:definitions>',
        encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        engine.deploy([tmp_path])
    problem = err.value.problems[0]
    assert problem.file.endswith("bad.bpmn") and problem.line == 5 and "targetRef" in problem.message
    assert _count(engine, Definition) == 0 and _count(engine, DefinitionFile) == 0


def test_missing_call_activity_target_names_file_line_and_element(engine, tmp_path):
    shutil.copy(FIXTURES / "callflow" / "parent.bpmn", tmp_path / "parent.bpmn")
    with pytest.raises(DefinitionError) as err:
        engine.deploy([tmp_path / "parent.bpmn"])
    text = str(err.value)
    assert "parent.bpmn" in text and "dept_review" in text
    assert _count(engine, Definition) == 0


HOSTILE = {
    "billion_laughs.bpmn": b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n<lolz>&lol2;</lolz>',
    "xxe.bpmn": b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<x>&xxe;</x>',
    "truncated.bpmn": b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<bpmn:process id="p">',
    "binary.bpmn": bytes(range(256)) * 4,
    "empty.bpmn": b"",
    "not_bpmn.bpmn": b'<?xml version="1.0"?><html><body>hello</body></html>',
    "escape_in_condition.bpmn": (FIXTURES / "parallel_review.bpmn").read_bytes().replace(
        b'<bpmn:sequenceFlow id="f_join" sourceRef="join" targetRef="deliver" />',
        b'<bpmn:sequenceFlow id="f_join" sourceRef="join" targetRef="deliver"><bpmn:conditionExpression>'
        b"().__class__.__base__.__subclasses__()</bpmn:conditionExpression></bpmn:sequenceFlow>"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_give_a_problem_never_a_traceback(sqlite_engine, name):
    with pytest.raises(DefinitionError) as err:
        sqlite_engine.deploy(sources=[SourceFile(name, HOSTILE[name])])
    assert err.value.problems, name
    for problem in err.value.problems:
        assert problem.file == name
        assert problem.message and "Traceback" not in problem.message
    assert _count(sqlite_engine, Definition) == 0


def test_forms_are_part_of_the_deployed_version(engine, clerk, tmp_path):
    src = tmp_path / "pr.bpmn"
    shutil.copy(FIXTURES / "parallel_review.bpmn", src)
    engine.deploy([src])
    old_case = engine.cases.start_case("parallel_review", {}, clerk)
    # Version 2 makes the amount field required; the running case keeps the old form.
    text = src.read_text(encoding="utf-8").replace(
        '<camunda:constraint name="min" config="0" />',
        '<camunda:constraint name="min" config="0" /><camunda:constraint name="required" />')
    src.write_text(text, encoding="utf-8")
    engine.deploy([src])
    new_case = engine.cases.start_case("parallel_review", {}, clerk)
    engine.cases.complete_work_item(old_case.ready[0].id, {"applicant_name": "甲"}, clerk)
    from yijianshi.engine.errors import FormErrors

    with pytest.raises(FormErrors) as err:
        engine.cases.complete_work_item(new_case.ready[0].id, {"applicant_name": "乙"}, clerk)
    assert set(err.value.errors) == {"amount"}


def test_definition_summary_counts_running_cases(engine, clerk):
    deploy_fixtures(engine, "parallel_review.bpmn")
    engine.cases.start_case("parallel_review", {}, clerk)
    engine.cases.start_case("parallel_review", {}, clerk)
    (row,) = [r for r in engine.definition_summary() if r.key == "parallel_review"]
    assert row.running == 2 and row.version == 1

"""External tasks in the engine: a service task with camunda:type="external" waits for a worker;
fetch-and-lock, complete, failure with retries and incidents, BPMN errors caught by a boundary
event, lock rules; Java implementations are refused at deploy."""
from __future__ import annotations

import pytest

from yijianshi.engine.cases.external_tasks import TopicRequest
from yijianshi.engine.cases.failures import stuck_cases
from yijianshi.engine.errors import DefinitionError, NotFound, WorkItemUnavailable
from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from sqlalchemy import select

from yijianshi.storage.tables import WorkItem
from tests.conftest import deploy_fixtures

TOPIC = [TopicRequest("credit-check", 60_000)]


def _open_items(engine, case_id):
    with engine.db.reader.connect() as conn:
        t = WorkItem.__table__
        return sorted(conn.execute(select(t.c.task_spec).where(t.c.case_id == case_id, t.c.state == "ready")).scalars())


def _start(engine, clerk, **data):
    deploy_fixtures(engine, "camunda/external_check.bpmn")
    return engine.cases.start_case("external_check", data, clerk, business_key="BK-1").id


def test_a_worker_completes_the_service_task_and_the_case_moves_on(engine, clerk):
    case_id = _start(engine, clerk, applicant="张三")
    assert _open_items(engine, case_id) == []
    got = engine.external_tasks.fetch_and_lock("w1", 5, TOPIC)
    assert len(got) == 1 and got[0].variables == {"applicant": "张三"}
    assert got[0].row.task_spec == "Activity_check" and got[0].row.business_key == "BK-1"
    assert engine.external_tasks.fetch_and_lock("w2", 5, TOPIC) == []  # locked by w1
    with pytest.raises(WorkItemUnavailable):
        engine.external_tasks.complete(got[0].row.id, "w2", {}, clerk)
    engine.external_tasks.complete(got[0].row.id, "w1", {"score": 700}, clerk)
    assert _open_items(engine, case_id) == ["Activity_issue"]
    assert engine.cases.workflow_of(case_id).get_next_task(spec_name="Activity_issue").data["score"] == 700
    assert engine.external_tasks.listing(case_id=case_id) == []
    with pytest.raises(NotFound):
        engine.external_tasks.complete(got[0].row.id, "w1", {}, clerk)


def test_an_expired_lock_lets_another_worker_take_the_task(engine, clerk):
    _start(engine, clerk)
    [first] = engine.external_tasks.fetch_and_lock("w1", 1, [TopicRequest("credit-check", 1000)])
    engine.clock.advance(seconds=2)
    [second] = engine.external_tasks.fetch_and_lock("w2", 1, TOPIC)
    assert second.row.id == first.row.id
    with pytest.raises(WorkItemUnavailable):
        engine.external_tasks.extend_lock(first.row.id, "w1", 60_000)
    engine.external_tasks.extend_lock(first.row.id, "w2", 60_000)
    engine.external_tasks.unlock(first.row.id)
    assert [t.row.id for t in engine.external_tasks.fetch_and_lock("w3", 1, TOPIC)] == [first.row.id]


def test_failures_count_retries_down_to_an_incident(engine, clerk):
    case_id = _start(engine, clerk)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)
    engine.external_tasks.handle_failure(task.row.id, "w1", "征信系统超时", "Traceback…", 1, 0, clerk)
    assert engine.external_tasks.get(task.row.id).retries == 1
    assert case_id not in [c.id for c in stuck_cases(engine)]
    [again] = engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)
    engine.external_tasks.handle_failure(again.row.id, "w1", "征信系统仍然超时", None, 0, 0, clerk)
    assert engine.external_tasks.fetch_and_lock("w1", 1, TOPIC) == []  # an incident: no more attempts
    assert case_id in [c.id for c in stuck_cases(engine)]
    engine.external_tasks.set_retries(task.row.id, 1, clerk)
    assert case_id not in [c.id for c in stuck_cases(engine)]
    assert len(engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)) == 1


def test_a_retry_timeout_keeps_the_task_back(engine, clerk):
    _start(engine, clerk)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)
    engine.external_tasks.handle_failure(task.row.id, "w1", "稍后再试", None, 3, 5000, clerk)
    assert engine.external_tasks.fetch_and_lock("w1", 1, TOPIC) == []
    engine.clock.advance(seconds=6)
    assert len(engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)) == 1


def test_a_bpmn_error_takes_the_boundary_event_path(engine, clerk):
    case_id = _start(engine, clerk)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, TOPIC)
    engine.external_tasks.bpmn_error(task.row.id, "w1", "CREDIT_REJECTED", "信用不良", {"reason": "逾期"}, clerk)
    assert _open_items(engine, case_id) == ["Activity_manual"]
    assert engine.external_tasks.listing(case_id=case_id) == []


def test_cancelling_the_case_removes_its_external_tasks(engine, clerk):
    case_id = _start(engine, clerk)
    engine.cases.cancel_case(case_id, clerk, "测试")
    assert engine.external_tasks.fetch_and_lock("w1", 1, TOPIC) == []


JAVA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_java" camunda:class="org.example.Check"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:serviceTask id="Task_expr" camunda:delegateExpression="${checker}"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:serviceTask id="Task_none"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Task_java"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Task_java" targetRef="Task_expr"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Task_expr" targetRef="Task_none"/>
    <bpmn:sequenceFlow id="f4" sourceRef="Task_none" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_java_implementations_are_refused_with_a_line_and_the_way_out():
    with pytest.raises(DefinitionError) as caught:
        parse_deployment([SourceFile("java.bpmn", JAVA.encode())])
    text = [str(p) for p in caught.value.problems]
    assert any(t.startswith("java.bpmn:5: [Task_java]") and "camunda:class" in t and 'camunda:type="external"' in t
               for t in text), text
    assert any(t.startswith("java.bpmn:6: [Task_expr]") and "camunda:delegateExpression" in t for t in text), text
    assert any(t.startswith("java.bpmn:7: [Task_none]") and "没有可执行的实现" in t for t in text), text


def test_the_lint_names_java_implementations_too(tmp_path):
    from yijianshi.engine.modeling.lint import lint_files

    path = tmp_path / "java.bpmn"
    path.write_text(JAVA, encoding="utf-8")
    found = [str(p) for p in lint_files([path]) if "Java" in p.message]
    assert any("[Task_java]" in t and 'camunda:type="external"' in t for t in found), found


def test_an_external_task_inside_an_embedded_subprocess_waits_too(engine, clerk, tmp_path):
    path = tmp_path / "nested.bpmn"
    path.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="nested" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="ss"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:serviceTask id="Inner" camunda:type="external" camunda:topic="inner-topic"><bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:endEvent id="se"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="g1" sourceRef="ss" targetRef="Inner"/>
      <bpmn:sequenceFlow id="g2" sourceRef="Inner" targetRef="se"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Sub"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Sub" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
""", encoding="utf-8")
    engine.deploy([path])
    summary = engine.cases.start_case("nested", {}, clerk)
    assert summary.status == "running"
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [TopicRequest("inner-topic", 60_000)])
    assert task.row.process_id == "Sub" and task.row.task_spec == "Inner"
    assert engine.external_tasks.complete(task.row.id, "w1", {"ok": True}, clerk).status == "completed"

"""The case-state codec: the same task records SpiffWorkflow's own serializer writes (so its
deserializer reads ours) once their "id" and "parent" are put back (format yjs-case/2 leaves them out
where the tree gives them), without the spec, and a faithful round trip; yjs-case/1 still reads."""
from __future__ import annotations

import json
from datetime import datetime

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.task import TaskState

from yijianshi.engine.cases.state_codec import CaseStateCodec, expand_state
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.audit.replay import fingerprint
from yijianshi.engine.scripting.sandbox import SafeScriptEngine
from yijianshi.engine.deadlines.timers import command_time
from tests.conftest import FIXTURES


def _workflow(files, process_id):
    parser = CamundaParser()
    for f in files:
        parser.add_bpmn_file(str(f))
    spec, subs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    functions = {"now_iso": lambda: "2025-09-26T09:00:00+08:00",
                 "add_working_days": lambda start, n: "2025-10-13T23:59:59+08:00"}
    wf = BpmnWorkflow(spec, subs, script_engine=SafeScriptEngine(functions))
    return wf, spec, subs


def _stock():
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))


def test_same_task_records_as_spiffworkflow_and_no_spec():
    wf, spec, subs = _workflow([FIXTURES / "callflow" / "parent.bpmn", FIXTURES / "callflow" / "child.bpmn"],
                               "licence_bundle")
    wf.do_engine_steps()
    (intake,) = wf.get_tasks(state=TaskState.READY, manual=True)
    intake.data.update({"company": "甲", "capital": 12})
    intake.run()
    wf.do_engine_steps()  # now inside the called process
    text = CaseStateCodec().dumps(wf)
    ours = expand_state(json.loads(text))
    theirs = json.loads(_stock().serialize_json(wf))
    assert ours["tasks"] == theirs["tasks"] and ours["subprocesses"] == theirs["subprocesses"]
    assert "spec" not in ours and "subprocess_specs" not in ours
    restored = CaseStateCodec().loads(text, spec, subs)
    assert fingerprint(restored) == fingerprint(wf)


def test_round_trip_keeps_waiting_timers():
    wf, spec, subs = _workflow([FIXTURES / "limits.bpmn"], "limited_review")
    wf.task_tree.data["limit_days"] = 7
    with command_time(datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)):
        wf.do_engine_steps()
    codec = CaseStateCodec()
    restored = codec.loads(codec.dumps(wf), spec, subs)
    waiting = sorted((str(t.task_spec.name), t.internal_data.get("event_value"))
                     for t in restored.get_tasks(state=TaskState.WAITING))
    assert waiting == [("overdue", "2025-10-13T23:59:59+08:00"), ("warn", "2025-10-13T23:59:59+08:00")]
    assert fingerprint(restored) == fingerprint(wf)
    stock = _stock()
    assert _snapshot(restored) == _snapshot(stock.deserialize_json(stock.serialize_json(wf)))
    # the timers are registered with the event manager again, as SpiffWorkflow's restore does
    assert sorted(t.task_spec.name for t in restored.event_manager.tasks.values()) == ["overdue", "warn"]


def test_unstorable_script_value_is_a_clear_error(sqlite_engine, tmp_path):
    import pytest

    from yijianshi.engine.access.actors import Actor
    from yijianshi.engine.errors import EngineError

    text = (FIXTURES / "callflow" / "parent.bpmn").read_text(encoding="utf-8").replace(
        'outcome = "核准" if decision == "approve" and capital &gt;= 10 else "不予核准"',
        "outcome = 10 ** 30")
    (tmp_path / "parent.bpmn").write_text(text, encoding="utf-8")
    (tmp_path / "child.bpmn").write_bytes((FIXTURES / "callflow" / "child.bpmn").read_bytes())
    sqlite_engine.deploy([tmp_path])
    actor = Actor("a", frozenset({"front_desk", "market"}))
    case = sqlite_engine.cases.start_case("licence_bundle", {}, actor)
    step = sqlite_engine.cases.complete_work_item(case.ready[0].id, {"company": "丙", "capital": 5}, actor)
    with pytest.raises(EngineError, match="无法保存"):
        sqlite_engine.cases.complete_work_item(step.ready[0].id, {"decision": "approve"}, actor)


def test_records_match_spiffworkflow_after_every_step():
    """Finished tasks' records are reused between dumps; after each step they must still be exactly
    what SpiffWorkflow's serializer writes."""
    wf, spec, subs = _workflow([FIXTURES / "parallel_review.bpmn"], "parallel_review")
    codec, stock = CaseStateCodec(), _stock()
    wf.do_engine_steps()
    steps = 0
    while not wf.completed:
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            task.data.update({"applicant_name": "乙", "approved": steps % 2 == 0, "remark": f"r{steps}"})
            task.run()
            wf.do_engine_steps()
            steps += 1
            ours = expand_state(json.loads(codec.dumps(wf)))
            assert ours["tasks"] == json.loads(stock.serialize_json(wf))["tasks"]
    assert steps == 6


def _snapshot(wf) -> dict:
    """Every field a task restore sets, for the top workflow and every called process."""
    def tasks_of(w):
        return {str(t.id): (t.task_spec.name, t.state, t.data, t.internal_data, str(t._parent),
                            [str(c) for c in t._children], t.last_state_change, t.triggered)
                for t in w.tasks.values()}
    return {"top": tasks_of(wf), "data": wf.data, "last_task": str(wf.last_task.id if wf.last_task else None),
            "subprocesses": {str(k): (tasks_of(sp), sp.data, str(sp.task_tree.id)) for k, sp in wf.subprocesses.items()},
            "waiting_events": sorted(str(t.id) for t in wf.get_tasks(state=TaskState.WAITING))}


def test_restore_gives_what_spiffworkflow_restores():
    wf, spec, subs = _workflow([FIXTURES / "callflow" / "parent.bpmn", FIXTURES / "callflow" / "child.bpmn"],
                               "licence_bundle")
    wf.do_engine_steps()
    (intake,) = wf.get_tasks(state=TaskState.READY, manual=True)
    intake.data.update({"company": "甲", "capital": 12, "owners": ["乙", "丙"], "address": {"city": "天津"}})
    intake.run()
    wf.do_engine_steps()
    codec = CaseStateCodec()
    ours = codec.loads(codec.dumps(wf), spec, subs)
    stock = _stock()
    theirs = stock.deserialize_json(stock.serialize_json(wf))
    assert wf.subprocesses and _snapshot(ours) == _snapshot(theirs)
    # mutable values are copies, as SpiffWorkflow's restore makes them: a child's edit stays its own
    for task in ours.get_tasks():
        if task.parent is not None and "owners" in task.data and "owners" in task.parent.data:
            assert task.data["owners"] is not task.parent.data["owners"]

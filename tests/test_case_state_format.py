"""Case state format yjs-case/2: task records without the "id" (their key) and the "parent" (the
record whose children name them), restored to exactly SpiffWorkflow's records and workflow after every
step of a parallel process, a called process and boundary timers; yjs-case/1 (every case stored before)
still reads, and a case stored as /1 continues on the engine and is written as /2."""
from __future__ import annotations

import json
from datetime import datetime
from uuid import uuid4

import pytest
from sqlalchemy import text
from SpiffWorkflow.task import TaskState

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.audit.replay import fingerprint
from yijianshi.engine.cases.state_codec import STATE_FORMAT, STATE_FORMAT_V1, CaseStateCodec, expand_state
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.deadlines.timers import command_time
from yijianshi.engine.cases.state_delta import apply_delta
from yijianshi.storage import case_store, state_blob
from tests.conftest import FIXTURES, deploy_fixtures
from tests.test_case_state import _snapshot, _stock, _workflow

CALLFLOW = [FIXTURES / "callflow" / "parent.bpmn", FIXTURES / "callflow" / "child.bpmn"]
V1_FIXTURE = FIXTURES / "case_state" / "licence_bundle_v1.json"  # written by the yjs-case/1 codec


def _all_records(state: dict):
    yield from state["tasks"].items()
    for sub in state["subprocesses"].values():
        yield from sub["tasks"].items()


def _check_v2_round_trip(wf, spec, subs) -> None:
    """The state leaves out every derivable id and parent, expands to exactly SpiffWorkflow's records
    and restores to what SpiffWorkflow restores; written again, it is the same text."""
    codec, stock = CaseStateCodec(), _stock()
    written = codec.dumps(wf)
    state = json.loads(written)
    assert state["format"] == STATE_FORMAT
    assert all("id" not in r and "parent" not in r for _, r in _all_records(state))
    theirs = json.loads(stock.serialize_json(wf))
    expanded = expand_state(state)
    assert expanded["tasks"] == theirs["tasks"] and expanded["subprocesses"] == theirs["subprocesses"]
    restored = codec.loads(written, spec, subs)
    assert _snapshot(restored) == _snapshot(stock.deserialize_json(stock.serialize_json(wf)))
    assert fingerprint(restored) == fingerprint(wf)
    assert codec.dumps(restored) == written


def _inside_called_process():
    """licence_bundle with its intake done: the case is inside the called process (callflow/child.bpmn)."""
    wf, spec, subs = _workflow(CALLFLOW, "licence_bundle")
    wf.do_engine_steps()
    (intake,) = wf.get_tasks(state=TaskState.READY, manual=True)
    intake.data.update({"company": "甲", "capital": 12})
    intake.run()
    wf.do_engine_steps()
    return wf, spec, subs


def _run_manual_tasks(wf, spec, subs, fill) -> int:
    wf.do_engine_steps()
    _check_v2_round_trip(wf, spec, subs)
    steps = 0
    while not wf.completed:
        (task, *_) = wf.get_tasks(state=TaskState.READY, manual=True)
        task.data.update(fill(task, steps))
        task.run()
        wf.do_engine_steps()
        steps += 1
        _check_v2_round_trip(wf, spec, subs)
    return steps


def test_v2_round_trip_after_every_step_of_a_parallel_process():
    wf, spec, subs = _workflow([FIXTURES / "parallel_review.bpmn"], "parallel_review")
    steps = _run_manual_tasks(wf, spec, subs, lambda task, n: {
        "applicant_name": "乙", "approved": n % 2 == 0, "remark": f"r{n}"})
    assert steps == 6


def test_v2_round_trip_after_every_step_of_a_called_process():
    wf, spec, subs = _workflow(CALLFLOW, "licence_bundle")
    seen_subprocess = []

    def fill(task, n):
        seen_subprocess.append(bool(wf.subprocesses))
        return {"company": "甲", "capital": 12, "owners": ["乙"]} if n == 0 else {"decision": "approve"}

    assert _run_manual_tasks(wf, spec, subs, fill) >= 2 and any(seen_subprocess)


def test_a_called_process_root_has_no_parent_in_spiffworkflow():
    """Why the called process's root needs no explicit parent: SpiffWorkflow 3.2 links it to its call
    activity only through the subprocess's parent_task_id, its task's _parent is None."""
    wf, spec, subs = _inside_called_process()
    (sub,) = wf.subprocesses.values()
    assert sub.task_tree._parent is None and sub.parent_task_id in wf.tasks


@pytest.mark.parametrize("fire_timers", [False, True])
def test_v2_round_trip_after_every_step_with_boundary_timers(fire_timers):
    wf, spec, subs = _workflow([FIXTURES / "limits.bpmn"], "limited_review")
    wf.task_tree.data["limit_days"] = 7
    with command_time(datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)):
        wf.do_engine_steps()
    assert len(wf.get_tasks(state=TaskState.WAITING)) == 2
    _check_v2_round_trip(wf, spec, subs)
    if fire_timers:  # both due: the warning runs beside the review, the overdue one cancels it
        with command_time(datetime(2025, 10, 14, 9, 0, tzinfo=SHANGHAI)):
            wf.refresh_timers()
            wf.do_engine_steps()
        assert [t.task_spec.name for t in wf.get_tasks(state=TaskState.READY, manual=True)] == ["supervise"]
        _check_v2_round_trip(wf, spec, subs)
    with command_time(datetime(2025, 10, 15, 9, 0, tzinfo=SHANGHAI)):
        (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
        task.data["approved"] = True
        task.run()
        wf.do_engine_steps()
    assert wf.completed
    _check_v2_round_trip(wf, spec, subs)


def test_a_v1_state_still_loads_to_the_same_workflow():
    wf, spec, subs = _workflow(CALLFLOW, "licence_bundle")  # only for its spec
    v1_text = V1_FIXTURE.read_text(encoding="utf-8")
    v1 = json.loads(v1_text)
    assert v1["format"] == STATE_FORMAT_V1 and all("id" in r and "parent" in r for _, r in _all_records(v1))
    codec = CaseStateCodec()
    restored = codec.loads(v1_text, spec, subs)
    # every record, field for field, is what was stored
    again = expand_state(json.loads(codec.dumps(restored)))
    assert again.pop("format") == STATE_FORMAT and v1.pop("format") == STATE_FORMAT_V1
    assert again == v1
    # and the workflow is what SpiffWorkflow's own deserializer makes of the same records
    stock = _stock()
    with_spec = json.loads(stock.serialize_json(restored))
    with_spec.update(tasks=v1["tasks"], subprocesses=v1["subprocesses"])
    assert _snapshot(restored) == _snapshot(stock.deserialize_json(json.dumps(with_spec)))
    assert restored.subprocesses and not restored.completed


def test_a_v1_text_of_a_running_workflow_loads_as_its_v2_text_does():
    wf, spec, subs = _inside_called_process()
    codec = CaseStateCodec()
    v2_text = codec.dumps(wf)
    v1 = expand_state(json.loads(v2_text))
    v1["format"] = STATE_FORMAT_V1
    assert _snapshot(codec.loads(json.dumps(v1), spec, subs)) == _snapshot(codec.loads(v2_text, spec, subs))


def _finished_parallel_state() -> tuple[dict, str]:
    wf, spec, subs = _workflow([FIXTURES / "parallel_review.bpmn"], "parallel_review")
    wf.do_engine_steps()
    (apply,) = wf.get_tasks(state=TaskState.READY, manual=True)
    apply.run()
    wf.do_engine_steps()
    state = json.loads(CaseStateCodec().dumps(wf))
    return state, state["root"]


def test_a_v2_record_whose_parent_is_not_derivable_is_refused():
    state, root = _finished_parallel_state()
    orphan = next(sid for sid in state["tasks"] if sid != root)
    for record in state["tasks"].values():  # nobody names it as a child any more
        record["children"] = [c for c in record["children"] if c != orphan]
    wf, spec, subs = _workflow([FIXTURES / "parallel_review.bpmn"], "parallel_review")
    with pytest.raises(ValueError, match=f"task {orphan} is neither the root nor any task's child"):
        CaseStateCodec().loads(json.dumps(state), spec, subs)


def test_a_v2_record_named_by_two_tasks_is_refused():
    state, root = _finished_parallel_state()
    named = state["tasks"][root]["children"][0]
    other = next(sid for sid, r in state["tasks"].items() if sid not in (root, named))
    state["tasks"][other]["children"].append(named)
    with pytest.raises(ValueError, match="named as a child by more than one task"):
        expand_state(state)


def test_an_unknown_format_is_refused():
    state, _ = _finished_parallel_state()
    state["format"] = "yjs-case/9"
    with pytest.raises(ValueError, match="unknown case state format"):
        expand_state(state)


def test_a_parent_the_tree_does_not_give_is_written_explicitly():
    """A parent outside the workflow's own tasks, or one whose children do not name the task, or a
    root named as a child, cannot be derived: the record keeps its "parent" and restores as it was."""
    wf, spec, subs = _inside_called_process()
    (sub,) = wf.subprocesses.values()
    # as SpiffWorkflow's non-BPMN SubWorkflow spec links a sub-workflow's root to its calling task
    sub.task_tree._parent = sub.parent_task_id
    # a task that its parent's children list does not name
    done = next(t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.parent is not None)
    done.parent._children.remove(done.id)
    wf.task_tree._children.append(uuid4())  # a child outside the map: named, never restored
    leaf = next(t for t in wf.tasks.values() if not t._children and t is not done)
    leaf._children.append(wf.task_tree.id)  # the root named as a child: its parent is still none
    twice = next(t for t in sub.tasks.values() if t.parent is not None and t.parent.parent is not None)
    twice.parent.parent._children.append(twice.id)  # named by its parent and by another task
    codec = CaseStateCodec()
    written = codec.dumps(wf)
    state = json.loads(written)
    explicit = {sid: r["parent"] for sid, r in _all_records(state) if "parent" in r}
    assert explicit == {str(sub.task_tree.id): str(sub.parent_task_id), str(done.id): str(done._parent),
                        str(wf.task_tree.id): None, str(twice.id): str(twice._parent)}
    restored = codec.loads(written, spec, subs)
    assert restored.subprocesses[sub.parent_task_id].task_tree._parent == sub.parent_task_id
    assert restored.tasks[done.id]._parent == done._parent
    assert done.id not in restored.tasks[done._parent]._children
    assert restored.task_tree._parent is None and restored.task_tree.id in restored.tasks[leaf.id]._children
    assert restored.subprocesses[sub.parent_task_id].tasks[twice.id]._parent == twice._parent
    assert codec.dumps(restored) == written


def test_a_case_stored_as_v1_continues_and_is_written_as_v2(sqlite_engine):
    engine = sqlite_engine
    deploy_fixtures(engine, "parallel_review.bpmn")
    desk = Actor("desk", frozenset({"front_desk", "market", "health", "fire", "tax"}))
    case = engine.cases.start_case("parallel_review", {"district": "河东区"}, desk)
    step = engine.cases.complete_work_item(
        case.ready[0].id, {"applicant_name": "张三", "id_number": "120102199001011235", "amount": "80"},
        desk)

    def stored() -> dict:
        """The stored state: the base with the deltas written after it merged in (state_delta.py)."""
        with engine.db.engine.connect() as conn:
            kept = case_store.case_state(conn, case.id)
        state = json.loads(kept.base)
        for delta in kept.deltas:
            apply_delta(state, json.loads(delta))
        return state

    # rewrite the stored state as the yjs-case/1 codec wrote it: every record with its id and parent
    v1 = expand_state(stored())
    v1["format"] = STATE_FORMAT_V1
    with engine.db.engine.begin() as conn:
        conn.execute(text("UPDATE case_states SET base = :b WHERE case_id = :c"),
                     {"b": state_blob.compress(json.dumps(v1, ensure_ascii=False), 6), "c": case.id})
        # a case stored before #17 has no deltas after its base
        conn.execute(text("DELETE FROM case_state_deltas WHERE case_id = :c"), {"c": case.id})
    engine.cases.runner.cache.drop(case.id)  # read it from the row, not the live workflow kept in memory
    assert stored()["format"] == STATE_FORMAT_V1
    assert fingerprint(engine.cases.workflow_of(case.id))["tasks"]

    by_spec = {i.task_spec: i.id for i in step.ready}
    agree = {"approved": "true", "remark": "同意"}
    after = engine.cases.complete_work_item(by_spec["dept_market"], agree, desk)
    state = stored()
    assert state["format"] == STATE_FORMAT
    assert all("id" not in r and "parent" not in r for r in state["tasks"].values())
    for spec_name in ("dept_health", "dept_fire", "dept_tax"):
        after = engine.cases.complete_work_item(by_spec[spec_name], agree, desk)
    (deliver,) = after.ready
    engine.cases.complete_work_item(deliver.id, {"delivered": "true"}, desk)
    assert engine.cases.workflow_of(case.id).completed
    assert engine.reexecute(case.id).ok  # (the fixture's teardown also re-executes and verifies every case)

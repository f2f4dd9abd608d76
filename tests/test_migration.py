"""Moving running cases to a newer version of their process (#12.9): a dry run says what would move
and what cannot; the migration is a command in the history, the case goes on on the new version, and
replay repeats it (the engine fixture re-executes every case at the end of each test)."""
from __future__ import annotations

import json

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import EngineError
from yijianshi.storage import case_store, definition_store

CLERK = Actor("chuangkou", frozenset({"front_desk"}))
MARKET = Actor("shichang", frozenset({"market"}))
BOSS = Actor("zhuren", frozenset({"supervision"}))
ADMIN = Actor("admin", frozenset(), is_admin=True)

FORMLESS = ('<bpmn:extensionElements><camunda:properties><camunda:property name="formless" value="true"/>'
            '</camunda:properties></bpmn:extensionElements>')


def _model(tasks: list[tuple[str, str, str]]) -> str:
    """A straight line of user tasks (id, name, department) from start to end."""
    ids = ["start"] + [t[0] for t in tasks] + ["end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
                    for i, (a, b) in enumerate(zip(ids, ids[1:])))
    body = "".join(
        f'<bpmn:userTask id="{tid}" name="{name}" camunda:candidateGroups="{dept}">{FORMLESS}'
        f'<bpmn:incoming>f{i}</bpmn:incoming><bpmn:outgoing>f{i + 1}</bpmn:outgoing></bpmn:userTask>'
        for i, (tid, name, dept) in enumerate(tasks))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_m" targetNamespace="http://yijianshi.example/test">\n'
            '<bpmn:process id="migrating" name="迁移测试" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
            f'{body}<bpmn:endEvent id="end"><bpmn:incoming>f{len(tasks)}</bpmn:incoming></bpmn:endEvent>{flows}'
            '</bpmn:process></bpmn:definitions>\n')


V1 = [("apply", "受理", "front_desk"), ("review", "部门审查", "market")]
V2 = [("apply", "受理", "front_desk"), ("review", "部门复审", "market"), ("sign_off", "主任签批", "supervision")]
V3 = [("intake", "统一收件", "front_desk"), ("sign_off", "主任签批", "supervision")]


def _deploy(engine, tmp_path, tasks) -> int:
    path = tmp_path / "migrating.bpmn"
    path.write_text(_model(tasks), encoding="utf-8")
    engine.deploy([path])
    with engine.db.reader.connect() as conn:
        return definition_store.latest(conn, "migrating").id


def _ready(engine, case_id):
    with engine.db.reader.connect() as conn:
        return [(r.task_spec, r.name) for r in case_store.query_work_items(conn, case_id=case_id)]


def _complete(engine, case_id, spec, actor):
    with engine.db.reader.connect() as conn:
        (item,) = [r for r in case_store.query_work_items(conn, case_id=case_id) if r.task_spec == spec]
    return engine.cases.complete_work_item(item.id, {}, actor)


def test_a_running_case_moves_to_the_new_version_and_goes_on_there(engine, tmp_path):
    v1 = _deploy(engine, tmp_path, V1)
    case = engine.cases.start_case("migrating", {}, CLERK)
    _complete(engine, case.id, "apply", CLERK)
    assert _ready(engine, case.id) == [("review", "部门审查")]
    v2 = _deploy(engine, tmp_path, V2)

    plan = engine.cases.plan_migration(case.id, v2)
    assert plan.movable and (plan.from_version, plan.to_version) == (1, 2)
    assert plan.open_steps == ["部门审查"] and "review" in plan.changed
    assert _ready(engine, case.id) == [("review", "部门审查")]  # a dry run changes nothing

    engine.cases.migrate_case(case.id, v2, ADMIN, "增加主任签批环节")
    with engine.db.reader.connect() as conn:
        head = case_store.case_head(conn, case.id)
        moved = [e for e in case_store.case_events(conn, case.id) if e.type == h.CASE_MIGRATED]
    assert head.definition_id == v2 and head.definition_id != v1
    (event,) = moved
    data = json.loads(event.data)
    assert event.actor == "admin" and data["from_version"] == 1 and data["to_version"] == 2
    assert data["reason"] == "增加主任签批环节" and data["open_steps"] == ["部门审查"]
    assert [s for s, _ in _ready(engine, case.id)] == ["review"]
    _complete(engine, case.id, "review", MARKET)
    assert _ready(engine, case.id) == [("sign_off", "主任签批")]  # a step only the new version has
    done = _complete(engine, case.id, "sign_off", BOSS)
    assert done.status == "completed"
    from yijianshi.engine.audit.replay import reexecute

    assert reexecute(engine, case.id).ok


def test_a_case_whose_steps_the_new_version_removes_cannot_move(engine, tmp_path):
    _deploy(engine, tmp_path, V1)
    case = engine.cases.start_case("migrating", {}, CLERK)
    _complete(engine, case.id, "apply", CLERK)
    v3 = _deploy(engine, tmp_path, V3)
    plan = engine.cases.plan_migration(case.id, v3)
    assert not plan.movable
    assert any("部门审查" in b or "review" in b for b in plan.blockers)
    assert any("apply" in b for b in plan.blockers)  # a step it has passed is gone too
    with engine.db.reader.connect() as conn:
        before = case_store.case_head(conn, case.id)
    with pytest.raises(EngineError, match="不能迁移"):
        engine.cases.migrate_case(case.id, v3, ADMIN)
    with engine.db.reader.connect() as conn:
        after = case_store.case_head(conn, case.id)
    assert (after.version, after.definition_id) == (before.version, before.definition_id)
    assert _ready(engine, case.id) == [("review", "部门审查")]


def test_only_newer_versions_of_the_same_process_and_running_cases(engine, tmp_path):
    v1 = _deploy(engine, tmp_path, V1)
    case = engine.cases.start_case("migrating", {}, CLERK)
    assert not engine.cases.plan_migration(case.id, v1).movable  # not newer
    v2 = _deploy(engine, tmp_path, V2)
    engine.cases.cancel_case(case.id, ADMIN, "测试")
    assert engine.cases.plan_migration(case.id, v2).blockers == ["办件不在办理中。"]


def test_the_command_line_dry_runs_then_migrates(engine, tmp_path, capsys):
    from yijianshi.cli.main import main

    db_url = engine.db.url.render_as_string(hide_password=False)

    _deploy(engine, tmp_path, V1)
    waiting = engine.cases.start_case("migrating", {}, CLERK)
    _complete(engine, waiting.id, "apply", CLERK)
    fresh = engine.cases.start_case("migrating", {}, CLERK)
    _deploy(engine, tmp_path, V2)
    assert main(["--db", db_url, "migrate", "migrating", "--from-version", "1"]) == 0
    out = capsys.readouterr().out
    assert f"案件 {waiting.id}：可迁移 v1 → v2（在办环节：部门审查" in out and "试运行" in out
    with engine.db.reader.connect() as conn:
        assert case_store.case_head(conn, waiting.id).definition_id != definition_store.latest(conn, "migrating").id
    assert main(["--db", db_url, "migrate", "migrating", "--from-version", "1", "--apply",
                 "--reason", "增加签批"]) == 0
    out = capsys.readouterr().out
    assert f"案件 {waiting.id}：已从 v1 迁移到 v2" in out and f"案件 {fresh.id}：已从 v1 迁移到 v2" in out
    with engine.db.reader.connect() as conn:
        latest = definition_store.latest(conn, "migrating").id
        assert {case_store.case_head(conn, c).definition_id for c in (waiting.id, fresh.id)} == {latest}
    assert main(["--db", db_url, "migrate", "migrating", "--from-version", "7"]) == 1
    assert "没有所说的版本" in capsys.readouterr().err

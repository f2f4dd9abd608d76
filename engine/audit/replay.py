"""Deterministic re-execution: run a case's recorded commands again on a fresh workflow, at the
recorded times, and compare the outcome with the stored state."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import Row
from SpiffWorkflow.task import TaskState

from yijianshi.engine.cases import history as h
from yijianshi.engine.cases import migration
from yijianshi.engine.cases.handoffs import replay_return
from yijianshi.engine.errors import EngineError
from yijianshi.engine.cases.history import canonical_json
from yijianshi.engine.deadlines.timers import command_time, rearm
from yijianshi.engine.cases.work_items import all_tasks, project_work_items
from yijianshi.engine.cases.engine_steps import complete_task, deliver, run_engine, run_task, throw_error
from yijianshi.engine.modeling.definitions import LoadedDefinition
from yijianshi.storage import case_store as store


@dataclass(frozen=True)
class ReplayReport:
    case_id: int
    ok: bool
    commands: int
    difference: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"案件 {self.case_id}：重新执行 {self.commands} 条命令，结果与存储状态一致"
        return f"案件 {self.case_id}：重新执行结果与存储状态不一致：{self.difference}"


def fingerprint(wf: BpmnWorkflow) -> dict:
    """Everything that must match, leaving out task ids and timestamps (not stable across runs)."""
    tasks = sorted(
        (t.workflow.spec.name, t.task_spec.name, TaskState.get_name(t.state), canonical_json(t.data))
        for t in wf.get_tasks()
    )
    return {"completed": wf.completed, "data": canonical_json(wf.data), "tasks": tasks}


class Diverged(Exception):
    """Re-execution could not follow the recorded commands; the message says where."""


def recorded_commands(engine, case_id: int) -> tuple[list[Row[Any]], LoadedDefinition]:
    """(command events in order, the definition version the case started on)."""
    with engine.db.reader.connect() as conn:
        commands = store.case_events(conn, case_id, h.COMMAND_TYPES)
        if not commands or commands[0].type != h.CASE_STARTED:
            raise Diverged("没有找到立案记录")
        first = json.loads(commands[0].data)
        definition = engine.definitions.by_id(conn, first["definition_id"])
    return commands, definition


def rerun(engine, commands: list[Row[Any]], definition: LoadedDefinition) -> Iterator[tuple[Row[Any], BpmnWorkflow]]:
    """Run the recorded commands on a fresh workflow, each at its recorded time; yields (command
    event, the workflow right after it). Nothing is written. Raises Diverged."""
    wf: BpmnWorkflow | None = None
    for ev in commands:
        data = json.loads(ev.data)
        with command_time(ev.at):
            if ev.type == h.CASE_STARTED:
                wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=engine.script_engine)
                wf.task_tree.data.update(data["data"])
                run_engine(wf)
            elif wf is None:
                raise Diverged("没有找到立案记录")
            elif ev.type == h.WORK_ITEM_COMPLETED:
                data = h.event_data(ev.type, data, wf.spec.name)
                same = [r.task for r in project_work_items(wf).ready.values()
                        if r.task_spec == ev.task_spec and r.process_id == data["process_id"]]
                if data["ordinal"] >= len(same):
                    raise Diverged(f"第 {ev.seq} 条记录要办理的环节 {ev.task_spec} 在重新执行时不在待办状态")
                task = same[data["ordinal"]]
                task.data.update(data["submitted"])
                run_task(task)
                run_engine(wf)
            elif ev.type in (h.EXTERNAL_TASK_COMPLETED, h.EXTERNAL_TASK_BPMN_ERROR):
                same = [r.task for r in project_work_items(wf).external.values()
                        if r.task_spec == ev.task_spec and r.process_id == data["process_id"]]
                if data["ordinal"] >= len(same):
                    raise Diverged(f"第 {ev.seq} 条记录要完成的外部任务 {ev.task_spec} 在重新执行时不在等待状态")
                if ev.type == h.EXTERNAL_TASK_COMPLETED:
                    complete_task(same[data["ordinal"]], data["variables"])
                else:
                    throw_error(same[data["ordinal"]], data["error_code"], data["error_message"], data["variables"])
            elif ev.type == h.WORK_ITEM_RETURNED:
                try:
                    replay_return(wf, ev.task_spec, data, project_work_items(wf))
                except (LookupError, EngineError):
                    raise Diverged(f"第 {ev.seq} 条记录的退回在重新执行时找不到环节 {ev.task_spec} 或 "
                                   f"{data['to_task_spec']}") from None
            elif ev.type == h.MESSAGE_DELIVERED:
                deliver(wf, data["message"], data["payload"], data["correlation"])
            elif ev.type == h.CASE_CANCELLED:
                wf.cancel()
            elif ev.type == h.CASE_MIGRATED:
                definition = _migrate(engine, wf, ev, definition, data["definition_id"])
            elif ev.type == h.TIMERS_FIRED:
                wf.refresh_timers()
                run_engine(wf)
            elif ev.type == h.TIMERS_REARMED:
                timers = list(project_work_items(wf).timers.values())
                tasks = {str(t.id): t for t in all_tasks(wf)}
                for spec in data["timers"]:
                    same = [t for t in timers if t.task_spec == spec["task_spec"] and t.process_id == spec["process_id"]]
                    rearm(tasks[same[spec["ordinal"]].task_id], datetime.fromisoformat(spec["armed_at"]))
                run_engine(wf)
            wf.get_events()
        yield ev, wf


def _migrate(engine, wf: BpmnWorkflow, ev, source: LoadedDefinition, target_id: int) -> LoadedDefinition:
    """Repeat a recorded migration (engine/cases/migration.py) on the re-executed workflow."""
    with engine.db.reader.connect() as conn:
        target = engine.definitions.by_id(conn, target_id)
    result, diffs = migration.plan(engine.cases.runner.codec.serializer.registry, wf, ev.case_id, source, target)
    if diffs is None:
        raise Diverged(f"第 {ev.seq} 条记录的版本迁移在重新执行时不成立：" + "；".join(result.blockers))
    migration.migrate(wf, diffs, target)
    return target


def reexecute(engine, case_id: int) -> ReplayReport:
    """Re-run the commands of one case and compare with what is stored."""
    try:
        commands, definition = recorded_commands(engine, case_id)
    except Diverged as err:
        return ReplayReport(case_id, False, 0, str(err))
    wf = None
    try:
        for _, wf in rerun(engine, commands, definition):
            pass
    except Diverged as err:
        return ReplayReport(case_id, False, len(commands), str(err))
    stored = engine.cases.workflow_of(case_id)
    mine, theirs = fingerprint(wf), fingerprint(stored)
    if mine == theirs:
        return ReplayReport(case_id, True, len(commands))
    return ReplayReport(case_id, False, len(commands), _first_difference(mine, theirs))


def _first_difference(mine: dict, theirs: dict) -> str:
    if mine["completed"] != theirs["completed"]:
        return f"办结状态不同（重新执行：{mine['completed']}，存储：{theirs['completed']}）"
    if mine["data"] != theirs["data"]:
        a, b = json.loads(mine["data"]), json.loads(theirs["data"])
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        return f"流程数据不同（字段：{', '.join(keys)}）"
    for a, b in zip(mine["tasks"], theirs["tasks"]):
        if a != b:
            return f"环节 {b[1]} 的状态或数据不同（重新执行：{a[2]}，存储：{b[2]}）"
    return f"环节数量不同（重新执行：{len(mine['tasks'])}，存储：{len(theirs['tasks'])}）"

"""Moving running cases to a newer version of their process (Cockpit's "migration"): a dry-run
plan that says, case by case, what would move and what cannot, and the migration itself as a case
command recorded in the history (and re-executed by replay the same way).

Alignment is SpiffWorkflow's (SpiffWorkflow.bpmn.util.diff): task specs correspond by BPMN id. A
case can move only when every task it has, finished or open, has its element in the new version and
every called process it runs still exists there; open steps are reset and made ready again on the
new version's definition of the same element (a claim on a step that stays open is kept)."""
from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState

from yijianshi.engine.cases.engine_steps import run_engine
from yijianshi.engine.cases.work_items import project_work_items
from yijianshi.engine.modeling.definitions import LoadedDefinition

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class MigrationPlan:
    """What migrating one case would do: `blockers` (why it cannot move; empty when it can),
    `open_steps` (names of the open steps that move), `changed` (element ids whose definition
    changed and that the case has or will reach)."""

    case_id: int
    from_version: int
    to_version: int
    blockers: list[str] = field(default_factory=list)
    open_steps: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.blockers


def _label(task) -> str:
    spec = task.task_spec
    return f"{spec.bpmn_name or spec.name}（{spec.name}）" if getattr(spec, "bpmn_name", None) else spec.name


def plan(registry, wf: BpmnWorkflow, case_id: int, source: LoadedDefinition, target: LoadedDefinition):
    """The plan for one case's workflow, and the diffs to migrate it with (None when it cannot move)."""
    result = MigrationPlan(case_id, source.version, target.version)
    if source.key != target.key:
        result.blockers.append(f"目标版本属于另一个流程（{target.key}）。")
        return result, None
    if target.version <= source.version:
        result.blockers.append(f"目标版本 v{target.version} 不比当前版本 v{source.version} 新。")
        return result, None
    if wf.completed:
        result.blockers.append("办件已办结。")
        return result, None
    try:
        top, subs = diff_workflow(registry, wf, target.spec, target.subprocess_specs)
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's diff of unusual specs: report, never crash
        result.blockers.append(f"无法比较两个版本：{type(err).__name__}: {err}")
        return result, None
    diffs = [(wf, top)]
    for sp_id, sub_diff in subs.items():
        sub = wf.subprocesses[sp_id]
        if sub_diff is None:
            result.blockers.append(f"新版本没有办件正在运行的子流程“{sub.spec.name}”。")
        else:
            diffs.append((sub, sub_diff))
    for workflow, diff in diffs:
        # Elements correspond by BPMN id only: SpiffWorkflow would also pair a renamed element
        # with one of the same shape, which could hand a step to another department unnoticed.
        gone = [t for t in workflow.get_tasks(skip_subprocesses=True)
                if t in diff.removed or (diff.alignment.get(t) is not None and diff.alignment[t].name != t.task_spec.name)]
        for task in gone:
            what = "正在办理" if task.has_state(_OPEN) else "已经过"
            result.blockers.append(f"新版本没有办件{what}的环节 {_label(task)}（按元素 id 对应）。")
        result.changed += sorted({t.task_spec.name for t in diff.changed})
    result.open_steps = sorted({r.name for r in project_work_items(wf).ready.values()})
    return result, (None if result.blockers else (top, subs))


def migrate(wf: BpmnWorkflow, diffs, target: LoadedDefinition) -> None:
    """Move the workflow (and its running subprocesses) onto the target version's specs, then let
    the engine make the reset steps ready again."""
    top, subs = diffs
    for sp_id, sub_diff in subs.items():
        sub = wf.subprocesses[sp_id]
        migrate_workflow(sub_diff, sub, target.subprocess_specs[sub.spec.name])
    migrate_workflow(top, wf, target.spec)
    wf.subprocess_specs = target.subprocess_specs
    run_engine(wf)


def event_data(result: MigrationPlan, target: LoadedDefinition, reason: str) -> dict:
    return {"definition_id": target.id, "from_version": result.from_version, "to_version": target.version,
            "open_steps": result.open_steps, "changed": result.changed, "reason": reason}

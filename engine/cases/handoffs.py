"""Hand-offs of an open work item between people and units, each a case command with its reason in
the history: transfer (转办) to another unit of the organisation, delegate (委派) to a colleague,
return (退回) to the case's previous user step, a comment for the next handler, and a follow-up
date. Only someone who may act on the item may hand it off (engine/access/work_item_access.py).

A return uses SpiffWorkflow's reset (`reset_from_task_id`) on the nearest completed user step above
the item in the task tree — only when nothing else is open below that step, so a return never
cancels a colleague's parallel work — and re-opens that step under its old id (the old row gives way;
its history stays). It is a command: replay repeats it (engine/audit/replay.py)."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from SpiffWorkflow.task import TaskState

from yijianshi.engine.access.actors import personal_group, user_of
from yijianshi.engine.access.org_rules import UNIT_PREFIX, unit_group
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.context import CommandContext, check_can_act, require_ready, timers_first
from yijianshi.engine.cases.engine_steps import ready_ordinal, run_engine
from yijianshi.engine.cases.work_items import WorkItemProjection
from yijianshi.engine.clock import to_utc
from yijianshi.engine.errors import EngineError, FormErrors, NotFound
from yijianshi.storage import account_store, org_store
from yijianshi.storage import case_store as store

MAX_REASON = 500
MAX_COMMENT = 2000


def _reason(text: str | None, what: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise FormErrors({"reason": f"请填写{what}的理由。"})
    if len(reason) > MAX_REASON:
        raise FormErrors({"reason": f"{what}理由不能超过 {MAX_REASON} 个字。"})
    return reason


def transfer(ctx: CommandContext, unit_code: str, reason: str) -> None:
    """转办: the item goes to the unit `unit_code` (its candidate groups become `unit:<code>`, the
    claim is cleared)."""
    item = require_ready(ctx.item)
    check_can_act(item, ctx.actor, ctx.head)
    why = _reason(reason, "转办")
    code = (unit_code or "").strip().removeprefix(UNIT_PREFIX)
    unit = org_store.unit(ctx.conn, code) if code else None
    if unit is None:
        raise FormErrors({"unit": f"单位“{code or '（未选择）'}”不存在，请从组织架构中选择接收单位。"})
    groups = unit_group(code)
    if item.groups == groups:
        raise FormErrors({"unit": f"该事项已在{unit.name}办理，无需转办。"})
    key = ctx.head.definition_key
    ctx.later(lambda conn, _: store.set_groups(conn, item.id, groups, key))
    ctx.event(h.WORK_ITEM_TRANSFERRED, {"from_groups": [g for g in item.groups.split(",") if g],
                                        "to_unit": code, "to_unit_name": unit.name, "reason": why,
                                        **({"was_claimed_by": item.claimed_by} if item.claimed_by else {})},
              work_item_id=item.id, task_spec=item.task_spec)


def delegate(ctx: CommandContext, username: str, reason: str) -> None:
    """委派: the item is assigned to a colleague (named on it, so he may act on it)."""
    item = require_ready(ctx.item)
    check_can_act(item, ctx.actor, ctx.head)
    why = _reason(reason, "委派")
    to = (username or "").strip()
    account = account_store.get(ctx.conn, to) if to else None
    if account is None:
        raise FormErrors({"username": f"用户“{to or '（未填写）'}”不存在。"})
    if to == item.claimed_by:
        raise FormErrors({"username": f"该事项已由 {to} 办理，无需委派。"})
    groups = ",".join(dict.fromkeys([*(g for g in item.groups.split(",") if g and user_of(g) != item.claimed_by),
                                     personal_group(to)]))
    key, at = ctx.head.definition_key, to_utc(ctx.at)

    def write(conn, _case_id: int) -> None:
        store.set_groups(conn, item.id, groups, key)
        store.set_claim(conn, item.id, to, at)

    ctx.later(write)
    ctx.event(h.WORK_ITEM_DELEGATED, {"from": item.claimed_by, "to": to, "reason": why},
              work_item_id=item.id, task_spec=item.task_spec)


def comment(ctx: CommandContext, text: str) -> None:
    """A comment on the item, kept in the case history and shown to whoever handles the case next."""
    item = require_ready(ctx.item)
    check_can_act(item, ctx.actor, ctx.head)
    body = (text or "").strip()
    if not body:
        raise FormErrors({"text": "请填写意见内容。"})
    if len(body) > MAX_COMMENT:
        raise FormErrors({"text": f"意见不能超过 {MAX_COMMENT} 个字。"})
    ctx.event(h.WORK_ITEM_COMMENTED, {"text": body, "name": item.name},
              work_item_id=item.id, task_spec=item.task_spec)


def set_follow_up(ctx: CommandContext, follow_up_at: datetime | None) -> None:
    """The item's follow-up date (跟进日期; None clears it)."""
    item = require_ready(ctx.item)
    check_can_act(item, ctx.actor, ctx.head)
    when = to_utc(follow_up_at) if follow_up_at is not None else None
    ctx.later(lambda conn, _: store.set_follow_up(conn, item.id, when))
    ctx.event(h.WORK_ITEM_FOLLOW_UP_SET, {"follow_up_at": when.isoformat() if when else None},
              work_item_id=item.id, task_spec=item.task_spec)


def return_item(ctx: CommandContext, reason: str) -> None:
    """退回: cancel the item and open the case's previous user step again (its last submission kept
    as the form's starting values)."""
    item = require_ready(ctx.item)
    check_can_act(item, ctx.actor, ctx.head)
    why = _reason(reason, "退回")
    timers_first(ctx)
    ready = ctx.before.ready.get(item.id)
    if ready is None:
        raise NotFound("该事项已不在待办状态。")
    target = previous_step(ctx, ready.task)
    ordinal = ready_ordinal(ctx.before, ready)
    reopen(ctx.workflow, ready.task, target, ctx.before)
    old_id = str(target.id)
    ctx.later(lambda conn, _: store.forget_work_item(conn, old_id))
    ctx.state_changed = True
    ctx.event(h.WORK_ITEM_RETURNED, {"process_id": item.process_id, "ordinal": ordinal,
                                     "to_task_spec": target.task_spec.name, "to_name": target.task_spec.bpmn_name
                                     or target.task_spec.name, "reason": why},
              work_item_id=item.id, task_spec=item.task_spec)


def previous_step(ctx: CommandContext, task) -> Any:
    """The nearest completed user step above `task` in its (sub)process's task tree."""
    node = task.parent
    while node is not None:
        if node.state == TaskState.COMPLETED and \
                ctx.definition.meta_for(node.workflow.spec.name, node.task_spec.name) is not None:
            return node
        node = node.parent
    raise EngineError("该环节之前没有可以退回的办理环节。")


def reopen(wf, current, target, projection: WorkItemProjection) -> None:
    """Reset the workflow to `target` (a completed user step above `current`) and run it to its
    next waits; refused when another open step or external task hangs below `target`."""
    others = [r.name for tid, r in projection.ready.items()
              if tid != str(current.id) and r.task.is_descendant_of(target)]
    others += [r.name for r in projection.external.values() if r.task.is_descendant_of(target)]
    if others:
        raise EngineError("退回会撤销其他正在办理的环节（" + "、".join(sorted(set(others))) + "），不能退回。")
    removed = wf.reset_from_task_id(target.id, data=copy.deepcopy(target.data))
    for task in removed:  # SpiffWorkflow leaves removed waiting events (a boundary timer) registered
        wf.event_manager.remove_task(task)
    run_engine(wf)


def replay_return(wf, task_spec: str, data: dict, projection: WorkItemProjection) -> None:
    """Repeat a recorded return on a re-executed workflow (engine/audit/replay.py); LookupError when
    the item or the step to return to is not where the record says."""
    current = [r.task for r in projection.ready.values()
               if r.task_spec == task_spec and r.process_id == data["process_id"]]
    if data["ordinal"] >= len(current):
        raise LookupError(task_spec)
    task = current[data["ordinal"]]
    node = task.parent
    while node is not None and not (node.state == TaskState.COMPLETED and node.task_spec.name == data["to_task_spec"]):
        node = node.parent
    if node is None:
        raise LookupError(data["to_task_spec"])
    reopen(wf, task, node, projection)

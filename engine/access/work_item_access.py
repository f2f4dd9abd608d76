"""Who may act on a work item (complete it, claim it, attach materials) and who may give a claim
back: the one rule the engine enforces when a command runs and the pages follow when they decide
whether to offer the form and buttons."""
from __future__ import annotations

from yijianshi.engine.access.actors import APPLICANT_ROLE, Actor, user_of
from yijianshi.engine.errors import EngineError, NotPermitted, WorkItemUnavailable


def item_groups(groups: str) -> tuple[str, ...]:
    """The departments/roles of a work item, as stored ("market,fire")."""
    return tuple(g for g in groups.split(",") if g)


def refusal(item, actor: Actor, started_by: str) -> EngineError | None:
    """Why `actor` may not act on the work item `item` of a case started by `started_by`, or None
    when he may: the applicant's own steps belong to the person who applied, other steps to the
    members of the item's departments/roles and the users it names (`user:<name>` entries: candidate
    users, the assignee), a claimed item to the one who claimed it; administrators
    may act on every item."""
    groups = item_groups(item.groups)
    if APPLICANT_ROLE in groups and not actor.is_admin:
        # The applicant's own steps (一表申请, 补正, 评价) belong to the person who applied, not
        # to everyone who holds the applicant role.
        if actor.id != started_by:
            return NotPermitted("这是其他申请人的案件，您无权办理。")
        return None
    if not actor.may_work_on(groups):
        named = "、".join(f"指定人员 {user}" if (user := user_of(g)) else g for g in groups)
        return NotPermitted(f"您不属于办理该事项的部门或角色，也不是指定办理人（{named or '无'}）。")
    if item.claimed_by and item.claimed_by != actor.id and not actor.is_admin:
        return WorkItemUnavailable(f"该事项已由 {item.claimed_by} 认领办理。")
    return None


def check_may_act(item, actor: Actor, started_by: str) -> None:
    """Raise NotPermitted or WorkItemUnavailable unless `actor` may act on the work item."""
    problem = refusal(item, actor, started_by)
    if problem is not None:
        raise problem


def may_act(item, actor: Actor, started_by: str) -> bool:
    """Whether an open (ready) work item is `actor`'s to act on now."""
    return item.state == "ready" and refusal(item, actor, started_by) is None


def may_give_back(item, actor: Actor) -> bool:
    """Whether `actor` may return a claimed work item to its departments' common queue: the one who
    claimed it, or an administrator."""
    return item.claimed_by == actor.id or actor.is_admin

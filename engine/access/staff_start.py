"""Who may start a case for someone else, by one rule. Two kinds of staff start:

- 代办申请 (a counter application): the front desk (综合窗口) starts any scenario whose first step is
  the applicant's, for a named applicant present at the window or without an account;
- 登记诉求 (a request received in person, e.g. 暖企驿站 or a 走访 visit): staff start a process whose
  first step is their own department's work (the 有需必应 intake belongs to the street, the grid
  center and the hub).

`entry_groups`: the departments/roles of the process's first step (the step its start form fills)."""
from __future__ import annotations

from collections.abc import Collection

from yijianshi.engine.access.accounts import FRONT_DESK
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.access.actors import APPLICANT_ROLE


def is_counter_application(entry_groups: Collection[str]) -> bool:
    """The first step is the applicant's: staff start it for a named applicant."""
    return APPLICANT_ROLE in entry_groups


def may_start_for_others(actor: Actor, entry_groups: Collection[str]) -> bool:
    if not entry_groups:
        return False
    if is_counter_application(entry_groups):
        return FRONT_DESK in actor.groups
    return actor.may_work_on(tuple(entry_groups))

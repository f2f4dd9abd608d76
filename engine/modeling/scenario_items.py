"""The items (事项) a 一件事 scenario is made of: the processes its call activities call, with the
departments that handle them, their promised limit and what applying for each separately takes; and
the applicant's first step, read from a deployed version."""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.defaults import CallActivity

from yijianshi.engine.access.accounts import department_label
from yijianshi.engine.modeling.external_service import topic_of
from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta
from yijianshi.engine.modeling.definitions import LoadedDefinition
from yijianshi.engine.modeling.time_limits import Limit, limit_of

SELECTION_FIELDS = re.compile(r"item_choice|want_[a-z0-9_]+")  # the merged form's choice of items


@dataclass(frozen=True)
class ScenarioItem:
    """One item of a scenario: a call activity, the process it calls and the departments that handle
    it; the promised limit; and (from the item process's camunda:properties) the materials, merged-form
    fields and window visits the item takes when applied for separately."""

    element_id: str
    name: str
    process_id: str
    departments: tuple[str, ...]
    limit: Limit | None
    materials: tuple[str, ...] = ()
    form_fields: tuple[str, ...] = ()
    visits_before: int = 0
    limit_source: str | None = None  # 时限依据: 《文件名》条款 or local default (engine/modeling/limit_sources.py)
    shared_materials: tuple[str, ...] = ()  # what its data-sharing service tasks replace (not asked for)

    @property
    def limit_days(self) -> int | None:
        """The limit in working days, when it is stated in working days."""
        return self.limit.amount if self.limit is not None and self.limit.unit == "working_days" else None

    @property
    def department_names(self) -> str:
        return "、".join(department_label(d) for d in self.departments)


def in_flow_order(spec):
    """Task specs breadth first from the start event: the order a person reads the diagram in."""
    seen, queue = set(), deque([spec.start])
    while queue:
        ts = queue.popleft()
        if ts.name in seen:
            continue
        seen.add(ts.name)
        yield ts
        queue.extend(ts.outputs)


def entry_task(loaded: LoadedDefinition) -> UserTaskMeta | None:
    """The first user task a new case reaches from its start event."""
    first = next((ts for ts in in_flow_order(loaded.spec) if ts.manual and topic_of(ts) is None), None)
    return loaded.meta_for(loaded.spec.name, first.name) if first is not None else None


def deployed_items(loaded: LoadedDefinition) -> list[ScenarioItem]:
    """The items of a deployed version, in flow order; the limit is the first due date of the item's
    tasks that states one."""
    items = []
    metas = list(loaded.task_meta.values())
    for ts in in_flow_order(loaded.spec):
        called = getattr(ts, "spec", None)
        if not isinstance(ts, CallActivity) or not isinstance(called, str):
            continue
        inner = [m for m in metas if m.process_id == called]
        # The lane the scenario puts the item in names the department that handles it; the called
        # process's own tasks (which may include supervision or escalation steps) come second.
        groups = (ts.lane,) if ts.lane else tuple(dict.fromkeys(g for m in inner for g in m.groups))
        limits = [limit_of(m.due_date) for m in inner if m.due_date]
        items.append(ScenarioItem(element_id=ts.name, name=ts.bpmn_name or ts.name, process_id=called,
                                  departments=groups, limit=next((x for x in limits if x), None)))
    return items

"""The six levels of the 政企同行·有需必应 pathway (processes/enterprise_request): 属地即时办,
部门协同办, 中枢分派办, 领导提级办, 市区协调办, 监督推动办.

The model marks a level by the ids of its user tasks, not by lanes (the liaison lane works at levels
2, 3 and 4; the hub at 3 and 6) nor by data: `level1`, `level2`, then `l3_assign`, `l3_handle`, …,
`l6_report`, `l6_supervise`, `l6_discipline`, `l6_handle` — `level<N>` or `l<N>_<step>`. The level
of a work item is thus read from its `task_spec` in the projection; the steps outside the levels
(登记, 答复, 回访, 复核) belong to the level the case has reached."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

from yijianshi.storage import supervision_store

PATHWAY = "enterprise_request"
INTAKE = 0  # registered, not yet at any level
LEVELS: dict[int, str] = {
    1: "属地即时办",
    2: "部门协同办",
    3: "中枢分派办",
    4: "领导提级办",
    5: "市区协调办",
    6: "监督推动办",
}
LEVEL_NAMES: dict[int, str] = {INTAKE: "诉求登记", **LEVELS}
_LEVEL_TASK = re.compile(r"(?:level|l)([1-6])(?:_\w+)?")


def level_of_task(task_spec: str) -> int | None:
    """The level a user task of the pathway works at; None for steps outside the levels."""
    found = _LEVEL_TASK.fullmatch(task_spec)
    return int(found.group(1)) if found else None


def level_map(task_specs: Iterable[str]) -> dict[str, int]:
    """task spec → level, for the steps that belong to a level."""
    return {spec: n for spec in task_specs if (n := level_of_task(spec)) is not None}


def deployed_level_map(conn, key: str = PATHWAY) -> dict[str, int]:
    """The level steps of every deployed version of the pathway (empty when it is not deployed)."""
    specs: set[str] = set()
    for meta_json in supervision_store.task_meta_of(conn, key):
        for meta_key in json.loads(meta_json):
            process_id, _, task_spec = meta_key.partition(":")
            if process_id == key:
                specs.add(task_spec)
    return level_map(sorted(specs))

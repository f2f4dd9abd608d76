"""The live workflows of recently touched cases, kept per process so that a command on a case the
process handled last needs no deserialization."""
from __future__ import annotations

import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from yijianshi.engine.cases.work_items import WorkItemProjection


class WorkflowCache:
    """Live workflows of recently touched cases, keyed by case and version. A command takes the
    workflow out (so no two threads share one) and puts it back only after its commit."""

    def __init__(self, size: int = 4096):
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow, WorkItemProjection]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, case_id: int, version: int) -> tuple[BpmnWorkflow, WorkItemProjection] | None:
        with self._lock:
            entry = self._items.pop(case_id, None)
        if entry is not None and entry[0] == version:
            return entry[1], entry[2]
        return None

    def put(self, case_id: int, version: int, wf: BpmnWorkflow, projection: WorkItemProjection) -> None:
        with self._lock:
            self._items[case_id] = (version, wf, projection)
            self._items.move_to_end(case_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def rebase(self, case_id: int, old: int, new: int) -> None:
        """A command that left the engine state alone (a claim) moves the cached copy along."""
        with self._lock:
            entry = self._items.get(case_id)
            if entry is not None and entry[0] == old:
                self._items[case_id] = (new, entry[1], entry[2])

    def version_of(self, case_id: int) -> int | None:
        """The version of the case whose workflow is cached, or None when none is."""
        with self._lock:
            entry = self._items.get(case_id)
        return entry[0] if entry is not None else None

    def drop(self, case_id: int) -> None:
        with self._lock:
            self._items.pop(case_id, None)

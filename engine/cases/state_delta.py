"""What a command writes of a case's engine state (#17): not the whole state each time, but a delta
holding only the parts that changed. The state is cut into parts, one per workflow of the case (the
top one, key "", and each called or embedded process, keyed by the id of its task): a part's fields
(its data, correlations, last task...) and one JSON record per task. A command compares the parts
of its workflow with those the database already holds (the `Snapshot` kept with the live workflow)
and writes a delta of the changed fields and task records, the task records gone and the parts gone;
the database keeps the last full state (the base) and the deltas written after it
(storage/case_store.py). The next command that finds eight deltas, or deltas as large as the base,
writes a full state again and drops them, and so does the command that ends the case: a finished
case is one compact base.

Comparison is of serialized bytes, not of dicts: a task record holds references to the task's live
data, which a script may change in place, so a kept dict could compare equal to its own changed
self. A workflow with no snapshot (just started, or rebuilt) writes a full state."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

DELTA_FORMAT = "yjs-delta/1"
MAX_DELTAS = 8  # deltas kept after a base before a command writes a full state again
TOP = ""  # the key of the case's own workflow among the parts

# A workflow's parts: key -> (its fields as JSON, {task id: its record as JSON})
Parts = dict[str, tuple[bytes, dict[str, bytes]]]


@dataclass(frozen=True)
class Snapshot:
    """What the database holds of a case's state: the parts as last written (base and deltas
    merged), how many deltas follow the base and their compressed bytes, and the base's."""

    parts: Parts
    deltas: int = 0
    delta_bytes: int = 0
    base_bytes: int = 0
    compact_next: bool = False  # the stored base is in an older format: the next write is a full one

    def due_for_compaction(self) -> bool:
        return self.compact_next or self.deltas >= MAX_DELTAS or self.delta_bytes >= max(self.base_bytes, 1)


@dataclass(frozen=True)
class StateWrite:
    """A command's write of the state: the full state JSON (`full`), or a delta JSON, or neither
    when nothing stored changed; `drop_deltas`: the full state replaces deltas written before."""

    full: bytes | None
    delta: bytes | None
    parts: Parts
    before: Snapshot | None
    drop_deltas: bool

    def stored(self, written_bytes: int) -> Snapshot:
        """The snapshot once this write has committed (`written_bytes`: compressed size of what it wrote)."""
        if self.full is not None:
            return Snapshot(self.parts, base_bytes=written_bytes)
        before = self.before
        assert before is not None
        if self.delta is None:
            return before
        return Snapshot(self.parts, before.deltas + 1, before.delta_bytes + written_bytes, before.base_bytes)


def plan(parts: Parts, before: Snapshot | None, *, ending: bool, new_case: bool) -> StateWrite:
    """The write of `parts`, given what the database holds (`before`; None: unknown, so a full
    state that also drops any deltas, unless the case is `new_case` and has none)."""
    if before is None or ending or before.due_for_compaction():
        drop = before.deltas > 0 if before is not None else not new_case
        return StateWrite(full_state(parts), None, parts, before, drop)
    return StateWrite(None, delta(parts, before.parts), parts, before, False)


def full_state(parts: Parts) -> bytes:
    """The state JSON (format yjs-case/2, engine/cases/state_codec.py) made of the parts' bytes."""
    top_fields, top_tasks = parts[TOP]
    subs = b",".join(b'"%s":{%s,"tasks":%s}' % (key.encode(), fields[1:-1], _records(tasks))
                     for key, (fields, tasks) in parts.items() if key != TOP)
    return b'{"format":"yjs-case/2",%s,"tasks":%s,"subprocesses":{%s}}' % (top_fields[1:-1], _records(top_tasks), subs)


def _records(tasks: dict[str, bytes]) -> bytes:
    return b"{" + b",".join(b'"%s":%s' % (sid.encode(), rec) for sid, rec in tasks.items()) + b"}"


def delta(parts: Parts, stored: Parts) -> bytes | None:
    """The delta JSON from `stored` to `parts`, or None when they are the same."""
    changed: dict[str, Any] = {}
    for key, (fields, tasks) in parts.items():
        old = stored.get(key)
        old_fields, old_tasks = old if old is not None else (b"", {})
        change: dict[str, Any] = {}
        if fields != old_fields:
            change["fields"] = orjson.Fragment(fields)
        get = old_tasks.get
        records = {sid: orjson.Fragment(rec) for sid, rec in tasks.items() if get(sid) != rec}
        if records:
            change["tasks"] = records
        gone = [sid for sid in old_tasks if sid not in tasks]
        if gone:
            change["gone"] = gone
        if change:
            changed[key] = change
    parts_gone = [key for key in stored if key not in parts]
    if not changed and not parts_gone:
        return None
    return orjson.dumps({"format": DELTA_FORMAT, "parts": changed, "parts_gone": parts_gone})


def apply_delta(state: dict, change: dict) -> None:
    """Merge a decoded delta into a decoded state (format yjs-case/2, before expand_state): changed
    records replace theirs in place, new ones follow in the order written (a task after its parent)."""
    if change.get("format") != DELTA_FORMAT:
        raise ValueError(f"unknown case state delta format {change.get('format')!r}")
    subprocesses = state["subprocesses"]
    for key, part_change in change["parts"].items():
        part = state if key == TOP else subprocesses.setdefault(key, {"tasks": {}})
        fields = part_change.get("fields")
        if fields is not None:
            part.update(fields)
        tasks = part["tasks"]
        tasks.update(part_change.get("tasks", {}))
        for sid in part_change.get("gone", ()):
            tasks.pop(sid, None)
    for key in change.get("parts_gone", ()):
        subprocesses.pop(key, None)


def snapshot_of(workflow) -> Snapshot | None:
    """The snapshot kept with a live workflow (None: it was never stored or loaded as it is)."""
    return getattr(workflow, "_yjs_stored", None)


def keep_snapshot(workflow, snapshot: Snapshot) -> None:
    workflow._yjs_stored = snapshot

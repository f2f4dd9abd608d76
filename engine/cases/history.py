"""The append-only, hash-chained event log of a case: building rows and verifying the chain."""
from __future__ import annotations

import hashlib
import orjson
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from yijianshi.storage.tables import GENESIS_HASH as GENESIS
# IMPLICIT_LINK: what a row stores as prev_hash when it links to the row before it in its case (the
# hash of seq - 1, GENESIS for seq 1): every row written since migration 0025, so the link is not stored
# twice. The hash still commits to the real previous hash; readers put it back
# (storage/case_store.case_events). Rows written before keep the link they stored and are checked against it.
from yijianshi.storage.tables import IMPLICIT_LINK

# Event types. Those marked as commands are what replay re-executes.
CASE_STARTED = "case_started"  # command
WORK_ITEM_READY = "work_item_ready"
WORK_ITEM_CLAIMED = "work_item_claimed"
WORK_ITEM_UNCLAIMED = "work_item_unclaimed"
WORK_ITEM_COMPLETED = "work_item_completed"  # command
WORK_ITEM_CANCELLED = "work_item_cancelled"
MESSAGE_DELIVERED = "message_delivered"  # command
MESSAGE_SENT = "message_sent"
DEADLINE_FIRED = "deadline_fired"
TIMERS_FIRED = "timers_fired"  # command: the scheduler let due timers fire
TIMERS_REARMED = "timers_rearmed"  # command: due times computed again after a calendar change
CASE_COMPLETED = "case_completed"
CASE_CANCELLED = "case_cancelled"  # command
CASE_MIGRATED = "case_migrated"  # command: moved to a newer version of its process (engine/cases/migration.py)
EXTERNAL_TASK_CREATED = "external_task_created"  # a service task waits for a worker of its topic
EXTERNAL_TASK_COMPLETED = "external_task_completed"  # command: a worker completed it
EXTERNAL_TASK_BPMN_ERROR = "external_task_bpmn_error"  # command: a worker threw a BPMN error
EXTERNAL_TASK_FAILED = "external_task_failed"  # a worker reported a failure (retries left, or an incident at 0)
EXTERNAL_TASK_RETRIES_SET = "external_task_retries_set"  # an incident resolved: retries given again
# Hand-offs (engine/cases/handoffs.py), each with its reason; a return is a command.
WORK_ITEM_TRANSFERRED = "work_item_transferred"  # 转办 to another unit
WORK_ITEM_DELEGATED = "work_item_delegated"  # 委派 to a colleague
WORK_ITEM_RETURNED = "work_item_returned"  # command: 退回 to the previous user step
WORK_ITEM_COMMENTED = "work_item_commented"  # a comment for the next handler
WORK_ITEM_FOLLOW_UP_SET = "work_item_follow_up_set"
COMMAND_TYPES = frozenset({WORK_ITEM_RETURNED, CASE_MIGRATED, CASE_STARTED, WORK_ITEM_COMPLETED, MESSAGE_DELIVERED, CASE_CANCELLED,
                           TIMERS_FIRED, TIMERS_REARMED, EXTERNAL_TASK_COMPLETED, EXTERNAL_TASK_BPMN_ERROR})


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8: the same data always gives the same text (and hash)."""
    return canonical_bytes(value).decode("utf-8")


def canonical_bytes(value: Any) -> bytes:
    """canonical_json encoded as UTF-8."""
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def event_data(type_: str, data: dict, top_process: str | None = None) -> dict:
    """What a history row says, with what it leaves out put back: a completed work item stores
    `changed` only when it differs from the whole submission and `previous` only when not empty;
    since #17 also `ordinal` only when not 0 and `process_id` only when the item is not a step of
    the case's own process (`top_process`, its definition key: put back when given)."""
    if type_ == WORK_ITEM_COMPLETED:
        submitted = data.get("submitted") or {}
        full = {**data, "changed": data.get("changed", submitted), "previous": data.get("previous", {}),
                "ordinal": data.get("ordinal", 0)}
        if "process_id" not in data and top_process is not None:
            full["process_id"] = top_process
        return full
    return data


def completion_data(process_id: str, top_process: str, ordinal: int, submitted: dict) -> dict:
    """A completed work item's row data, without what event_data puts back: the process only when
    it is not the case's own (a called or embedded process), the ordinal only when not 0."""
    data: dict[str, Any] = {"submitted": submitted}
    if process_id != top_process:
        data["process_id"] = process_id
    if ordinal:
        data["ordinal"] = ordinal
    return data


@dataclass
class NewEvent:
    """An event produced by a command, before it is chained and stored."""

    type: str
    actor: str
    data: dict
    work_item_id: str | None = None
    task_spec: str | None = None


def event_hash(case_id: int, seq: int, type_: str, actor: str, at: datetime, work_item_id: str | None,
               task_spec: str | None, data_json: str, prev_hash: str) -> str:
    return _hash(case_id, seq, type_, actor, at.astimezone(timezone.utc).isoformat(), work_item_id, task_spec,
                 data_json, prev_hash)


def _hash(case_id: int, seq: int, type_: str, actor: str, at_iso: str, work_item_id: str | None,
          task_spec: str | None, data_json: str, prev_hash: str) -> str:
    """event_hash with the time already in UTC ISO form: SHA-256 of the canonical JSON of the fields."""
    return hashlib.sha256(canonical_bytes(
        [case_id, seq, type_, actor, at_iso, work_item_id, task_spec, data_json, prev_hash])).hexdigest()


def chain(case_id: int, start_seq: int, prev_hash: str, at: datetime, events: list[NewEvent]) -> list[dict]:
    """Give each new event its seq and hash, continuing the case's chain; returns insertable rows
    (prev_hash IMPLICIT_LINK: `prev_hash` given here is the head the rows continue from)."""
    rows = []
    seq = start_seq
    at_iso = at.astimezone(timezone.utc).isoformat()  # the same for every event of a command
    for ev in events:
        seq += 1
        data_json = canonical_json(ev.data)
        h = _hash(case_id, seq, ev.type, ev.actor, at_iso, ev.work_item_id, ev.task_spec, data_json, prev_hash)
        rows.append(dict(case_id=case_id, seq=seq, type=ev.type, actor=ev.actor, at=at,
                         work_item_id=ev.work_item_id, task_spec=ev.task_spec, data=data_json,
                         prev_hash=IMPLICIT_LINK, hash=h))
        prev_hash = h
    return rows


@dataclass(frozen=True)
class ChainReport:
    case_id: int
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"案件 {self.case_id}：历史链完整（{self.events} 条记录）"
        return f"案件 {self.case_id}：第 {self.first_bad_seq} 条记录起历史链不完整：{self.reason}"


def verify_rows(case_id: int, rows: list, head_seq: int, head_hash: str) -> ChainReport:
    """Check seq continuity, each row's hash, the links between rows, and the head kept on the case.
    A row whose link is implicit (IMPLICIT_LINK) is hashed with the previous row's hash, so an edit of
    that row, or of the row before without re-hashing this one, changes its hash."""
    prev = GENESIS
    expected_seq = 1
    for r in rows:
        if r.seq != expected_seq:
            return ChainReport(case_id, False, len(rows), expected_seq, f"记录缺失（期望序号 {expected_seq}，实际为 {r.seq}）")
        implicit = r.prev_hash == IMPLICIT_LINK
        if not implicit and r.prev_hash != prev:
            return ChainReport(case_id, False, len(rows), r.seq, "与前一条记录的链接被改动或前一条记录缺失")
        h = event_hash(case_id, r.seq, r.type, r.actor, r.at, r.work_item_id, r.task_spec, r.data, prev)
        if h != r.hash:
            return ChainReport(case_id, False, len(rows), r.seq,
                               "记录内容被改动，或前一条记录被改动后重算了哈希（哈希不符）" if implicit and r.seq > 1
                               else "记录内容被改动（哈希不符）")
        prev = r.hash
        expected_seq += 1
    if expected_seq - 1 != head_seq:
        return ChainReport(case_id, False, len(rows), expected_seq, f"末尾记录缺失（案件记载共 {head_seq} 条）")
    if prev != head_hash:
        return ChainReport(case_id, False, len(rows), head_seq, "末条记录与案件记载的链头不符")
    return ChainReport(case_id, True, len(rows))

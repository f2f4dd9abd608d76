"""Event logs for process-mining tools: XES (IEEE 1849-2016) and CSV, for one case or every case a
search matches.

One trace per case (its id is the trace's concept:name), one event per history row: the activity
(the step's name for work-item events), the time, who did it (org:resource) and the lifecycle
transition (schedule when a step opens, assign/reassign for claims, complete, aborts for
cancellation). Cases are read in batches by keyset paging and written out as they come, with lxml's
incremental writer or the csv module, so an export never holds more than one batch in memory.

What people entered is not exported (it holds personal data); the audit pages show it masked."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from lxml import etree
from sqlalchemy import Row

from yijianshi.engine.cases import history as h
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage import audit_store
from yijianshi.storage.audit_store import CaseSearch

XES_NS = "http://www.xes-standard.org/"
XES_VERSION = "1849-2016"
# The standard extensions the log uses: (name, prefix, URI).
EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)
CSV_COLUMNS = ("case_id", "activity", "timestamp", "resource", "lifecycle", "event_type", "seq", "element")
FORMATS = {"xes": ("application/xml", "xes"), "csv": ("text/csv", "csv")}
BATCH_CASES = 100

# Lifecycle transitions of the standard transactional model, by event type.
_LIFECYCLE = {
    h.WORK_ITEM_READY: "schedule",
    h.WORK_ITEM_CLAIMED: "assign",
    h.WORK_ITEM_UNCLAIMED: "reassign",
    h.WORK_ITEM_COMPLETED: "complete",
    h.WORK_ITEM_CANCELLED: "ate_abort",
    h.CASE_CANCELLED: "pi_abort",
}
_ACTIVITY = {
    h.CASE_STARTED: "办件创建",
    h.CASE_COMPLETED: "办件办结",
    h.TIMERS_FIRED: "期限到达",
    h.DEADLINE_FIRED: "期限到达",
    h.TIMERS_REARMED: "重新计算期限",
}


@dataclass(frozen=True)
class LogEvent:
    """One history row as an event-log entry."""

    case_id: int
    seq: int
    activity: str
    at: datetime
    resource: str
    lifecycle: str
    type: str
    element: str | None

    @property
    def timestamp(self) -> str:
        return _local(self.at)


@dataclass(frozen=True)
class Trace:
    case: Row[Any]  # the case row (id, definition_key, business_key, title, status, started_by, …)
    events: list[LogEvent]


def log_event(row) -> LogEvent:
    """The event-log entry of a history row (with its work item's name as `item_name`)."""
    data = json.loads(row.data) if row.data else {}
    if row.type == h.CASE_CANCELLED:
        activity = "申请撤回" if data.get("withdrawn") else "办件撤销"
    elif row.type == h.MESSAGE_DELIVERED:
        activity = f"收到消息：{data.get('message', '')}"
    elif row.type == h.MESSAGE_SENT:
        activity = f"发出消息：{data.get('name') or data.get('message') or ''}"
    elif row.type in _ACTIVITY:
        activity = _ACTIVITY[row.type]
    else:
        activity = row.item_name or data.get("name") or row.task_spec or row.type
    return LogEvent(row.case_id, row.seq, activity, row.at, row.actor, _LIFECYCLE.get(row.type, "complete"),
                    row.type, row.task_spec)


def traces(engine, search: CaseSearch | None = None, *, case_ids: list[int] | None = None,
           batch: int = BATCH_CASES) -> Iterator[Trace]:
    """The traces of the given cases, or of every case the search matches, in case-id order, read
    batch by batch."""
    after = 0
    while True:
        with engine.db.reader.connect() as conn:
            if case_ids is not None:
                rows = audit_store.cases_by_id(conn, sorted(i for i in case_ids if i > after)[:batch])
            else:
                rows = audit_store.case_batch(conn, search or CaseSearch(), after_id=after, limit=batch)
            if not rows:
                return
            history = audit_store.events_of_cases(conn, [r.id for r in rows])
        by_case: dict[int, list[LogEvent]] = {r.id: [] for r in rows}
        for ev in history:
            by_case[ev.case_id].append(log_event(ev))
        for r in rows:
            yield Trace(r, by_case[r.id])
        after = rows[-1].id


_NSMAP = {None: XES_NS}


def _el(tag: str, parent: etree._Element | None = None, **attrs: str) -> etree._Element:
    """An XES element (default namespace), under `parent` if given."""
    if parent is None:
        return etree.Element(f"{{{XES_NS}}}{tag}", attrs, nsmap=_NSMAP)
    return etree.SubElement(parent, f"{{{XES_NS}}}{tag}", attrs)


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def _trace_element(trace: Trace) -> etree._Element:
    el = _el("trace")
    case = trace.case
    _el("string", el, key="concept:name", value=str(case.id))
    for key, value in (("title", case.title), ("definition_key", case.definition_key),
                       ("business_key", case.business_key), ("status", case.status),
                       ("applicant", case.started_by)):
        if value:
            _el("string", el, key=key, value=str(value))
    _el("date", el, key="started_at", value=_local(case.started_at))
    for ev in trace.events:
        e = _el("event", el)
        _el("string", e, key="concept:name", value=ev.activity)
        _el("date", e, key="time:timestamp", value=ev.timestamp)
        _el("string", e, key="org:resource", value=ev.resource)
        _el("string", e, key="lifecycle:transition", value=ev.lifecycle)
        _el("string", e, key="event_type", value=ev.type)
        _el("int", e, key="seq", value=str(ev.seq))
        if ev.element:
            _el("string", e, key="element", value=ev.element)
    return el


def _header() -> list[etree._Element]:
    """Extensions, global attributes (the keys every trace and event carries) and classifiers."""
    out = [_el("extension", name=n, prefix=p, uri=u) for n, p, u in EXTENSIONS]
    trace_globals = _el("global", scope="trace")
    _el("string", trace_globals, key="concept:name", value="__INVALID__")
    event_globals = _el("global", scope="event")
    _el("string", event_globals, key="concept:name", value="__INVALID__")
    _el("date", event_globals, key="time:timestamp", value="1970-01-01T00:00:00.000+00:00")
    _el("string", event_globals, key="org:resource", value="__INVALID__")
    _el("string", event_globals, key="lifecycle:transition", value="complete")
    out += [trace_globals, event_globals,
            _el("classifier", name="Activity", keys="concept:name"),
            _el("classifier", name="Activity and transition", keys="concept:name lifecycle:transition")]
    return out


def write_xes(out: IO[bytes], items: Iterable[Trace], *, name: str = "一件事办件事件日志",
              on_trace: Callable[[Trace], None] | None = None) -> None:
    """Write an XES log to a binary file, one trace at a time."""
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{XES_NS}}}log", {"xes.version": XES_VERSION, "xes.features": ""}, nsmap=_NSMAP):
            for el in _header():
                xf.write("\n", el)
            xf.write("\n", _el("string", key="concept:name", value=name))
            xf.write("\n", _el("string", key="lifecycle:model", value="standard"))
            for trace in items:
                xf.write("\n", _trace_element(trace))
                if on_trace is not None:
                    on_trace(trace)
            xf.write("\n")


def write_csv(out: IO[bytes], items: Iterable[Trace], *, on_trace: Callable[[Trace], None] | None = None) -> None:
    """Write a CSV event log to a binary file: UTF-8 with a byte-order mark (so spreadsheet programs
    read the Chinese text), one row per event."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        for trace in items:
            writer.writerows([ev.case_id, ev.activity, ev.timestamp, ev.resource, ev.lifecycle, ev.type, ev.seq,
                              ev.element or ""] for ev in trace.events)
            if on_trace is not None:
                on_trace(trace)
    finally:
        text.detach()


def write_log(fmt: str, out: IO[bytes], items: Iterable[Trace], *,
              on_trace: Callable[[Trace], None] | None = None) -> None:
    if fmt == "xes":
        write_xes(out, items, on_trace=on_trace)
    elif fmt == "csv":
        write_csv(out, items, on_trace=on_trace)
    else:
        raise ValueError(f"unknown export format {fmt!r}")


def case_log(engine, case_id: int, fmt: str) -> bytes:
    """The event log of one case (small: written in memory)."""
    out = io.BytesIO()
    write_log(fmt, out, traces(engine, case_ids=[case_id]))
    return out.getvalue()

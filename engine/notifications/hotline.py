"""The 12345 hotline both ways, outbound half: a case that came in as a 12345 work order (its data
names the hotline channel or a work-order number) reports back to the hotline platform through a
signed webhook: the answer when the case starts waiting for the platform's revisit (the BPMN message
`hotline_revisit`), and the final result with the answer and the satisfaction when the case ends.

Each request carries `X-Yijianshi-Timestamp` (Unix seconds) and `X-Signature: sha256=<hex>`, the
HMAC-SHA256 under the shared secret of `<timestamp>.<body>`; the receiver recomputes it and may
refuse stale timestamps. Answering also arms a revisit watch: if the platform has not sent its
revisit within the configured working days, the dispatcher records the timeout and tells the clerks."""
from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta
from typing import Any

from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.context import CommandContext
from yijianshi.engine.clock import to_utc
from yijianshi.engine.notifications import messages as m
from yijianshi.engine.notifications.notices import Notices, Planned

REVISIT_MESSAGE = "hotline_revisit"
HOTLINE_CHANNEL = "hotline_12345"
TIMESTAMP_HEADER = "X-Yijianshi-Timestamp"
SIGNATURE_HEADER = "X-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Signature value of a webhook body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), given or "")


def work_order_of(ctx: CommandContext, data: dict[str, Any]) -> str | None:
    """The 12345 work-order number of a case that came from the hotline, else None."""
    number = data.get("work_order_no")
    if isinstance(number, str) and number.strip():
        return number.strip()
    if data.get("channel") == HOTLINE_CHANNEL:
        return ctx.head.business_key or ""
    return None


def _revisit_due(ctx: CommandContext, notices: Notices) -> datetime:
    """The end of the revisit time; calendar days (7 for every 5 working days) when the holiday
    schedule of the year it needs is not imported yet: a missing schedule must not fail the command."""
    n = notices.revisit_working_days
    try:
        assert notices.add_working_days is not None
        return notices.add_working_days(ctx.at, n)
    except Exception:
        return to_utc(ctx.at) + timedelta(days=math.ceil(n * 7 / 5))


def _answer(data: dict[str, Any]) -> dict[str, Any]:
    return {"answer": str(data.get("final_answer") or data.get("answer") or ""),
            "request_met": data.get("request_met")}


def plan(ctx: CommandContext, notices: Notices, data: dict[str, Any]) -> list[Planned]:
    """The hotline's messages of a command on a 12345 case (none for other cases)."""
    number = work_order_of(ctx, data) if data else None
    if number is None:
        return []
    at = ctx.at.isoformat()
    planned = []
    after = ctx.after.waits if ctx.after is not None else set()
    if REVISIT_MESSAGE in after and REVISIT_MESSAGE not in ctx.before.waits:
        planned.append(Planned(m.HOTLINE_ANSWER, "hotline", dedupe=f"hotline_answer:{ctx.head.version}",
                               payload={"event": "answered", "work_order_no": number, "at": at, **_answer(data)}))
        if notices.add_working_days is not None and notices.revisit_working_days > 0:
            groups = ctx.item.groups if ctx.item is not None else ""
            planned.append(Planned(m.REVISIT_WATCH, "watch", step=number, groups=groups,
                                   dedupe=f"revisit:{ctx.head.version}",
                                   due=to_utc(_revisit_due(ctx, notices))))
    if ctx.status == "completed" or any(e.type == h.CASE_CANCELLED for e in ctx.events):
        planned.append(Planned(m.HOTLINE_RESULT, "hotline", dedupe="hotline_result", payload={
            "event": "closed" if ctx.status == "completed" else "cancelled", "work_order_no": number, "at": at,
            **_answer(data), "satisfaction": data.get("satisfaction"), "revisit_note": data.get("revisit_note"),
            "recheck_outcome": data.get("recheck_outcome")}))
    return planned

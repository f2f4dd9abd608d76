"""What a case command tells whom: its events become outbox rows, queued on the command context so
that they are written in the command's own transaction (a command that fails or loses a race leaves
none behind). Applicants hear of a supplement request (an applicant step opened later in the case,
一次告知), acceptance (the first step a clerk completes), the result and a rating request; clerks
of new work and of a warning or overdue boundary timer; the 12345 platform of the answer (when a
hotline case starts waiting for its revisit) and of the final result with the satisfaction."""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from yijianshi.engine.access.actors import APPLICANT_ROLE, SYSTEM, personal_group
from yijianshi.engine.cases import history as h
from yijianshi.engine.cases.context import CommandContext
from yijianshi.engine.clock import to_utc
from yijianshi.engine.notifications import hotline
from yijianshi.engine.notifications import messages as m
from yijianshi.engine.notifications.notices import Notices, Planned
from yijianshi.storage import outbox_store

PHONE = re.compile(r"^1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def case_data(ctx: CommandContext) -> dict[str, Any]:
    """The case's data as the command leaves it (workflow data and the latest task's)."""
    if not ctx.has_workflow:
        return {}
    wf = ctx.workflow
    data = dict(wf.data)
    if wf.last_task is not None:
        data.update(wf.last_task.data)
    return data


def contacts(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(e-mail address, mobile number) of the applicant, if the case data holds them."""
    email = phone = None
    for key, value in data.items():
        if not isinstance(value, str):
            continue
        k = key.lower()
        if email is None and "mail" in k and EMAIL.match(value.strip()):
            email = value.strip()
        if phone is None and any(w in k for w in ("phone", "mobile", "tel")) and PHONE.match(value.strip()):
            phone = value.strip()
    return email, phone


def plan(ctx: CommandContext, notices: Notices) -> list[Planned]:
    """The messages a command's events call for."""
    planned: list[Planned] = []
    started = any(e.type == h.CASE_STARTED for e in ctx.events)
    for e in ctx.events:
        if e.type == h.WORK_ITEM_READY:
            groups = [g for g in e.data.get("groups") or []]
            if APPLICANT_ROLE in groups:
                if not started and not _rating(e.data["name"]):
                    planned.append(Planned(m.SUPPLEMENT, "applicant", step=e.data["name"]))
                if _rating(e.data["name"]):
                    planned.append(Planned(m.RATING, "applicant", step=e.data["name"], dedupe=f"rating:{e.work_item_id}"))
                groups = [g for g in groups if g != APPLICANT_ROLE]
            if groups:
                planned.append(Planned(m.NEW_WORK, "clerks", step=e.data["name"], groups=",".join(groups)))
        elif e.type == h.WORK_ITEM_COMPLETED and e.actor not in (ctx.head.started_by, SYSTEM.id):
            planned.append(Planned(m.ACCEPTED, "applicant", dedupe="accepted"))
        elif e.type == h.CASE_COMPLETED:
            planned.append(Planned(m.RESULT, "applicant", outcome="已办结", dedupe="result"))
            planned.append(Planned(m.RATING, "applicant", dedupe="rating"))
        elif e.type == h.CASE_CANCELLED and not e.data.get("withdrawn"):
            planned.append(Planned(m.RESULT, "applicant", outcome="已撤销", dedupe="result"))
        elif e.type == h.DEADLINE_FIRED and e.data.get("kind") in (m.WARNING, m.OVERDUE):
            planned += _alert(ctx, e)
    planned += hotline.plan(ctx, notices, case_data(ctx) if _hotline_relevant(ctx, notices) else {})
    return planned


def _hotline_relevant(ctx: CommandContext, notices: Notices) -> bool:
    if not notices.hotline_url or not ctx.has_workflow:
        return False
    waits_now = ctx.after.waits if ctx.after is not None else set()
    return bool(waits_now - ctx.before.waits) or ctx.status is not None


def _alert(ctx: CommandContext, e: h.NewEvent) -> list[Planned]:
    """The clerks' alert of a warning or overdue boundary timer that fired on a work item."""
    timer = next((t for t in ctx.before.timers.values()
                  if t.task_spec == e.task_spec and t.kind == e.data["kind"] and t.attached_to), None)
    if timer is None or timer.attached_to is None:
        return []
    found = outbox_store.work_item_groups(ctx.conn, timer.attached_to)
    if found is None:
        return []
    name, groups = found
    return [Planned(e.data["kind"], "clerks", step=name, groups=groups,
                    dedupe=f"@{e.data['kind']}:{timer.attached_to}")]


def queue(ctx: CommandContext, notices: Notices) -> None:
    """Plan the command's messages and queue their rows on the command's write transaction."""
    planned = plan(ctx, notices)
    if not planned:
        return
    email, phone = contacts(case_data(ctx)) if any(p.audience == "applicant" for p in planned) else (None, None)
    owner, at = ctx.head.started_by, to_utc(ctx.at)

    def write(conn: Connection, case_id: int) -> None:
        # The title came with the case head the command read (no read inside the write transaction).
        title = ctx.head.title or outbox_store.case_title(conn, case_id)
        rows = []
        for p in planned:
            rows += rows_of(p, case_id, title, owner, email, phone, at, notices)
        outbox_store.add(conn, rows)
        if any(e.type == h.MESSAGE_DELIVERED and e.data.get("message") == hotline.REVISIT_MESSAGE
               for e in ctx.events):
            outbox_store.cancel_watches(conn, case_id, "revisit", at, "12345 平台已反馈回访结果")

    ctx.later(write)


def rows_of(p: Planned, case_id: int, title: str, owner: str, email: str | None, phone: str | None,
            at: datetime, notices: Notices) -> list[dict]:
    """The outbox rows of one planned message: one per channel."""
    def row(channel: str, recipient: str, subject: str, body: str, suffix: str = "", **extra) -> dict:
        dedupe = None
        if p.dedupe is not None:  # "@key": one per work item, shared with the deadline scan
            dedupe = p.dedupe[1:] if p.dedupe.startswith("@") else f"{p.dedupe}:{case_id}"
            dedupe += suffix
        return dict(channel=channel, kind=p.kind, case_id=case_id, recipient=recipient[:1000],
                    subject=subject[:255], body=body, payload_json=extra.get("payload_json"), dedupe_key=dedupe,
                    state="pending", attempts=0, next_attempt_at=extra.get("due") or at, created_at=at)

    # clerks' and applicants' texts: written out at delivery (m.texts_of), the row keeps their words
    if p.audience == "clerks":
        return [row("inapp", p.groups, "", "", payload_json=m.lean_payload(p.step))]
    if p.audience == "applicant":
        words = m.lean_payload(p.step, p.outcome, applicant=True)
        rows = [row("inapp", personal_group(owner), "", "", payload_json=words)]
        if notices.email and email:
            rows.append(row("email", email, "", "", ":email", payload_json=words))
        if notices.sms and phone:
            rows.append(row("sms", phone, "", "", ":sms", payload_json=words))
        return rows
    if p.audience == "hotline":
        body = json.dumps(dict(p.payload or {}, case_id=case_id), ensure_ascii=False, sort_keys=True)
        return [row("webhook", notices.hotline_url or "", m.KIND_LABELS[p.kind], body, payload_json=body)]
    # watch: the revisit deadline, delivered (checked) when due
    subject, body = m.clerk_text(m.REVISIT_TIMEOUT, title, p.step)
    return [row("revisit", p.groups, subject, body, due=p.due)]


def _rating(step: str) -> bool:
    """Whether an applicant step asks for the applicant's rating (评价, 好差评) rather than materials."""
    return "评价" in step or "好差评" in step

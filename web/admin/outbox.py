"""The outbox for administrators (消息发送): notifications by state, the failed deliveries with their
last error, and queueing a failed one again."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from yijianshi.engine.notifications.messages import KIND_LABELS, STATE_LABELS
from yijianshi.storage import outbox_store
from yijianshi.web.admin.blueprint import administrators, bp
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


@bp.get("/outbox")
@administrators
def outbox():
    state = request.args.get("state") or None
    if state not in STATE_LABELS:
        state = None
    with services().db.reader.connect() as conn:
        rows = outbox_store.listing(conn, state, limit=200)
        counts = outbox_store.counts(conn)
    return render_template("admin/outbox.html", rows=rows, counts=counts, state=state, states=STATE_LABELS,
                           kinds=KIND_LABELS)


@bp.post("/outbox/<int:row_id>/requeue")
@administrators
def requeue(row_id: int):
    system = services()
    with system.db.writer.begin() as conn:
        done = outbox_store.requeue(conn, row_id, system.engine.clock.now())
    if done:
        flash(_("通知 %(id)s 已重新排队，稍后发送。", id=row_id), "success")
    else:
        flash(_("通知 %(id)s 不是发送失败的通知。", id=row_id), "warning")
    return redirect(url_for("admin.outbox", state="failed"))

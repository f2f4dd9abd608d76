"""站内通知: the bell in the page header with the signed-in person's unread count, the list of their
notifications (newest first) and marking them read. Every signed-in person has one; the rows are
written by the notification dispatcher (engine/notifications/)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from yijianshi.engine.clock import to_utc
from yijianshi.engine.notifications.messages import KIND_LABELS
from yijianshi.storage import notification_store
from yijianshi.web.services import services

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def unread_count() -> int:
    """The signed-in person's unread notifications (0 when nobody is signed in)."""
    if not current_user.is_authenticated:
        return 0
    with services().db.reader.connect() as conn:
        return notification_store.unread_count(conn, current_user.username)


@bp.get("/")
@login_required
def index():
    with services().db.reader.connect() as conn:
        rows = notification_store.of_user(conn, current_user.username, limit=100)
    return render_template("notifications.html", rows=rows, kinds=KIND_LABELS)


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    _mark(notification_id)
    return redirect(url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def read_all():
    _mark(None)
    return redirect(url_for("notifications.index"))


def _mark(notification_id: int | None) -> None:
    system = services()
    with system.db.writer.begin() as conn:
        notification_store.mark_read(conn, current_user.username, to_utc(system.engine.clock.now()), notification_id)

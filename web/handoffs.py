"""Hand-offs on the work item page (/inbox/items/<id>/…): transfer (转办) to another unit, delegate
(委派) to a colleague, return (退回) to the previous step, a comment for the next handler and the
follow-up date. Each posts to the engine's command (engine/cases/handoffs.py), which checks again who
may act; a refusal is shown on the page with nothing changed."""
from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.errors import EngineError, FormErrors, NotPermitted
from yijianshi.storage import inbox_store
from yijianshi.web.access import can_view_item, inbox_users, may_act, require
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services

bp = Blueprint("handoffs", __name__, url_prefix="/inbox/items")


def _run(work_item_id: str, command, done: str):
    """Run a hand-off command for the current user; back to the item (or the inbox once it left him)."""
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        item = inbox_store.work_item(conn, work_item_id)
        if item is None:
            abort(404)
        require(can_view_item(current_user, item))
    if item.state != "ready" or not may_act(current_user, item):
        raise NotPermitted(_("您不能处理此事项（它属于其他部门，或已由他人认领）。"))
    try:
        command(svc.engine.cases, current_user.actor)
    except FormErrors as err:
        flash("；".join(err.errors.values()), "error")
        return redirect(url_for("inbox.task", work_item_id=work_item_id))
    except EngineError as err:
        if isinstance(err, NotPermitted):
            raise
        flash(str(err), "error")
        return redirect(url_for("inbox.task", work_item_id=work_item_id))
    flash(done, "success")
    with svc.engine.db.reader.connect() as conn:
        after = inbox_store.work_item(conn, work_item_id)
    if after is not None and after.state == "ready" and may_act(current_user, after):
        return redirect(url_for("inbox.task", work_item_id=work_item_id))
    return redirect(url_for("inbox.index"))


def _text(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.post("/<work_item_id>/transfer")
@inbox_users
def transfer(work_item_id: str):
    unit, reason = _text("unit"), _text("reason")
    return _run(work_item_id, lambda cases, actor: cases.transfer(work_item_id, unit, reason, actor),
                _("已转办，事项已交给接收单位。"))


@bp.post("/<work_item_id>/delegate")
@inbox_users
def delegate(work_item_id: str):
    username, reason = _text("username").lower(), _text("reason")
    return _run(work_item_id, lambda cases, actor: cases.delegate(work_item_id, username, reason, actor),
                _("已委派给 %(user)s。", user=username))


@bp.post("/<work_item_id>/return")
@inbox_users
def return_item(work_item_id: str):
    reason = _text("reason")
    return _run(work_item_id, lambda cases, actor: cases.return_item(work_item_id, reason, actor),
                _("已退回上一环节。"))


@bp.post("/<work_item_id>/comment")
@inbox_users
def comment(work_item_id: str):
    text = _text("text")
    return _run(work_item_id, lambda cases, actor: cases.comment(work_item_id, text, actor),
                _("已记录办理意见。"))


@bp.post("/<work_item_id>/follow-up")
@inbox_users
def follow_up(work_item_id: str):
    raw = _text("follow_up_on")
    when = None
    if raw:
        try:
            when = datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time(9, 0), SHANGHAI)
        except ValueError:
            flash(_("跟进日期格式应为 年-月-日（例如 2026-03-01）。"), "error")
            return redirect(url_for("inbox.task", work_item_id=work_item_id))
    return _run(work_item_id, lambda cases, actor: cases.set_follow_up(work_item_id, when, actor),
                _("已设置跟进日期。") if when else _("已清除跟进日期。"))

"""Cases for administrators: stuck cases (whose commands keep failing, engine/cases/failures.py) with
retry and cancel, cases whose deadlines wait for a holiday schedule not yet published (期限待定), and
cancelling any running case with a reason (recorded in its history)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.cases import failures
from yijianshi.engine.errors import EngineError
from yijianshi.storage import case_store, inbox_store
from yijianshi.web.admin.blueprint import administrators, bp
from yijianshi.web.admin.forms import CancelForm
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


@bp.get("/cases")
@administrators
def cases():
    engine = services().engine
    with engine.db.reader.connect() as conn:
        waiting = case_store.cases_needing_attention(conn)
    return render_template("admin/cases.html", stuck=failures.stuck_cases(engine), waiting=waiting,
                           form=CancelForm())


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@administrators
def case(case_id: int):
    """A case as an administrator handles it: its failures, and the cancel form."""
    engine = services().engine
    with engine.db.reader.connect() as conn:
        row = inbox_store.case_row(conn, case_id)
    if row is None:
        abort(404)
    form = CancelForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            engine.cases.cancel_case(case_id, current_user.actor, form.reason.data.strip())
        except EngineError as err:
            flash(str(err), "warning")
        else:
            flash(_("办件 %(id)s 已撤销。", id=case_id), "success")
            return redirect(url_for("admin.cases"))
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("admin/case.html", row=row, form=form,
                           failures=failures.failures_of(engine, case_id)), status


@bp.post("/cases/find")
@administrators
def find():
    number = (request.form.get("case_id") or "").strip()
    if not number.isdigit() or int(number) > 2**62:
        flash(_("请输入办件编号（数字）。"), "warning")
        return redirect(url_for("admin.cases"))
    return redirect(url_for("admin.case", case_id=int(number)))


@bp.post("/cases/<int:case_id>/retry")
@administrators
def retry(case_id: int):
    result = failures.retry(services().engine, case_id, current_user.actor)
    if result.still_stuck:
        flash(_("重试后办件 %(id)s 仍然出错，请查看错误信息，或撤销该办件。", id=case_id), "warning")
    else:
        flash(_("办件 %(id)s 已恢复办理。", id=case_id), "success")
    return redirect(url_for("admin.cases"))

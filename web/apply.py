"""Applicants (citizens and enterprises): the scenario catalogue, the one merged application form
with materials, their cases' progress and results, their own steps (补正, 评价), withdrawal."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.cases.case_title import case_title
from yijianshi.engine.errors import EngineError, FormErrors, WorkItemUnavailable
from yijianshi.engine.modeling.forms import validate_submission
from yijianshi.storage import inbox_store
from yijianshi.web.failure_text import failure_text
from yijianshi.web import case_view
from yijianshi.web.case_view import case_forecast
from yijianshi.web.access import applicants, can_view_item, masker_for, may_act, require
from yijianshi.web.bpmn_forms import TaskForm
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import scenario_catalogue, services
from yijianshi.web.task_submit import Outcome, stage_uploads, submit
from yijianshi.web.paging import page_number

bp = Blueprint("apply", __name__, url_prefix="/apply")


@bp.get("/")
@applicants
def catalogue():
    svc = services()
    scenarios = scenario_catalogue().scenarios()
    with svc.engine.db.reader.connect() as conn:
        mine = inbox_store.cases_started_by(conn, current_user.username, limit=5)
        todo = inbox_store.applicant_steps(conn, current_user.username)
    return render_template("apply/catalogue.html", scenarios=scenarios, cases=mine, todo=todo)


@bp.route("/scenarios/<key>", methods=["GET", "POST"])
@applicants
def scenario(key: str):
    view = scenario_catalogue().latest(key)
    if view is None or not view.is_scenario:
        abort(404)
    application = view.application_form
    if application is None:
        form = None
    elif request.method == "POST":
        form = TaskForm(application, request.form)
    else:
        form = TaskForm(application, None, _prefill(application))
    outcome = Outcome()
    if request.method == "POST":
        outcome = _start(view, form)
        if outcome.ok:
            flash(_("申请已提交，办件编号 %(id)s。请留意办理进度。", id=outcome.summary.id), "success")
            return redirect(url_for("apply.case", case_id=outcome.summary.id))
    status = 422 if request.method == "POST" else 200
    return render_template("apply/scenario.html", view=view, form=form, upload_error=outcome.upload_error), status


def _prefill(bpmn_form) -> dict:
    """Query arguments may preselect fields (e.g. ?item_choice=custom&want_food_permit=true)."""
    return {f.id: request.args[f.id] for f in bpmn_form.fields if f.id in request.args}


def _start(view, form: TaskForm | None) -> Outcome:
    """Validate everything first, then start the case, submit its application form and keep the
    materials in one transaction: a start that fails leaves no case behind (and no files)."""
    svc = services()
    application = view.application_form
    submission = {}
    if form is not None:
        submission = form.submission()
        try:
            validate_submission(application, submission)
        except FormErrors as err:
            form.show_errors(err.errors)
            return Outcome()
    if view.start_form is not None:
        # The start event's form: the data the case starts with (no materials: they go with a step).
        return _start_with(view, form, lambda actor: svc.engine.cases.start_case(view.key, submission, actor))
    staged, failed = stage_uploads()
    if failed is not None:
        return failed
    actor = current_user.actor
    published = svc.materials.publish(staged)
    try:
        started = svc.engine.cases.start_case(view.key, {}, actor, title=case_title(view.name, application, submission),
                                              start_form=submission, start_materials=published.materials)
    except FormErrors as err:  # the rules changed under us; the page shows why
        svc.materials.forget(published)
        if form is not None:
            form.show_errors(err.errors)
        return Outcome()
    except EngineError as err:
        svc.materials.forget(published)
        flash(_("申请未能提交，未创建办件：%(why)s", why=failure_text(err, current_user)), "error")
        return Outcome()
    except BaseException:
        svc.materials.forget(published)  # the files are attached with the start or not at all
        raise
    return Outcome(summary=started)


def _start_with(view, form: TaskForm | None, start) -> Outcome:
    try:
        return Outcome(summary=start(current_user.actor))
    except FormErrors as err:  # the rules changed under us; the page shows why
        if form is not None:
            form.show_errors(err.errors)
    except EngineError as err:
        flash(_("申请未能提交，未创建办件：%(why)s", why=failure_text(err, current_user)), "error")
    return Outcome()


@bp.get("/cases")
@applicants
def cases():
    svc = services()
    page = page_number()
    with svc.engine.db.reader.connect() as conn:
        rows = inbox_store.cases_started_by(conn, current_user.username, limit=21, offset=(page - 1) * 20)
        open_items = inbox_store.ready_items_of(conn, [c.id for c in rows[:20]])
    on_it: dict[int, list] = {}
    for item in open_items:
        on_it.setdefault(item.case_id, []).append(item)
    return render_template("apply/cases.html", cases=rows[:20], on_it=on_it, page=page, more=len(rows) > 20)


@bp.get("/cases/<int:case_id>")
@applicants
def case(case_id: int):
    with services().engine.db.reader.connect() as conn:
        view = case_view.visible_case(conn, case_id, current_user, applicant_view=True)
    return render_template("apply/case.html", cv=view, forecast=case_forecast(case_id))


@bp.route("/tasks/<work_item_id>", methods=["GET", "POST"])
@applicants
def task(work_item_id: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        item = inbox_store.work_item(conn, work_item_id)
        if item is None:
            abort(404)
        require(can_view_item(current_user, item))
        row = inbox_store.case_row(conn, item.case_id)
        cv = case_view.build(conn, row, masker_for(current_user, row), applicant_view=True)
    if not may_act(current_user, item):
        flash(_("该事项已办结或已撤销，无需再办理。"), "info")
        return redirect(url_for("apply.case", case_id=item.case_id))
    meta = cv.definition.meta(item.process_id, item.task_spec)
    bpmn_form = services().engine.cases.shown_form(item.case_id, item.id, meta.form if meta is not None else None)
    outcome = Outcome()
    if request.method == "POST":
        form = TaskForm(bpmn_form, request.form, cv.data) if bpmn_form else None
        try:
            outcome = submit(work_item_id, bpmn_form, form, current_user.actor)
        except WorkItemUnavailable as err:
            flash(str(err), "warning")
            return redirect(url_for("apply.case", case_id=item.case_id))
        if outcome.ok:
            flash(_("“%(name)s”已提交。", name=item.name), "success")
            return redirect(url_for("apply.case", case_id=item.case_id))
    else:
        form = TaskForm(bpmn_form, None, cv.data) if bpmn_form else None
    status = 422 if request.method == "POST" else 200
    return render_template("apply/task.html", item=item, cv=cv, meta=meta, form=form,
                           upload_error=outcome.upload_error), status


@bp.post("/cases/<int:case_id>/withdraw")
@applicants
def withdraw(case_id: int):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        row = inbox_store.case_row(conn, case_id)
        if row is None:
            abort(404)
    require(row.started_by == current_user.username)
    reason = (request.form.get("reason") or "").strip()[:200]
    try:
        svc.engine.cases.cancel_case(case_id, current_user.actor, reason or _("申请人主动撤回"), withdrawn=True)
    except EngineError as err:
        flash(failure_text(err, current_user), "warning")
    else:
        flash(_("申请已撤回。"), "success")
    return redirect(url_for("apply.case", case_id=case_id))


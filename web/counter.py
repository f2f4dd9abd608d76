"""代办申请 / 登记诉求: staff start a case for someone else. The front desk fills a scenario's
application for a named applicant at the window (who may have no account; if he has one, the case
is his and he sees it); staff register a request received in person (暖企驿站, 走访) into a process
whose first step is their own (有需必应 intake). Who may start what is engine/access/staff_start.py;
the case goes through the engine's start with its start form, validated there."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.access.staff_start import is_counter_application, may_start_for_others
from yijianshi.engine.cases.case_title import case_title
from yijianshi.engine.errors import EngineError, FormErrors
from yijianshi.engine.modeling.forms import validate_submission
from yijianshi.web.failure_text import failure_text
from yijianshi.web.access import audience
from yijianshi.web.bpmn_forms import TaskForm
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import scenario_catalogue, services

bp = Blueprint("counter", __name__, url_prefix="/counter")
MAX_NAME = 100


def startable(user) -> list:
    """The processes this member of staff may start for others, by name."""
    if not user.is_authenticated or user.is_applicant:
        return []
    views = scenario_catalogue().latest_views()
    called = set().union(*(v.called for v in views)) if views else set()
    return sorted((v for v in views if v.application_form is not None and v.key not in called
                   and may_start_for_others(user.actor, v.starter_groups)), key=lambda v: v.name)


staff = audience(lambda u: not u.is_applicant)


@bp.get("/")
@staff
def index():
    return render_template("counter/index.html", views=startable(current_user))


@bp.route("/<key>", methods=["GET", "POST"])
@staff
def start(key: str):
    view = next((v for v in startable(current_user) if v.key == key), None)
    if view is None:
        abort(404 if scenario_catalogue().latest(key) is None else 403)
    counter = is_counter_application(view.starter_groups)
    form = TaskForm(view.application_form, request.form if request.method == "POST" else None)
    applicant = {"name": (request.form.get("applicant_name") or "").strip()[:MAX_NAME],
                 "account": (request.form.get("applicant_account") or "").strip().lower()}
    problems: dict[str, str] = {}
    if request.method == "POST":
        started = _start(view, form, counter, applicant, problems)
        if started is not None:
            flash(_("已代为立案，办件编号 %(id)s。", id=started.id) if counter
                  else _("诉求已登记，办件编号 %(id)s。", id=started.id), "success")
            return redirect(url_for("inbox.case", case_id=started.id))
    status = 422 if request.method == "POST" else 200
    return render_template("counter/start.html", view=view, form=form, counter=counter, applicant=applicant,
                           problems=problems), status


def _start(view, form: TaskForm, counter: bool, applicant: dict, problems: dict):
    """Validate the applicant and the form, then start through the engine with the start form."""
    owner = None
    if counter:
        if not applicant["name"]:
            problems["applicant_name"] = _("请填写申请人姓名或单位名称。")
        if applicant["account"]:
            account = services().accounts.get(applicant["account"])
            if account is None or not account.active or not account.role.applicant:
                problems["applicant_account"] = _("“%(name)s”不是有效的申请人账号。", name=applicant["account"])
            else:
                owner = account.username
    submission = form.submission()
    try:
        validate_submission(view.application_form, submission)
    except FormErrors as err:
        form.show_errors(err.errors)
        return None
    if problems:
        return None
    actor = current_user.actor
    on_behalf_of = applicant["name"] if counter else None
    try:
        if view.start_form is not None:  # the start event's form: the data the case starts with
            return services().engine.cases.start_case(view.key, submission, actor, started_by=owner,
                                                      on_behalf_of=on_behalf_of)
        return services().engine.cases.start_case(
            view.key, {}, actor, title=case_title(view.name, view.application_form, submission), start_form=submission,
            started_by=owner, on_behalf_of=on_behalf_of)
    except FormErrors as err:
        form.show_errors(err.errors)
    except EngineError as err:
        flash(_("立案失败，未创建案件：%(why)s", why=failure_text(err, current_user)), "warning")
    return None

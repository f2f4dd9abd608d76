"""Clerks (front desk and departments) and those who oversee them: the task inbox with its filters,
claiming, the task page (form, case summary, materials, history, diagram) and completing a task."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from yijianshi.engine.access.actors import APPLICANT_ROLE, personal_group
from yijianshi.engine.errors import NotPermitted, WorkItemUnavailable
from yijianshi.engine.cases import history as h
from yijianshi.storage import account_store, case_store, org_store
from yijianshi.storage import case_search
from yijianshi.storage import inbox_store
from yijianshi.storage.inbox_store import InboxFilter
from yijianshi.web import case_view
from yijianshi.web.case_view import case_forecast
from yijianshi.web.access import (
    can_view_item,
    inbox_users,
    masker_for,
    may_act,
    require,
    withheld_fields,
)
from yijianshi.web.auth import safe_next
from yijianshi.web.bpmn_forms import TaskForm
from yijianshi.web.deadlines import remaining
from yijianshi.web.i18n import gettext as _
from yijianshi.web.masking import mask_id
from yijianshi.web.services import scenario_catalogue, services
from yijianshi.web.task_submit import Outcome, submit
from yijianshi.web.paging import page_number

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

QUICK_FILTERS = ("unclaimed", "claimed", "warning", "overdue")
# An ID number or credit code searched for is kept out of addresses (server and proxy logs, browser
# history, the Referer header): the search form is posted, the session keeps the number's hash and
# its masked form, and the address says only idq=1 ("the number you searched for").
ID_SEARCH = "inbox_id_search"
SORTS = tuple(inbox_store.SORTS)
PAGE_SIZES = (20, 50, 100)


@dataclass(frozen=True)
class InboxQuery:
    """The inbox filters, search, order and page as the address bar carries them."""

    scope: str  # mine | all
    show: str  # "" or one of QUICK_FILTERS
    scenario: str
    page: int
    search: str = ""
    sort: str = "deadline"
    order: str = "asc"
    size: int = 0  # 0: the configured default
    id_search: str = ""  # masked ID number / credit code searched for (its hash is in the session)

    @classmethod
    def from_request(cls, user) -> InboxQuery:
        default_scope = "all" if (user.oversees or user.is_admin) else "mine"
        scope = request.args.get("scope", default_scope)
        if scope not in ("mine", "all") or (scope == "all" and not (user.oversees or user.is_admin)):
            scope = "mine"
        show = request.args.get("show", "")
        sort = request.args.get("sort", "deadline")
        order = request.args.get("order", "asc")
        size = request.args.get("size", type=int)
        saved = session.get(ID_SEARCH) if request.args.get("idq") == "1" else None
        return cls(scope, show if show in QUICK_FILTERS else "", request.args.get("scenario", "")[:255],
                   page_number(), request.args.get("q", "").strip()[:inbox_store.MAX_SEARCH],
                   sort if sort in SORTS else "deadline", order if order in ("asc", "desc") else "asc",
                   size if size in PAGE_SIZES else 0, saved["shown"] if saved else "")

    def page_size(self) -> int:
        return self.size or current_app.config["INBOX_PAGE_SIZE"]

    def filter(self, user, *, show: str | None = None) -> InboxFilter:
        show = self.show if show is None else show
        # "mine": the clerk's departments and the work items naming him (candidate user, assignee)
        groups = None if self.scope == "all" else tuple(sorted((user.groups - {APPLICANT_ROLE})
                                                               | {personal_group(user.username)}))
        return InboxFilter(groups=groups, me=user.username, claimed_by_me=show == "claimed",
                           unclaimed=show == "unclaimed", warning=show == "warning", overdue=show == "overdue",
                           definition_key=self.scenario or None, search=self.search or None, sort=self.sort,
                           descending=self.order == "desc",
                           identifier_hash=session[ID_SEARCH]["hash"] if self.id_search else None)

    def args(self, **changes) -> dict:
        values = {"scope": self.scope, "show": self.show, "scenario": self.scenario, "page": self.page,
                  "q": self.search, "sort": self.sort, "order": self.order, "size": self.size,
                  "idq": 1 if self.id_search else 0}
        values.update(changes)
        if changes.get("q") == "":  # a new or cleared search replaces the saved number too
            values["idq"] = 0
        defaults = {"page": 1, "sort": "deadline", "order": "asc"}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}

    def sort_args(self, column: str) -> dict:
        """The address of a column header: sort by it, or turn the order round if it sorts already."""
        order = "desc" if self.sort == column and self.order == "asc" else "asc"
        return self.args(sort=column, order=order, page=1)


def _id_search_address(text: str, args: dict) -> str | None:
    """Keep an ID number or credit code out of the address: save it (hashed, and masked for the
    search box) in the session and give the address that searches for it; None for other text."""
    if not case_search.looks_like_identifier(text):
        return None
    session[ID_SEARCH] = {"hash": case_search.identifier_hash(text), "shown": mask_id(case_search.normalise_identifier(text))}
    return url_for("inbox.index", **{**{k: v for k, v in args.items() if k not in ("q", "page", "idq")}, "idq": 1})


@bp.post("/search")
@inbox_users
def search():
    """The search box: a number is saved in the session (see ID_SEARCH), other text goes into the address."""
    text = request.form.get("q", "").strip()[:inbox_store.MAX_SEARCH]
    args = {k: v for k, v in request.form.items() if k in ("scope", "show", "scenario", "sort", "order", "size") and v}
    saved = session.get(ID_SEARCH)
    if saved and text == saved["shown"]:  # the masked number sent back unchanged: the same search
        return redirect(url_for("inbox.index", **args, idq=1), 303)
    return redirect(_id_search_address(text, args) or url_for("inbox.index", **args, **({"q": text} if text else {})), 303)


@bp.get("/")
@inbox_users
def index():
    svc = services()
    typed = request.args.get("q", "").strip()[:inbox_store.MAX_SEARCH]
    moved = _id_search_address(typed, request.args.to_dict()) if typed else None
    if moved is not None:  # a number typed into an address or an old link: take it out of the address
        return redirect(moved, 303)
    q = InboxQuery.from_request(current_user)
    now = svc.engine.clock.now()
    size = q.page_size()
    with svc.engine.db.reader.connect() as conn:
        rows = inbox_store.inbox(conn, q.filter(current_user), now, limit=size + 1, offset=(q.page - 1) * size)
        counts = inbox_store.inbox_counts(conn, q.filter(current_user, show=""), now)
    # Titles may carry personal data: masked for viewers whose role does not need it.
    items = [(r, remaining(svc.engine, r.due_at, r.warning_at, now), masker_for(current_user, r).text(r.title))
             for r in rows[:size]]
    scenarios = [(v.key, v.name) for v in scenario_catalogue().scenarios()]
    return render_template("inbox/index.html", q=q, items=items, counts=counts, more=len(rows) > size,
                           scenarios=scenarios, scenario_names=dict(scenarios), cap=inbox_store.COUNT_CAP,
                           page_sizes=PAGE_SIZES)


def _item_or_404(conn, work_item_id: str):
    item = inbox_store.work_item(conn, work_item_id)
    if item is None:
        abort(404)
    require(can_view_item(current_user, item))
    return item


def _back_to(item) -> str:
    return safe_next(request.form.get("next") or request.args.get("next")) or url_for("inbox.index")


@bp.post("/items/<work_item_id>/claim")
@inbox_users
def claim(work_item_id: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        item = _item_or_404(conn, work_item_id)
    try:
        svc.engine.cases.claim(work_item_id, current_user.actor)
    except WorkItemUnavailable as err:
        flash(str(err), "warning")
        return redirect(url_for("inbox.index"))
    flash(_("已认领“%(name)s”，请及时办理。", name=item.name), "success")
    return redirect(url_for("inbox.task", work_item_id=work_item_id))


@bp.post("/items/<work_item_id>/unclaim")
@inbox_users
def unclaim(work_item_id: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        item = _item_or_404(conn, work_item_id)
    try:
        svc.engine.cases.unclaim(work_item_id, current_user.actor)
    except WorkItemUnavailable as err:
        flash(str(err), "warning")
    else:
        flash(_("已退回“%(name)s”，事项回到部门待办。", name=item.name), "info")
    return redirect(url_for("inbox.index"))


@bp.route("/items/<work_item_id>", methods=["GET", "POST"])
@inbox_users
def task(work_item_id: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        item = _item_or_404(conn, work_item_id)
        definition = scenario_catalogue().view(conn, item.definition_id)
        if request.method == "GET":  # the whole page from one connection
            return _task_page(conn, item, definition)
    meta = definition.meta(item.process_id, item.task_spec)
    bpmn_form = svc.engine.cases.shown_form(item.case_id, item.id, meta.form if meta is not None else None)
    if not may_act(current_user, item):
        if item.state != "ready":
            flash(_("该事项已办结或已撤销，无需重复提交。"), "warning")
            return redirect(url_for("inbox.index"))
        raise NotPermitted(_("您不能办理此事项（它属于其他部门，或已由他人认领）。"))
    withheld = withheld_fields(masker_for(current_user, item), bpmn_form)
    form = TaskForm(bpmn_form, request.form, withheld=withheld) if bpmn_form else None
    try:
        outcome = submit(work_item_id, bpmn_form, form, current_user.actor)
    except WorkItemUnavailable as err:
        flash(str(err), "warning")
        return redirect(url_for("inbox.index"))
    if outcome.ok:
        flash(_("已办结“%(name)s”（办件编号 %(id)s）。", name=item.name, id=item.case_id), "success")
        return redirect(_back_to(item))
    with svc.engine.db.reader.connect() as conn:
        return _task_page(conn, item, definition, form, outcome, status=422)


def _task_page(conn, item, definition, form: TaskForm | None = None, outcome: Outcome | None = None,
               status: int = 200):
    """The task page: the form (as typed, after a refused submission), case summary, materials,
    steps, history and diagram."""
    svc = services()
    meta = definition.meta(item.process_id, item.task_spec)
    bpmn_form = svc.engine.cases.shown_form(item.case_id, item.id, meta.form if meta is not None else None)
    row = inbox_store.case_row(conn, item.case_id)
    masker = masker_for(current_user, row)
    cv = case_view.build(conn, row, masker, names=_names(conn, row))
    if form is None and bpmn_form is not None:
        form = TaskForm(bpmn_form, None, cv.data, withheld=withheld_fields(masker, bpmn_form))
    left = remaining(svc.engine, item.due_at, item.warning_at, svc.engine.clock.now())
    can_act = may_act(current_user, item)
    units = [(u.code, u.name) for u in org_store.units(conn)] if can_act and item.state == "ready" else []
    return render_template("inbox/task.html", item=item, cv=cv, meta=meta, form=form,
                           can_act=can_act, units=units, comments=_comments(conn, item.case_id, cv),
                           upload_error=outcome.upload_error if outcome else None, left=left,
                           back=_back_to(item), forecast=case_forecast(item.case_id)), status


@bp.get("/cases/<int:case_id>")
@inbox_users
def case(case_id: int):
    with services().engine.db.reader.connect() as conn:
        cv = case_view.visible_case(conn, case_id, current_user)
    return render_template("inbox/case.html", cv=cv, forecast=case_forecast(case_id))


def _comments(conn, case_id: int, cv) -> list[dict]:
    """The comments left on the case's work items (engine/cases/handoffs.py), newest first: what the
    next handler reads before acting."""
    rows = case_store.case_events(conn, case_id, [h.WORK_ITEM_COMMENTED])
    return [{"at": e.at, "who": cv.name_of(e.actor), **json.loads(e.data)} for e in reversed(rows)]


def _names(conn, case_row) -> dict[str, str]:
    """Display names of the people in a case's history."""
    return account_store.display_names(conn, inbox_store.case_actors(conn, case_row.id))

"""Supervisors (督查人员) and administrators: the supervision dashboard (open work in warning and
overdue by department, escalation level and scenario; on-time rates; escalations per level), the
model metrics of the deployed scenarios, and the weekly bulletins (每周通报) by week.

Every figure is in a table that reads without JavaScript; the charts are drawn by
static/supervise_charts.js (Chart.js, served from static/vendor) from the JSON each chart element
carries in its data-chart attribute."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from yijianshi.engine.supervision import figures as supervision
from yijianshi.engine.supervision import (bulletin_export, completion_forecast, conformance, figure_cases, heatmap,
                                          outcomes, weekly_bulletin)
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.access.accounts import department_label
from yijianshi.engine.errors import NotFound
from yijianshi.engine.supervision.escalation_levels import LEVEL_NAMES
from yijianshi.engine.supervision.weekly_bulletin import BulletinError
from yijianshi.web.access import audience
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import scenario_catalogue, services
from yijianshi.storage import outcome_store
from yijianshi.web.vocabulary import N_

bp = Blueprint("supervise", __name__, url_prefix="/supervise")
CHART_LIBRARY = Path(__file__).parent / "static" / "vendor" / "chart.js" / "chart.umd.min.js"

SUPERVISING_ROLES = ("supervisor", "admin")
MEASURED_DAYS = 90  # the scenarios page measures the cases finished in the last 90 days by default
supervisors = audience(lambda u: u.role.code in SUPERVISING_ROLES)
administrators = audience(lambda u: u.is_admin)

# The 好差评 levels (outcomes.RATING_LEVELS), listed for message extraction.
RATING_LABELS = (N_("非常满意"), N_("满意"), N_("基本满意"), N_("不满意"), N_("非常不满意"), N_("未评价"))
# The engine's level names, listed for message extraction (a test checks they match the engine's).
LEVEL_LABELS = (N_("诉求登记"), N_("属地即时办"), N_("部门协同办"), N_("中枢分派办"), N_("领导提级办"),
                N_("市区协调办"), N_("监督推动办"))


class BulletinForm(FlaskForm):
    week = StringField(_l("周次"), validators=[Optional(), Length(max=16)],
                       render_kw={"placeholder": "2026-W47", "inputmode": "text"})


@bp.context_processor
def chart_assets():
    return {"charts_ready": CHART_LIBRARY.exists()}


def level_label(level: int) -> str:
    name = LEVEL_NAMES.get(level, str(level))
    return _(name) if level == 0 else _("第%(n)s级 %(name)s", n=level, name=_(name))


def department_name(code: str) -> str:
    return _(department_label(code))


def _chart(kind: str, labels: list[str], series: list[tuple[str, str, list]], *, stacked: bool = False,
           percent: bool = False, horizontal: bool = False) -> str:
    """The JSON a chart element carries: its labels and series (key, label, values)."""
    return json.dumps({"type": kind, "labels": labels, "stacked": stacked, "percent": percent,
                       "horizontal": horizontal,
                       "series": [{"key": k, "label": label, "data": data} for k, label, data in series]},
                      ensure_ascii=False)


def _urgency_chart(rows, label_of) -> str:
    rows = [u for u in rows if u.attention]
    return _chart("bar", [label_of(u.key) for u in rows],
                  [("warning", _("预警"), [u.warning for u in rows]),
                   ("overdue", _("超期"), [u.overdue for u in rows])], stacked=True, horizontal=True)


@bp.get("/")
@supervisors
def dashboard():
    try:
        days = int(request.args.get("days", supervision.DEFAULT_PERIOD))
    except ValueError:
        days = supervision.DEFAULT_PERIOD
    board = supervision.dashboard(services().engine, days)
    names = board.scenario_names
    scenario_name = lambda key: names.get(key, key)
    rated = [o for o in board.on_time_by_department if o.total]
    charts = {
        "department": _urgency_chart(board.by_department, department_name),
        "level": _chart("bar", [level_label(u.key) for u in board.by_level],
                        [("warning", _("预警"), [u.warning for u in board.by_level]),
                         ("overdue", _("超期"), [u.overdue for u in board.by_level]),
                         ("open", _("在办"), [u.open - u.attention for u in board.by_level])], stacked=True),
        "scenario": _urgency_chart(board.by_scenario, scenario_name),
        "on_time": _chart("bar", [department_name(o.key) for o in rated],
                          [("on_time", _("按时办结率"), [o.rate for o in rated])], percent=True, horizontal=True),
        "escalations": _chart("bar", [level_label(e.level) for e in board.escalations],
                              [("escalations", _("到达该级的诉求"), [e.cases for e in board.escalations])]),
    }
    return render_template("supervise/dashboard.html", board=board, charts=charts, periods=supervision.PERIODS,
                           level_label=level_label, department_name=department_name, scenario_name=scenario_name)


@bp.get("/scenarios")
@supervisors
def scenarios():
    metrics = supervision.deployed_scenario_metrics(services().engine)
    chart = _chart("bar", [m.name for m in metrics],
                   [("before", _("分别办理（时限累加）"), [m.limits_sum for m in metrics]),
                    ("after", _("一件事（关键路径）"), [m.critical_path for m in metrics])], horizontal=True)
    totals = _totals(metrics)
    engine = services().engine
    try:
        days = int(request.args.get("days", MEASURED_DAYS))
    except ValueError:
        days = MEASURED_DAYS
    days = days if days in supervision.PERIODS else MEASURED_DAYS
    end = engine.clock.now().astimezone(SHANGHAI) + timedelta(microseconds=1)
    start = end - timedelta(days=days)
    measured = [(o, completion_forecast.accuracy(engine, o.key, start, end))
                for o in outcomes.all_outcomes(engine, start, end)]
    period = {"start": start.date().isoformat(), "end": (end - timedelta(microseconds=1)).date().isoformat()}
    ratings = [(o, spread) for o, _acc in measured
               if (spread := outcomes.rating_spread(engine, o.key, start, end)) is not None]
    return render_template("supervise/scenarios.html", metrics=metrics, limits_chart=chart, totals=totals,
                           measured=measured, days=days, periods=supervision.PERIODS, period=period,
                           ratings=ratings, rating_levels=outcomes.RATING_LEVELS,
                           item_name=_item_name)


def _totals(metrics) -> dict:
    """The report's last row: sums over the scenarios, and the cut each sum makes."""
    totals = {attr: sum(getattr(m, attr) for m in metrics) for attr in (
        "fields_separate", "fields_merged", "materials_separate", "materials_merged", "visits_before",
        "visits_after", "limits_sum", "critical_path")}
    totals["items"] = sum(len(m.items) for m in metrics)
    cut = lambda before, after: None if before == 0 else round(100.0 * (before - after) / before, 1)
    totals.update(fields_cut=cut(totals["fields_separate"], totals["fields_merged"]),
                  materials_cut=cut(totals["materials_separate"], totals["materials_merged"]),
                  visits_cut=cut(totals["visits_before"], totals["visits_after"]),
                  time_cut=cut(totals["limits_sum"], totals["critical_path"]))
    return totals


@bp.get("/bulletins")
@supervisors
def bulletins():
    form = BulletinForm() if current_user.is_admin else None
    return render_template("supervise/bulletins.html", bulletins=weekly_bulletin.listing(services().engine),
                           form=form)


@bp.post("/bulletins")
@administrators
def generate():
    form = BulletinForm()
    engine = services().engine
    if not form.validate_on_submit():
        flash(_("周次格式应为 YYYY-Www（例如 2026-W47）。"), "error")
        return redirect(url_for("supervise.bulletins"))
    week = form.week.data or weekly_bulletin.previous_week(engine.clock.now())
    try:
        made = weekly_bulletin.generate(engine, week, by=current_user.username)
    except BulletinError as err:
        flash(_("无法生成每周通报：%(reason)s", reason=str(err)), "error")
        return redirect(url_for("supervise.bulletins"))
    flash(_("已生成 %(week)s 每周通报。", week=made.week), "success")
    return redirect(url_for("supervise.bulletin", week=made.week))


@bp.get("/bulletins/<week>")
@supervisors
def bulletin(week: str):
    try:
        b = weekly_bulletin.get(services().engine, week)
    except (BulletinError, NotFound):
        abort(404)
    if b.week != week:  # 2026-w5 → 2026-W05: one address per week
        return redirect(url_for("supervise.bulletin", week=b.week))
    f = b.figures
    departments = f["open_by_department"]
    charts = {
        "department": _chart("bar", [department_name(d["key"]) for d in departments],
                             [("warning", _("预警"), [d["warning"] for d in departments]),
                              ("overdue", _("超期"), [d["overdue"] for d in departments])],
                             stacked=True, horizontal=True),
        "escalations": _chart("bar", [level_label(e["level"]) for e in f["escalations"]],
                              [("escalations", _("到达该级的诉求"), [e["cases"] for e in f["escalations"]])]),
        "on_time": _chart("doughnut", [_("按时办结"), _("逾期办结"), _("超期未办结")],
                          [("on_time_split", _("办结情况"), [f["on_time"]["on_time"], f["on_time"]["late"],
                                                              f["on_time"]["timed_out"]])]),
    }
    older, newer = weekly_bulletin.neighbours(services().engine, b.week)
    return render_template("supervise/bulletin.html", b=b, f=f, charts=charts, newer=newer, older=older,
                           level_label=level_label, department_name=department_name)


@bp.get("/bulletins/<week>.<fmt>")
@supervisors
def bulletin_file(week: str, fmt: str):
    """The bulletin as an Excel workbook or a PDF, with charts (engine/supervision/bulletin_export.py)."""
    if fmt not in ("xlsx", "pdf"):
        abort(404)
    try:
        b = weekly_bulletin.get(services().engine, week)
    except (BulletinError, NotFound):
        abort(404)
    data, mimetype = ((bulletin_export.to_xlsx(b), bulletin_export.XLSX_TYPE) if fmt == "xlsx"
                      else (bulletin_export.to_pdf(b), bulletin_export.PDF_TYPE))
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="bulletin-{b.week}.{fmt}"'})


# -- heatmaps, the cases behind a figure, conformance ---------------------------------------------------

def _period() -> tuple[date, date, datetime, datetime]:
    """The period of the request (?start=YYYY-MM-DD&end=YYYY-MM-DD, both days included; by default
    the last MEASURED_DAYS days), and its bounds [start, end) in Shanghai time."""
    today = services().engine.clock.now().astimezone(SHANGHAI).date()
    try:
        last = date.fromisoformat(request.args["end"]) if request.args.get("end") else today
        first = (date.fromisoformat(request.args["start"]) if request.args.get("start")
                 else last - timedelta(days=MEASURED_DAYS - 1))
    except ValueError:
        abort(400, description=_("日期格式应为 YYYY-MM-DD。"))
    if first > last:
        abort(400, description=_("开始日期不能晚于结束日期。"))
    return (first, last, datetime.combine(first, time(), SHANGHAI),
            datetime.combine(last + timedelta(days=1), time(), SHANGHAI))


def _scenario_view(key: str):
    view = scenario_catalogue().latest(key)
    if view is None or outcomes.scenario_model(services().engine, key) is None:
        abort(404)
    return view


@bp.get("/scenarios/<key>/heatmap")
@supervisors
def heatmap_page(key: str):
    view = _scenario_view(key)
    first, last, _start, _end = _period()
    measure = request.args.get("measure", "count")
    measure = measure if measure in heatmap.MEASURES else "count"
    called = [(pid, view.process_names.get(pid, pid)) for pid in sorted(view.called) if pid in view.process_files]
    return render_template("supervise/heatmap.html", view=view, called=called, first=first, last=last,
                           measure=measure)


@bp.get("/scenarios/<key>/heatmap.json")
@supervisors
def heatmap_json(key: str):
    _scenario_view(key)
    first, last, start, end = _period()
    figures = heatmap.heatmap(services().engine, key, start, end)
    for process_id, elements in figures["processes"].items():
        for element_id, f in elements.items():
            f["cases_url"] = url_for("supervise.cases_behind", key=key, start=first.isoformat(), end=last.isoformat(),
                                     process=process_id, element=element_id)
    return jsonify(figures)


@bp.get("/scenarios/<key>/cases")
@bp.get("/cases")
@supervisors
def cases_behind(key: str | None = None):
    """The list behind a number (办件清单), one page for all of them:
    - of the scenarios page and the heatmaps (`/scenarios/<key>/cases`, completed cases measured from
      the event log): an element (?process=&element=), a figure (?figure=all|on_time|late|corrected|
      visited), or a 好差评 count (?figure=rated&rating=&item=), in ?start=&end=;
    - of the dashboard and the bulletins (`/cases`): ?status= open|warning|overdue|on_time|late|
      timed_out|ended|reached|started|completed, with ?scenario= ?department= ?level=, in the
      dashboard's ?days= or a stored bulletin's ?week=."""
    if key is None and "figure" not in request.args and "element" not in request.args:
        return _figure_cases()
    key = key or request.args.get("scenario") or ""
    view = _scenario_view(key)
    first, last, start, end = _period()
    element = request.args.get("element") or None
    process = request.args.get("process") or key
    figure = request.args.get("figure", "all")
    if figure not in heatmap.CASE_SETS:
        abort(400, description=_("未知的统计口径：%(value)s。", value=figure))
    rating = item = None
    if figure == "rated":
        rating, item = request.args.get("rating", ""), request.args.get("item") or None
        if rating not in outcomes.RATING_LEVELS:
            abort(400, description=_("未知的评价等级：%(value)s。", value=rating or _("（空）")))
    engine = services().engine
    lines = heatmap.cases_behind(engine, key, start, end, process_id=process, element_id=element, figure=figure,
                                 rating=rating, item=item)
    with engine.db.reader.connect() as conn:
        titles = outcome_store.case_titles(conn, [c.case_id for c in lines])
    element_name = None
    if element is not None:
        model = outcomes.scenario_model(engine, key)
        element_name = next((i.name for i in (model.items if model else ()) if i.element_id == element), None)
        element_name = element_name or _element_name(view, process, element)
    return render_template("supervise/cases.html", mode="measured", view=view, lines=lines, titles=titles,
                           first=first, last=last, element=element, element_name=element_name, process=process,
                           figure=figure, rating=rating, rating_name=outcomes.RATING_LEVELS.get(rating or ""),
                           item=item, item_name=_item_name(key, item))


def _item_name(key: str, item: str | None) -> str | None:
    """The name of a rated item (`rating_<item>`): the scenario's item called `call_<item>` or
    calling `item_<item>`, else the item's own word."""
    if item is None:
        return None
    model = outcomes.scenario_model(services().engine, key)
    return next((i.name for i in (model.items if model else ())
                 if item in (i.element_id, i.process_id) or f"call_{item}" == i.element_id
                 or f"item_{item}" == i.process_id), item)


def _figure_cases():
    """The work or the cases behind a number of the dashboard (?days=) or a bulletin (?week=)."""
    engine = services().engine
    args = request.args
    try:
        sel = figure_cases.selection(engine, args.get("status"), args.get("scenario"), args.get("department"),
                                     args.get("level"))
    except figure_cases.FilterError as err:
        abort(400, description=str(err))
    bulletin = None
    if args.get("week"):
        try:
            bulletin = weekly_bulletin.get(engine, args["week"])
        except (BulletinError, NotFound) as err:
            abort(400, description=str(err))
        window = figure_cases.bulletin_window(bulletin)
    else:
        try:
            days = int(args.get("days", supervision.DEFAULT_PERIOD))
        except ValueError:
            days = -1
        if days not in supervision.PERIODS:
            abort(400, description=_("统计期间只能是近 7、30 或 90 天。"))
        window = figure_cases.dashboard_window(engine, days)
    lines = figure_cases.lines(engine, sel, window)
    stored = figure_cases.stored_count(bulletin.figures, sel) if bulletin is not None else None
    with engine.db.reader.connect() as conn:
        names = supervision.scenario_names(conn)
    return render_template("supervise/cases.html", mode="cases" if sel.counts_cases else "work", sel=sel,
                           window=window, lines=lines, bulletin=bulletin, stored=stored,
                           scenario_name=lambda k: names.get(k, k), level_label=level_label,
                           department_name=department_name)


def _element_name(view, process_id: str, element_id: str) -> str:
    with services().engine.db.reader.connect() as conn:
        graphs = conformance.graphs_of(conn, view.id)
    graph = graphs.get(process_id)
    return graph.name(element_id) if graph else element_id


@bp.get("/scenarios/<key>/conformance")
@supervisors
def conformance_page(key: str):
    view = _scenario_view(key)
    first, last, start, end = _period()
    found = conformance.deviating_cases(services().engine, key, start, end)
    with services().engine.db.reader.connect() as conn:
        titles = outcome_store.case_titles(conn, [c.case_id for c in found])
    return render_template("supervise/conformance.html", view=view, found=found, titles=titles, first=first,
                           last=last)

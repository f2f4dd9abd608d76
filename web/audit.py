"""Auditors (and administrators and supervisors, who oversee too): read-only. Case search; a case's
timeline with the data each step changed, the hash-chain verification and deterministic
re-execution; step-through replay on the diagram; event-log exports (XES, CSV) for one case or a
search, the large ones as background jobs with a progress page. Nothing here changes a case."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.audit.case_record import audit_case, reexecution
from yijianshi.engine.errors import NotFound
from yijianshi.engine.audit.event_logs import FORMATS, case_log
from yijianshi.engine.audit.step_through import states_after_each_event
from yijianshi.storage import account_store
from yijianshi.storage import audit_store
from yijianshi.storage import inbox_store
from yijianshi.web.access import audience, masker_for, require
from yijianshi.web.audit_view import SearchForm, processes_in, replay_json, timeline, validated
from yijianshi.web.i18n import gettext as _
from yijianshi.web.paging import page_number
from yijianshi.web.services import scenario_catalogue, services
from yijianshi.web.stored_files import send_stored

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
auditors = audience(lambda u: u.oversees or u.is_admin)


def _scenarios() -> list[tuple[str, str]]:
    return sorted(((v.key, v.name) for v in scenario_catalogue().latest_views()), key=lambda kv: kv[1])


@bp.get("/")
@auditors
def search():
    svc = services()
    scenarios = _scenarios()
    form = SearchForm(request.args, scenarios)
    page = page_number()
    rows, total = [], 0
    if validated(form):
        with svc.engine.db.reader.connect() as conn:
            total = audit_store.count_cases(conn, form.search())
            rows = audit_store.search_cases(conn, form.search(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("audit/search.html", form=form, rows=rows, total=total, page=page,
                           more=page * PAGE_SIZE < total, names=dict(scenarios), formats=FORMATS,
                           exports=svc.exports.recent(current_user.username))


def _audited(case_id: int):
    svc = services()
    try:
        audited = audit_case(svc.engine, case_id)
    except NotFound:
        abort(404)
    with svc.engine.db.reader.connect() as conn:
        definition = scenario_catalogue().view(conn, audited.case.definition_id)
        names = account_store.display_names(conn, {e.row.actor for e in audited.events})
    lines = timeline(audited.events, definition, masker_for(current_user, audited.case), names)
    return audited, definition, lines


@bp.get("/cases/<int:case_id>")
@auditors
def case(case_id: int):
    audited, definition, lines = _audited(case_id)
    replayed = reexecution(services().engine, case_id) if request.args.get("reexecute") else None
    return render_template("audit/case.html", audited=audited, definition=definition, lines=lines,
                           replayed=replayed, formats=FORMATS)


@bp.get("/cases/<int:case_id>/replay.json")
@auditors
def replay(case_id: int):
    audited, definition, lines = _audited(case_id)
    steps = states_after_each_event(services().engine, case_id)
    body = replay_json(steps, lines)
    body["diagrams"] = [{"process": p, "name": definition.process_names.get(p, p),
                         "xml": url_for("resources.diagram", definition_id=definition.id, process_id=p)}
                        for p in processes_in(steps) if p in definition.process_files]
    return jsonify(body)


@bp.get("/cases/<int:case_id>/events.<fmt>")
@auditors
def case_events(case_id: int, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        if inbox_store.case_row(conn, case_id) is None:
            abort(404)
    mimetype, ext = FORMATS[fmt]
    return Response(case_log(svc.engine, case_id, fmt), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="yijianshi-case-{case_id}.{ext}"',
        "Cache-Control": "private, no-store"})


@bp.post("/exports")
@auditors
def export():
    svc = services()
    fmt = request.form.get("format", "")
    form = SearchForm(request.form, _scenarios())
    if fmt not in FORMATS:
        flash(_("请选择导出格式（XES 或 CSV）。"), "error")
        return redirect(url_for("audit.search", **form.args()))
    if not validated(form):
        flash(_("查询条件有误，请修改后再导出。"), "error")
        return redirect(url_for("audit.search"))
    job = svc.exports.create(current_user.username, fmt, form.search())
    svc.exports.start(job.id)
    return redirect(url_for("audit.export_job", job_id=job.id))


def _job_or_404(job_id: int):
    try:
        job = services().exports.get(job_id)
    except NotFound:
        abort(404)
    require(job.requested_by == current_user.username or current_user.is_admin)
    return job


def _progress(job) -> dict:
    return {
        "id": job.id, "state": job.state, "done": job.done, "total": job.total, "percent": job.percent,
        "events": job.events,
        "text": _("已导出 %(n)s / %(total)s 个办件", n=job.done, total=job.total),
        "status": _job_state(job.state), "error": job.error or "",
        "download": url_for("audit.export_download", job_id=job.id) if job.state == "done" else None,
    }


def _job_state(state: str) -> str:
    return {"queued": _("排队中"), "running": _("导出中"), "done": _("已完成"), "failed": _("导出失败")}.get(state, state)


@bp.get("/exports/<int:job_id>")
@auditors
def export_job(job_id: int):
    job = _job_or_404(job_id)
    return render_template("audit/export.html", job=job, progress=_progress(job))


@bp.get("/exports/<int:job_id>.json")
@auditors
def export_progress(job_id: int):
    return jsonify(_progress(_job_or_404(job_id)))


@bp.get("/exports/<int:job_id>/download")
@auditors
def export_download(job_id: int):
    svc = services()
    job = _job_or_404(job_id)
    content = svc.exports.content_of(job)
    if content is None:
        abort(404)
    response = send_stored(content, mimetype=FORMATS[job.format][0], as_attachment=True,
                           download_name=job.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response

"""The designer's pages: deployed definitions with their versions and case counts, a version's files,
forms and diagram, uploading BPMN/DMN files (check, then deploy exactly what was checked), and the
differences between two versions of a process. For process designers and administrators."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import MultipleFileField
from wtforms.validators import ValidationError

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta
from yijianshi.engine.modeling.version_diff import diff_definitions
from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.modeling.upload_check import deploy_reviewed, review_upload
from yijianshi.engine.modeling.upload_staging import StagingArea
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.registry import PROJECT_REGISTRY, registry_for_checks
from yijianshi.engine.modeling.xml_loading import MAX_FILE_BYTES
from yijianshi.storage import definition_store
from yijianshi.web.access import audience, source_readers
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import SYSTEM, scenario_catalogue, services

bp = Blueprint("design", __name__, url_prefix="/design")

designers = audience(lambda u: u.role.code == "designer" or u.is_admin)

MAX_FILES = 20
ALLOWED_SUFFIXES = (".bpmn", ".dmn", ".xml")
STAGING = "yijianshi.design_staging"


@bp.record_once
def _setup(state) -> None:
    app = state.app
    app.config.setdefault("DESIGN_MAX_FILES", MAX_FILES)
    # The registry the upload is checked against, as `yijianshi validate` and `deploy` check files.
    app.config.setdefault("PROCESS_REGISTRY", str(PROJECT_REGISTRY))
    app.extensions[STAGING] = StagingArea(app.extensions[SYSTEM].settings.uploads / "design-staging")


ELEMENT_TYPES = {
    "process": _l("流程"), "userTask": _l("用户任务"), "scriptTask": _l("脚本任务"), "serviceTask": _l("服务任务"),
    "businessRuleTask": _l("业务规则任务"), "callActivity": _l("调用活动"), "subProcess": _l("子流程"),
    "startEvent": _l("开始事件"), "endEvent": _l("结束事件"), "intermediateCatchEvent": _l("中间捕获事件"),
    "intermediateThrowEvent": _l("中间抛出事件"), "boundaryEvent": _l("边界事件"), "exclusiveGateway": _l("排他网关"),
    "inclusiveGateway": _l("包容网关"), "parallelGateway": _l("并行网关"), "eventBasedGateway": _l("事件网关"),
    "sequenceFlow": _l("顺序流"), "lane": _l("泳道"), "participant": _l("参与者"), "message": _l("消息"),
    "signal": _l("信号"), "decision": _l("决策"), "decisionTable": _l("决策表"), "rule": _l("规则"),
    "input": _l("输入列"), "output": _l("输出列"),
}


@bp.app_context_processor
def _helpers() -> dict:
    return {"element_type": lambda t: f"{ELEMENT_TYPES[t]}" if t in ELEMENT_TYPES else t}


def staging() -> StagingArea:
    return current_app.extensions[STAGING]


# -- the definitions -----------------------------------------------------------------------------------

@bp.get("/")
@designers
def index():
    with services().engine.db.reader.connect() as conn:
        rows = definition_store.versions_with_case_counts(conn)
    processes: list[dict] = []
    for row in rows:  # newest first per key
        if not processes or processes[-1]["key"] != row.key:
            processes.append({"key": row.key, "name": row.name, "versions": []})
        processes[-1]["versions"].append(row)
    return render_template("design/index.html", processes=processes)


@bp.get("/versions/<int:definition_id>")
@designers
def version(definition_id: int):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        row = definition_store.by_id(conn, definition_id)
        if row is None:
            abort(404)
        view = scenario_catalogue().view(conn, definition_id)
        versions = definition_store.versions_of(conn, row.key)
    files = json.loads(row.files_json)
    tasks = sorted((UserTaskMeta.from_dict(m) for m in json.loads(row.task_meta_json).values()),
                   key=lambda m: (m.process_id != row.key, m.process_id, m.line or 0))
    called = [(pid, view.process_names.get(pid, pid)) for pid in sorted(view.called)
              if pid in view.process_files]
    return render_template("design/version.html", row=row, files=files, tasks=tasks, view=view, called=called,
                           versions=versions, latest=versions[0].version if versions else row.version)


@bp.get("/versions/<int:definition_id>/files/<sha256>")
@source_readers
def source(definition_id: int, sha256: str):
    """Download one source file of a version, as deployed (designers, auditors, administrators)."""
    with services().engine.db.reader.connect() as conn:
        row = definition_store.by_id(conn, definition_id)
        entry = next((f for f in json.loads(row.files_json) if f["sha256"] == sha256), None) if row else None
        stored = definition_store.file_content(conn, sha256) if entry else None
    if stored is None:
        abort(404)
    response = Response(stored.content.encode("utf-8"), mimetype="application/xml")
    response.headers.set("Content-Disposition", "attachment", filename=entry["filename"])
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- upload, check, deploy -------------------------------------------------------------------------------

class UploadForm(FlaskForm):
    files = MultipleFileField(_l("BPMN / DMN 文件"), render_kw={"accept": ",".join(ALLOWED_SUFFIXES)})

    def validate_files(self, field) -> None:
        """Read the chosen files into memory within the limits; keeps them in self.sources."""
        chosen = [f for f in (field.data or []) if f and f.filename]
        if not chosen:
            raise ValidationError(_("请选择至少一个 .bpmn 或 .dmn 文件。"))
        limit = current_app.config["DESIGN_MAX_FILES"]
        if len(chosen) > limit:
            raise ValidationError(_("一次最多上传 %(n)s 个文件，您选择了 %(m)s 个。", n=limit, m=len(chosen)))
        sources, seen = [], set()
        for storage in chosen:
            name = Path(storage.filename.replace("\\", "/")).name.strip()[:200]
            if not name.lower().endswith(ALLOWED_SUFFIXES):
                raise ValidationError(_("“%(name)s”不是 .bpmn、.dmn 或 .xml 文件。", name=name or "?"))
            if name in seen:
                raise ValidationError(_("有两个文件都叫“%(name)s”。请只上传其中一个。", name=name))
            seen.add(name)
            data = storage.stream.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise ValidationError(_("“%(name)s”超过每个文件 %(mb)s MB 的上限。", name=name,
                                        mb=MAX_FILE_BYTES // 1024 // 1024))
            sources.append(SourceFile(name, data))
        self.sources = sources


def _registry():
    return registry_for_checks(current_app.config.get("PROCESS_REGISTRY"))


@bp.route("/upload", methods=["GET", "POST"])
@designers
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template("design/upload.html", form=form, review=None, token=None,
                               max_files=current_app.config["DESIGN_MAX_FILES"],
                               max_mb=MAX_FILE_BYTES // 1024 // 1024)
    svc = services()
    try:
        registry = _registry()
    except DefinitionError as err:  # a broken registry is a problem the page shows, like any other
        registry, registry_problems = None, err.problems
    else:
        registry_problems = []
    review = review_upload(svc.engine, form.sources, registry)
    review.problems[:0] = registry_problems
    token = None
    if review.ok:
        token = staging().stage(current_user.username, review.uploaded, review.included,
                                svc.engine.clock.now())
    return render_template("design/upload.html", form=UploadForm(formdata=None), review=review, token=token,
                           max_files=current_app.config["DESIGN_MAX_FILES"],
                           max_mb=MAX_FILE_BYTES // 1024 // 1024)


@bp.post("/deploy/<token>")
@designers
def deploy(token: str):
    svc = services()
    area = staging()
    uploaded, included = area.load(token, current_user.username, svc.engine.clock.now())
    try:
        results = deploy_reviewed(svc.engine, uploaded, included, current_user.actor)
    except DefinitionError as err:  # cannot happen for a checked upload unless the engine changed
        area.discard(token)
        return render_template("design/upload.html", form=UploadForm(formdata=None), review=None, token=None,
                               failed=err.problems, max_files=current_app.config["DESIGN_MAX_FILES"],
                               max_mb=MAX_FILE_BYTES // 1024 // 1024), 422
    area.discard(token)
    for r in results:
        if r.created:
            flash(_("已部署 %(key)s 的新版本 v%(version)s。", key=r.key, version=r.version), "success")
        else:
            flash(_("%(key)s 的文件没有变化，未部署新版本，仍为 v%(version)s。", key=r.key, version=r.version), "info")
    return redirect(url_for("design.index"))


# -- differences between versions ----------------------------------------------------------------------------

@bp.get("/processes/<key>/diff")
@designers
def diff(key: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        versions = definition_store.versions_of(conn, key)
        if not versions:
            abort(404)
        by_number = {v.version: v for v in versions}
        new = by_number.get(request.args.get("new", type=int) or versions[0].version)
        default_old = versions[1].version if len(versions) > 1 else versions[0].version
        old = by_number.get(request.args.get("old", type=int) or default_old)
        if new is None or old is None:
            abort(404)
        shas = [f["sha256"] for v in (old, new) for f in json.loads(v.files_json)]
        contents = definition_store.file_contents(conn, shas)
        old_view = scenario_catalogue().view(conn, old.id)
        new_view = scenario_catalogue().view(conn, new.id)

    def sources(v):
        return [(f["filename"], contents[f["sha256"]].content) for f in json.loads(v.files_json)
                if f["sha256"] in contents]

    result = diff_definitions(sources(old), sources(new))
    marks = result.ids()
    diagrams = []
    for view, kind in ((new_view, "new"), (old_view, "old")):
        for pid in [key, *sorted(view.called)]:
            ids = marks.get(pid)
            if pid in view.process_files and (pid == key or ids):
                diagrams.append({"version": view, "process": pid, "kind": kind,
                                 "name": view.process_names.get(pid, pid),
                                 "added": ids["added"] if ids and kind == "new" else [],
                                 "changed": ids["changed"] if ids and kind == "new" else [],
                                 "removed": ids["removed"] if ids and kind == "old" else []})
    return render_template("design/diff.html", key=key, versions=versions, old=old, new=new, diff=result,
                           diagrams=diagrams, name=new.name)

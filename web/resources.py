"""Files pages link to: uploaded materials (for those who may see the case) and deployed BPMN
diagrams (for bpmn-js to draw): as deployed for those who may read process sources, otherwise a
copy without scripts, conditions and extensions (engine/modeling/drawing_copy.py)."""
from __future__ import annotations

import functools

from flask import Blueprint, Response, abort
from flask_login import current_user, login_required

from yijianshi.engine.modeling.drawing_copy import drawing_copy
from yijianshi.storage import inbox_store
from yijianshi.web.access import can_view_case, require
from yijianshi.web.services import scenario_catalogue, services
from yijianshi.web.stored_files import send_stored

bp = Blueprint("resources", __name__)

_drawing_copy = functools.lru_cache(maxsize=64)(drawing_copy)  # deployed files never change


@bp.get("/materials/<int:material_id>")
@login_required
def material(material_id: int):
    svc = services()
    record = svc.materials.get(material_id)
    with svc.engine.db.reader.connect() as conn:
        row = inbox_store.case_row(conn, record.case_id)
        require(row is not None and can_view_case(conn, current_user, row))
    response = send_stored(svc.materials.content_of(record), mimetype=record.content_type,
                           as_attachment=not (record.is_image or record.content_type == "application/pdf"),
                           download_name=record.filename)
    # Uploaded content is never run as a page of this site.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/diagrams/<int:definition_id>/<process_id>.bpmn")
@login_required
def diagram(definition_id: int, process_id: str):
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        xml = scenario_catalogue().diagram_xml(conn, definition_id, process_id)
    if xml is None:
        abort(404)
    if not current_user.role.reads_sources:
        xml = _drawing_copy(xml)
    return Response(xml, mimetype="application/xml",
                    headers={"Cache-Control": "private, max-age=86400, immutable", "Vary": "Cookie"})

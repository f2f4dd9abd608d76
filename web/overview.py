"""An overview for staff without an inbox of their own (designers, auditors) and for everyone who
oversees: deployed definitions and the amount of open work."""
from __future__ import annotations

from flask import Blueprint, render_template

from yijianshi.storage import case_store
from yijianshi.web.access import audience
from yijianshi.web.services import services

bp = Blueprint("overview", __name__)


@bp.get("/overview")
@audience(lambda u: not u.is_applicant)
def index():
    svc = services()
    with svc.engine.db.reader.connect() as conn:
        ready = case_store.count_work_items(conn, "ready")
    return render_template("overview.html", definitions=svc.engine.definition_summary(), ready=ready)

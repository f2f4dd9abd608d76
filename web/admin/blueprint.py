"""The 系统管理 blueprint and who may use it (administrators only); the pages join it from
accounts.py and cases.py."""
from __future__ import annotations

from flask import Blueprint, redirect, url_for

from yijianshi.web.access import audience

bp = Blueprint("admin", __name__, url_prefix="/admin")
administrators = audience(lambda u: u.is_admin)


@bp.get("/")
@administrators
def index():
    return redirect(url_for("admin.accounts"))

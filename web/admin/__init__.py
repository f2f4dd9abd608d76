"""系统管理: administrators' pages. Accounts (create, disable, role and departments, unlock) in
accounts.py; cases (stuck cases with retry and cancel, cancelling any case with a reason) in cases.py.
One blueprint, for administrators only."""
from __future__ import annotations

from flask import Blueprint, redirect, url_for

from yijianshi.web.access import audience

bp = Blueprint("admin", __name__, url_prefix="/admin")
administrators = audience(lambda u: u.is_admin)


@bp.get("/")
@administrators
def index():
    return redirect(url_for("admin.accounts"))


from yijianshi.web.admin import accounts, cases  # noqa: E402,F401  (their routes join the blueprint)

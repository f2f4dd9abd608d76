"""Accounts for administrators: the list (with locks), a new account, disabling and enabling,
changing a role and departments, lifting a lock. The rules are the engine's AccountService."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.access.accounts import AccountError
from yijianshi.engine.errors import NotFound
from yijianshi.web.admin.blueprint import administrators, bp
from yijianshi.web.admin.forms import NewAccountForm, RoleForm
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


def _forget(username: str) -> None:
    """The change applies at the account's next request, not after the cache's seconds."""
    current_app.extensions["yijianshi.accounts_cache"].forget(username)


@bp.route("/accounts", methods=["GET", "POST"])
@administrators
def accounts():
    form = NewAccountForm()
    form.fill_choices()
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            created = services().accounts.create(form.username.data, form.password.data, form.display_name.data,
                                                 form.role.data, form.departments.data or [])
        except AccountError as err:
            error = str(err)
        else:
            flash(_("账号“%(name)s”已创建。", name=created.username), "success")
            return redirect(url_for("admin.accounts"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/accounts.html", form=form, error=error,
                           listing=services().accounts.listing()), status


@bp.route("/accounts/<username>", methods=["GET", "POST"])
@administrators
def account(username: str):
    svc = services().accounts
    found = svc.get(username)
    if found is None:
        abort(404)
    form = RoleForm(data={"role": found.role.code, "departments": list(found.departments)})
    form.fill_choices()
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            svc.set_role(username, form.role.data, form.departments.data or [])
        except AccountError as err:
            error = str(err)
        else:
            _forget(username)
            flash(_("账号“%(name)s”的角色和部门已保存。", name=username), "success")
            return redirect(url_for("admin.accounts"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/account.html", account=found, form=form, error=error), status


@bp.post("/accounts/<username>/active")
@administrators
def set_active(username: str):
    active = request.form.get("active") == "1"
    try:
        services().accounts.set_active(username, active, by=current_user.username)
    except NotFound:
        abort(404)
    except AccountError as err:
        flash(str(err), "warning")
    else:
        _forget(username)
        flash(_("账号“%(name)s”已启用。", name=username) if active else _("账号“%(name)s”已停用。", name=username),
              "success")
    return redirect(url_for("admin.accounts"))


@bp.post("/accounts/<username>/unlock")
@administrators
def unlock(username: str):
    try:
        services().accounts.unlock(username)
    except NotFound:
        abort(404)
    flash(_("账号“%(name)s”已解除锁定。", name=username), "success")
    return redirect(url_for("admin.accounts"))

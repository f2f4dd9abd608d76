"""系统管理 → 组织架构: the organisation tree (district → 街镇 → 片区, departments → sub-units) with
each unit's members, the deputy periods (代理) and absences; forms to add and change units and to
add or remove memberships, deputies and absences. Every change is the engine's OrganisationService
(engine/access/organisation.py), which refuses it with a Chinese sentence; the people concerned see
it at their next request (their cached account is forgotten)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from yijianshi.engine.access.org_rules import KINDS, MEMBER_ROLES, Absence, Deputy, Membership, Unit
from yijianshi.engine.access.organisation import OrgError
from yijianshi.engine.errors import NotFound
from yijianshi.web.admin.blueprint import administrators, bp
from yijianshi.web.admin.org_forms import AbsenceForm, DeputyForm, MembershipForm, RemoveForm, UnitForm
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


def _forget(*usernames: str) -> None:
    cache = current_app.extensions["yijianshi.accounts_cache"]
    for username in usernames:
        cache.forget(username)


def _page(status: int = 200, error: str | None = None, **forms):
    org = services().organisation
    lines = org.tree()
    data = org.load()
    made = {"unit_form": UnitForm, "member_form": MembershipForm, "deputy_form": DeputyForm,
            "absence_form": AbsenceForm}
    filled = {name: forms.get(name) or cls(formdata=None) for name, cls in made.items()}
    filled["unit_form"].fill_choices(lines)
    filled["member_form"].fill_choices(lines)
    return render_template("admin/organisation.html", lines=lines, deputies=data.deputies, absences=data.absences,
                           kinds=KINDS, member_roles=MEMBER_ROLES, today=org.today(), error=error,
                           remove_form=RemoveForm(), **filled), status


def _done(message: str, *usernames: str):
    _forget(*usernames)
    flash(message, "success")
    return redirect(url_for("admin.organisation"))


@bp.get("/organisation")
@administrators
def organisation():
    return _page()


@bp.post("/organisation/units")
@administrators
def add_unit():
    form = UnitForm()
    form.fill_choices(services().organisation.tree())
    if form.validate_on_submit():
        unit = Unit(form.code.data.strip(), form.name.data, form.kind.data, form.parent.data or None,
                    form.position.data or 0)
        try:
            services().organisation.save_unit(unit, new=True)
        except OrgError as err:
            return _page(422, str(err), unit_form=form)
        return _done(_("单位“%(name)s”已添加。", name=unit.name))
    return _page(422, unit_form=form)


@bp.route("/organisation/units/<code>", methods=["GET", "POST"])
@administrators
def unit(code: str):
    org = services().organisation
    lines = org.tree()
    found = next((line.unit for line in lines if line.unit.code == code), None)
    if found is None:
        abort(404)
    form = UnitForm(data={"code": found.code, "name": found.name, "kind": found.kind, "parent": found.parent or "",
                          "position": found.position})
    form.fill_choices([line for line in lines if line.unit.code != code])
    del form.code, form.kind  # a unit's code and kind stay as they are (work items and files name them)
    error = None
    if request.method == "POST" and form.validate_on_submit():
        changed = Unit(code, form.name.data, found.kind, form.parent.data or None, form.position.data or 0)
        try:
            org.save_unit(changed, new=False)
        except OrgError as err:
            error = str(err)
        else:
            members = [m.username for line in lines for m in line.members]  # leaders above may see it now
            return _done(_("单位“%(name)s”已保存。", name=changed.name), *members)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/org_unit.html", unit=found, form=form, error=error, kinds=KINDS), status


@bp.post("/organisation/memberships")
@administrators
def add_membership():
    form = MembershipForm()
    form.fill_choices(services().organisation.tree())
    if form.validate_on_submit():
        membership = Membership(form.username.data.strip().lower(), form.unit.data, form.role.data)
        try:
            services().organisation.add_membership(membership)
        except OrgError as err:
            return _page(422, str(err), member_form=form)
        return _done(_("已将 %(user)s 加入单位。", user=membership.username), membership.username)
    return _page(422, member_form=form)


@bp.post("/organisation/deputies")
@administrators
def add_deputy():
    form = DeputyForm()
    if form.validate_on_submit():
        deputy = Deputy(form.deputy.data.strip().lower(), form.principal.data.strip().lower(), form.starts_on.data,
                        form.ends_on.data)
        try:
            services().organisation.add_deputy(deputy)
        except OrgError as err:
            return _page(422, str(err), deputy_form=form)
        return _done(_("代理安排已添加。"), deputy.deputy)
    return _page(422, deputy_form=form)


@bp.post("/organisation/absences")
@administrators
def add_absence():
    form = AbsenceForm()
    if form.validate_on_submit():
        absence = Absence(form.username.data.strip().lower(), form.starts_on.data, form.ends_on.data,
                          form.reason.data or "")
        try:
            services().organisation.add_absence(absence)
        except OrgError as err:
            return _page(422, str(err), absence_form=form)
        return _done(_("缺勤记录已添加。"), absence.username)
    return _page(422, absence_form=form)


@bp.post("/organisation/<what>/<int:row_id>/remove")
@administrators
def remove(what: str, row_id: int):
    org = services().organisation
    removers = {"memberships": org.remove_membership, "deputies": org.remove_deputy, "absences": org.remove_absence}
    if what not in removers or not RemoveForm().validate_on_submit():
        abort(400)
    try:
        removers[what](row_id)
    except NotFound as err:
        flash(str(err), "warning")
        return redirect(url_for("admin.organisation"))
    # whoever the row concerned: the cache lasts seconds, but a removal should apply at once
    current_app.extensions["yijianshi.accounts_cache"].clear()
    flash(_("已删除。"), "success")
    return redirect(url_for("admin.organisation"))

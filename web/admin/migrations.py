"""Version migration for administrators (like Cockpit's): choose a process version whose cases are
still running and a newer version, see the dry run case by case (what moves, what cannot and why),
then move the movable ones with a reason recorded in each case's history (engine/cases/migration.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from yijianshi.engine.errors import EngineError
from yijianshi.storage import definition_store
from yijianshi.web.admin.blueprint import administrators, bp
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


def _versions():
    with services().engine.db.reader.connect() as conn:
        rows = definition_store.versions_with_case_counts(conn)
    by_id = {r.id: r for r in rows}
    # Versions with running cases and a newer version of the same process to move them to.
    sources = [r for r in rows if r.running and any(o.key == r.key and o.version > r.version for o in rows)]
    return by_id, sources


def _pair(by_id, source_id, target_id):
    source, target = by_id.get(source_id), by_id.get(target_id)
    if source is None or target is None or source.key != target.key or target.version <= source.version:
        return None, None
    return source, target


@bp.get("/migrations")
@administrators
def migrations():
    by_id, sources = _versions()
    source, target = _pair(by_id, request.args.get("source", type=int), request.args.get("target", type=int))
    plans = services().engine.cases.plan_migrations(source.id, target.id) if source else None
    targets = {s.id: [r for r in by_id.values() if r.key == s.key and r.version > s.version] for s in sources}
    return render_template("admin/migrations.html", sources=sources, targets=targets, source=source,
                           target=target, plans=plans)


@bp.post("/migrations")
@administrators
def migrate():
    by_id, _sources = _versions()
    source, target = _pair(by_id, request.form.get("source", type=int), request.form.get("target", type=int))
    reason = (request.form.get("reason") or "").strip()
    if source is None:
        flash(_("请选择要迁移的版本和更新的目标版本。"), "warning")
        return redirect(url_for("admin.migrations"))
    if not reason:
        flash(_("请填写迁移原因（记入每个办件的历史）。"), "warning")
        return redirect(url_for("admin.migrations", source=source.id, target=target.id))
    engine = services().engine
    moved, refused = 0, 0
    for plan in engine.cases.plan_migrations(source.id, target.id):
        if not plan.movable:
            refused += 1
            continue
        try:
            engine.cases.migrate_case(plan.case_id, target.id, current_user.actor, reason[:500])
            moved += 1
        except EngineError:
            refused += 1
    flash(_("已将 %(moved)s 个办件从 v%(old)s 迁移到 v%(new)s；%(refused)s 个不能迁移。",
            moved=moved, old=source.version, new=target.version, refused=refused), "success" if moved else "warning")
    return redirect(url_for("admin.migrations", source=source.id, target=target.id))

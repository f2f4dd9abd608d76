"""Seeding the organisation on every start (`yijianshi serve`, `yijianshi stack`), idempotently:
the registry's departments (processes/registry.json, kind department) become top-level units when
missing; the demo district of engine/access/demo_accounts.py (街镇, 片区, sub-units, memberships of
the demo accounts) is added once — when its district unit does not exist yet — so that an
administrator's later changes to it are never undone by a restart."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from yijianshi.engine.access.demo_accounts import DEMO_DISTRICT, DEMO_MEMBERSHIPS, DEMO_UNITS
from yijianshi.engine.access.org_rules import Unit
from yijianshi.engine.modeling.registry import Registry, shipped_registry
from yijianshi.storage import org_store
from yijianshi.storage.database import Database


def seed_organisation(db: Database, registry: Registry | None = None, *, demo: bool = True) -> list[str]:
    """Add what is missing; returns the codes of the units added."""
    registry = registry or shipped_registry()
    departments = [Unit(code, registry.name(code), "department", None, i)
                   for i, code in enumerate(registry.codes("department"), start=1)]
    try:
        with db.writer.begin() as conn:
            existing = {u.code for u in org_store.units(conn)}
            add = [u for u in departments if u.code not in existing]
            if demo and DEMO_DISTRICT not in existing:
                for u in DEMO_UNITS:  # parents before children
                    placed = existing | {a.code for a in add}
                    if u.code not in placed and (u.parent is None or u.parent in placed):
                        add.append(u)
            org_store.add_units(conn, [dict(code=u.code, name=u.name, kind=u.kind, parent_code=u.parent,
                                            position=u.position) for u in add])
            if demo and DEMO_DISTRICT not in existing:
                present = {(m.username, m.unit_code) for m in org_store.memberships(conn)}
                units = existing | {u.code for u in add}
                org_store.add_memberships(conn, [dict(username=m.username, unit_code=m.unit, role=m.role)
                                                 for m in DEMO_MEMBERSHIPS
                                                 if m.unit in units and (m.username, m.unit) not in present])
    except IntegrityError:  # another process seeded at the same moment
        return []
    return [u.code for u in add]

"""Seeding the organisation on start (engine/access/org_seed.py): the registry's departments and the
demo district once; a second start adds nothing and never brings back what an administrator removed."""
from __future__ import annotations

from yijianshi.engine.access.demo_accounts import DEMO_ACCOUNTS, DEMO_MEMBERSHIPS, DEMO_UNITS
from yijianshi.engine.access.org_seed import seed_organisation
from yijianshi.engine.access.organisation import OrganisationService
from yijianshi.engine.modeling.registry import shipped_registry


def test_seeding_is_idempotent_and_respects_later_changes(sqlite_engine):
    db = sqlite_engine.db
    added = seed_organisation(db)
    departments = shipped_registry().codes("department")
    assert set(added) == set(departments) | {u.code for u in DEMO_UNITS}
    org = OrganisationService(db)
    data = org.load()
    assert {u.code: u.name for u in data.units}["market"] == shipped_registry().name("market")
    assert len(data.memberships) == len(DEMO_MEMBERSHIPS)
    assert {m.username for m in DEMO_MEMBERSHIPS} <= {d.username for d in DEMO_ACCOUNTS}
    first = org.tree()
    removed = next(line for line in first if line.unit.code == "xicheng").member_ids[0]
    org.remove_membership(removed)
    assert seed_organisation(db) == []
    assert len(org.load().memberships) == len(DEMO_MEMBERSHIPS) - 1
    assert "unit:dongcheng_1" in org.groups_of("dongcheng")  # the leader of 东城街道 sees its 片区

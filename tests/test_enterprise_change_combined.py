"""企业信息变更: several change kinds in one application (多项变更一并办理), each routing to the items
it affects (route_enterprise_change), and the union of them started once."""
from __future__ import annotations

import pytest

from yijianshi.engine.errors import FormErrors
from tests.test_scenarios_driver import Scenario, at, deploy

ALL = {"change_registration", "tax_change", "social_insurance_change", "medical_insurance_change",
       "housing_fund_change", "bank_info_change"}


def _run(engine, **changes) -> set[str]:
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "enterprise_change")
    sc = Scenario(engine, "enterprise_change")
    cid = sc.start()
    sc.apply(cid, item_choice="package", **changes)
    sc.accept(cid)
    approved = set(sc.approve_all_ready(cid))
    assert sc.ready_specs(cid) == ["deliver"]
    return approved


@pytest.mark.parametrize("changes, items", [
    ({"change_type": "scope"}, {"change_registration", "tax_change"}),
    ({"change_type": "legal_rep"}, {"change_registration", "tax_change", "housing_fund_change", "bank_info_change"}),
    ({"change_type": "combined", "change_scope": "true", "change_capital": "true"}, {"change_registration", "tax_change"}),
    ({"change_type": "combined", "change_address": "true", "change_scope": "true"},
     ALL - {"bank_info_change"}),
    ({"change_type": "combined", "change_address": "true", "change_legal_rep": "true"}, ALL),  # union of both
    ({"change_type": "combined", "change_name": "true", "change_address": "true", "change_legal_rep": "true"}, ALL),
])
def test_each_change_kind_routes_to_its_items_and_combined_changes_to_the_union(sqlite_engine, changes, items):
    assert _run(sqlite_engine, **changes) == items


def test_a_combined_change_needs_at_least_one_kind_ticked(sqlite_engine):
    sqlite_engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(sqlite_engine, "enterprise_change")
    sc = Scenario(sqlite_engine, "enterprise_change")
    cid = sc.start()
    with pytest.raises(FormErrors) as err:
        sc.apply(cid, change_type="combined")
    assert "change_type" in err.value.errors

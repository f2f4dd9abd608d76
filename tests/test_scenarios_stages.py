"""Items that need another item's result wait for it (stages of inclusive forks and joins between
fork_items and join_items): in the ten newer scenarios a dependent item's call activity is not even
reached — no department task, no running limit — until its prerequisite is decided, then it appears;
a prerequisite the applicant already holds (not chosen) keeps nothing waiting; a rejected one keeps
what needs it, transitively, from starting; and the case still runs to its end. 企业破产信息核查 keeps its
seven checks in one stage: none needs another's result."""
from __future__ import annotations

import pytest
from SpiffWorkflow.util.task import TaskState

from yijianshi.engine.modeling.scenario_savings import scenario_metrics
from tests.test_scenarios_driver import PROCESSES, Scenario, at, deploy

START = at(2025, 9, 26, 9, 0)
# The items whose department task is under way at each wave, when every item of the package is
# chosen and each wave is approved before the next is looked at.
WAVES = {
    "after_death": [{"death_certificate"},
                    {"cremation_certificate", "hukou_cancellation", "medical_account_withdrawal", "survivor_benefit",
                     "driving_licence_cancellation", "housing_fund_death_withdrawal", "small_deposit_withdrawal"}],
    "bankruptcy_check": [{"bankruptcy_registration_info", "bankruptcy_property_info", "bankruptcy_vehicle_info",
                          "bankruptcy_housing_info", "bankruptcy_social_insurance_info",
                          "bankruptcy_medical_insurance_info", "bankruptcy_housing_fund_info"}],
    "listing_compliance": [{"listing_data_collection", "listing_criminal_record"}, {"listing_credit_report"}],
    "social_security_card_service": [{"ssc_issue"},
                                     {"ssc_medical_use", "ssc_transport_use", "ssc_culture_use", "ssc_benefit_account"}],
    "disability_services": [{"disability_certificate", "disabled_employment_registration"},
                            {"living_allowance", "nursing_allowance", "pension_premium_subsidy"}],
    "transport_business": [{"transport_business_licence", "driver_qualification"}, {"freight_operation_permit"},
                           {"vehicle_transport_certificate"}],
    "eia_discharge": [{"eia_approval", "outfall_permit"}, {"discharge_permit"}],
    "house_transfer": [{"property_transfer"}, {"water_transfer", "power_transfer", "gas_transfer", "broadband_transfer"}],
    "individual_to_enterprise": [{"i2e_registration"}, {"i2e_seal", "i2e_bank_account", "i2e_tax", "i2e_social_insurance"}],
    "personal_startup": [{"startup_registration"},
                         {"startup_seal", "startup_bank_account", "startup_tax", "startup_insurance_accounts"},
                         {"startup_subsidy", "startup_guaranteed_loan"}],
}
# The scenario's promised limit: the critical path of its stages (working days).
CRITICAL_PATH = {"after_death": 1 + 10, "bankruptcy_check": 3, "listing_compliance": 1 + 3,
                 "social_security_card_service": 5 + 2, "disability_services": 10 + 10,
                 "transport_business": 1 + 10 + 5, "eia_discharge": 10 + 10, "house_transfer": 5 + 1,
                 "individual_to_enterprise": 3 + 1, "personal_startup": 1 + 1 + 10}
# A dependent item chosen with only its prerequisite's prerequisite rejected: it never starts.
TRANSITIVE = {"transport_business": ("transport_business_licence", "vehicle_transport_certificate"),
              "personal_startup": ("startup_registration", "startup_subsidy")}


def _open(engine, key: str) -> tuple[Scenario, int]:
    engine.clock.set(START)
    deploy(engine, key)
    sc = Scenario(engine, key)
    return sc, sc.start()


def _reached(sc: Scenario, cid: int) -> set[str]:
    """The task specs the case has reached (ready, waiting, under way or done), in every called item."""
    mask = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.COMPLETED
    return {t.task_spec.name for t in sc.engine.cases.workflow_of(cid).get_tasks(state=mask)}


def _under_way(sc: Scenario, cid: int) -> set[str]:
    return {s.removeprefix("review_") for s in sc.ready_specs(cid) if s.startswith("review_")}


@pytest.mark.parametrize("key", sorted(WAVES))
def test_a_dependent_item_starts_only_when_its_prerequisite_is_decided(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    app = sc.application(cid)
    sc.complete(cid, "apply", {**app, **{k: "true" for k in app if k.startswith("want_")}})
    sc.accept(cid)
    waves = WAVES[key]
    for n, wave in enumerate(waves):
        later = set().union(*waves[n + 1:])
        assert _under_way(sc, cid) == wave
        reached = _reached(sc, cid)
        for item in later:  # not started at all: no department task, no limit running
            assert f"call_{item}" not in reached and f"review_{item}" not in reached, item
        assert {f"review_{item}" for item in wave} <= reached  # what is under way is seen
        for item in sorted(wave):
            sc.decide(cid, item)
    assert sc.ready_specs(cid) == ["deliver"]
    data = sc.task_data(cid, "deliver")
    assert {data[f"{i}_result"] for w in waves for i in w} == {"approved"}
    sc.deliver_and_rate(cid, "good")
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize("key", sorted(WAVES))
def test_the_promised_limit_is_the_critical_path_of_the_stages(key):
    (m,) = [m for m in scenario_metrics([PROCESSES / key]) if m.key == key]
    assert m.critical_path == CRITICAL_PATH[key]
    assert {i.process_id.removeprefix("item_") for i in m.items} == set().union(*WAVES[key])


@pytest.mark.parametrize("key", [k for k, w in sorted(WAVES.items()) if len(w) > 1])
def test_a_dependent_item_chosen_without_its_prerequisite_starts_at_once(sqlite_engine, key):
    """The applicant already holds the prerequisite's result (不选该事项): nothing waits."""
    sc, cid = _open(sqlite_engine, key)
    last = sorted(WAVES[key][-1])[0]
    sc.apply(cid, item_choice="custom", **{f"want_{last}": "true"})
    sc.accept(cid)
    assert _under_way(sc, cid) == {last}
    sc.decide(cid, last)
    sc.deliver_and_rate(cid)
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize("key", sorted(TRANSITIVE))
def test_a_rejected_prerequisite_keeps_what_needs_it_transitively_from_starting(sqlite_engine, key):
    """Only the first and the third stage's item chosen: the third needs the second, which needs the
    first; the first is rejected, so the third never starts, though the second was not chosen."""
    first, third = TRANSITIVE[key]
    sc, cid = _open(sqlite_engine, key)
    sc.apply(cid, item_choice="custom", **{f"want_{first}": "true", f"want_{third}": "true"})
    sc.accept(cid)
    assert _under_way(sc, cid) == {first}
    sc.decide(cid, first, approved=False, reason="名称与已登记的企业重复")
    assert sc.ready_specs(cid) == ["deliver"]
    assert f"call_{third}" not in _reached(sc, cid)
    data = sc.task_data(cid, "deliver")
    assert data[f"{first}_result"] == "rejected" and f"{third}_result" not in data
    sc.deliver_and_rate(cid)
    assert sc.status(cid) == "completed"

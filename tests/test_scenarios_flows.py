"""Every shipped 一件事 scenario end to end through the engine services on a controlled clock: the
package, 一次告知 and resubmission, 告知承诺+容缺 with a late supplement, a department's rejection, a
single item chosen alone, an overdue item escalated to 督办, and 好差评: five levels per item, a rating
window that closes the case unrated, a bad rating verified untrue or rectified and revisited."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import FormErrors, NotPermitted
from yijianshi.engine.modeling.scenario_savings import scenario_metrics
from tests.test_scenarios_driver import PROCESSES, Scenario, at, deploy

SCENARIOS = ["open_restaurant", "newborn", "enterprise_change", "retirement", "utility_connection", "credit_repair",
             "school_enrolment", "medical_institution_change", "transport_business",
             "bankruptcy_check", "listing_compliance", "social_security_card_service", "disability_services", "after_death",
             "eia_discharge", "house_transfer", "individual_to_enterprise", "personal_startup"]
# The item each scenario is tried with alone (单独办理); several depend on an item not chosen.
SINGLE = {"open_restaurant": "fire_check", "newborn": "social_security_card", "enterprise_change": "tax_change",
          "retirement": "housing_fund_seal", "utility_connection": "telecom_connection",
          "credit_repair": "gsxt_sync", "school_enrolment": "enrolment_registration",
          "medical_institution_change": "insurance_agreement_change",
          "transport_business": "vehicle_transport_certificate", "bankruptcy_check": "bankruptcy_vehicle_info",
          "listing_compliance": "listing_criminal_record", "social_security_card_service": "ssc_culture_use",
          "disability_services": "pension_premium_subsidy", "after_death": "driving_licence_cancellation",
          "eia_discharge": "outfall_permit", "house_transfer": "gas_transfer", "individual_to_enterprise": "i2e_tax",
          "personal_startup": "startup_subsidy"}
# The item each scenario's department rejects, and the items that then never start (they need it).
REJECT = {"open_restaurant": ("business_licence", ["food_permit", "fire_check"]), "newborn": ("birth_certificate", ["birth_registration",
          "medical_insurance_enrolment", "social_security_card", "medical_insurance_payment"]),
          "enterprise_change": ("change_registration", ["tax_change", "social_insurance_change",
                                "medical_insurance_change", "housing_fund_change", "bank_info_change"]),
          "retirement": ("pension_retirement", ["housing_fund_withdrawal", "medical_insurance_retiree"]),
          "utility_connection": ("gas_connection", []),
          "credit_repair": ("credit_china_repair", ["gsxt_sync", "industry_sync", "credit_bureau_sync"]),
          "school_enrolment": ("property_verification", ["enrolment_registration"]),
          "medical_institution_change": ("practice_licence_change", []),  # 三证合一: reviewed together
          "transport_business": ("transport_business_licence", ["freight_operation_permit",
                                                                 "vehicle_transport_certificate"]),
          # the newer scenarios' items that need another's result (tests/test_scenarios_stages.py)
          "bankruptcy_check": ("bankruptcy_property_info", []),  # seven independent checks
          "listing_compliance": ("listing_data_collection", ["listing_credit_report"]),
          "social_security_card_service": ("ssc_issue", ["ssc_medical_use", "ssc_transport_use", "ssc_culture_use",
                                                         "ssc_benefit_account"]),
          "disability_services": ("disability_certificate", ["living_allowance", "nursing_allowance",
                                                             "pension_premium_subsidy"]),
          "after_death": ("death_certificate", ["cremation_certificate", "hukou_cancellation",
                                                "medical_account_withdrawal", "survivor_benefit",
                                                "driving_licence_cancellation", "housing_fund_death_withdrawal",
                                                "small_deposit_withdrawal"]),
          "eia_discharge": ("eia_approval", ["discharge_permit"]),
          "house_transfer": ("property_transfer", ["water_transfer", "power_transfer", "gas_transfer",
                                                   "broadband_transfer"]),
          "individual_to_enterprise": ("i2e_registration", ["i2e_seal", "i2e_bank_account", "i2e_tax",
                                                            "i2e_social_insurance"]),
          "personal_startup": ("startup_registration", ["startup_seal", "startup_bank_account", "startup_tax",
                                                        "startup_insurance_accounts", "startup_subsidy",
                                                        "startup_guaranteed_loan"])}
START = at(2025, 9, 26, 9, 0)  # Friday before the National Day holidays


def _open(engine, key: str) -> tuple[Scenario, int]:
    engine.clock.set(START)
    deploy(engine, key)
    sc = Scenario(engine, key)
    return sc, sc.start()


def _package(sc: Scenario, cid: int) -> None:
    """Apply for the whole package with every optional item ticked, and have it accepted."""
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)


def _items(sc: Scenario, cid: int) -> list[str]:
    return [k.removeprefix("want_") for k in sc.application(cid) if k.startswith("want_")]


@pytest.mark.parametrize("key", SCENARIOS)
def test_package_runs_every_item_and_delivers_once(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    items = _items(sc, cid)
    _package(sc, cid)
    approved = sc.approve_all_ready(cid)
    assert sorted(approved) == sorted(items)
    assert sc.ready_specs(cid) == ["deliver"]  # 统一出件: one delivery after every department
    data = sc.task_data(cid, "deliver")
    assert {data[f"{i}_result"] for i in items} == {"approved"}
    assert all(data[f"{i}_no"] == sc.given[i] for i in items)  # NO-<item>, or a valid credit code
    sc.deliver_and_rate(cid, "good")
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize("key", SCENARIOS)
def test_one_time_notice_then_resubmission_keeps_history(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    sc.apply(cid)
    notice = "1. 身份证明复印件不清晰；\n2. 缺少经营场所（住所）证明。"
    sc.complete(cid, "accept", {"materials_complete": "false", "missing_materials": notice})
    assert sc.ready_specs(cid) == ["supplement"]
    shown = sc.task_data(cid, "supplement")
    assert shown["missing_materials"] == notice  # every missing material told at once, read-only
    field = next(f.id for f in sc.form(sc.item(cid, "supplement")).fields
                 if f.type == "string" and not f.readonly and f.maxlength and f.maxlength >= 100)
    sc.complete(cid, "supplement", sc.application(cid, "supplement", **{field: "补正后的新内容"}))
    assert sc.ready_specs(cid) == ["accept"]
    sc.accept(cid, missing_materials="")
    assert [r for r in sc.ready_specs(cid) if r.startswith("review_")]
    data = sc.task_data(cid, sc.ready_specs(cid)[0])
    assert data[field] == "补正后的新内容" and data["notice_round"] == 1
    assert data["notice_log"][0]["missing"] == notice
    completed = [h.event_data(e.type, json.loads(e.data)) for e in sqlite_engine.history(cid)
                 if e.type == "work_item_completed"]
    assert [c["submitted"].get("materials_complete") for c in completed if "materials_complete" in c["submitted"]] \
        == [False, True]
    assert any(c["previous"].get(field) for c in completed)  # the history keeps what was corrected


@pytest.mark.parametrize("key", SCENARIOS)
def test_single_item_chosen_alone(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    item = SINGLE[key]
    sc.apply(cid, item_choice="custom", **{f"want_{item}": "true"})
    sc.accept(cid)
    assert sc.ready_specs(cid) == [f"review_{item}"]  # starts at once, though it needs an unchosen item
    sc.decide(cid, item)
    assert sc.ready_specs(cid) == ["deliver"]
    data = sc.task_data(cid, "deliver")
    assert [k for k, v in data.items() if k.startswith("run_") and v] == [f"run_{item}"]
    sc.deliver_and_rate(cid)
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize("key", SCENARIOS)
def test_no_item_chosen_is_refused_by_the_form(sqlite_engine, key):
    """自选事项 with nothing ticked used to reach the front desk and come back with a blank 一次告知;
    the form refuses it (camunda:constraint at_least_one) and the case stays at the application."""
    sc, cid = _open(sqlite_engine, key)
    nothing = {k: "false" for k in sc.application(cid) if k.startswith("want_")}
    with pytest.raises(FormErrors) as err:
        sc.complete(cid, "apply", {**sc.application(cid, item_choice="package"), **nothing, "item_choice": "custom"})
    assert set(err.value.errors) == {"item_choice"} and err.value.errors["item_choice"].startswith("请至少勾选一项：")
    assert sc.ready_specs(cid) == ["apply"]
    sc.apply(cid, item_choice="custom", **{k: "true" for k in list(nothing)[:1]})
    assert sc.ready_specs(cid) == ["accept"]


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_department_rejects_with_a_reason(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    rejected, never = REJECT[key]
    _package(sc, cid)
    # 审查不通过 without a reason is refused by the form (the page also asks to confirm a rejection)
    review = next(r for r in sc.ready_specs(cid) if r.endswith(f"_{rejected}") and r.startswith("review"))
    assert sc.form(sc.item(cid, review)).field(f"{rejected}_approved").confirm[0] == "false"
    with pytest.raises(FormErrors) as err:
        sc.decide(cid, rejected, approved=False)
    assert err.value.errors == {f"{rejected}_reason": "此项为必填项"}
    sc.decide(cid, rejected, approved=False, reason="材料与实际情况不符，不予许可")
    assert f"explain_{rejected}" not in sc.ready_specs(cid)
    approved = sc.approve_all_ready(cid)
    assert not set(never) & set(approved)  # what needs the rejected item never starts
    data = sc.task_data(cid, "deliver")
    assert data[f"{rejected}_result"] == "rejected"
    assert data[f"{rejected}_reason"] == "材料与实际情况不符，不予许可"
    assert all(data[f"{i}_result"] == "approved" for i in approved)
    sc.deliver_and_rate(cid)
    assert sc.status(cid) == "completed"


@pytest.mark.parametrize("key", SCENARIOS)
def test_overdue_item_is_escalated_to_supervision(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    _package(sc, cid)
    row = min(sc.ready(cid), key=lambda r: (r.due_at, r.task_spec))  # the shortest limit
    item = row.task_spec.removeprefix("review_")
    assert row.warning_at < row.due_at
    assert sc.fire(row.warning_at + timedelta(seconds=1))
    assert row.task_spec in sc.ready_specs(cid)  # 预警 only: the department keeps working
    sc.fire(row.due_at + timedelta(seconds=1))
    supervise = sc.item(cid, f"supervise_{item}")
    assert supervise.groups == "supervision" and row.task_spec not in sc.ready_specs(cid)
    sc.complete(cid, f"supervise_{item}", {f"{item}_supervision_note": "已超期，限 2 个工作日内办结"})
    assert sc.task_data(cid, f"expedite_{item}")[f"{item}_supervision_note"].startswith("已超期")
    sc.decide(cid, item, task="expedite")
    sc.approve_all_ready(cid)
    kinds = [json.loads(e.data)["kind"] for e in sqlite_engine.history(cid) if e.type == "deadline_fired"]
    assert "warning" in kinds and "overdue" in kinds
    assert sc.task_data(cid, "deliver")[f"{item}_result"] == "approved"


def _longest_item(key: str) -> str:
    """The item with the longest promised limit (the last one on a tie): still under way when a
    one-day 容缺 deadline passes."""
    (m,) = [m for m in scenario_metrics([PROCESSES / key]) if m.key == key]
    longest = max(i.limit_days for i in m.items)
    return [i.process_id for i in m.items if i.limit_days == longest][-1].removeprefix("item_")


@pytest.mark.parametrize("key", SCENARIOS)
def test_rongque_late_supplement_suspends_then_resumes_the_affected_item(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    affected = _longest_item(key)
    app = sc.application(cid)
    sc.complete(cid, "apply", {**app, **{k: "true" for k in app if k.startswith("want_")}})
    sc.complete(cid, "accept", {"materials_complete": "false", "accept_with_commitment": "true",
                                "deferred_materials": "法定代表人签字的承诺书原件", "supply_days": "1",
                                f"defer_{affected}": "true"})
    assert "supply_deferred" in sc.ready_specs(cid)  # 容缺受理: the departments start at once
    supply = sc.item(cid, "supply_deferred")
    assert supply.due_at.astimezone(START.tzinfo) == at(2025, 9, 28, 23, 59, 59)  # 1 working day: a make-up Sunday
    sqlite_engine.clock.set(at(2025, 9, 28, 10, 0))
    for _ in range(5):  # what the affected item needs is decided first
        if f"review_{affected}" in sc.ready_specs(cid):
            break
        for spec in [s for s in sc.ready_specs(cid) if s.startswith("review_")]:
            sc.decide(cid, spec.removeprefix("review_"))
    sc.fire(at(2025, 9, 29, 8, 0))  # nothing supplied: the commitment is broken
    specs = sc.ready_specs(cid)
    assert f"review_{affected}" not in specs and f"supervise_{affected}" not in specs  # suspended, not overdue
    told = sc.task_data(cid, "supply_late")["suspension_notice"]  # and the applicant is told
    assert "法定代表人签字的承诺书原件" in told and "中止" in told
    sc.fire(at(2025, 10, 9, 9, 0))
    sc.complete(cid, "supply_late", {"late_supply_choice": "supply", "supply_note": "已补交原件"})
    resumed = sc.item(cid, f"review_{affected}")
    assert resumed.created_at.astimezone(START.tzinfo) == at(2025, 10, 9, 9, 0)
    assert resumed.due_at > at(2025, 10, 9, 23, 59, 58)  # its limit counts anew from the supplement
    sc.approve_all_ready(cid)
    assert sc.task_data(cid, "deliver")[f"{affected}_result"] == "approved"
    sc.deliver_and_rate(cid)
    assert sc.status(cid) == "completed"


def test_rongque_supplied_in_time_suspends_nothing(sqlite_engine):
    sc, cid = _open(sqlite_engine, "open_restaurant")
    sc.apply(cid)
    sc.complete(cid, "accept", {"materials_complete": "false", "accept_with_commitment": "true",
                                "deferred_materials": "招牌设计图", "defer_signboard": "true"})
    assert sc.item(cid, "supply_deferred").due_at.astimezone(START.tzinfo) == at(2025, 10, 10, 23, 59, 59)  # default 5
    sc.engine.clock.set(at(2025, 9, 29, 10, 0))
    sc.complete(cid, "supply_deferred", {"deferred_supplied": "true", "supply_note": "已上传"})
    sc.approve_all_ready(cid)
    assert sc.ready_specs(cid) == ["deliver"]
    assert sc.fire(at(2025, 10, 20, 9, 0)) == []


def test_rongque_abandoned_item_is_terminated(engine):
    """On SQLite and PostgreSQL: signals, timers, the 容缺状态 data object and the inclusive joins
    re-execute identically. The food permit and the fire check have not started when the suspension
    is signalled (they wait for the business licence result): the signal cannot reach them, so they
    read the 容缺状态 when they start and are terminated at once."""
    sc, cid = _open(engine, "open_restaurant")
    sc.apply(cid)
    sc.complete(cid, "accept", {"materials_complete": "false", "accept_with_commitment": "true",
                                "deferred_materials": "设备布局和工艺流程图", "supply_days": "2",
                                "defer_food_permit": "true", "defer_fire_check": "true"})
    sc.fire(at(2025, 9, 30, 9, 0))
    specs = set(sc.ready_specs(cid))
    assert "review_business_licence" in specs or "supervise_business_licence" in specs  # not decided yet
    assert not {"review_food_permit", "review_fire_check"} & specs  # not started: the licence comes first
    sc.fire(at(2025, 11, 10, 9, 0))  # 20 working days of suspension pass without a word
    sc.approve_all_ready(cid)  # the licence is granted; the two items start after the abandonment
    assert not {"review_food_permit", "review_fire_check"} & set(sc.ready_specs(cid))
    data = sc.task_data(cid, "deliver")
    assert data["food_permit_result"] == data["fire_check_result"] == "terminated"
    assert data["business_licence_result"] == "approved"


def test_rongque_item_started_after_the_suspension_waits_for_the_supplement(sqlite_engine):
    """An item that starts while the 容缺 suspension holds starts suspended (no review, no running
    limit) and is reviewed, with a limit counted anew, once the applicant supplies the materials."""
    sc, cid = _open(sqlite_engine, "open_restaurant")
    sc.apply(cid)
    sc.complete(cid, "accept", {"materials_complete": "false", "accept_with_commitment": "true",
                                "deferred_materials": "设备布局和工艺流程图", "supply_days": "1",
                                "defer_food_permit": "true"})
    sc.fire(at(2025, 9, 29, 8, 0))  # the commitment is broken before the licence is decided
    sc.engine.clock.set(at(2025, 9, 29, 9, 0))
    sc.complete(cid, "supervise_business_licence", {"business_licence_supervision_note": "限期办结"})
    sc.decide(cid, "business_licence", approved=True, task="expedite")  # the two items start now
    specs = set(sc.ready_specs(cid))
    assert "review_fire_check" in specs  # not affected by the missing material
    assert "review_food_permit" not in specs  # started suspended
    sc.engine.clock.set(at(2025, 10, 9, 9, 0))
    sc.complete(cid, "supply_late", {"late_supply_choice": "supply", "supply_note": "已补交"})
    resumed = sc.item(cid, "review_food_permit")
    assert resumed.created_at.astimezone(START.tzinfo) == at(2025, 10, 9, 9, 0)
    sc.approve_all_ready(cid)
    assert sc.task_data(cid, "deliver")["food_permit_result"] == "approved"


@pytest.mark.parametrize("key", SCENARIOS)
def test_bad_rating_is_rectified_with_a_limit_and_a_return_visit(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    _package(sc, cid)
    sc.approve_all_ready(cid)
    sc.deliver_and_rate(cid, "bad")
    assert sc.ready_specs(cid) == ["verify_rating"]
    verify = sc.form(sc.item(cid, "verify_rating")).field("rectify_days")
    assert (verify.min, verify.max) == (5, 15)  # 整改时限 configurable within 5–15 working days
    sc.complete(cid, "verify_rating", {"verify_outcome": "true", "rectify_requirement": "缩短窗口等候时间", "rectify_days": "5"})
    rectify = sc.item(cid, "rectify")
    assert rectify.groups.startswith("unit:") and rectify.groups != "unit:hub"  # the lead department, by default
    # 5 working days from Friday 09-26: 09-28 (a make-up Sunday), 09-29, 09-30, then after the holidays 10-09, 10-10
    assert rectify.due_at.astimezone(START.tzinfo) == at(2025, 10, 10, 23, 59, 59)
    assert rectify.warning_at.astimezone(START.tzinfo) == at(2025, 10, 9, 23, 59, 59)
    sc.fire(at(2025, 10, 11, 9, 0))
    sc.complete(cid, "supervise_rectify", {"rectify_supervision_note": "整改超期，督办"})
    assert sc.item(cid, "rectify_late").groups == rectify.groups  # still the responsible unit
    sc.complete(cid, "rectify_late", {"rectify_measures": "增设综合窗口两个"})
    sc.complete(cid, "return_visit", {"revisit_satisfied": "unsatisfied", "revisit_note": "仍需排队"})
    sc.complete(cid, "rectify", {"rectify_measures": "推行预约办理"})  # a new round with its own limit
    sc.complete(cid, "return_visit", {"revisit_satisfied": "satisfied", "revisit_note": "已改善"})
    assert sc.status(cid) == "completed"
    assert sc.final_data(cid)["rectify_round"] == 2


@pytest.mark.parametrize("key", SCENARIOS)
def test_bad_rating_rectification_goes_to_the_unit_named_in_verification(sqlite_engine, key):
    """差评核实 names the 责任单位 (整改责任单位); 差评整改 goes to that unit (unit:<code>), not to the
    scenario's lead department, and a clerk of the lead department may not act on it."""
    sc, cid = _open(sqlite_engine, key)
    _package(sc, cid)
    sc.approve_all_ready(cid)
    sc.deliver_and_rate(cid, "bad")
    field = sc.form(sc.item(cid, "verify_rating")).field("responsible_unit")
    lead, other = field.default, next((c for c, _ in field.options if c not in (field.default, "hub")), "hub")
    sc.complete(cid, "verify_rating", {"verify_outcome": "true", "rectify_requirement": "窗口服务态度差", "rectify_days": "5",
                                       "responsible_unit": other})
    rectify = sc.item(cid, "rectify")
    assert rectify.groups == f"unit:{other}"
    with pytest.raises(NotPermitted):
        sc.complete(cid, "rectify", {"rectify_measures": "整改"}, Actor("clerk_lead", frozenset({f"unit:{lead}"})))
    sc.complete(cid, "rectify", {"rectify_measures": "加强培训"}, Actor("clerk_other", frozenset({f"unit:{other}"})))
    assert sc.ready_specs(cid) == ["return_visit"]


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_blank_one_time_notice_is_refused_and_no_old_notice_reaches_the_result(sqlite_engine, key):
    """一次告知 lists at least one material (required_if materials_complete=false,
    accept_with_commitment=false); once accepted, the last round's notice is not carried on."""
    sc, cid = _open(sqlite_engine, key)
    sc.apply(cid)
    with pytest.raises(FormErrors) as err:
        sc.complete(cid, "accept", {"materials_complete": "false", "missing_materials": "  "})
    assert err.value.errors == {"missing_materials": "此项为必填项"}
    notice = "缺少经营场所（住所）证明。"
    sc.complete(cid, "accept", {"materials_complete": "false", "missing_materials": notice})
    sc.complete(cid, "supplement", sc.application(cid, "supplement"))
    sc.accept(cid, missing_materials=notice)  # the accept form shows the last round's text again
    review = next(r for r in sc.ready_specs(cid) if r.startswith("review_"))
    data = sc.task_data(cid, review)
    assert data["missing_materials"] == "" and data["notice_log"][0]["missing"] == notice


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_bad_rating_needs_a_reason_and_its_verification_has_a_limit(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    _package(sc, cid)
    sc.approve_all_ready(cid)
    sc.complete(cid, "deliver", {"delivery_method": "e_licence", "delivery_note": ""})
    with pytest.raises(FormErrors) as err:
        sc.complete(cid, "rate", {"rating": "unsatisfied", "comment": ""})
    assert err.value.errors == {"comment": "此项为必填项"}
    sc.complete(cid, "rate", {"rating": "unsatisfied", "comment": "等待时间太长"})
    verify = sc.item(cid, "verify_rating")
    # 5 working days (rating_verify_days) from Friday 09-26: 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10
    assert verify.due_at.astimezone(START.tzinfo) == at(2025, 10, 10, 23, 59, 59)
    sc.fire(at(2025, 10, 11, 9, 0))
    assert sc.ready_specs(cid) == ["supervise_verify_rating"]
    sc.complete(cid, "supervise_verify_rating", {"verify_supervision_note": "差评核实超期，督办"})
    assert sc.ready_specs(cid) == ["verify_rating"]  # verified after supervision, with a new limit
    sc.complete(cid, "verify_rating", {"verify_outcome": "true", "rectify_requirement": "缩短窗口等候时间", "rectify_days": "5"})
    assert sc.ready_specs(cid) == ["rectify"]


LEVELS = ["very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied"]


def _delivered(sqlite_engine, key: str) -> tuple[Scenario, int, list[str]]:
    sc, cid = _open(sqlite_engine, key)
    items = _items(sc, cid)
    _package(sc, cid)
    sc.approve_all_ready(cid)
    sc.complete(cid, "deliver", {"delivery_method": "e_licence", "delivery_note": ""})
    return sc, cid, items


@pytest.mark.parametrize("key", SCENARIOS)
def test_the_rating_form_has_five_levels_for_the_service_and_each_item(sqlite_engine, key):
    """好差评 five levels (非常满意 … 非常不满意) for the whole service and one field per item; the
    comment is needed for 不满意 and 非常不满意 only; a bad rating of one item is a bad rating."""
    sc, cid, items = _delivered(sqlite_engine, key)
    form = sc.form(sc.item(cid, "rate"))
    names = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    for fid in ["rating"] + [f"rating_{i}" for i in items]:
        assert [(v, n) for v, n in form.field(fid).options] == list(zip(LEVELS, names)), fid
    assert form.field("rating").required
    for level in ("unsatisfied", "very_unsatisfied"):
        with pytest.raises(FormErrors) as err:
            sc.complete(cid, "rate", {"rating": level, "comment": ""})
        assert err.value.errors == {"comment": "此项为必填项"}
    sc.complete(cid, "rate", {"rating": "basic", f"rating_{items[0]}": "very_unsatisfied", "comment": "材料退回两次"})
    assert sc.ready_specs(cid) == ["verify_rating"]
    data = sc.task_data(cid, "verify_rating")
    assert data["rating_bad"] is True and data["rating_outcome"] == "差评待核实"
    assert data["item_ratings"] == {items[0]: "very_unsatisfied"}


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_good_rating_closes_the_case_with_every_level_recorded(sqlite_engine, key):
    sc, cid, items = _delivered(sqlite_engine, key)
    sc.complete(cid, "rate", {"rating": "satisfied", **{f"rating_{i}": "very_satisfied" for i in items}})
    assert sc.status(cid) == "completed"
    data = sc.final_data(cid)
    assert data["rating_outcome"] == "已评价" and data["rating_bad"] is False
    assert data["item_ratings"] == {i: "very_satisfied" for i in items}


@pytest.mark.parametrize("key", SCENARIOS)
def test_no_rating_within_the_window_closes_the_case_unrated(sqlite_engine, key):
    """Delivered on Friday 09-26: 5 working days (rating_window_days) end on 10-10; the case then closes
    as 未评价, recorded, without a 差评 path."""
    sc, cid, _ = _delivered(sqlite_engine, key)
    sc.fire(at(2025, 10, 10, 12, 0))
    assert sc.ready_specs(cid) == ["rate"]  # still within the window
    sc.fire(at(2025, 10, 11, 9, 0))
    assert sc.status(cid) == "completed"
    data = sc.final_data(cid)
    assert data["rating"] == "unrated" and data["rating_outcome"] == "未评价" and data["rating_closed_at"]


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_bad_rating_verified_untrue_closes_with_the_reason_recorded(sqlite_engine, key):
    sc, cid, _ = _delivered(sqlite_engine, key)
    sc.complete(cid, "rate", {"rating": "very_unsatisfied", "comment": "无理由差评"})
    with pytest.raises(FormErrors) as err:
        sc.complete(cid, "verify_rating", {"verify_outcome": "untrue", "untrue_reason": ""})
    assert err.value.errors == {"untrue_reason": "此项为必填项"}
    with pytest.raises(FormErrors) as err:  # 属实 needs what is to be rectified
        sc.complete(cid, "verify_rating", {"verify_outcome": "true", "rectify_requirement": ""})
    assert err.value.errors == {"rectify_requirement": "此项为必填项"}
    sc.complete(cid, "verify_rating", {"verify_outcome": "untrue", "untrue_reason": "经调取录像，窗口当日按时办结，申诉成立"})
    assert sc.status(cid) == "completed"
    data = sc.final_data(cid)
    assert data["rating_untrue"] is True and data["rating_outcome"] == "差评不属实"
    assert data["untrue_reason"].startswith("经调取录像") and data["rating"] == "very_unsatisfied"  # kept as given


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_true_bad_rating_is_rectified_by_the_unit_and_confirmed_on_the_revisit(sqlite_engine, key):
    sc, cid, _ = _delivered(sqlite_engine, key)
    sc.complete(cid, "rate", {"rating": "unsatisfied", "comment": "等待时间太长"})
    sc.verify_true(cid)
    rectify = sc.item(cid, "rectify")
    assert rectify.groups.startswith("unit:") and rectify.due_at is not None
    sc.complete(cid, "rectify", {"rectify_measures": "推行预约办理"})
    assert sc.ready_specs(cid) == ["return_visit"]
    sc.complete(cid, "return_visit", {"revisit_satisfied": "satisfied", "revisit_note": "申请人确认满意"})
    assert sc.status(cid) == "completed"
    data = sc.final_data(cid)
    assert data["rating_outcome"] == "已整改" and data["rectify_round"] == 1 and "rating_untrue" not in data

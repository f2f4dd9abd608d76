"""开办餐饮店: the two local items — 食品从业人员健康证明 (always in the package, in parallel) and
烟草专卖零售许可 (only when the applicant sells tobacco; on the business licence result)."""
from __future__ import annotations

from lxml import etree

from tests.test_scenarios_driver import PROCESSES, Scenario, at, deploy

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}


def _package(engine, **changes) -> tuple[Scenario, int]:
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "open_restaurant")
    sc = Scenario(engine, "open_restaurant")
    cid = sc.start()
    sc.apply(cid, item_choice="package", **changes)
    sc.accept(cid)
    return sc, cid


def test_without_tobacco_the_health_certificate_runs_and_the_tobacco_licence_does_not(sqlite_engine):
    sc, cid = _package(sqlite_engine, sells_tobacco="false", want_tobacco_retail="false")
    assert "review_health_certificate" in sc.ready_specs(cid)  # in parallel with the licence
    review = sc.item(cid, "review_health_certificate")
    assert review.groups == "health"
    approved = sc.approve_all_ready(cid)
    assert "health_certificate" in approved and "tobacco_retail" not in approved
    assert "tobacco_retail_result" not in sc.task_data(cid, "deliver")


def test_a_tobacco_seller_gets_the_tobacco_licence_after_the_business_licence(sqlite_engine):
    sc, cid = _package(sqlite_engine, sells_tobacco="true")
    assert "review_tobacco_retail" not in sc.ready_specs(cid)  # it needs the business licence
    sc.decide(cid, "business_licence")
    assert "review_tobacco_retail" in sc.ready_specs(cid)
    assert sc.item(cid, "review_tobacco_retail").groups == "tobacco"
    sc.approve_all_ready(cid)
    data = sc.task_data(cid, "deliver")
    assert data["tobacco_retail_result"] == data["health_certificate_result"] == "approved"


def test_the_local_items_have_departments_materials_and_sourced_limits():
    for key, lane, days in (("health_certificate", "health", 5), ("tobacco_retail", "tobacco", 10)):
        root = etree.parse(str(PROCESSES / "open_restaurant" / "items" / f"{key}.bpmn")).getroot()
        props = {p.get("name"): p.get("value") for p in root.iterfind("bpmn:process/bpmn:extensionElements//camunda:property", NS)}
        assert props["materials"] and "；" in props["materials"]
        review = root.find(f".//bpmn:userTask[@id='review_{key}']", NS)
        assert review.get("{http://camunda.org/schema/1.0/bpmn}candidateGroups") == lane
        assert review.get("{http://camunda.org/schema/1.0/bpmn}dueDate") == f"add_working_days({key}_started_at, {days})"
        source = review.find(".//camunda:property[@name='limit_source']", NS).get("value")
        assert source.startswith("local default：")

"""Items' documentation says what the model does: an item reviewed in parallel does not claim to
need another item's result, and an item started on another's result says so."""
from __future__ import annotations

from lxml import etree

from tests.test_scenarios_driver import PROCESSES

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def _doc(scenario: str, item: str) -> str:
    root = etree.parse(str(PROCESSES / scenario / "items" / f"{item}.bpmn")).getroot()
    return root.find("bpmn:process/bpmn:documentation", NS).text


def test_medical_three_in_one_items_do_not_wait_for_the_practice_licence():
    for item in ("insurance_agreement_change", "radiology_licence_change"):
        doc = _doc("medical_institution_change", item)
        assert "需执业登记变更结果" not in doc and "同时受理" in doc


def test_restaurant_items_started_on_the_business_licence_say_so():
    for item in ("food_permit", "fire_check", "tobacco_retail"):
        assert "凭营业执照办理" in _doc("open_restaurant", item)


def test_every_item_documents_the_start_while_suspended():
    for path in PROCESSES.glob("*/items/*.bpmn"):
        assert "中止之后才启动的" in _doc(path.parent.parent.name, path.stem), path


def test_enterprise_change_items_say_which_change_kinds_start_them():
    assert "多项变更" in _doc("enterprise_change", "change_registration")
    assert "名称或住所变更时办理" in _doc("enterprise_change", "social_insurance_change")

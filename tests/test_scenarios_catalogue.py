"""The scenario catalogue as shipped: every file in processes/ deploys (SQLite and PostgreSQL) and
validates clean with the designer lint; every diagram is fully drawn; every scenario has the parts
of a 一件事 (一表申请, 一次告知, 容缺, items with limits and 督办, 统一出件, 好差评 and 整改)."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest
from lxml import etree

from yijianshi.cli.main import main
from yijianshi.cli.definitions_cmds import cmd_validate as validate_with_lint
from yijianshi.engine.modeling.registry import load_registry
from yijianshi.engine.modeling.scenario_savings import scenario_metrics

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "di": "http://www.omg.org/spec/DD/20100524/DI", "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "camunda": "http://camunda.org/schema/1.0/bpmn", "dmndi": "https://www.omg.org/spec/DMN/20191111/DMNDI/",
      "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
SCENARIOS = ["open_restaurant", "newborn", "enterprise_change", "retirement", "utility_connection", "credit_repair",
             "school_enrolment", "medical_institution_change", "transport_business",
             "bankruptcy_check", "listing_compliance", "social_security_card_service", "disability_services", "after_death",
             "eia_discharge", "house_transfer", "individual_to_enterprise", "personal_startup"]
DRAWN = ("userTask", "scriptTask", "businessRuleTask", "serviceTask", "callActivity", "startEvent", "endEvent",
         "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
         "inclusiveGateway", "parallelGateway", "eventBasedGateway", "lane", "participant")


def test_every_file_deploys(engine):
    deployed = {d.key for d in engine.deploy([PROCESSES])}
    assert set(SCENARIOS) | {"enterprise_request"} <= deployed
    assert len([k for k in deployed if k.startswith("item_")]) == 95


def test_validate_with_the_lint_is_clean(capsys):
    assert main(["validate", str(PROCESSES)]) == 0

    assert validate_with_lint(Namespace(paths=[str(PROCESSES)])) == 0
    assert "全部有效" in capsys.readouterr().out


@pytest.mark.parametrize("path", sorted(PROCESSES.rglob("*.bpmn")), ids=lambda p: str(p.relative_to(PROCESSES)))
def test_every_diagram_is_fully_drawn(path):
    root = etree.parse(str(path)).getroot()
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert root.find(".//bpmndi:BPMNPlane", NS) is not None
    for tag in DRAWN:
        for el in root.iterfind(f".//bpmn:{tag}", NS):
            shape = shapes.get(el.get("id"))
            assert shape is not None and shape.find("dc:Bounds", NS) is not None, (tag, el.get("id"))
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2, flow.get("id")
    lanes = root.findall(".//bpmn:lane", NS)
    assert lanes, "every process shows who does what in lanes"
    refs = [r.text for lane in lanes for r in lane.findall("bpmn:flowNodeRef", NS)]
    nodes = [el.get("id") for tag in DRAWN[:-2] for el in root.iterfind(f".//bpmn:process/bpmn:{tag}", NS)]
    assert sorted(refs) == sorted(nodes)  # every node in exactly one lane


@pytest.mark.parametrize("path", sorted(PROCESSES.rglob("*.dmn")), ids=lambda p: str(p.relative_to(PROCESSES)))
def test_every_decision_is_drawn(path):
    root = etree.parse(str(path)).getroot()
    decisions = {d.get("id") for d in root.iterfind("dmn:decision", NS)}
    assert decisions == {s.get("dmnElementRef") for s in root.iterfind(".//dmndi:DMNShape", NS)}


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_scenario_has_every_part_of_a_yijianshi(key):
    root = etree.parse(str(PROCESSES / key / f"{key}.bpmn")).getroot()
    process = root.find(f"bpmn:process[@id='{key}']", NS)
    tasks = {t.get("id"): t for t in process.iterfind("bpmn:userTask", NS)}
    fields = lambda task: {f.get("id"): f for f in tasks[task].iterfind(".//camunda:formField", NS)}
    assert tasks["apply"].get(f"{{{NS['camunda']}}}candidateGroups") == "applicant"
    assert {"item_choice"} <= set(fields("apply"))  # package or any subset
    accept = fields("accept")
    assert {"materials_complete", "missing_materials", "accept_with_commitment", "deferred_materials",
            "supply_days"} <= set(accept)
    assert fields("supplement")["missing_materials"].find(".//camunda:constraint[@name='readonly']", NS) is not None
    assert {"supply_deferred", "supply_late", "deliver", "rate", "verify_rating", "rectify", "supervise_rectify",
            "return_visit"} <= set(tasks)
    rectify_days = fields("verify_rating")["rectify_days"]
    limits = {c.get("name"): c.get("config") for c in rectify_days.iterfind(".//camunda:constraint", NS)}
    assert (limits["min"], limits["max"]) == ("5", "15")
    (m,) = [m for m in scenario_metrics([PROCESSES / key]) if m.key == key]
    registry = load_registry(PROCESSES / "registry.json")
    for item in m.items:
        item_root = etree.parse(str(PROCESSES / key / "items" / f"{item.process_id.removeprefix('item_')}.bpmn"))
        boundaries = item_root.findall(".//bpmn:boundaryEvent", NS)
        timers = {b.get("cancelActivity", "true"): b.find(".//bpmn:timeDate", NS).text
                  for b in boundaries if b.find(".//bpmn:timeDate", NS) is not None}
        assert timers["false"].endswith(f", {item.limit_days - 1})")  # 预警, a working day before
        assert timers["true"].endswith(f", {item.limit_days})") and "add_working_days(" in timers["true"]
        supervise = [t for t in item_root.iterfind(".//bpmn:userTask", NS) if t.get("id").startswith("supervise_")]
        assert supervise[0].get(f"{{{NS['camunda']}}}candidateGroups") == "supervision"
        assert all(registry.kind(d) == "department" for d in item.departments)


def test_every_registered_department_and_role_has_a_display_name():
    from yijianshi.engine.access.accounts import DEPARTMENTS

    registry = load_registry(PROCESSES / "registry.json")
    unnamed = [c for c in registry.codes("department") + registry.codes("role") if c not in DEPARTMENTS]
    assert unnamed == []


def test_department_names_are_the_registry_names():
    """One source of names: what accounts, the audit filter and the pages show is the registry's name."""
    from yijianshi.engine.access.accounts import DEPARTMENTS, department_label

    registry = load_registry(PROCESSES / "registry.json")
    groups = registry.codes("department") + registry.codes("role")
    assert DEPARTMENTS == {code: registry.name(code) for code in groups}
    assert department_label("street") == registry.name("street") == "街镇园区为企服务人员"

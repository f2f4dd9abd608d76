"""Model metrics (engine/modeling/scenario_savings.py): form fields, materials, visits and limits computed from
the scenario models alone, the critical path through parallel and staged items, and the report."""
from __future__ import annotations

from pathlib import Path

from lxml import etree

from yijianshi.cli.scenarios import format_report
from yijianshi.cli.scenarios import main as report_main
from yijianshi.engine.modeling.scenario_savings import critical_path, scenario_metrics
from yijianshi.engine.modeling.time_limits import item_limit

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
B = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _by_key():
    return {m.key: m for m in scenario_metrics([PROCESSES])}


def test_every_scenario_is_measured_and_the_pathway_is_not_a_scenario():
    metrics = _by_key()
    assert set(metrics) == {"open_restaurant", "newborn", "enterprise_change", "retirement", "utility_connection",
                            "credit_repair", "school_enrolment", "medical_institution_change",
                            "transport_business", "bankruptcy_check", "listing_compliance",
                            "social_security_card_service", "disability_services", "after_death",
                            "eia_discharge", "house_transfer", "individual_to_enterprise", "personal_startup"}
    for m in metrics.values():
        assert m.fields_merged < m.fields_separate and m.materials_merged < m.materials_separate
        assert m.visits_after < m.visits_before and m.critical_path < m.limits_sum
        assert all(i.limit_days for i in m.items) and all(i.materials and i.form_fields for i in m.items)


def test_newborn_figures_from_the_model():
    m = _by_key()["newborn"]
    assert len(m.items) == 8
    assert {i.process_id: i.limit_days for i in m.items} == {
        "item_birth_certificate": 1, "item_vaccination_certificate": 1, "item_birth_registration": 2,
        "item_medical_insurance_enrolment": 1, "item_social_security_card": 2, "item_medical_insurance_payment": 1,
        "item_maternity_benefit": 5, "item_parenting_guidance": 1}
    # 出生医学证明 1 → 出生登记 2 → 社保卡 2 (or 参保 1 → 缴费 1): 5 working days, as Qinghai publishes.
    assert (m.limits_sum, m.critical_path) == (14, 5)
    assert (m.materials_separate, m.materials_merged) == (21, 2)
    assert (m.visits_before, m.visits_after) == (5, 1)
    assert m.fields_merged == 16  # the merged form without the item selection fields


def test_parallel_and_staged_items():
    metrics = _by_key()
    restaurant = metrics["open_restaurant"]
    assert {i.name: i.limit_days for i in restaurant.items} == {"营业执照登记": 1, "食品经营许可": 10,
                                                                "户外招牌设置": 5, "消防安全检查": 10,
                                                                "食品从业人员健康证明": 5, "烟草专卖零售许可": 10}
    # the food permit, the fire check and the tobacco licence wait for the business licence: 1 + 10
    assert (restaurant.limits_sum, restaurant.critical_path) == (41, 11)
    change = metrics["enterprise_change"]
    assert (change.limits_sum, change.critical_path) == (6, 2)  # registration first, then five in parallel
    retirement = metrics["retirement"]
    assert (retirement.limits_sum, retirement.critical_path) == (19, 15)  # 退休审批 10 → 医保待遇变更 5
    assert {d for i in restaurant.items for d in i.departments} == {"market", "urban_mgmt", "fire", "health", "tobacco"}
    medical = metrics["medical_institution_change"]
    assert medical.critical_path == 5  # 放射诊疗“三证合一”: 15 → 5, the certificates reviewed together


def test_every_item_limit_names_its_source():
    for m in _by_key().values():
        for item in m.items:
            assert item.limit_source, (m.key, item.name)
    medical = {i.name: i.limit_source for i in _by_key()["medical_institution_change"].items}
    assert medical["放射诊疗许可证变更"].startswith("《天津市东丽区人民政府政务服务办公室2025年法治政府建设年度报告》")
    restaurant = {i.name: i.limit_source for i in _by_key()["open_restaurant"].items}
    assert restaurant["食品经营许可"] == "local default"
    assert restaurant["食品从业人员健康证明"].startswith("local default：")  # local items: no published limit
    assert restaurant["烟草专卖零售许可"].startswith("local default：")


def _process(xml: str):
    root = etree.fromstring(f'<definitions xmlns="{B}"><process id="p">{xml}</process></definitions>'.encode())
    return root.find(f"{{{B}}}process")


def test_critical_path_ignores_loops_and_boundary_paths():
    process = _process(
        '<startEvent id="s"/><callActivity id="a"/><parallelGateway id="fork"/><callActivity id="b"/>'
        '<callActivity id="c"/><parallelGateway id="join"/><callActivity id="d"/><endEvent id="e"/>'
        '<boundaryEvent id="t" attachedToRef="b"/><callActivity id="slow"/>'
        '<sequenceFlow id="1" sourceRef="s" targetRef="a"/><sequenceFlow id="2" sourceRef="a" targetRef="fork"/>'
        '<sequenceFlow id="3" sourceRef="fork" targetRef="b"/><sequenceFlow id="4" sourceRef="fork" targetRef="c"/>'
        '<sequenceFlow id="5" sourceRef="b" targetRef="join"/><sequenceFlow id="6" sourceRef="c" targetRef="join"/>'
        '<sequenceFlow id="7" sourceRef="join" targetRef="d"/><sequenceFlow id="8" sourceRef="d" targetRef="e"/>'
        '<sequenceFlow id="9" sourceRef="d" targetRef="a"/>'  # a loop back (e.g. 补正)
        '<sequenceFlow id="10" sourceRef="t" targetRef="slow"/><sequenceFlow id="11" sourceRef="slow" targetRef="join"/>')
    weights = {"a": 2, "b": 5, "c": 3, "d": 1, "slow": 100}
    assert critical_path(process, weights) == 2 + 5 + 1


def test_item_limit_is_read_from_the_overdue_timer():
    process = (PROCESSES / "open_restaurant" / "items" / "food_permit.bpmn").read_bytes()
    root = etree.fromstring(process)
    assert item_limit(root.find(f".//{{{B}}}process")) == 10


def test_report_table(capsys):
    assert report_main([str(PROCESSES)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["场景", "事项"] and "表单字段" in lines[0] and "关键路径" in lines[0]
    newborn = next(line for line in lines if line.startswith("新生儿出生一件事"))
    assert "57 → 16" in newborn and "21 → 2" in newborn and "5 → 1" in newborn and "14 → 5（-64.3%）" in newborn
    table = lines[:lines.index("")]
    assert table[table.index(next(x for x in table if x.startswith("说明："))) - 1].startswith("合计")
    # the materials data sharing replaces, from the models' service tasks
    assert "  新生儿出生一件事：结婚证" in table and "  企业信息变更一件事：营业执照（变更后）" in table
    # then every limit with its source (时限依据)
    assert "  事项 放射诊疗许可证变更：5 个工作日　依据：《天津市东丽区人民政府政务服务办公室2025年法治政府建设年度报告》" in out
    assert "  环节 综合窗口受理：5 个工作日　依据：《中华人民共和国行政许可法》第三十二条" in out
    assert "  开办餐饮店一件事：营业执照" in table and "  退休一件事：（省外户籍）户口簿" in table
    assert format_report(scenario_metrics([PROCESSES / "open_restaurant"])).count("\n") == 7  # table + shared


def test_report_without_scenarios_fails(tmp_path, capsys):
    (tmp_path / "x.bpmn").write_bytes((PROCESSES / "open_restaurant" / "items" / "signboard.bpmn").read_bytes())
    assert report_main([str(tmp_path)]) == 1
    assert "没有找到一件事场景" in capsys.readouterr().err

"""The processes shipped in processes/ deploy cleanly (BPMN + DMN, call activities across files) and
run end to end through the engine services."""
from __future__ import annotations

from pathlib import Path

from yijianshi.cli.main import main
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.connectors.registry import DemoRegistry
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.settings import DEFAULT_CONNECTOR_TOPICS
from yijianshi.storage import case_store

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
APPLICANT = Actor("applicant1", frozenset({"applicant"}), name="申请人")
DESK = Actor("desk1", frozenset({"front_desk"}), name="综合窗口")
MARKET = Actor("market1", frozenset({"market"}))
URBAN = Actor("urban1", frozenset({"urban_mgmt"}))
FIRE = Actor("fire1", frozenset({"fire"}))
APPLICATION = {
    "enterprise_name": "津沽小馆餐饮有限公司", "legal_rep_name": "刘洋", "legal_rep_id_no": "120101199001011239",
    "contact_phone": "13800000000", "business_address": "天津市宁河区芦台街道光明路 8 号", "floor_area": "120",
    "seating": "40", "serves_alcohol": "true", "item_choice": "package",
}


def test_validate_cli_is_clean(capsys):
    assert main(["validate", str(PROCESSES)]) == 0
    assert "open_restaurant" in capsys.readouterr().out


def _complete(engine, item, data, actor):
    return engine.cases.complete_work_item(item.id, data, actor)


def test_open_restaurant_package_runs_to_the_end(engine):
    deployed = {d.key for d in engine.deploy([PROCESSES])}
    assert {"open_restaurant", "item_business_licence", "item_food_permit", "item_signboard",
            "item_fire_check"} <= deployed
    case = engine.cases.start_case("open_restaurant", {}, APPLICANT)
    (apply,) = case.ready
    (accept,) = _complete(engine, apply, APPLICATION, APPLICANT).ready
    # 一次告知: materials incomplete → back to the applicant, who resubmits
    (supplement,) = _complete(engine, accept, {"materials_complete": "false",
                                               "missing_materials": "房屋租赁合同；卫生间布局图"}, DESK).ready
    (accept,) = _complete(engine, supplement, APPLICATION, APPLICANT).ready
    reviews = _complete(engine, accept, {"materials_complete": "true", "missing_materials": ""}, DESK).ready
    # the food permit and the fire check need the business licence result: they start after it
    # (the local 健康证明 runs in parallel; no tobacco is sold, so no 烟草专卖零售许可)
    assert sorted(r.task_spec for r in reviews) == ["review_business_licence", "review_health_certificate",
                                                     "review_signboard"]
    licence = next(r for r in reviews if r.task_spec == "review_business_licence")
    waiting = _complete(engine, licence, {"business_licence_approved": "true",
                                          "business_licence_no": "91120221MA05TEQ0A0"}, MARKET).ready
    assert not waiting  # the food permit and the fire check first take the licence from the e-licence register
    asked = [t for t in engine.external_tasks.listing(case_id=case.id)]
    assert {t.topic for t in asked} == {"registry.licence"} and len(asked) == 2
    assert ConnectorRunner(engine.external_tasks, DemoRegistry(), dict(DEFAULT_CONNECTOR_TOPICS)).run_once().completed == 2
    with engine.db.reader.connect() as conn:
        after_licence = [r for r in case_store.query_work_items(conn, case_id=case.id)
                         if r.task_spec in ("review_fire_check", "review_food_permit")]
    assert sorted(r.task_spec for r in after_licence) == ["review_fire_check", "review_food_permit"]
    by_spec = {r.task_spec: r for r in [*reviews, *after_licence] if r.task_spec != "review_business_licence"}
    actors = {"review_food_permit": (MARKET, "food_permit"),
              "review_signboard": (URBAN, "signboard"), "review_fire_check": (FIRE, "fire_check"),
              "review_health_certificate": (Actor("bumen", frozenset({"health"})), "health_certificate")}
    opened = []
    for spec, (actor, prefix) in actors.items():
        opened += _complete(engine, by_spec[spec], {f"{prefix}_approved": "true"}, actor).ready
    (deliver,) = opened
    (rate,) = _complete(engine, deliver, {"delivery_method": next(iter(_enum_ids(engine, deliver)))}, DESK).ready
    done = _complete(engine, rate, {"rating": "very_satisfied"}, APPLICANT)
    assert done.status == "completed"
    data = engine.cases.workflow_of(case.id).data
    assert data["missing_materials"] == "" and data["food_permit_approved"] is True


def _enum_ids(engine, item):
    with engine.db.reader.connect() as conn:
        from yijianshi.storage import case_store

        row = case_store.work_item(conn, item.id)
        definition = engine.definitions.by_id(conn, row.definition_id)
    form = definition.meta_for(row.process_id, row.task_spec).form
    return [value for value, _ in form.field("delivery_method").options]

"""Data and steps the web tests share: the open-restaurant application, pushing a case along."""
from __future__ import annotations

import re

from yijianshi.engine.access.actors import Actor

APPLICATION = {
    "enterprise_name": "蓉城川味小馆", "credit_code": "", "legal_rep_name": "张三",
    "legal_rep_id_no": "110101199001011237", "contact_phone": "13812345678",
    "business_address": "成都市武侯区科华北路 1 号", "floor_area": "80", "seating": "40",
    "item_choice": "custom", "want_food_permit": "y", "want_signboard": "y",
}
FRONT_DESK = Actor("chuangkou", frozenset({"front_desk"}))
MARKET = Actor("shichang", frozenset({"market"}))
URBAN = Actor("chengguan", frozenset({"urban_mgmt"}))
FIRE = Actor("xiaofang", frozenset({"fire"}))
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def apply(client, **changes) -> int:
    """Submit the application as the signed-in applicant; returns the new case id."""
    client.get("/apply/scenarios/open_restaurant")
    response = client.post("/apply/scenarios/open_restaurant", {**APPLICATION, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/apply/cases/(\d+)", response.location).group(1))


def ready(engine, case_id: int, task_spec: str | None = None) -> list:
    from yijianshi.storage import case_store

    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, case_id=case_id)
    return [r for r in rows if task_spec is None or r.task_spec == task_spec]


def item_id(engine, case_id: int, task_spec: str) -> str:
    rows = ready(engine, case_id, task_spec)
    assert rows, f"no ready {task_spec} on case {case_id}"
    return rows[0].id


def accept(engine, case_id: int) -> None:
    engine.cases.complete_work_item(item_id(engine, case_id, "accept"), {"materials_complete": "true"}, FRONT_DESK)


def start(engine, applicant: str = "zhangsan", **changes) -> int:
    """Start an open-restaurant case and submit its application through the engine (fast setup)."""
    data = {**APPLICATION, **changes}
    data = {k: ("true" if v == "y" else v) for k, v in data.items()}
    actor = Actor(applicant, frozenset({"applicant"}))
    case = engine.cases.start_case("open_restaurant", {}, actor, title=f"开办餐饮店一件事：{data['enterprise_name']}")
    engine.cases.complete_work_item(case.ready[0].id, data, actor)
    return case.id

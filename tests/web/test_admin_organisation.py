"""系统管理 → 组织架构 (issue #14.1) through the Flask test client: the seeded tree (registry
departments and the demo district), adding and changing units, memberships, deputies and absences
with Chinese refusals; and the demo accounts' inboxes following the units (issue #14.6)."""
from __future__ import annotations

import re

from tests.conftest import FIXTURES
from yijianshi.engine.access.actors import Actor
from yijianshi.web.services import services


def _tree_row(page: str, code: str) -> str:
    found = re.search(rf'<tr data-unit="{code}">(.*?)</tr>', page, re.S)
    assert found, code
    return found.group(1)


def test_the_seeded_organisation_is_listed_for_administrators_only(client_for):
    assert client_for("shichang").get("/admin/organisation").status_code == 403
    page = client_for("admin").page("/admin/organisation")
    assert "示范区" in page and "东城街道第一片区" in page and "食品经营监管科" in page
    assert "市场监管局" in _tree_row(page, "market") and "shichang（负责人）" in _tree_row(page, "market")
    assert 'data-member="wangge"' in _tree_row(page, "dongcheng_1")


def test_admin_adds_and_changes_units_memberships_deputies_and_absences(client_for, app):
    c = client_for("admin")
    c.page("/admin/organisation")
    assert c.post("/admin/organisation/units", {"code": "nanhu_2", "name": "南湖镇第二片区", "kind": "grid",
                                                "parent": "nanhu", "position": "2"}).status_code == 302
    refused = c.post("/admin/organisation/units", {"code": "lonely", "name": "孤立片区", "kind": "grid", "parent": ""})
    assert refused.status_code == 422 and "片区“lonely”的上级只能是：街镇" in refused.get_data(as_text=True)
    assert c.post("/admin/organisation/units/nanhu_2", {"name": "南湖镇二片区", "parent": "nanhu",
                                                       "position": "3"}).status_code == 302
    cycle = c.post("/admin/organisation/units/market", {"name": "市场监管局", "parent": "market_food"})
    assert cycle.status_code == 422
    assert c.post("/admin/organisation/memberships", {"username": "xicheng", "unit": "nanhu_2",
                                                      "role": "member"}).status_code == 302
    twice = c.post("/admin/organisation/memberships", {"username": "xicheng", "unit": "nanhu_2", "role": "member"})
    assert twice.status_code == 422 and "已是单位“nanhu_2”的成员" in twice.get_data(as_text=True)
    assert c.post("/admin/organisation/deputies", {"deputy": "xicheng", "principal": "dongcheng",
                                                   "starts_on": "2025-09-26", "ends_on": "2025-09-30"}).status_code == 302
    backwards = c.post("/admin/organisation/absences", {"username": "dongcheng", "starts_on": "2025-09-30",
                                                        "ends_on": "2025-09-26"})
    assert backwards.status_code == 422 and "早于开始日期" in backwards.get_data(as_text=True)
    bad_date = c.post("/admin/organisation/absences", {"username": "dongcheng", "starts_on": "明天",
                                                       "ends_on": "2025-09-26"})
    assert bad_date.status_code == 422 and "YYYY-MM-DD" in bad_date.get_data(as_text=True)
    assert c.post("/admin/organisation/absences", {"username": "dongcheng", "starts_on": "2025-09-26",
                                                   "ends_on": "2025-09-30", "reason": "年休假"}).status_code == 302
    page = c.page("/admin/organisation")
    assert "南湖镇二片区" in _tree_row(page, "nanhu_2") and 'data-member="xicheng"' in _tree_row(page, "nanhu_2")
    assert "生效中" in page and "年休假" in page
    with app.app_context():
        org = services().organisation
        assert {"unit:nanhu_2", "unit:dongcheng", "user:dongcheng"} <= org.groups_of("xicheng")
        data = org.load()
    membership = re.search(r'action="(/admin/organisation/memberships/\d+/remove)"',
                           _tree_row(page, "nanhu_2")).group(1)
    assert c.post(membership).status_code == 302
    for what, rows in (("deputies", data.deputies), ("absences", data.absences)):
        assert c.post(f"/admin/organisation/{what}/{rows[0].id}/remove").status_code == 302
    with app.app_context():
        data = services().organisation.load()
    assert data.deputies == [] and data.absences == []
    assert 'data-member="xicheng"' not in _tree_row(c.page("/admin/organisation"), "nanhu_2")


def test_demo_street_staff_inboxes_follow_their_units(client_for, app):
    engine = app.extensions["yijianshi"]
    engine.deploy([FIXTURES / "camunda" / "unit_routing.bpmn"])
    starter = Actor("starter", frozenset({"street"}))
    engine.cases.start_case("unit_routing", {"handling_unit": "unit:dongcheng_1"}, starter, business_key="GRID-1")
    engine.cases.start_case("unit_routing", {"handling_unit": "unit:xicheng"}, starter, business_key="WEST-1")
    grid, leader, west = client_for("wangge"), client_for("dongcheng"), client_for("xicheng")
    assert "GRID-1" in grid.page("/inbox/") and "WEST-1" not in grid.page("/inbox/")
    assert "GRID-1" in leader.page("/inbox/")  # 东城街道's leader sees its 片区
    assert "WEST-1" in west.page("/inbox/") and "GRID-1" not in west.page("/inbox/")

"""代办申请 / 登记诉求: the front desk applies for a named applicant at the window (with or without an
account), staff register an enterprise's request received in person into the 有需必应 intake. Both
go through the engine's start with the start form; who may start what is one rule."""
from __future__ import annotations

import json
import re

import pytest

from tests.web.api_support import INTAKE
from tests.web.conftest import ROOT
from tests.web.helpers import APPLICATION, ready
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.access.staff_start import may_start_for_others
from yijianshi.engine.cases import history as h
from yijianshi.storage import case_store
from yijianshi.web.services import services

COUNTER = "代办申请 / 登记诉求"


@pytest.fixture
def app_with_requests(app, web_engine):
    web_engine.deploy([ROOT / "processes" / "enterprise_request"])
    with app.app_context():
        services().accounts.create("jiedao", "demo-jiedao", "刘洋（芦台街道为企服务）", "dept_clerk", ["street"])
    return app


def _started(engine, case_id: int):
    with engine.db.reader.connect() as conn:
        row = case_store.case_row(conn, case_id)
        (event,) = case_store.case_events(conn, case_id, [h.CASE_STARTED])
    return row, event, json.loads(event.data) if isinstance(event.data, str) else event.data


def _case_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(re.search(r"/cases/(\d+)", response.location).group(1))


def test_one_rule_says_who_may_start_for_others():
    front, street, market = (Actor("a", frozenset({"front_desk"})), Actor("b", frozenset({"street"})),
                             Actor("c", frozenset({"market"})))
    applicant_first, intake = {"applicant"}, {"street", "grid_center", "hub"}
    assert may_start_for_others(front, applicant_first) and not may_start_for_others(front, intake)
    assert may_start_for_others(street, intake) and not may_start_for_others(street, applicant_first)
    assert not may_start_for_others(market, intake) and not may_start_for_others(market, applicant_first)
    assert not may_start_for_others(Actor("d", frozenset({"applicant"})), applicant_first)


def test_the_front_desk_applies_for_an_applicant_with_an_account(client_for, web_engine, app_with_requests):
    desk = client_for("chuangkou")
    listing = desk.page("/counter/")
    assert COUNTER in listing and 'data-key="open_restaurant"' in listing and "enterprise_request" not in listing
    desk.page("/counter/open_restaurant")
    case_id = _case_id(desk.post("/counter/open_restaurant", {
        **APPLICATION, "applicant_name": "张三", "applicant_account": "zhangsan"}))
    row, event, data = _started(web_engine, case_id)
    assert row.started_by == "zhangsan" and row.title == "开办餐饮店一件事：蓉城川味小馆"
    assert event.actor == "chuangkou" and data["started_by"] == "zhangsan" and data["on_behalf_of"] == "张三"
    assert [r.task_spec for r in ready(web_engine, case_id)] == ["accept"]  # the application is in
    assert f'data-case="{case_id}"' in client_for("zhangsan").page("/apply/cases") or \
        f"/apply/cases/{case_id}" in client_for("zhangsan").page("/apply/cases")
    assert "蓉城川味小馆" in desk.page(f"/inbox/cases/{case_id}")


def test_the_front_desk_applies_for_someone_without_an_account(client_for, web_engine, app_with_requests):
    desk = client_for("chuangkou")
    desk.page("/counter/open_restaurant")
    case_id = _case_id(desk.post("/counter/open_restaurant", {**APPLICATION, "applicant_name": "王五"}))
    row, event, data = _started(web_engine, case_id)
    assert row.started_by == "chuangkou" and event.actor == "chuangkou"
    assert data["on_behalf_of"] == "王五" and "started_by" not in data


def test_the_start_form_and_the_applicant_are_checked(client_for, web_engine, app_with_requests):
    desk = client_for("chuangkou")
    desk.page("/counter/open_restaurant")
    with web_engine.db.reader.connect() as conn:
        before = len(case_store.all_case_ids(conn))
    missing = desk.post("/counter/open_restaurant", {**APPLICATION, "applicant_name": "", "applicant_account": "nobody"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "请填写申请人姓名或单位名称" in text and "不是有效的申请人账号" in text
    not_applicant = desk.post("/counter/open_restaurant", {**APPLICATION, "applicant_name": "某人",
                                                           "applicant_account": "shichang"})
    assert not_applicant.status_code == 422
    bad_form = desk.post("/counter/open_restaurant", {**APPLICATION, "enterprise_name": "", "applicant_name": "某人"})
    assert bad_form.status_code == 422 and "has-error" in bad_form.get_data(as_text=True)
    with web_engine.db.reader.connect() as conn:
        assert len(case_store.all_case_ids(conn)) == before


def test_street_staff_register_a_request_received_in_person(client_for, web_engine, app_with_requests):
    street = client_for("jiedao")
    listing = street.page("/counter/")
    assert COUNTER in listing and 'data-key="enterprise_request"' in listing and "open_restaurant" not in listing
    street.page("/counter/enterprise_request")
    visit = {**INTAKE, "channel": "service_staff", "work_order_no": ""}
    case_id = _case_id(street.post("/counter/enterprise_request", visit))
    row, event, data = _started(web_engine, case_id)
    assert row.started_by == "jiedao" and event.actor == "jiedao" and "on_behalf_of" not in data
    assert row.title.endswith("：宁河区某食品有限公司")
    assert [r.task_spec for r in ready(web_engine, case_id)] == ["level1"]  # intake filled at the start


@pytest.mark.parametrize("user", ["zhangsan", "shichang", "ducha"])
def test_others_may_not_start_for_anyone(client_for, app_with_requests, user):
    c = client_for(user)
    for key in ("open_restaurant", "enterprise_request"):
        assert c.get(f"/counter/{key}").status_code in (403, 404)
        assert c.post(f"/counter/{key}", {**APPLICATION, "applicant_name": "某人"}).status_code in (400, 403, 404)
    if user != "zhangsan":
        assert COUNTER not in c.page("/overview")
        assert "<tr data-key" not in c.page("/counter/")

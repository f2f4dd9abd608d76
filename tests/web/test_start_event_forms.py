"""A process with a start-event form (Camunda Modeler, Camunda 7) is applied for with that form: in
the applicant catalogue, on the scenario page, at the counter and through the integration API; bad
data is refused per field and starts nothing."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import FIXTURES
from tests.web.api_support import pointers, problem
from tests.web.helpers import ready
from yijianshi.storage import case_store

MODEL = FIXTURES / "camunda" / "modeler_start_form.bpmn"
KEY = "modeler_start_form"
GOOD = {"organizer_name": "东城文化馆", "attendees": "120", "outdoor": "true", "category": "culture",
        "event_date": "2026-05-01"}


@pytest.fixture
def with_model(app, web_engine):
    web_engine.deploy([MODEL])
    return app


def _cases(engine) -> int:
    with engine.db.reader.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM cases").scalar()


def _data(engine, case_id: int) -> dict:
    with engine.db.reader.connect() as conn:
        (event,) = case_store.case_events(conn, case_id, ["case_started"])
    return json.loads(event.data)["data"]


def test_the_catalogue_and_the_scenario_page_show_the_start_event_form(with_model, client_for):
    c = client_for("zhangsan")
    assert f"/apply/scenarios/{KEY}" in c.page("/apply/")
    page = c.page(f"/apply/scenarios/{KEY}")
    for label in ("主办单位名称", "预计人数", "是否户外", "活动类别", "文化活动", "活动日期"):
        assert label in page
    assert 'name="approved"' not in page  # the review step's form is not the application
    assert 'type="file"' not in page


def test_applying_on_the_web_validates_and_starts_with_the_data(with_model, client_for, web_engine):
    c = client_for("zhangsan")
    c.get(f"/apply/scenarios/{KEY}")
    bad = c.post(f"/apply/scenarios/{KEY}", {**GOOD, "attendees": "5", "category": ""})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "不能小于 10" in text and "此项为必填项" in text and 'value="东城文化馆"' in text
    assert _cases(web_engine) == 0
    response = c.post(f"/apply/scenarios/{KEY}", GOOD)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    case_id = int(re.search(r"/apply/cases/(\d+)", response.location).group(1))
    assert _data(web_engine, case_id) == {"organizer_name": "东城文化馆", "attendees": 120, "outdoor": True,
                                          "category": "culture", "event_date": "2026-05-01"}
    assert [i.task_spec for i in ready(web_engine, case_id)] == ["Activity_review"]
    page = c.page(f"/apply/cases/{case_id}")
    assert "活动备案（开始表单）：东城文化馆" in page and "预计人数" in page


def test_the_front_desk_starts_it_for_a_named_applicant(with_model, client_for, web_engine):
    c = client_for("chuangkou")
    assert f"/counter/{KEY}" in c.page("/counter/")
    c.get(f"/counter/{KEY}")
    bad = c.post(f"/counter/{KEY}", {**GOOD, "event_date": "2025-01-01", "applicant_name": "李四"})
    assert bad.status_code == 422 and "不能早于 2026-01-01" in bad.get_data(as_text=True)
    assert _cases(web_engine) == 0
    response = c.post(f"/counter/{KEY}", {**GOOD, "applicant_name": "李四"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    case_id = int(re.search(r"/cases/(\d+)", response.location).group(1))
    assert _data(web_engine, case_id)["attendees"] == 120


def test_the_api_start_validates_the_data_against_the_start_event_form(api_app, api_for, web_engine):
    web_engine.deploy([MODEL])
    api = api_for(processes=[KEY])
    before = _cases(web_engine)
    body = problem(api.start({"process": KEY, "data": {**GOOD, "attendees": 3, "salary": 1}}), 422,
                   "validation-failed")
    found = pointers(body)
    assert set(found) == {"/data/attendees", "/data"} and "不能小于 10" in found["/data/attendees"]
    assert _cases(web_engine) == before
    response = api.start({"process": KEY, "data": {**GOOD, "attendees": 120, "outdoor": True}}, key="key-2")
    assert response.status_code == 201, response.get_json()
    case_id = response.get_json()["case_id"]
    assert _data(web_engine, case_id)["outdoor"] is True

"""Every scenario shipped in processes/ is offered to applicants with its one merged form, and each
step form renders: the web app is generic over the BPMN it is given."""
from __future__ import annotations

from tests.web.conftest import ROOT, Client, build_app
from yijianshi.web.services import scenario_catalogue


def test_every_shipped_scenario_renders_its_application_form(web_engine, tmp_path):
    app = build_app(web_engine, tmp_path, processes=ROOT / "processes")
    with app.app_context():
        scenarios = scenario_catalogue().scenarios()
    assert scenarios, "processes/ ships no scenario an applicant can start"
    c = Client(app)
    c.login("zhangsan")
    catalogue = c.page("/apply/")
    for view in scenarios:
        assert f"/apply/scenarios/{view.key}" in catalogue
        page = c.page(f"/apply/scenarios/{view.key}")
        assert view.name in page
        for field in view.entry.form.fields if view.entry.form else ():
            if not field.readonly:
                assert f'name="{field.id}"' in page, (view.key, field.id)
        for item in view.items:
            assert item.name in page

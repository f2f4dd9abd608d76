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


def test_the_rating_page_shows_fields_only_for_the_items_that_ran(web_engine, tmp_path, monkeypatch):
    """退休一件事 with only 公积金账户封存 chosen: the 好差评 page asks the overall rating and that item's,
    not the three items that did not run (shown_if); a rating posted for one of them is not taken."""
    from yijianshi.engine.access.actors import Actor
    import tests.test_scenarios_driver as driver

    app = build_app(web_engine, tmp_path, processes=ROOT / "processes")
    monkeypatch.setattr(driver, "APPLICANT", Actor("zhangsan", frozenset({"applicant"})))
    sc = driver.Scenario(web_engine, "retirement")
    cid = sc.start()
    sc.apply(cid, item_choice="custom", want_housing_fund_seal="true")
    sc.accept(cid)
    sc.decide(cid, "housing_fund_seal")
    sc.complete(cid, "deliver", {"delivery_method": "window", "delivery_note": ""})
    rate_id = sc.item(cid, "rate").id
    c = Client(app)
    c.login("zhangsan")
    page = c.page(f"/apply/tasks/{rate_id}")
    assert 'name="rating"' in page and 'name="rating_housing_fund_seal"' in page
    for item in ("pension_retirement", "housing_fund_withdrawal", "medical_insurance_retiree"):
        assert f'name="rating_{item}"' not in page
    done = c.post(f"/apply/tasks/{rate_id}", {"rating": "satisfied", "rating_housing_fund_seal": "very_satisfied",
                                              "rating_pension_retirement": "very_unsatisfied"})  # not on the page
    assert done.status_code == 302 and sc.status(cid) == "completed"
    assert sc.final_data(cid)["item_ratings"] == {"housing_fund_seal": "very_satisfied"}

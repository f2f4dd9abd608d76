"""In a real browser (#14.3): the leader of 市场监管局 transfers (转办) a 有需必应 request at 部门协同办
to 城市管理局 with a reason from the work item page; the clerk of 城市管理局 finds it in his inbox
with the transfer and its reason in the history."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import check_every_case, make_engine
from tests.web import test_browser as journey
from tests.web.conftest import build_app
from tests.web.test_browser import serving
from tests.web.test_handoffs_web import at_level2

pytestmark = pytest.mark.browser
browser, shot = journey.browser, journey.shot


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-handoffs")
    engine = make_engine(f"sqlite:///{folder}/yijianshi.sqlite3")
    app = build_app(engine, folder)
    at_level2(engine)
    with serving(app) as base:
        yield base, engine
    check_every_case(engine)
    engine.db.dispose()


@pytest.fixture
def person(browser, live):
    with journey.people(browser, live[0], viewport={"width": 1280, "height": 900}) as sign_in:
        yield sign_in


def test_a_transfer_to_another_unit_from_the_work_item_page(person, live):
    base, _ = live
    market = person("shichang")
    journey.open_item(market, base, "部门协同办")
    form = market.locator("#transfer-form")
    form.locator("select[name=unit]").select_option("urban_mgmt")
    form.locator("textarea[name=reason]").fill("属城市管理职责，转城市管理局")
    shot(market, "handoff-transfer-form")
    form.get_by_role("button", name="转办").click()
    expect(market.locator(".flash-success")).to_contain_text("已转办")
    expect(market.get_by_role("link", name="部门协同办")).to_have_count(0)

    urban = person("chengguan")
    journey.open_item(urban, base, "部门协同办")
    expect(urban.locator("body")).to_contain_text("转办至城市管理局，理由：属城市管理职责，转城市管理局")
    expect(urban.locator("#transfer-form")).to_be_visible()  # now his to act on (and hand on)
    shot(urban, "handoff-transferred")

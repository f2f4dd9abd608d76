"""A clerk in a real browser (Playwright driving Debian's Chromium) sees an application's new work
under the bell in the page header, opens the list and marks it read. Screenshots go to
test-artifacts/screenshots/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web import test_browser as journey
from tests.web.helpers import start
from yijianshi.engine.notifications import setup
from yijianshi.engine.settings import Settings

browser, person, shot = journey.browser, journey.person, journey.shot


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with journey.live_app(tmp_path_factory, "browser-notifications") as served:
        yield served


def test_a_clerk_sees_new_work_in_the_bell(person, live, browser, tmp_path):
    base, engine = live
    page = person("chuangkou")
    expect(page.locator("#bell")).to_be_visible()
    expect(page.locator("#bell-count")).to_have_count(0)
    case_id = start(engine)
    setup.dispatcher(engine, Settings.at(tmp_path)).run_once()  # the scheduler's job, once
    page.reload()
    expect(page.locator("#bell-count")).to_have_text("1")
    shot(page, "notifications-1-bell")
    page.click("#bell")
    row = page.locator('#notification-list tr[data-kind="new_work"]')
    expect(row).to_contain_text("新待办")
    expect(row).to_contain_text(f"办件 {case_id}")
    shot(page, "notifications-2-list")
    row.get_by_role("button", name="标为已读").click()
    expect(page.locator("#bell-count")).to_have_count(0)
    expect(page.locator('#notification-list tr[data-kind="new_work"]')).to_contain_text("已读")
    # The notification leads to the case.
    page.locator('#notification-list tr[data-kind="new_work"] a.case-link').click()
    expect(page).to_have_url(f"{base}/inbox/cases/{case_id}")
    expect(page.locator("h1")).to_contain_text("开办餐饮店一件事")

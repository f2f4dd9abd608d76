"""An administrator in a real browser (Playwright driving Debian's Chromium): creates an account with
departments from the registry, sees the new clerk sign in, then cancels a case with a reason that
lands in its history. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web import test_browser as journey
from tests.web.helpers import start
from yijianshi.engine.cases import history as h
from yijianshi.storage import case_store

browser, person, shot = journey.browser, journey.person, journey.shot


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with journey.live_app(tmp_path_factory, "browser-admin") as served:
        yield served


def test_an_administrator_creates_an_account_and_cancels_a_case(person, live, browser):
    base, engine = live
    case_id = start(engine)
    page = person("admin")
    page.click("nav.mainnav >> text=系统管理")
    expect(page.locator("h1")).to_have_text("系统管理")
    form = page.locator("#new-account")
    form.locator("#username").fill("liwei")
    form.locator("#display_name").fill("李伟（芦台街道）")
    form.locator("#password").fill("first-pass-1")
    form.locator("#role").select_option("dept_clerk")
    form.get_by_label("街镇园区为企服务人员").check()
    form.get_by_label("市场监管局").check()
    shot(page, "admin-1-new-account")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("liwei")
    row = page.locator('tr[data-account="liwei"]')
    expect(row).to_contain_text("街镇园区为企服务人员")
    expect(row).to_contain_text("市场监管局")
    shot(page, "admin-2-account-listed")

    page.click("nav.tabs >> text=办件处置")
    page.fill("#case_id", str(case_id))
    page.click("#find-case button")
    page.fill("#reason", "申请人重复申报，已电话确认撤销")
    shot(page, "admin-3-cancel-with-reason")
    page.click("#cancel-case button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text(str(case_id))
    shot(page, "admin-4-cancelled")
    with engine.db.reader.connect() as conn:
        assert case_store.case_row(conn, case_id).status == "cancelled"
        (event,) = case_store.case_events(conn, case_id, [h.CASE_CANCELLED])
    assert event.actor == "admin" and "申请人重复申报" in str(event.data)

    # the new clerk signs in with the password the administrator gave
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        clerk = context.new_page()
        clerk.goto(f"{base}/login")
        clerk.fill("#username", "liwei")
        clerk.fill("#password", "first-pass-1")
        clerk.click("button[type=submit]")
        expect(clerk.locator(".who")).to_be_visible()
    finally:
        context.close()

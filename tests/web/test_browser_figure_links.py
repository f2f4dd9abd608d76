"""Numbers that open their cases, in a real browser (Playwright driving Debian's Chromium): a click on
the dashboard's overdue count of a department and on a weekly bulletin's late count lists exactly the
cases behind them."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_engine
from tests.test_supervision import limited_week
from tests.web import test_browser as journey
from tests.web.conftest import build_app
from tests.web.test_browser import serving
from yijianshi.engine.supervision import weekly_bulletin

pytestmark = pytest.mark.browser
browser, person, shot = journey.browser, journey.person, journey.shot


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-figure-links")
    engine = make_engine(f"sqlite:///{folder}/yijianshi.sqlite3")
    app = build_app(engine, folder)
    ids = limited_week(engine)
    weekly_bulletin.generate(engine, "2026-W10")
    with serving(app) as base:
        yield base, ids
    engine.db.dispose()


def test_a_dashboard_number_and_a_bulletin_number_open_their_cases(person, live):
    base, ids = live
    supervisor = person("ducha")
    supervisor.goto(f"{base}/supervise/")
    market = supervisor.locator("#by-department tr", has_text="市场监管局")
    overdue = market.locator("td.num").nth(2).get_by_role("link")
    expect(overdue).to_have_text("1")
    overdue.click()
    expect(supervisor.locator("h1")).to_contain_text("办件清单")
    expect(supervisor.locator("#list-count")).to_have_text("共 1 项")
    expect(supervisor.locator("table.cases-behind tbody tr")).to_have_count(1)
    expect(supervisor.locator(f"tr[data-case='{ids['e']}']")).to_contain_text("审查 e")
    shot(supervisor, "24-supervisor-number-cases")

    supervisor.goto(f"{base}/supervise/bulletins/2026-W10")
    on_time = supervisor.locator("#bulletin-on-time tr", has_text="市场监管局").locator("td.num")
    on_time.nth(0).get_by_role("link").click()  # 按时办结: a and b
    expect(supervisor.locator("table.cases-behind tbody tr")).to_have_count(2)
    for name in "ab":
        expect(supervisor.locator(f"tr[data-case='{ids[name]}']")).to_contain_text(f"审查 {name}")
    supervisor.go_back()
    on_time.nth(1).get_by_role("link").click()  # 逾期办结: c
    expect(supervisor.locator("table.cases-behind tbody tr")).to_have_count(1)
    expect(supervisor.locator(f"tr[data-case='{ids['c']}']")).to_be_visible()
    expect(supervisor.get_by_role("link", name="← 每周通报 2026-W10")).to_be_visible()

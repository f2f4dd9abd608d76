"""The supervisor's pages in a real browser (Playwright driving Debian's Chromium): the dashboard with
its figures and charts drawn by Chart.js, the scenarios' model metrics, and a weekly bulletin opened
from the list. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from yijianshi.engine.supervision import weekly_bulletin
from tests.conftest import check_every_case, make_engine
from tests.test_scenarios_driver import Scenario, deploy
from tests.test_supervision import INTAKE, TRANSFER, _request, at, limited_week
from tests.web import test_browser as journey
from tests.web.conftest import build_app
from tests.web.test_browser import serving

# The browser journey's fixtures, reused: `person` signs in against this module's `live` server.
browser, person, shot = journey.browser, journey.person, journey.shot


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on a real server thread with a week of work to supervise: five limited reviews of the
    week of 2026-03-02 (one overdue, one taken away by its overdue timer, one completed late), one
    有需必应 request at level 2, and the bulletin of that week generated on Monday 03-09."""
    folder = tmp_path_factory.mktemp("browser-supervise")
    engine = make_engine(f"sqlite:///{folder}/yijianshi.sqlite3")
    app = build_app(engine, folder)
    limited_week(engine)
    deploy(engine, "enterprise_request")
    _request(engine, Scenario(engine, "enterprise_request"), INTAKE, TRANSFER)
    engine.clock.set(at(2026, 3, 9, 8, 0))
    weekly_bulletin.generate(engine, "2026-W10")
    with serving(app) as base:
        yield base, engine
    check_every_case(engine)
    engine.db.dispose()


def test_supervisor_dashboard_charts_and_weekly_bulletin(person):
    supervisor = person("ducha")
    supervisor.get_by_role("link", name="督查", exact=True).click()
    expect(supervisor.locator("h1")).to_have_text("督查看板")
    expect(supervisor.locator("#fig-overdue")).to_have_text("1")
    expect(supervisor.locator("#fig-open")).to_have_text("3")
    expect(supervisor.locator("#by-department")).to_contain_text("市场监管局")
    expect(supervisor.locator("#by-level tr[data-level='2']")).to_contain_text("部门协同办")
    # Chart.js drew the charts that have figures: a canvas sized by the library, not the empty box.
    drawn = supervisor.locator("canvas[data-rendered=true]")
    expect(drawn).to_have_count(5)
    box = supervisor.locator("#by-department canvas").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert supervisor.evaluate("typeof window.Chart") == "function"
    assert supervisor.evaluate(
        "Chart.getChart(document.querySelector('#by-department canvas')).data.datasets[1].data") == [1]
    shot(supervisor, "20-supervisor-dashboard")

    supervisor.get_by_role("link", name="场景模型指标").click()
    expect(supervisor.locator("table.metrics")).to_contain_text("开办餐饮店一件事")
    expect(supervisor.locator("canvas[data-rendered=true]")).to_have_count(1)
    shot(supervisor, "21-supervisor-scenario-metrics")

    supervisor.locator("nav.tabs").get_by_role("link", name="每周通报").click()
    supervisor.get_by_role("link", name="2026-W10").click()
    expect(supervisor.locator("h1")).to_contain_text("2026-W10")
    expect(supervisor.locator("#fig-new")).to_have_text("6")
    expect(supervisor.locator("#fig-rate")).to_have_text("66.7%")
    expect(supervisor.locator("#bulletin-overdue")).to_contain_text("审查 e")
    expect(supervisor.locator("canvas[data-rendered=true]")).to_have_count(3)
    shot(supervisor, "22-supervisor-weekly-bulletin")


def test_a_clerk_finds_no_supervision(person, live):
    base, _ = live
    clerk = person("shichang")
    expect(clerk.get_by_role("link", name="督查", exact=True)).to_have_count(0)
    clerk.goto(f"{base}/supervise/")
    expect(clerk.locator("h1")).to_have_text("无权访问")

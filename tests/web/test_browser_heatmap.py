"""The supervisor's heatmap in a real browser (Playwright driving Debian's Chromium): bpmn-js draws the
scenario and its items with a badge per element (seven cases through 甲证审查, median wait 3 working
days), a click on a badge lists the cases behind it, and a case opens from the list."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_engine
from tests.outcome_support import Plan, drawn_models, run
from tests.test_heatmap_conformance import PLANS, WAITS
from tests.web import test_browser as journey
from tests.web.conftest import build_app
from tests.web.test_browser import serving

pytestmark = pytest.mark.browser
browser, person, shot = journey.browser, journey.person, journey.shot
PERIOD = "start=2026-03-01&end=2026-05-31"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-heatmap")
    engine = make_engine(f"sqlite:///{folder}/yijianshi.sqlite3")
    app = build_app(engine, folder)
    engine.deploy(drawn_models(folder))
    ids = run(engine, [Plan(p.day, p.a, p.b, owner="zhangsan") for p in PLANS])
    with serving(app) as base:
        yield base, ids
    engine.db.dispose()


def test_heatmap_badge_opens_the_cases_behind_it(person, live):
    base, ids = live
    supervisor = person("ducha")
    supervisor.goto(f"{base}/supervise/scenarios/outcome_demo/heatmap?{PERIOD}&measure=wait")
    expect(supervisor.locator(".bpmn-diagram[data-rendered=true]")).to_have_count(3)
    badge = supervisor.locator(".heat-badge[data-element=review_a]")
    expect(badge).to_have_text("3")  # median of 1, 2, 2, 3, 5, 8, 13
    expect(supervisor.locator("[data-element-id=review_a].heat-4, .djs-element.heat-4[data-element-id=review_a]")).to_have_count(1)
    shot(supervisor, "23-supervisor-heatmap-wait")
    supervisor.get_by_role("link", name="按经过件数").click()
    badge = supervisor.locator(".heat-badge[data-element=review_a]")
    expect(badge).to_have_text("7")
    badge.click()
    expect(supervisor.locator("h1")).to_contain_text("办件清单")
    expect(supervisor.locator("table.cases-behind tbody tr")).to_have_count(len(WAITS))
    row = supervisor.locator(f"tr[data-case='{ids[-1]}']")
    expect(row).to_contain_text("13")
    row.get_by_role("link").click()
    expect(supervisor).to_have_url(f"{base}/inbox/cases/{ids[-1]}")
    expect(supervisor.locator("h1")).to_be_visible()

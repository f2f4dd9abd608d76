"""The supervisor's heatmap, the cases behind a figure and conformance in the web app, on a generated
event log whose true figures are known (seven cases through 甲证审查 waiting 1, 2, 2, 3, 5, 8, 13
working days: 7 cases, median 3)."""
from __future__ import annotations

from datetime import date

import pytest

from tests.outcome_support import OUTCOME_MODELS, Plan, run
from tests.test_heatmap_conformance import PLANS, WAITS
from tests.web.conftest import build_app

PERIOD = "start=2026-03-01&end=2026-05-31"


@pytest.fixture
def app(web_engine, tmp_path):
    built = build_app(web_engine, tmp_path)
    web_engine.deploy(OUTCOME_MODELS)
    built.config["IDS"] = run(web_engine, [Plan(p.day, p.a, p.b, owner="zhangsan") for p in PLANS])
    return built


def test_heatmap_json_and_the_cases_behind_an_element(app, client_for):
    client = client_for("ducha")
    page = client.page(f"/supervise/scenarios/outcome_demo/heatmap?{PERIOD}&measure=wait")
    assert "实测热力图" in page and "heatmap.js" in page and 'data-measure="wait"' in page
    figures = client.get(f"/supervise/scenarios/outcome_demo/heatmap.json?{PERIOD}").get_json()
    review_a = figures["processes"]["outcome_item_a"]["review_a"]
    assert (review_a["cases"], review_a["p50"], review_a["p90"]) == (7, 3, 13)
    listing = client.page(review_a["cases_url"])
    ids = app.config["IDS"]
    assert listing.count('data-case="') == 7 and "经过“甲证审查”" in listing and "共 7 件" in listing
    for case_id, wait in zip(ids, WAITS):
        row = listing.split(f'data-case="{case_id}"', 1)[1].split("</tr>", 1)[0]
        assert f"/inbox/cases/{case_id}" in row and row.rstrip().endswith(f'<td class="num">{wait}</td>')
    assert client.get("/supervise/scenarios/outcome_demo/heatmap.json?start=2026-13-01").status_code == 400
    assert client.get("/supervise/scenarios/nothing/heatmap").status_code == 404
    assert client_for("zhangsan").get(f"/supervise/scenarios/outcome_demo/heatmap.json?{PERIOD}").status_code in (302, 403)


def test_conformance_page_lists_items_over_their_limit(app, client_for):
    page = client_for("ducha").page(f"/supervise/scenarios/outcome_demo/conformance?{PERIOD}")
    ids = app.config["IDS"]
    late = [i for i, w in zip(ids, WAITS) if w > 2]  # 甲 promises 2 working days
    assert page.count('data-case="') == len(late) == 4
    assert "事项“甲证办理”用时 13 个工作日，超过承诺时限 2 个工作日" in page
    assert f"/inbox/cases/{late[0]}" in page


def test_scenarios_page_figures_link_to_their_cases(app, client_for):
    client = client_for("ducha")
    page = client.page("/supervise/scenarios?days=90")
    row = page.split('id="measured"', 1)[1].split('data-scenario="outcome_demo"', 1)[1].split("</tr>", 1)[0]
    assert "/supervise/scenarios/outcome_demo/heatmap?" in row and "/supervise/scenarios/outcome_demo/conformance?" in row
    href = row.split('href="/supervise/scenarios/outcome_demo/cases?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "figure=all" in href
    assert client.page(f"/supervise/scenarios/outcome_demo/cases?{href}").count('data-case="') == 7

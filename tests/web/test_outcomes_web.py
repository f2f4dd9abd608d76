"""Measured outcomes in the web app: the supervisor's scenarios page beside the model, the bulletin's
outcomes with Excel and PDF downloads, and 预计办结 on the applicant's case page and the clerk's work
item page."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from yijianshi.engine.supervision import weekly_bulletin
from tests.outcome_support import OUTCOME_MODELS, Plan, _ready, at, run, start
from tests.test_bulletin_export import WEEK_PLANS
from tests.web.conftest import build_app


@pytest.fixture
def app(web_engine, tmp_path):
    built = build_app(web_engine, tmp_path)
    web_engine.deploy(OUTCOME_MODELS)
    run(web_engine, [Plan(p.day, p.a, p.b, p.rounds, "zhangsan", p.window, p.files) for p in WEEK_PLANS])
    running = start(web_engine, Plan(date(2026, 3, 23), a=1, b=1, owner="zhangsan"))  # accepted Monday 10:00
    web_engine.clock.set(at(date(2026, 3, 23), 11))
    weekly_bulletin.generate(web_engine, "2026-W12")
    built.config["RUNNING"] = running
    return built


def test_supervisor_sees_measured_figures_beside_the_model(client_for):
    page = client_for("ducha").page("/supervise/scenarios?days=30")
    assert 'id="measured"' in page and "测评联办" in page
    row = page.split('id="measured"', 1)[1].split('data-scenario="outcome_demo"', 1)[1].split("</tr>", 1)[0]
    # 3 cases: 1, 2, 4 working days against 3 promised; forecasts at the start all said 3 (no history):
    # errors 2, 1, 1
    cells = [re.sub(r"<[^>]+>", "", c.split("</td>", 1)[0]) for c in row.split('class="num">')[1:]]
    assert cells == ["3", "2 / 4", "3", "66.7%", "0.33 / 1", "1", "0.0 / 0.0 / 2", "1.33", "66.7%"]


def test_bulletin_page_links_downloads_that_hold_its_figures(client_for):
    client = client_for("ducha")
    page = client.page("/supervise/bulletins/2026-W12")
    assert 'id="bulletin-outcomes"' in page and "/supervise/bulletins/2026-W12.xlsx" in page
    xlsx = client.get("/supervise/bulletins/2026-W12.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    row = list(load_workbook(io.BytesIO(xlsx.data))["实测成效"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    assert row[:6] == ("测评联办", 3, 2, 4, 3, 66.7)
    pdf = client.get("/supervise/bulletins/2026-W12.pdf")
    assert pdf.mimetype == "application/pdf"
    assert "66.7" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert client.get("/supervise/bulletins/2026-W12.doc").status_code == 404
    assert client_for("zhangsan").get("/supervise/bulletins/2026-W12.pdf").status_code in (302, 403)


def test_applicant_and_clerk_see_the_predicted_completion(app, client_for):
    case_id = app.config["RUNNING"]
    # history: 甲 took 1, 2, 1 and 乙 1, 1, 3 working days (fewer than five cases: the limits, 3 days)
    page = client_for("zhangsan").page(f"/apply/cases/{case_id}")
    assert "预计 3 月 26 日办结" in page
    clerk = client_for("shichang")
    with app.app_context():
        from yijianshi.web.services import services
        item = _ready(services().engine, case_id, "review_a")
    assert "预计 3 月 26 日办结" in clerk.page(f"/inbox/items/{item}")
    assert "预计 3 月 26 日办结" in clerk.page(f"/inbox/cases/{case_id}")

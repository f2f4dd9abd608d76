"""每周通报 exported as Excel (openpyxl) and PDF (reportlab): the measured outcomes of the week's
finished cases are in the bulletin, and the files opened again carry its figures and charts."""
from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from pypdf import PdfReader

from yijianshi.engine.supervision import bulletin_export, weekly_bulletin
from tests.outcome_support import OUTCOME_MODELS, Plan, at, run

# Week 2026-W12 (16 to 22 March): three cases finish, taking 1, 2 and 4 working days.
WEEK_PLANS = [Plan(date(2026, 3, 16), a=1, b=1), Plan(date(2026, 3, 16), a=2, b=1, window=True, owner="li"),
              Plan(date(2026, 3, 16), a=1, b=3, rounds=1)]


def _bulletin(engine):
    engine.deploy(OUTCOME_MODELS)
    run(engine, WEEK_PLANS)
    engine.clock.set(at(date(2026, 3, 23), 8))
    return weekly_bulletin.generate(engine, "2026-W12")


def test_the_bulletin_carries_the_weeks_measured_outcomes(engine):
    b = _bulletin(engine)
    (o,) = b.figures["outcomes"]
    assert (o["key"], o["cases"], o["p50"], o["p90"], o["limit"], o["on_time_rate"]) == ("outcome_demo", 3, 2, 4, 3, 66.7)
    assert (o["visits"], o["corrections"], o["model_visits"]) == (1, 1, 1)
    assert [(i["element_id"], i["p50"], i["p90"]) for i in o["items"]] == [("call_a", 1, 2), ("call_b", 1, 3)]


def test_excel_and_pdf_hold_the_figures(sqlite_engine):
    b = _bulletin(sqlite_engine)
    wb = load_workbook(io.BytesIO(bulletin_export.to_xlsx(b)))
    assert wb.sheetnames == ["概况", "部门按时办结", "实测成效", "超期未办结"]
    summary = {r[0]: r[1] for r in wb["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["周次"] == "2026-W12" and summary["办结办件"] == 3
    sheet = wb["实测成效"]
    header, row = list(sheet.iter_rows(max_row=2, values_only=True))
    assert header == bulletin_export.OUTCOME_COLUMNS
    assert row[:6] == ("测评联办", 3, 2, 4, 3, 66.7)
    assert len(sheet._charts) == 1

    reader = PdfReader(io.BytesIO(bulletin_export.to_pdf(b)))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "2026-W12" in text and "66.7" in text
    assert "每周通报" in text and "测评联办" in text

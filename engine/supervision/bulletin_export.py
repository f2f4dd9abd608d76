"""每周通报 as files to hand on: an Excel workbook (openpyxl) and a PDF (reportlab), each with charts.

The workbook has one sheet per part: 概况 (the week's counts and on-time rate), 部门按时办结,
实测成效 (measured outcomes by scenario beside the model's figures, with a bar chart of the p50 and
p90 working days against the promised limit) and 超期未办结. The PDF has the same tables and two
charts (on-time split, measured working days by scenario). Chinese text in the PDF uses reportlab's
built-in CID font STSong-Light (Adobe's Song font, resolved by the PDF reader): no font file is
shipped or needed on the server."""
from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from yijianshi.engine.supervision.weekly_bulletin import Bulletin

FONT = "STSong-Light"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"

OUTCOME_COLUMNS = ("事项场景", "办结件数", "用时中位数（工作日）", "用时P90（工作日）", "承诺时限（工作日）",
                   "按时办结率（%）", "平均跑动次数", "模型跑动次数", "一次告知轮次", "平均提交材料",
                   "平均复用材料", "模型材料数")


def _blank(value: Any) -> Any:
    return "—" if value is None else value


def _summary_rows(f: dict) -> list[tuple[str, Any]]:
    on_time = f["on_time"]
    return [("周次", f["week"]), ("起止日期", f"{f['start']} 至 {f['end']}"), ("新增办件", f["new_cases"]),
            ("办结办件", f["completed_cases"]), ("按时办结", on_time["on_time"]), ("逾期办结", on_time["late"]),
            ("超期未办结", on_time["timed_out"]), ("按时办结率（%）", _blank(on_time["rate"])),
            ("预警中", f["warning"]), ("已超期", f["overdue"])]


def _outcome_rows(f: dict) -> list[tuple]:
    return [(o["name"], o["cases"], _blank(o["p50"]), _blank(o["p90"]), _blank(o["limit"]),
             _blank(o["on_time_rate"]), _blank(o["visits_mean"]), _blank(o["model_visits"]), o["corrections"],
             _blank(o["uploaded_mean"]), _blank(o["reused_mean"]), _blank(o["model_materials"]))
            for o in f.get("outcomes", ())]


def _overdue_rows(f: dict) -> list[tuple]:
    return [(t["case_id"], t["title"], t["scenario"], t["task"], t["due_at"][:10], t["overdue_days"])
            for t in f["top_overdue"]]


def to_xlsx(bulletin: Bulletin) -> bytes:
    f = bulletin.figures
    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "概况"
    ws.append((f"每周通报 {f['week']}", ""))
    ws["A1"].font = bold
    for row in _summary_rows(f):
        ws.append(row)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 28

    dep = wb.create_sheet("部门按时办结")
    dep.append(("部门", "按时办结", "逾期办结", "超期未办结", "按时办结率（%）"))
    for d in f["on_time_by_department"]:
        dep.append((d["key"], d["on_time"], d["late"], d["timed_out"], _blank(d["rate"])))

    out = wb.create_sheet("实测成效")
    out.append(OUTCOME_COLUMNS)
    rows = _outcome_rows(f)
    for row in rows:
        out.append(row)
    for cell in out[1]:
        cell.font = bold
    if rows:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "办结用时（工作日）与承诺时限"
        data = Reference(out, min_col=3, max_col=5, min_row=1, max_row=len(rows) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(out, min_col=1, min_row=2, max_row=len(rows) + 1))
        chart.height, chart.width = 8, 18
        out.add_chart(chart, f"A{len(rows) + 4}")

    top = wb.create_sheet("超期未办结")
    top.append(("办件编号", "标题", "事项场景", "环节", "到期日", "超期天数"))
    for row in _overdue_rows(f):
        top.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _table(rows: list[tuple], widths: list[float] | None = None) -> Table:
    table = Table([[str(c) for c in r] for r in rows], colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 8), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7"))]))
    return table


def _on_time_pie(f: dict) -> Drawing | None:
    parts = [("按时办结", f["on_time"]["on_time"]), ("逾期办结", f["on_time"]["late"]),
             ("超期未办结", f["on_time"]["timed_out"])]
    if not any(n for _, n in parts):
        return None
    drawing = Drawing(170 * mm, 45 * mm)
    pie = Pie()
    pie.x, pie.y, pie.width, pie.height = 10 * mm, 5 * mm, 35 * mm, 35 * mm
    pie.data = [n for _, n in parts]
    pie.labels = [str(n) for _, n in parts]
    pie.sideLabels = True
    pie.simpleLabels = True
    for i, colour in enumerate((colors.HexColor("#2e7d32"), colors.HexColor("#f9a825"), colors.HexColor("#c62828"))):
        pie.slices[i].fillColor = colour
    legend = Legend()
    legend.fontName, legend.x, legend.y = FONT, 70 * mm, 35 * mm
    legend.colorNamePairs = [(pie.slices[i].fillColor, f"{name} {n}") for i, (name, n) in enumerate(parts)]
    drawing.add(pie)
    drawing.add(legend)
    return drawing


def _outcome_bars(f: dict) -> Drawing | None:
    outcomes = f.get("outcomes", ())
    if not outcomes:
        return None
    drawing = Drawing(170 * mm, 70 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 15 * mm, 15 * mm, 110 * mm, 50 * mm
    chart.data = [[o["p50"] or 0 for o in outcomes], [o["p90"] or 0 for o in outcomes],
                  [o["limit"] or 0 for o in outcomes]]
    chart.categoryAxis.categoryNames = [o["name"] for o in outcomes]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    names = ("用时中位数", "用时P90", "承诺时限")
    palette = (colors.HexColor("#1565c0"), colors.HexColor("#90caf9"), colors.HexColor("#9e9e9e"))
    for i, colour in enumerate(palette):
        chart.bars[i].fillColor = colour
    legend = Legend()
    legend.fontName, legend.x, legend.y = FONT, 130 * mm, 60 * mm
    legend.colorNamePairs = list(zip(palette, names))
    drawing.add(chart)
    drawing.add(legend)
    return drawing


def to_pdf(bulletin: Bulletin) -> bytes:
    f = bulletin.figures
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=16, spaceBefore=8)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"每周通报 {f['week']}", leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story: list = [Paragraph(f"每周通报 {f['week']}（{f['start']} 至 {f['end']}）", title), Spacer(1, 4 * mm),
                   Paragraph("概况", heading), _table([("项目", "数值"), *_summary_rows(f)[2:]], [60 * mm, 40 * mm])]
    pie = _on_time_pie(f)
    if pie is not None:
        story.append(pie)
    story += [Paragraph("实测成效（本周办结的办件，工作日）", heading)]
    rows = _outcome_rows(f)
    if rows:
        short = ("事项场景", "办结", "中位数", "P90", "时限", "按时率%", "跑动", "模型跑动", "告知轮次",
                 "材料", "复用", "模型材料")
        story.append(_table([short, *rows]))
        bars = _outcome_bars(f)
        if bars is not None:
            story.append(bars)
    else:
        story.append(Paragraph("本周没有办结的办件。", heading))
    if f["on_time_by_department"]:
        story += [Paragraph("部门按时办结", heading),
                  _table([("部门", "按时", "逾期", "超期未办结", "按时率%"),
                          *[(d["key"], d["on_time"], d["late"], d["timed_out"], _blank(d["rate"]))
                            for d in f["on_time_by_department"]]])]
    if f["top_overdue"]:
        story += [Paragraph("超期未办结", heading),
                  _table([("办件编号", "标题", "事项场景", "环节", "到期日", "超期天数"), *_overdue_rows(f)])]
    doc.build(story)
    return buffer.getvalue()

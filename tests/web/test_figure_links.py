"""Every number of the supervision dashboard and of a weekly bulletin is a link to the list of the work
or the cases it counts: following each link gives a list of as many rows as the number said, and the
rows are the very cases the generated data put there. Unknown filter values are refused with a
Chinese message (400)."""
from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from yijianshi.engine.supervision import weekly_bulletin
from tests.test_scenarios_driver import Scenario, deploy
from tests.test_supervision import INTAKE, TRANSFER, _fire_overdue, _request, limited_week
from tests.web.conftest import build_app

LINK = re.compile(r'<a class="count-link" href="([^"]+)">([^<]*)</a>')


@pytest.fixture
def app(web_engine, tmp_path):
    """The limited reviews of the week of 2026-03-02 (a, b in time, c late, d timed out, e overdue at
    market; clock Friday 03-06 12:00) and one 有需必应 request at level 2."""
    built = build_app(web_engine, tmp_path)
    built.config["TEST_CASES"] = limited_week(web_engine)
    deploy(web_engine, "enterprise_request")
    _request(web_engine, Scenario(web_engine, "enterprise_request"), INTAKE, TRANSFER)
    return built


def links(page: str) -> list[tuple[str, int]]:
    return [(html.unescape(href), int(n)) for href, n in LINK.findall(page)]


def listed(page: str) -> list[int]:
    """The case ids of a list's rows."""
    body = page.split('class="table compact cases-behind"', 1)[1].split("</table>", 1)[0]
    return [int(c) for c in re.findall(r'<tr data-case="(\d+)"', body)]


def follow_all(client, page: str) -> dict[str, list[int]]:
    """Every number of a page followed to its list: href → the case ids listed (one per row); each
    list has as many rows as the number said."""
    out = {}
    for href, number in links(page):
        rows = listed(client.page(href))
        assert len(rows) == number, (href, number, rows)
        out[href] = rows
    return out


def _href(found: dict, **params) -> str:
    """The one followed link whose query is exactly these parameters."""
    want = {k: [str(v)] for k, v in params.items()}
    (match,) = [h for h in found if parse_qs(urlsplit(h).query) == want]
    return match


def test_every_dashboard_number_lists_what_it_counts(client_for, app):
    ids = app.config["TEST_CASES"]
    client = client_for("ducha")
    page = client.page("/supervise/")
    found = follow_all(client, page)
    # open / warning / overdue by department, scenario and level; on time, late, timed out by
    # department (with the 合计 row) and scenario; escalations per level; the totals at the top
    assert len(found) >= 3 * 3 + 7 * 3 + 3 * 2 + 6 + 3 + 2
    # the known cells: e overdue at market; c late; a, b in time; d timed out (market)
    assert found[_href(found, status="overdue", department="market", days=30)] == [ids["e"]]
    assert found[_href(found, status="overdue", days=30)] == [ids["e"]]
    assert sorted(found[_href(found, status="on_time", department="market", days=30)]) == [ids["a"], ids["b"]]
    assert found[_href(found, status="late", department="market", days=30)] == [ids["c"]]
    assert found[_href(found, status="timed_out", department="market", days=30)] == [ids["d"]]
    assert found[_href(found, status="late", scenario="limited_review", days=30)] == [ids["c"]]
    # the 合计 row counts work across departments once
    total = found[_href(found, status="on_time", days=30)]
    assert len(total) == 4 and {ids["a"], ids["b"]} <= set(total)
    assert found[_href(found, status="ended", days=30)].count(ids["d"]) == 1
    # the request is open at level 2, and reached levels 1 and 2
    (request_case,) = found[_href(found, status="open", level=2, days=30)]
    assert found[_href(found, status="reached", level=1, days=30)] == [request_case]
    assert found[_href(found, status="reached", level=3, days=30)] == []
    assert set(found[_href(found, status="open", days=30)]) == {ids["e"], ids["d"], request_case}


def test_a_period_of_the_dashboard_carries_into_its_lists(client_for, app, web_engine):
    client = client_for("ducha")
    web_engine.clock.set(datetime.fromisoformat("2026-03-20T12:00:00+08:00"))
    page = client.page("/supervise/?days=7")
    found = follow_all(client, page)
    assert found[_href(found, status="on_time", days=7)] == []  # the reviews ended two weeks ago
    assert len(client_for("ducha").page("/supervise/cases?status=on_time&days=30").split("<tr data-case=")) == 5


def test_every_bulletin_number_lists_the_cases_of_its_week(client_for, app, web_engine):
    ids = app.config["TEST_CASES"]
    weekly_bulletin.generate(web_engine, "2026-W10")  # on Friday, while the week runs
    client = client_for("ducha")
    page = client.page("/supervise/bulletins/2026-W10")
    # Saturday, still in the week: e's review is taken away overdue; the bulletin counted up to Friday
    web_engine.clock.set(datetime.fromisoformat("2026-03-07T10:00:00+08:00"))
    _fire_overdue(web_engine, ids["e"])
    web_engine.clock.set(datetime.fromisoformat("2026-03-20T12:00:00+08:00"))
    found = follow_all(client, page)
    assert len(found) >= 5 + 3 + 3 + 6 * 4
    assert sorted(found[_href(found, status="started", week="2026-W10")]) == sorted(
        [*ids.values(), *found[_href(found, status="reached", level=1, week="2026-W10")]])
    assert found[_href(found, status="overdue", week="2026-W10")] == [ids["e"]]
    assert found[_href(found, status="late", department="market", week="2026-W10")] == [ids["c"]]
    assert "通报中此数为" not in client.page("/supervise/cases?status=overdue&week=2026-W10")


def test_a_bulletin_number_the_data_no_longer_gives_is_said_to_differ(client_for, app, web_engine):
    ids = app.config["TEST_CASES"]
    weekly_bulletin.generate(web_engine, "2026-W10")
    with web_engine.db.writer.begin() as conn:  # the deadline of e's review moved after the bulletin
        conn.execute(text("UPDATE work_items SET due_at = NULL WHERE case_id = :c"), {"c": ids["e"]})
    page = client_for("ducha").page("/supervise/cases?status=overdue&week=2026-W10")
    assert 'id="stored-differs"' in page and "通报中此数为 1，按现有事件数据重现为 0" in page
    assert listed(page) == []


@pytest.mark.parametrize("query, said", [
    ("status=pending", "未知的统计口径：pending。"),
    ("", "未知的统计口径：（空）。"),
    ("status=open&department=nowhere", "未知的部门：nowhere。"),
    ("status=open&scenario=no_such", "未知的场景：no_such。"),
    ("status=open&level=9", "未知的办理层级：9。"),
    ("status=reached&level=x", "未知的办理层级：x。"),
    ("status=reached", "诉求升级清单须指明办理层级。"),
    ("status=open&days=12", "统计期间只能是近 7、30 或 90 天。"),
    ("status=open&days=abc", "统计期间只能是近 7、30 或 90 天。"),
    ("status=open&week=2026-W99", "2026 年没有第 99 周。"),
    ("status=open&week=2026-W09", "2026-W09 的每周通报尚未生成。"),
    ("status=started&department=market", "办件数不按部门统计，不能按部门筛选。"),
])
def test_a_filter_with_an_unknown_value_is_refused_in_chinese(client_for, app, query, said):
    response = client_for("ducha").get(f"/supervise/cases?{query}")
    assert response.status_code == 400
    assert said in response.get_data(as_text=True)


def test_only_supervisors_open_the_lists(client_for, app):
    assert client_for("zhangsan").get("/supervise/cases?status=open").status_code in (302, 403)
    assert client_for("admin").get("/supervise/cases?status=open").status_code == 200

"""The lists behind the supervision numbers (engine/supervision/figure_cases.py), on SQLite and
PostgreSQL: for every group of the dashboard and of a stored weekly bulletin, the list selected for a
number has exactly as many rows as the number; unknown filter values are refused."""
from __future__ import annotations

import pytest

from yijianshi.engine.supervision import figure_cases, weekly_bulletin
from yijianshi.engine.supervision import figures as supervision
from tests.test_scenarios_driver import Scenario, deploy
from tests.test_supervision import ASSIGN, COMPLEX, INTAKE, RESOLVED, TRANSFER, _request, at


def _requests(engine) -> tuple[Scenario, list[int]]:
    """Five 有需必应 requests at levels 0 to 3 (test_supervision): some warned, one overdue."""
    engine.clock.set(at(2025, 9, 26, 9, 0))
    deploy(engine, "enterprise_request")
    sc = Scenario(engine, "enterprise_request")
    ids = [_request(engine, sc, *steps)
           for steps in ((), (INTAKE,), (INTAKE, TRANSFER), (INTAKE, COMPLEX, ASSIGN), (INTAKE, RESOLVED))]
    engine.clock.set(at(2025, 10, 11, 8, 0))
    return sc, ids


def _count(engine, window, status, **group) -> int:
    return len(figure_cases.lines(engine, figure_cases.Selection(status, **group), window))


def test_each_dashboard_number_has_as_many_rows_as_it_says(engine):
    _requests(engine)
    board = supervision.dashboard(engine, 30)
    window = figure_cases.dashboard_window(engine, 30)
    checked = 0
    for u in board.by_department:
        for s in figure_cases.OPEN_STATUSES:
            assert _count(engine, window, s, department=u.key) == getattr(u, s), (u, s)
            checked += 1
    for u in board.by_scenario:
        for s in figure_cases.OPEN_STATUSES:
            assert _count(engine, window, s, scenario=u.key) == getattr(u, s), (u, s)
    for u in board.by_level:
        for s in figure_cases.OPEN_STATUSES:
            assert _count(engine, window, s, level=u.key) == getattr(u, s), (u, s)
            checked += bool(getattr(u, s))
    for s in figure_cases.OPEN_STATUSES:
        assert _count(engine, window, s) == getattr(board, s)
    for o in [*board.on_time_by_department, board.on_time]:
        for s in ("on_time", "late", "timed_out"):
            assert _count(engine, window, s, department=o.key) == getattr(o, s), (o, s)
        assert _count(engine, window, "ended", department=o.key) == o.total
    for o in board.on_time_by_scenario:
        assert _count(engine, window, "ended", scenario=o.key) == o.total
    for e in board.escalations:
        assert _count(engine, window, "reached", level=e.level) == e.cases
    assert board.warning == 2 and board.overdue == 1 and checked > 10  # the data has something to count


def test_each_number_of_a_stored_bulletin_is_reproduced_for_its_week(engine):
    sc, ids = _requests(engine)
    bulletin = weekly_bulletin.generate(engine, "2025-W40")  # 09-29 to 10-05: the requests are open
    sc.complete(ids[1], *TRANSFER)  # later, the work moved on: the lists are of the week's end
    window = figure_cases.bulletin_window(weekly_bulletin.get(engine, "2025-W40"))
    f = bulletin.figures
    selections = [figure_cases.Selection(s) for s in ("warning", "overdue", "on_time", "late", "timed_out", "ended",
                                                      "started", "completed")]
    selections += [figure_cases.Selection(s, department=d["key"]) for d in f["open_by_department"]
                   for s in figure_cases.OPEN_STATUSES]
    selections += [figure_cases.Selection(s, scenario=d["key"]) for d in f["open_by_scenario"]
                   for s in figure_cases.OPEN_STATUSES]
    selections += [figure_cases.Selection(s, level=u["key"]) for u in f["open_by_level"]
                   for s in figure_cases.OPEN_STATUSES]
    selections += [figure_cases.Selection("reached", level=e["level"]) for e in f["escalations"]]
    selections += [figure_cases.Selection(s, department=o["key"]) for o in f["on_time_by_department"]
                   for s in ("on_time", "late", "timed_out")]
    for sel in selections:
        assert len(figure_cases.lines(engine, sel, window)) == figure_cases.stored_count(f, sel), sel
    assert f["warning"] + f["overdue"] > 0


@pytest.mark.parametrize("args, said", [
    (("nonsense",), "未知的统计口径：nonsense。"),
    (("open", "no_such"), "未知的场景：no_such。"),
    (("open", None, "nowhere"), "未知的部门：nowhere。"),
    (("open", None, None, "7"), "未知的办理层级：7。"),
    (("reached", None, None, "0"), "未知的办理层级：0。"),
    (("on_time", None, None, "2"), "不能与场景或部门同时筛选"),
])
def test_a_selection_names_a_number_or_is_refused(sqlite_engine, args, said):
    with pytest.raises(figure_cases.FilterError, match=said):
        figure_cases.selection(sqlite_engine, *args)

"""Measured outcomes (engine/supervision/outcomes.py) on generated event logs whose true figures are
known: elapsed working days p50/p90 (nearest rank) against the promised limit, on-time rates per
scenario and item, window visits, 一次告知 rounds, materials handed in and reused, and the per-element
figures a heatmap reads."""
from __future__ import annotations

from datetime import date

import pytest

from yijianshi.engine.supervision import outcomes
from yijianshi.engine.supervision.outcomes import percentile
from tests.outcome_support import OUTCOME_MODELS, Plan, at, run

MONDAY = date(2026, 3, 2)
PERIOD = (at(date(2026, 3, 1), 0), at(date(2026, 4, 1), 0))

# elapsed 2, 4, 1, 5, 2 working days; the scenario promises 3 (甲 2 ∥ 乙 3).
PLANS = [
    Plan(MONDAY, a=1, b=2, files=("x1", "x2")),
    Plan(date(2026, 3, 9), a=2, b=3, rounds=1, window=True, files=("x1", "x3")),
    Plan(date(2026, 3, 16), a=1, b=1, owner="li", files=("x1",)),
    Plan(date(2026, 3, 17), a=3, b=2, rounds=2),
    Plan(date(2026, 3, 23), a=2, b=2, window=True, owner="wang"),
]


def test_nearest_rank_percentiles():
    assert percentile([], 50) is None
    assert percentile([5], 90) == 5
    assert percentile([4, 1, 2, 2, 5], 50) == 2 and percentile([4, 1, 2, 2, 5], 90) == 5
    assert percentile(list(range(1, 11)), 90) == 9 and percentile(list(range(1, 11)), 50) == 5


@pytest.fixture
def measured(engine):
    engine.deploy(OUTCOME_MODELS)
    ids = run(engine, PLANS)
    return engine, ids


def test_scenario_figures_are_the_true_ones(measured):
    engine, ids = measured
    o = outcomes.scenario_outcome(engine, "outcome_demo", *PERIOD)
    assert [c.elapsed for c in outcomes.case_outcomes(engine, "outcome_demo", *PERIOD)] == [p.elapsed() for p in PLANS]
    assert o.case_ids == tuple(ids) and o.cases == 5
    assert (o.spread.p50, o.spread.p90, o.spread.limit) == (2, 5, 3)
    assert (o.spread.on_time, o.spread.on_time_rate) == (3, 60.0)
    # visits: cases 2 and 5 were applied for at the window (their 补正 online)
    assert (o.visits, o.visits_mean, o.model_visits) == (2, 0.4, 1)
    assert (o.corrections, o.cases_corrected, o.corrections_mean) == (3, 2, 0.6)
    # x1 and x2, then x1 (zhang had it already) and x3, then li's x1 (not his before)
    assert (o.uploaded, o.reused, o.model_materials) == (5, 1, 2)
    a, b = o.items
    assert (a.element_id, a.spread.p50, a.spread.p90, a.spread.limit, a.spread.on_time_rate) == ("call_a", 2, 3, 2, 80.0)
    assert (b.element_id, b.spread.p50, b.spread.p90, b.spread.limit, b.spread.on_time_rate) == ("call_b", 2, 3, 3, 100.0)
    d = o.to_dict()
    assert d["p50"] == 2 and d["on_time_rate"] == 60.0 and d["items"][0]["on_time"] == 4


def test_a_period_counts_the_cases_finished_in_it(measured):
    engine, ids = measured
    first_two = outcomes.scenario_outcome(engine, "outcome_demo", at(MONDAY, 0), at(date(2026, 3, 14), 0))
    assert first_two.case_ids == tuple(ids[:2]) and (first_two.spread.p50, first_two.spread.p90) == (2, 4)
    none = outcomes.scenario_outcome(engine, "outcome_demo", at(date(2026, 5, 1), 0), at(date(2026, 6, 1), 0))
    assert none.cases == 0 and none.spread.p50 is None and none.spread.on_time_rate is None


def test_element_figures_for_heatmaps(measured):
    engine, ids = measured
    figures = outcomes.element_figures(engine, "outcome_demo", *PERIOD)
    call_a = figures[("outcome_demo", "call_a")]
    assert call_a.case_ids == ids and call_a.waits == dict(zip(ids, [1, 2, 1, 3, 2]))
    assert (call_a.cases, call_a.total_days, call_a.p50, call_a.p90) == (5, 9, 2, 3)
    review_b = figures[("outcome_item_b", "review_b")]
    assert review_b.waits == dict(zip(ids, [2, 3, 1, 2, 2]))
    supplement = figures[("outcome_demo", "supplement")]
    assert supplement.case_ids == [ids[1], ids[3]]
    # 受理 waited 0 days each time, however many rounds
    assert figures[("outcome_demo", "accept")].waits == dict.fromkeys(ids, 0)


def test_after_a_restart_the_stored_measurements_are_read_not_the_events(measured, monkeypatch):
    engine, ids = measured
    first = outcomes.case_outcomes(engine, "outcome_demo", *PERIOD)
    outcomes._case_cache(engine).clear()  # a restart: nothing in memory
    monkeypatch.setattr(outcomes.store, "measured_events", lambda *a: pytest.fail("events read again"))
    again = outcomes.case_outcomes(engine, "outcome_demo", *PERIOD)
    assert again == first and [c.case_id for c in again] == ids
    with engine.db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM case_outcomes").scalar() == len(ids)


def test_a_measurement_of_another_basis_is_made_again(measured, monkeypatch):
    engine, ids = measured
    first = outcomes.case_outcomes(engine, "outcome_demo", *PERIOD)
    outcomes._case_cache(engine).clear()
    monkeypatch.setattr(outcomes, "MEASUREMENT_VERSION", outcomes.MEASUREMENT_VERSION + 1)  # measured otherwise
    read = []
    events = outcomes.store.measured_events
    monkeypatch.setattr(outcomes.store, "measured_events", lambda conn, case_ids: read.extend(case_ids) or
                        events(conn, case_ids))
    assert outcomes.case_outcomes(engine, "outcome_demo", *PERIOD) == first
    assert sorted(read) == sorted(ids)
    with engine.db.reader.connect() as conn:  # replaced, one row per case
        assert conn.exec_driver_sql("SELECT count(*) FROM case_outcomes").scalar() == len(ids)

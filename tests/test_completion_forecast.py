"""预计办结日期 (engine/supervision/completion_forecast.py): from the promised limits without
history, from the medians of finished cases with it, along the longest remaining branch; and the
accuracy of the predictions at the start of finished cases."""
from __future__ import annotations

from datetime import date

from yijianshi.engine.supervision import completion_forecast as forecasting
from tests.outcome_support import CLERK, MARKET, OUTCOME_MODELS, Plan, _ready, at, run, start
from tests.test_outcomes import PERIOD, PLANS


def test_without_history_the_limits_of_the_items_count(engine):
    engine.deploy(OUTCOME_MODELS)
    case_id = start(engine, Plan(date(2026, 3, 2), a=1, b=1))  # accepted Monday 10:00: 甲 (2) ∥ 乙 (3)
    f = forecasting.forecast(engine, case_id)
    assert (f.remaining_days, f.due, f.basis, f.history_cases) == (3, date(2026, 3, 5), forecasting.LIMITS, 0)
    assert f.label == "3 月 5 日"
    engine.clock.set(at(date(2026, 3, 4), 11))  # two working days later, 甲 done: 乙 has one day left
    engine.cases.complete_work_item(_ready(engine, case_id, "review_a"), {}, MARKET)
    f = forecasting.forecast(engine, case_id)
    assert (f.remaining_days, f.due) == (1, date(2026, 3, 5))
    engine.clock.set(at(date(2026, 3, 9), 11))  # overdue: nothing left of the limit, due today
    assert forecasting.forecast(engine, case_id).due == date(2026, 3, 9)


def test_with_history_the_medians_of_finished_cases_count(engine):
    engine.deploy(OUTCOME_MODELS)
    run(engine, PLANS)
    engine.clock.set(at(date(2026, 3, 30), 9))
    case_id = engine.cases.start_case("outcome_demo", {}, CLERK,
                                      started_by="zhao", start_form={"applicant_name": "zhao"}).id
    # 甲 waited 1,2,1,3,2 days and 乙 2,3,1,2,2: medians 2 and 2; 补正 (2 of 5 cases) does not count
    f = forecasting.forecast(engine, case_id)
    assert (f.remaining_days, f.due, f.basis, f.history_cases) == (2, date(2026, 4, 1), forecasting.HISTORY, 5)
    # a finished case has no forecast
    assert forecasting.forecast(engine, 1) is None


def test_accuracy_on_finished_cases(engine):
    engine.deploy(OUTCOME_MODELS)
    run(engine, PLANS)
    # Each case was predicted at its start from the cases finished before it (fewer than five: the
    # limits, 3 days) against 2, 4, 1, 5, 2 days taken: errors 1, 1, 2, 2, 1.
    acc = forecasting.accuracy(engine, "outcome_demo", *PERIOD)
    assert (acc.cases, acc.mean_absolute_error, acc.within_one, acc.within_one_share) == (5, 1.4, 3, 60.0)

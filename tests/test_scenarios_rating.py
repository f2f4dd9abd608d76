"""好差评 follow-up in every shipped scenario, end to end through the engine: the rating form shows a
field only for the items that ran in the case (camunda:constraint shown_if on the item's result), and
a return visit (回访) still dissatisfied after the rectification rounds goes to supervision (督办) with
a limit instead of being closed or looping forever."""
from __future__ import annotations

import pytest

from yijianshi.engine.errors import FormErrors
from tests.test_scenarios_driver import SHANGHAI, at
from tests.test_scenarios_flows import REJECT, SCENARIOS, SINGLE, _delivered, _open, _package


def _ratings(form) -> list[str]:
    return [f.id for f in form.fields if f.id.startswith("rating_")]


def _rate_form(sc, cid):
    row = sc.item(cid, "rate")
    model = sc.form(row)
    return row, model, sc.engine.cases.shown_form(cid, row.id, model)


@pytest.mark.parametrize("key", SCENARIOS)
def test_the_rating_form_shows_only_the_item_that_ran(sqlite_engine, key):
    sc, cid = _open(sqlite_engine, key)
    item = SINGLE[key]
    sc.apply(cid, item_choice="custom", **{f"want_{item}": "true"})
    sc.accept(cid)
    sc.decide(cid, item)
    sc.complete(cid, "deliver", {"delivery_method": "e_licence", "delivery_note": ""})
    _, model, shown = _rate_form(sc, cid)
    assert len(_ratings(model)) >= 3  # the model has a field for every item of the scenario
    assert _ratings(shown) == [f"rating_{item}"]
    assert {"rating", "comment"} <= {f.id for f in shown.fields}
    other = next(f for f in _ratings(model) if f != f"rating_{item}")
    with pytest.raises(FormErrors) as err:  # an item that did not run cannot be rated
        sc.complete(cid, "rate", {"rating": "satisfied", other: "very_unsatisfied"})
    assert other in err.value.errors["__all__"]
    sc.complete(cid, "rate", {"rating": "satisfied", f"rating_{item}": "very_satisfied"})
    assert sc.status(cid) == "completed"
    assert sc.final_data(cid)["item_ratings"] == {item: "very_satisfied"}


@pytest.mark.parametrize("key", [k for k in SCENARIOS if REJECT[k][1]])
def test_items_chosen_but_never_started_after_a_rejection_are_not_rated(sqlite_engine, key):
    """Chosen in the package (run_* is true) but never started because the item they need was
    refused: no field for them either."""
    sc, cid = _open(sqlite_engine, key)
    rejected, never = REJECT[key]
    _package(sc, cid)
    sc.decide(cid, rejected, approved=False, reason="材料与实际情况不符，不予许可")
    approved = sc.approve_all_ready(cid)
    sc.complete(cid, "deliver", {"delivery_method": "window", "delivery_note": ""})
    _, _, shown = _rate_form(sc, cid)
    assert set(_ratings(shown)) == {f"rating_{i}" for i in [rejected, *approved]}
    assert not {f"rating_{i}" for i in never} & set(_ratings(shown))


def _dissatisfied_twice(sc, cid):
    sc.complete(cid, "rate", {"rating": "unsatisfied", "comment": "等待时间太长"})
    sc.verify_true(cid)
    for measures in ("推行预约办理", "增设综合窗口"):
        sc.complete(cid, "rectify", {"rectify_measures": measures})
        sc.complete(cid, "return_visit", {"revisit_satisfied": "unsatisfied", "revisit_note": "申请人仍不满意"})


@pytest.mark.parametrize("key", SCENARIOS)
def test_a_return_visit_still_dissatisfied_after_rectification_goes_to_supervision(sqlite_engine, key):
    sc, cid, _ = _delivered(sqlite_engine, key)
    _dissatisfied_twice(sc, cid)
    assert sc.ready_specs(cid) == ["supervise_revisit"]  # not closed, not a third round by the same unit
    task = sc.item(cid, "supervise_revisit")
    assert task.groups == "supervision"
    # revisit_supervise_days = 5 working days from Friday 09-26: 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10
    assert task.due_at.astimezone(SHANGHAI) == at(2025, 10, 10, 23, 59, 59)
    data = sc.task_data(cid, "supervise_revisit")
    assert data["rectify_round"] == 2 and data["rectify_measures"] == "增设综合窗口"
    with pytest.raises(FormErrors) as err:
        sc.complete(cid, "supervise_revisit", {"revisit_supervise_action": "interview", "revisit_supervise_note": ""})
    assert err.value.errors == {"revisit_supervise_note": "此项为必填项"}
    sc.complete(cid, "supervise_revisit", {"revisit_supervise_action": "discipline",
                                           "revisit_supervise_note": "责任单位两次整改不到位，移交纪检监察"})
    assert sc.status(cid) == "completed"
    final = sc.final_data(cid)
    assert final["rating_supervised"] is True and final["rating_outcome"] == "整改后仍不满意，已督办"
    assert final["revisit_supervise_action"] == "discipline"


def test_one_dissatisfied_return_visit_is_rectified_again_by_the_unit(sqlite_engine):
    sc, cid, _ = _delivered(sqlite_engine, "retirement")
    sc.complete(cid, "rate", {"rating": "unsatisfied", "comment": "等待时间太长"})
    sc.verify_true(cid)
    sc.complete(cid, "rectify", {"rectify_measures": "推行预约办理"})
    sc.complete(cid, "return_visit", {"revisit_satisfied": "unsatisfied", "revisit_note": "仍需排队"})
    assert sc.ready_specs(cid) == ["rectify"]
    sc.complete(cid, "rectify", {"rectify_measures": "增设综合窗口"})
    sc.complete(cid, "return_visit", {"revisit_satisfied": "satisfied", "revisit_note": "满意"})
    assert sc.status(cid) == "completed" and sc.final_data(cid)["rating_outcome"] == "已整改"

"""好差评 on the supervisor's scenarios page: the five levels and 未评价 for the whole service and for
each item of the retirement package, counted over the cases completed in the period, every count a
link to exactly the cases rated so."""
from __future__ import annotations

import pytest

from tests.test_scenarios_driver import at
from tests.test_scenarios_flows import _items, _open, _package
from tests.web.conftest import build_app
from tests.web.test_figure_links import follow_all, listed


@pytest.fixture
def app(web_engine, tmp_path):
    """Three retirement packages delivered: one rated 满意 (every item 非常满意), one 非常满意 with its
    first item 基本满意 and the others left blank, one left unrated until its window expired."""
    built = build_app(web_engine, tmp_path)
    sc, first = _open(web_engine, "retirement")
    ids = [first, sc.start(), sc.start()]
    items = _items(sc, first)
    for cid in ids:
        _package(sc, cid)
        sc.approve_all_ready(cid)
        sc.complete(cid, "deliver", {"delivery_method": "e_licence", "delivery_note": ""})
    sc.complete(ids[0], "rate", {"rating": "satisfied", **{f"rating_{i}": "very_satisfied" for i in items}})
    sc.complete(ids[1], "rate", {"rating": "very_satisfied", f"rating_{items[0]}": "basic"})
    sc.fire(at(2025, 10, 11, 9, 0))
    assert {sc.status(c) for c in ids} == {"completed"}
    built.config["RATED"] = (ids, items)
    return built


def test_rating_counts_per_level_and_item_link_to_their_cases(client_for, app):
    (rated, mixed, unrated), items = app.config["RATED"]
    client = client_for("ducha")
    page = client.page("/supervise/scenarios?days=30")
    section = page.split('id="ratings"', 1)[1].split("</section>", 1)[0]
    assert "非常满意" in section and "未评价" in section
    found = follow_all(client, section)
    assert len(found) >= 6 * (1 + len(items))

    def cases(rating: str, item: str | None = None) -> list[int]:
        (href,) = [h for h in found if f"rating={rating}&" in h + "&" and (f"item={item}" in h if item
                                                                         else "item=" not in h)]
        return found[href]

    assert cases("satisfied") == [rated] and cases("very_satisfied") == [mixed] and cases("unrated") == [unrated]
    assert cases("basic") == [] and cases("very_unsatisfied") == []
    assert cases("very_satisfied", items[0]) == [rated] and cases("basic", items[0]) == [mixed]
    assert sorted(cases("unrated", items[0])) == [unrated]
    assert sorted(cases("unrated", items[-1])) == sorted([mixed, unrated])
    assert "整体评价为“满意”" in client.page(next(h for h in found if "rating=satisfied&" in h + "&" and "item=" not in h))


def test_an_unknown_rating_level_is_refused(client_for, app):
    response = client_for("ducha").get("/supervise/scenarios/retirement/cases?figure=rated&rating=great")
    assert response.status_code == 400 and "未知的评价等级：great。" in response.get_data(as_text=True)
    assert listed(client_for("ducha").page("/supervise/scenarios/retirement/cases?figure=rated&rating=basic")) == []

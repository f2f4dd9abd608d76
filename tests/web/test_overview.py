"""The staff overview: deployed definitions and the amount of open work, for staff only."""
from __future__ import annotations

from tests.web.helpers import start


def test_overview_lists_definitions_and_open_work(client_for, web_engine):
    start(web_engine)
    page = client_for("sheji").page("/overview")
    assert "开办餐饮店一件事" in page and "open_restaurant" in page and "item_food_permit" in page
    assert "当前待办事项共 1 件" in page
    assert client_for("zhangsan").get("/overview").status_code == 403
    assert client_for().get("/overview").status_code == 302

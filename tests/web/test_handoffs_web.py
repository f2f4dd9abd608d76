"""#14.3 on the work item page: 转办 to another unit with a reason, comments the next handler reads,
退回 to the previous step, follow-up dates, and who may do them (web/handoffs.py). The 有需必应
request at 部门协同办 of 市场监管局 (the demo organisation: shichang leads market, chengguan is in
urban_mgmt, xiaofang in fire)."""
from __future__ import annotations

import pytest

from tests.test_scenarios_driver import Scenario
from tests.web.api_support import ESCALATION, INTAKE
from tests.web.helpers import item_id

LEVEL1 = {"l1_outcome": "transfer", "assigned_department": "market", "l1_answer": "转市场监管局"}


def at_level2(engine) -> tuple[int, str]:
    """A 有需必应 request transferred at level 1 to 市场监管局: (case id, the level-2 item's id)."""
    engine.deploy([ESCALATION])
    sc = Scenario(engine, "enterprise_request")
    from yijianshi.engine.access.actors import Actor
    staff = Actor("jiedao", frozenset({"street"}))
    case = engine.cases.start_case("enterprise_request", {}, staff)
    sc.complete(case.id, "intake", {**INTAKE, "channel": "service_staff", "work_order_no": ""}, staff)
    sc.complete(case.id, "level1", LEVEL1)
    return case.id, item_id(engine, case.id, "level2")


def test_a_transfer_from_the_item_page_reaches_the_other_unit(client_for, web_engine):
    case_id, level2 = at_level2(web_engine)
    market, urban = client_for("shichang"), client_for("chengguan")
    page = market.page(f"/inbox/items/{level2}")
    assert "转办、委派与退回" in page and '<option value="urban_mgmt">' in page
    refused = market.post(f"/inbox/items/{level2}/transfer", {"unit": "urban_mgmt", "reason": " "})
    assert refused.status_code == 302 and refused.location.endswith(f"/inbox/items/{level2}")
    assert "请填写转办的理由" in market.page(f"/inbox/items/{level2}")
    assert f'data-item="{level2}"' not in urban.page("/inbox/")
    done = market.post(f"/inbox/items/{level2}/transfer", {"unit": "urban_mgmt", "reason": "属城市管理职责"})
    assert done.status_code == 302 and done.location.endswith("/inbox/")
    assert f'data-item="{level2}"' in urban.page("/inbox/")
    assert f'data-item="{level2}"' not in market.page("/inbox/")
    task = urban.page(f"/inbox/items/{level2}")
    assert "转办至城市管理局，理由：属城市管理职责" in task


def test_comments_are_shown_to_the_next_handler_and_a_return_reopens_the_previous_step(client_for, web_engine):
    case_id, level2 = at_level2(web_engine)
    market = client_for("shichang")
    market.page(f"/inbox/items/{level2}")
    market.post(f"/inbox/items/{level2}/comment", {"text": "企业联系人电话已变更为 139 开头"})
    market.post(f"/inbox/items/{level2}/follow-up", {"follow_up_on": "2025-10-01"})
    page = market.page(f"/inbox/items/{level2}")
    assert "办理意见" in page and "企业联系人电话已变更为 139 开头" in page and 'value="2025-10-01"' in page
    assert market.post(f"/inbox/items/{level2}/follow-up", {"follow_up_on": "明天"}).status_code == 302
    assert "跟进日期格式应为" in market.page(f"/inbox/items/{level2}")
    market.post(f"/inbox/items/{level2}/return", {"reason": "不属本局职责，请属地重新甄别"})
    level1 = item_id(web_engine, case_id, "level1")
    street = client_for("wangge")  # the 片区 of the address: 东城街道第一片区
    task = street.page(f"/inbox/items/{level1}")
    assert "企业联系人电话已变更为 139 开头" in task  # the comment reaches whoever handles the case next
    assert "退回至“部门协同办”" not in task and "退回至“属地即时办”，理由：不属本局职责，请属地重新甄别" in task


@pytest.mark.parametrize("path", ["transfer", "delegate", "return", "comment", "follow-up"])
def test_only_someone_who_may_act_on_the_item_hands_it_off(client_for, web_engine, path):
    _, level2 = at_level2(web_engine)
    fire = client_for("xiaofang")
    fire.page("/inbox/")
    response = fire.post(f"/inbox/items/{level2}/{path}", {"unit": "fire", "reason": "x", "username": "xiaofang",
                                                            "text": "x", "follow_up_on": ""})
    assert response.status_code == 403
    assert fire.page("/inbox/").count(f'data-item="{level2}"') == 0

"""系统管理 for administrators: accounts (create with registry departments, role changes, disable,
unlock), cancelling a case with a reason (in its history), stuck cases with retry and cancel."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import FIXTURES
from tests.web.helpers import start
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases import history as h
from yijianshi.engine.errors import ScriptError
from yijianshi.storage import case_store, deadline_store
from yijianshi.web.services import services


@pytest.mark.parametrize("user", ["zhangsan", "chuangkou", "shichang", "ducha", "sheji", "shenji"])
def test_only_administrators(client_for, user):
    c = client_for(user)
    for url in ("/admin/accounts", "/admin/cases", "/admin/accounts/zhangsan"):
        assert c.get(url).status_code == 403
    assert c.post("/admin/accounts/zhangsan/active", {"active": "0"}).status_code == 403
    assert "系统管理" not in c.page("/overview" if user != "zhangsan" else "/apply/")


def test_admin_creates_an_account_with_registered_departments(client_for, app):
    c = client_for("admin")
    page = c.page("/admin/accounts")
    assert "系统管理" in page and 'value="street"' in page and "街镇园区为企服务人员" in page
    assert 'value="applicant"' not in page.split('id="new-account"')[1]
    response = c.post("/admin/accounts", {"username": "liwei", "display_name": "李伟（芦台街道）",
                                          "password": "first-pass-1", "role": "dept_clerk",
                                          "departments": ["street", "grid_center"]})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with app.app_context():
        created = services().accounts.get("liwei")
    assert created.actor.groups == {"street", "grid_center"} and created.role.code == "dept_clerk"
    listed = c.page("/admin/accounts")
    assert "街镇园区为企服务人员、区网格中心（12345）" in listed
    client_for().login("liwei", "first-pass-1")

    refused = c.post("/admin/accounts", {"username": "nodept", "display_name": "某人", "password": "first-pass-1",
                                         "role": "dept_clerk"})
    assert refused.status_code == 422 and "至少属于一个部门" in refused.get_data(as_text=True)
    unknown = c.post("/admin/accounts", {"username": "odd", "display_name": "某人", "password": "first-pass-1",
                                         "role": "dept_clerk", "departments": ["health_commission"]})
    assert unknown.status_code == 422 and "health_commission" in unknown.get_data(as_text=True)


def test_admin_changes_a_role_and_disables_an_account(client_for, app):
    admin, clerk = client_for("admin"), client_for("shichang")
    assert clerk.get("/inbox/").status_code == 200
    assert re.search(r'<input checked[^>]*value="market">', admin.page("/admin/accounts/shichang"))
    response = admin.post("/admin/accounts/shichang", {"role": "dept_clerk", "departments": ["market", "fire"]})
    assert response.status_code == 302
    with app.app_context():
        assert services().accounts.get("shichang").departments == ("market", "fire")
    admin.page("/admin/accounts")
    assert admin.post("/admin/accounts/shichang/active", {"active": "0"}).status_code == 302
    assert clerk.get("/inbox/").status_code == 302  # its session ended
    assert "该账号已停用" in client_for().post("/login", {"username": "shichang", "password": "demo-shichang"}
                                            ).get_data(as_text=True)
    assert "已停用" in admin.page("/admin/accounts")
    admin.post("/admin/accounts/shichang/active", {"active": "1"})
    client_for("shichang")
    admin.post("/admin/accounts/admin/active", {"active": "0"})
    assert "不能停用自己" in admin.page("/admin/accounts")


def test_admin_unlocks_a_locked_account(client_for):
    stranger = client_for()
    for _ in range(5):
        stranger.post("/login", {"username": "zhangsan", "password": "wrong-password"})
    # Locked (the page does not say so: it says what it says for an unknown user).
    assert stranger.post("/login", {"username": "zhangsan", "password": "demo-zhangsan"}).status_code == 401
    admin = client_for("admin")
    page = admin.page("/admin/accounts")
    row = re.search(r'<tr data-account="zhangsan">.*?</tr>', page, re.S).group(0)
    assert "已锁定至" in row and "解除锁定" in row
    assert admin.post("/admin/accounts/zhangsan/unlock").status_code == 302
    client_for("zhangsan")  # signs in at once


def test_admin_cancels_a_case_with_a_reason(client_for, web_engine):
    case_id = start(web_engine)
    admin = client_for("admin")
    assert "撤销原因" in admin.page(f"/admin/cases/{case_id}")
    empty = admin.post(f"/admin/cases/{case_id}", {"reason": " "})
    assert empty.status_code == 422 and "请填写撤销原因" in empty.get_data(as_text=True)
    assert admin.post(f"/admin/cases/{case_id}", {"reason": "申请人重复申报，电话确认撤销"}).status_code == 302
    with web_engine.db.reader.connect() as conn:
        assert case_store.case_row(conn, case_id).status == "cancelled"
        (event,) = case_store.case_events(conn, case_id, [h.CASE_CANCELLED])
    assert event.actor == "admin" and "申请人重复申报" in event.data
    assert admin.post("/admin/cases/find", {"case_id": str(case_id)}).location.endswith(f"/admin/cases/{case_id}")


def test_stuck_cases_are_listed_retried_and_cancelled(client_for, web_engine):
    web_engine.deploy([FIXTURES / "fragile.bpmn"])
    front = Actor("chuangkou", frozenset({"front_desk"}))
    case_id = web_engine.cases.start_case("fragile_wait", {"parts": 0}, front, title="分母为零").id
    web_engine.clock.advance(hours=2)
    with web_engine.db.reader.connect() as conn:
        (deadline,) = deadline_store.of_case(conn, case_id, ("armed",))
    with pytest.raises(ScriptError):
        web_engine.cases.fire_deadline(deadline.id)
    admin = client_for("admin")
    page = admin.page("/admin/cases")
    row = re.search(r'<tr data-case="%d">.*?</tr>' % case_id, page, re.S).group(0)
    assert "分母为零" in row and "重试" in row
    retried = admin.post(f"/admin/cases/{case_id}/retry")
    assert retried.status_code == 302
    assert "仍然出错" in admin.page("/admin/cases")
    detail = admin.page(f"/admin/cases/{case_id}")
    assert "fire_deadline" in detail and "division" in detail
    admin.post(f"/admin/cases/{case_id}", {"reason": "流程脚本错误，已告知申请人"})
    assert "没有卡住的办件" in admin.page("/admin/cases")


def test_cases_waiting_for_an_unpublished_holiday_schedule_are_listed(client_for, web_engine):
    """A deadline that needs a year whose 节假日安排 is not yet imported cannot be computed: the case
    is flagged, and the administrator sees it in a list with the steps concerned (defect 11)."""
    from datetime import datetime

    from tests.conftest import deploy_fixtures
    from yijianshi.engine.clock import SHANGHAI

    clerk = Actor("chuangkou", frozenset({"front_desk"}))
    deploy_fixtures(web_engine, "limits.bpmn")  # a review due in 7 working days
    last = max(web_engine.calendar.calendar.years)
    web_engine.clock.set(datetime(last, 6, 1, 9, 0, tzinfo=SHANGHAI))
    on_time = web_engine.cases.start_case("limited_review", {"limit_days": 7}, clerk, title="当年审查").id
    web_engine.clock.set(datetime(last, 12, 28, 9, 0, tzinfo=SHANGHAI))  # 7 working days reach into next year
    waiting = web_engine.cases.start_case("limited_review", {"limit_days": 7}, clerk, title="跨年审查").id
    with web_engine.db.reader.connect() as conn:
        flagged = {r.id: r.attention for r in case_store.cases_needing_attention(conn)}
    assert waiting in flagged and on_time not in flagged
    page = client_for("admin").page("/admin/cases")
    table = page[page.index('id="awaiting-calendar"'):]
    table = table[:table.index("</table>")]
    assert f'data-case="{waiting}"' in table and "跨年审查" in table and "节假日安排" in table
    assert f'data-case="{on_time}"' not in table


def test_admin_dry_runs_and_migrates_running_cases_to_a_new_version(client_for, web_engine, tmp_path):
    from tests.test_migration import V1, V2, V3, _complete, _deploy
    from yijianshi.storage import definition_store

    clerk = Actor("chuangkou", frozenset({"front_desk"}))
    v1 = _deploy(web_engine, tmp_path, V1)
    moving = web_engine.cases.start_case("migrating", {}, clerk).id
    _complete(web_engine, moving, "apply", clerk)
    v2 = _deploy(web_engine, tmp_path, V2)
    admin = client_for("admin")
    page = admin.page("/admin/migrations")
    assert f'<option value="{v1}"' in page and f'<option value="{v2}"' in page
    plan = admin.page(f"/admin/migrations?source={v1}&target={v2}")
    assert f'data-case="{moving}"' in plan and "可迁移" in plan and "部门审查" in plan
    refused = admin.post("/admin/migrations", {"source": v1, "target": v2, "reason": ""})
    assert refused.status_code == 302
    with web_engine.db.reader.connect() as conn:
        assert case_store.case_head(conn, moving).definition_id == v1  # no reason: nothing moved
    admin.page(f"/admin/migrations?source={v1}&target={v2}")
    done = admin.post("/admin/migrations", {"source": v1, "target": v2, "reason": "增加主任签批"})
    assert done.status_code == 302
    assert "已将 1 个办件从 v1 迁移到 v2" in admin.page(done.location)
    with web_engine.db.reader.connect() as conn:
        assert case_store.case_head(conn, moving).definition_id == v2
        assert [json.loads(e.data)["reason"] for e in case_store.case_events(conn, moving)
                if e.type == h.CASE_MIGRATED] == ["增加主任签批"]
    # A version that removes the step a case is at: the dry run says why it cannot move.
    stuck = web_engine.cases.start_case("migrating", {}, clerk).id
    v3 = _deploy(web_engine, tmp_path, V3)
    blocked = admin.page(f"/admin/migrations?source={v2}&target={v3}")
    row = blocked[blocked.index(f'data-case="{stuck}"'):]
    assert "不能迁移" in row[:row.index("</tr>")] and "受理" in row[:row.index("</tr>")]
    assert client_for("shichang").get("/admin/migrations").status_code == 403
    with web_engine.db.reader.connect() as conn:
        assert definition_store.latest(conn, "migrating").id == v3

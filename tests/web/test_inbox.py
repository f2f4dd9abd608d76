"""The clerk's side: scoped inbox with filters and deadline marks, claiming, the task page, masking."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from yijianshi.storage import case_store
from yijianshi.storage.tables import WorkItem
from tests.web.conftest import Client, build_app
from tests.web.helpers import APPLICATION, MARKET, accept, item_id, ready, start
from yijianshi.engine.access.actors import Actor
from yijianshi.web.services import services

work_items = WorkItem.__table__


def _rows(page: str) -> list[str]:
    """Work item names in inbox order."""
    return re.findall(r'<a href="/inbox/items/[^"]+">([^<]+)</a>', page)


def _set_warning(engine, work_item_id: str, at) -> None:
    with engine.db.writer.begin() as conn:
        due_at = conn.execute(select(work_items.c.due_at).where(work_items.c.id == work_item_id)).scalar_one()
        case_store.set_limits(conn, work_item_id, due_at, at)


def _two_accepted_cases(engine) -> tuple[int, int]:
    cases = (start(engine, item_choice="package"), start(engine, item_choice="package", enterprise_name="锦江面馆"))
    for case_id in cases:
        accept(engine, case_id)
    return cases


def test_a_clerk_sees_his_departments_work_sorted_by_deadline_with_marks(client_for, web_engine):
    first, _ = _two_accepted_cases(web_engine)
    market = client_for("shichang")
    page = market.page("/inbox/")
    assert _rows(page) == ["营业执照审核登记", "营业执照审核登记", "食品经营许可审查", "食品经营许可审查"]
    assert "户外招牌设置审核" not in page and "消防安全检查" not in page
    assert "row-overdue" not in page and "row-warning" not in page
    web_engine.clock.advance(days=4)  # the 3-day licence items are now overdue
    food = item_id(web_engine, first, "review_food_permit")
    _set_warning(web_engine, food, web_engine.clock.now() - timedelta(hours=1))
    page = market.page("/inbox/")
    assert page.count('class="row-overdue"') == 2 and page.count('class="row-warning"') == 1
    assert "已超期" in page and "dot-red" in page and "dot-yellow" in page
    counts = dict(re.findall(r'show=(\w+)"[^>]*>.*?<span class="count">(\d+)</span>', page, re.DOTALL))
    assert counts == {"unclaimed": "4", "claimed": "0", "warning": "1", "overdue": "2"}
    assert _rows(market.page("/inbox/?show=overdue")) == ["营业执照审核登记"] * 2
    warned = market.page("/inbox/?show=warning")
    assert _rows(warned) == ["食品经营许可审查"] and f"/inbox/items/{food}" in warned
    assert _rows(market.page("/inbox/?scenario=open_restaurant")) == _rows(page)
    assert _rows(market.page("/inbox/?scenario=no_such")) == []
    assert "没有符合条件的待办事项" in market.page("/inbox/?scenario=no_such")


def test_claim_and_unclaim_and_the_claimed_by_me_filter(client_for, web_engine, app):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    with app.app_context():
        services().accounts.create("shichang2", "demo-shichang2", "李娜（市场监管局）", "dept_clerk", ["market"])
    a, b = client_for("shichang"), client_for("shichang2")
    a.get("/inbox/")
    claimed = a.post(f"/inbox/items/{food}/claim")
    assert claimed.status_code == 302 and claimed.location.endswith(f"/inbox/items/{food}")
    assert _rows(a.page("/inbox/?show=claimed")) == ["食品经营许可审查"]
    assert _rows(a.page("/inbox/?show=unclaimed")) == []
    other_view = b.page(f"/inbox/items/{food}")
    assert "该事项由 shichang 办理" in other_view and "disabled" in other_view
    b.get("/inbox/")
    assert b.post(f"/inbox/items/{food}", {"food_permit_approved": "y"}).status_code == 403
    taken = b.post(f"/inbox/items/{food}/claim")
    assert taken.status_code == 302 and "已由 shichang 认领" in b.page("/inbox/")
    assert a.post(f"/inbox/items/{food}/unclaim").status_code == 302
    assert _rows(a.page("/inbox/?show=unclaimed")) == ["食品经营许可审查"]


def test_a_clerk_cannot_see_or_act_on_another_departments_work(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    signboard = item_id(web_engine, case_id, "review_signboard")
    market, urban = client_for("shichang"), client_for("chengguan")
    assert f"/inbox/items/{signboard}" not in market.page("/inbox/")
    refused = market.get(f"/inbox/items/{signboard}")
    assert refused.status_code == 403 and "无权访问" in refused.get_data(as_text=True)
    market.get("/inbox/")
    assert market.post(f"/inbox/items/{signboard}/claim").status_code == 403
    assert market.post(f"/inbox/items/{signboard}", {"signboard_approved": "y"}).status_code == 403
    assert client_for("xiaofang").get(f"/inbox/cases/{case_id}").status_code == 403  # fire is not involved
    assert f"/inbox/items/{signboard}" in urban.page("/inbox/")
    assert [r.task_spec for r in ready(web_engine, case_id) if r.task_spec == "review_signboard"]


def test_the_task_page_shows_form_case_materials_history_and_diagram(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    page = client_for("shichang").page(f"/inbox/items/{food}")
    for part in ("食品经营许可审查：审查通过", 'name="food_permit_no"', "案件概要", "蓉城川味小馆", "材料",
                 "办理记录", "办结“综合窗口受理”", "流程图", "bpmn-diagram", "一表申请", "已办结", "期限"):
        assert part in page, part
    assert '"task": "review_food_permit"' in page or "review_food_permit" in page
    definition_id = re.search(r"/diagrams/(\d+)/open_restaurant\.bpmn", page).group(1)
    xml = client_for("shichang").get(f"/diagrams/{definition_id}/open_restaurant.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b'<bpmn:process id="open_restaurant"' in xml.data
    inner = client_for("shichang").get(f"/diagrams/{definition_id}/item_food_permit.bpmn")
    assert b'id="review_food_permit"' in inner.data
    assert client_for("shichang").get(f"/diagrams/{definition_id}/nothing.bpmn").status_code == 404


def test_personal_numbers_are_masked_for_roles_that_do_not_need_them(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    full_id, full_phone = "110101199001011237", "13812345678"
    masked = client_for("shichang").page(f"/inbox/items/{food}")
    assert full_id not in masked and full_phone not in masked
    assert "110101********1237" in masked and "138****5678" in masked
    supervisor = client_for("ducha").page(f"/inbox/cases/{case_id}")
    assert full_id not in supervisor and "110101********1237" in supervisor
    assert full_id in client_for("chuangkou").page(f"/inbox/cases/{case_id}")  # identity check at the desk
    assert full_id in client_for("admin").page(f"/inbox/cases/{case_id}")


def test_a_bad_value_from_a_clerk_is_shown_with_the_input_kept(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    c = client_for("shichang")
    c.get(f"/inbox/items/{food}")
    long_reason = "理" * 201
    response = c.post(f"/inbox/items/{food}", {"food_permit_approved": "y", "food_permit_reason": long_reason,
                                               "food_permit_no": "JY1"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "长度不能超过 200 个字符" in page and long_reason in page and 'value="JY1"' in page
    assert item_id(web_engine, case_id, "review_food_permit") == food  # still open
    done = c.post(f"/inbox/items/{food}", {"food_permit_approved": "y", "food_permit_no": "JY1",
                                           "next": "/inbox/?show=claimed"})
    assert done.status_code == 302 and done.location.endswith("/inbox/?show=claimed")
    assert "已办结“食品经营许可审查”" in c.page("/inbox/")
    again = c.post(f"/inbox/items/{food}", {"food_permit_approved": "y"})
    assert again.status_code == 302 and "无需重复提交" in c.page("/inbox/")


def test_supervisors_see_every_department_but_act_on_nothing(client_for, web_engine):
    case_id = start(web_engine, item_choice="package")
    accept(web_engine, case_id)
    ducha = client_for("ducha")
    page = ducha.page("/inbox/")
    assert {"营业执照审核登记", "食品经营许可审查", "户外招牌设置审核", "消防安全检查"} == set(_rows(page))
    assert "认领</button>" not in page
    food = item_id(web_engine, case_id, "review_food_permit")
    task = ducha.page(f"/inbox/items/{food}")
    assert "disabled" in task
    ducha.get("/inbox/")
    assert ducha.post(f"/inbox/items/{food}", {"food_permit_approved": "y"}).status_code == 403
    assert ducha.post(f"/inbox/items/{food}/claim").status_code == 403


def test_inbox_queries_on_postgresql(pg_web_engine, tmp_path):
    app = build_app(pg_web_engine, tmp_path)
    first, _ = _two_accepted_cases(pg_web_engine)
    pg_web_engine.clock.advance(days=4)
    _set_warning(pg_web_engine, item_id(pg_web_engine, first, "review_food_permit"),
                 pg_web_engine.clock.now() - timedelta(hours=1))
    c = Client(app)
    c.login("shichang")
    page = c.page("/inbox/")
    assert _rows(page)[:2] == ["营业执照审核登记"] * 2 and len(_rows(page)) == 4
    assert page.count('class="row-overdue"') == 2 and page.count('class="row-warning"') == 1
    food = item_id(pg_web_engine, first, "review_food_permit")
    c.post(f"/inbox/items/{food}/claim")
    assert _rows(c.page("/inbox/?show=claimed")) == ["食品经营许可审查"]
    assert c.post(f"/inbox/items/{food}", {"food_permit_approved": "y"}).status_code == 302
    assert MARKET.id == "shichang"


def test_any_page_number_gives_a_page(client_for, web_engine):
    """A typed or crafted ?page= (huge, negative, not a number) is clamped, never a server error."""
    start(web_engine, item_choice="package")
    for user, url in (("shichang", "/inbox/"), ("shenji", "/audit/"), ("zhangsan", "/apply/cases")):
        c = client_for(user)
        for page in ("99999999999999999999", "-5", "abc", "1e3"):
            c.page(f"{url}?page={page}")


def test_the_inbox_finds_cases_by_number_name_id_number_and_business_key(client_for, web_engine):
    noodles = start(web_engine, enterprise_name="锦江面馆", legal_rep_id_no="51010719850612004X",
                    credit_code="91510100MA6123456W")
    teahouse = start(web_engine, enterprise_name="望江茶楼")
    for case_id in (noodles, teahouse):
        accept(web_engine, case_id)
    market = client_for("shichang")
    titles = lambda page: re.findall(r"开办餐饮店一件事：(\S+?)<", page)  # noqa: E731
    assert set(titles(market.page("/inbox/"))) == {"锦江面馆", "望江茶楼"}
    assert set(titles(market.page("/inbox/?q=锦江"))) == {"锦江面馆"}  # the start of a name
    assert set(titles(market.page("/inbox/?q=张三"))) == {"锦江面馆", "望江茶楼"}  # the legal representative
    assert set(titles(market.page(f"/inbox/?q={teahouse}"))) == {"望江茶楼"}  # the case number
    assert set(titles(searched(market, "51010719850612004x"))) == {"锦江面馆"}  # ID number, any case
    assert set(titles(searched(market, "91510100MA6123456W"))) == {"锦江面馆"}  # credit code
    assert "没有符合条件的待办事项" in searched(market, "510107198506120041")
    assert "没有符合条件的待办事项" in market.page("/inbox/?q=面馆")  # names match from their start
    # The search stays when the order or the filter changes.
    page = market.page("/inbox/?q=锦江")
    assert re.search(r'href="/inbox/\?[^"]*q=%E9%94%A6%E6%B1%9F[^"]*sort=received', page)


def _accepted_case(engine, *, business_key=None, title="开办餐饮店") -> int:
    applicant = Actor("zhangsan", frozenset({"applicant"}))
    case = engine.cases.start_case("open_restaurant", {}, applicant, business_key=business_key, title=title)
    data = {k: ("true" if v == "y" else v) for k, v in APPLICATION.items()}
    engine.cases.complete_work_item(case.ready[0].id, data, applicant)
    accept(engine, case.id)
    return case.id


def searched(client, text: str) -> str:
    """Search through the inbox's search box (a posted form) and follow where it leads."""
    client.page("/inbox/")  # the page with the form (and its CSRF token)
    response = client.post("/inbox/search", {"q": text})
    assert response.status_code == 303, response.status_code
    return client.page(response.location)


def test_an_id_number_searched_for_stays_out_of_every_address(client_for, web_engine):
    """Addresses end up in server and proxy logs, browser history and Referer headers: an ID number
    or credit code typed into the search box never appears in one (nor its hash), while the search
    still works, survives sorting and paging, and is shown masked in the box."""
    from yijianshi.storage.case_search import identifier_hash

    number = "51010719850612004X"
    accept(web_engine, start(web_engine, enterprise_name="锦江面馆", legal_rep_id_no=number))
    accept(web_engine, start(web_engine, enterprise_name="望江茶楼"))
    market = client_for("shichang")
    market.page("/inbox/")
    response = market.post("/inbox/search", {"q": number.lower(), "sort": "received"})
    assert response.status_code == 303
    assert number not in response.location.upper() and identifier_hash(number) not in response.location
    assert "idq=1" in response.location and "sort=received" in response.location
    page = market.page(response.location)
    assert "锦江面馆" in page and "望江茶楼" not in page
    assert 'value="510107********004X"' in page  # shown masked in the search box
    hrefs = re.findall(r'(?:href|action)="([^"]*)"', page)
    assert any("idq=1" in h and "sort=case" in h for h in hrefs)  # sorting keeps the search
    assert not [h for h in hrefs if number in h.upper() or "19850612" in h]
    # Sending the masked text back unchanged is the same search; a name goes into the address.
    again = market.post("/inbox/search", {"q": "510107********004X"})
    assert "锦江面馆" in market.page(again.location) and "望江茶楼" not in market.page(again.location)
    named = market.post("/inbox/search", {"q": "望江"})
    assert "q=%E6%9C%9B%E6%B1%9F" in named.location and "idq" not in named.location
    # A number typed straight into an address (or an old link) is taken out of it at once.
    typed = market.get(f"/inbox/?q={number}&show=unclaimed")
    assert typed.status_code == 303 and number not in typed.location and "show=unclaimed" in typed.location
    assert "锦江面馆" in market.page(typed.location)
    # Another clerk's session does not carry my search.
    assert "望江茶楼" in client_for("shichang").page("/inbox/?idq=1")


def test_the_inbox_finds_a_case_by_its_business_key(client_for, web_engine):
    _accepted_case(web_engine, business_key="SC-2026-0042", title="按业务编号")
    market = client_for("shichang")
    assert "按业务编号" in market.page("/inbox/?q=SC-2026-0042")
    assert "按业务编号" not in market.page("/inbox/?q=SC-2026-0043")


def test_the_search_index_holds_no_id_number(web_engine, app):
    """ID numbers are matched by a hash: the search terms never hold the number itself."""
    from yijianshi.storage.tables import CaseSearchTerm

    start(web_engine)
    with web_engine.db.reader.connect() as conn:
        terms = [r.term for r in conn.execute(select(CaseSearchTerm.__table__))]
    assert "蓉城川味小馆" in terms and "张三" in terms
    assert not [t for t in terms if "110101199001011237" in t or "19900101" in t]


def test_inbox_columns_sort_both_ways_and_page_size_is_chosen(client_for, web_engine):
    first, second = _two_accepted_cases(web_engine)
    market = client_for("shichang")
    case_numbers = lambda page: [int(n) for n in re.findall(r"办件编号 (\d+)", page)]  # noqa: E731
    ascending = case_numbers(market.page("/inbox/?sort=case"))
    assert ascending == sorted(ascending) and ascending[0] == first and ascending[-1] == second
    descending = case_numbers(market.page("/inbox/?sort=case&order=desc"))
    assert descending == sorted(ascending, reverse=True)
    page = market.page("/inbox/?sort=case")
    assert 'aria-sort="ascending"' in page and re.search(r'href="/inbox/\?[^"]*sort=case&amp;order=desc"', page)
    received = market.page("/inbox/?sort=received&order=desc")
    assert 'aria-sort="descending"' in received
    assert _rows(market.page("/inbox/?sort=scenario")) and _rows(market.page("/inbox/?sort=nonsense"))
    two = market.page("/inbox/?size=20")
    assert "<strong>20</strong>" in two and len(_rows(two)) == 4
    assert "<strong>50</strong>" in market.page("/inbox/?size=7")  # not offered: the default


def test_titles_in_the_inbox_are_masked_for_departments_without_personal_data(client_for, web_engine, app):
    _accepted_case(web_engine, title="申请人 110101199001011237")
    page = searched(client_for("shichang"), "110101199001011237")
    table = re.sub(r'href="[^"]*"', "", page[page.index("<tbody>"):page.index("</tbody>")])
    assert "申请人 110101********1237" in table and "110101199001011237" not in table
    app.config["PERSONAL_DATA_GROUPS"] = ("front_desk", "market")
    assert "申请人 110101199001011237" in client_for("shichang").page("/inbox/")


def test_a_deadline_waiting_for_an_unpublished_year_says_so_instead_of_9999(client_for, web_engine):
    from yijianshi.engine.deadlines.timers import UNRESOLVED

    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    with web_engine.db.writer.begin() as conn:
        case_store.set_limits(conn, food, UNRESOLVED, None)
    loaded = set(web_engine.calendar.calendar.years)
    year = web_engine.clock.now().year
    while year in loaded:
        year += 1
    market = client_for("shichang")
    for page in (market.page("/inbox/"), market.page(f"/inbox/items/{food}"), market.page(f"/inbox/cases/{case_id}")):
        assert f"期限待定（待导入 {year} 年节假日安排）" in page
        assert "9999" not in page and "2912" not in page


def _assignment_case(engine, urgent: bool = True) -> str:
    """A case of the Modeler-drawn assignment process at its review by candidate users
    shichang and xiaofang (the latter named by the `reviewer` expression); the review's id."""
    from tests.conftest import deploy_fixtures
    deploy_fixtures(engine, "camunda/assignment.bpmn")
    case = engine.cases.start_case("assignment", {"reviewer": "xiaofang", "urgent": urgent},
                                   Actor("zhangsan", frozenset({"applicant"})))
    admin = Actor("root", frozenset(), is_admin=True)
    return engine.cases.complete_work_item(case.ready[0].id, {"confirmed": True}, admin).ready[0].id


def test_a_candidate_user_in_none_of_the_items_groups_sees_and_works_it(client_for, web_engine, app):
    review = _assignment_case(web_engine)
    fire, urban = client_for("xiaofang"), client_for("chengguan")
    page = fire.page("/inbox/")
    assert "会审" in _rows(page) and f'data-item="{review}"' in page
    assert "赵磊（市场监管局）、孙强（消防救援大队）" in page and "user:" not in page
    assert "会审" not in _rows(urban.page("/inbox/"))
    assert urban.get(f"/inbox/items/{review}").status_code == 403
    task = fire.page(f"/inbox/items/{review}")
    assert "user:" not in task
    assert fire.post(f"/inbox/items/{review}", {"approved": "y"}).status_code == 302
    assert f'data-item="{review}"' not in fire.page("/inbox/")


def test_the_inbox_sorts_by_priority_highest_first(client_for, web_engine, app):
    admin = Actor("root", frozenset(), is_admin=True)
    signs = {}
    for urgent in (False, True):
        review = _assignment_case(web_engine, urgent)
        signs[urgent] = web_engine.cases.complete_work_item(review, {"approved": True}, admin).ready[0].id
    market = client_for("shichang")
    page = market.page("/inbox/?sort=priority")
    order = [i for i in re.findall(r'data-item="([^"]+)"', page) if i in signs.values()]
    assert order == [signs[True], signs[False]]
    page = market.page("/inbox/?sort=priority&order=desc")
    assert [i for i in re.findall(r'data-item="([^"]+)"', page) if i in signs.values()] == [signs[False], signs[True]]
    task = market.page(f"/inbox/items/{signs[True]}")
    assert "优先级" in task and "跟进日期" in task


def test_an_item_is_opened_by_its_id_exactly(client_for, web_engine):
    case_id = start(web_engine)
    accept(web_engine, case_id)
    food = item_id(web_engine, case_id, "review_food_permit")
    market = client_for("shichang")
    assert market.get(f"/inbox/items/{food}").status_code == 200
    market.get("/inbox/")
    # the id in other forms, or no UUID at all, names no work item (SQLite stores ids as 16 bytes: 0027)
    for wrong in (food.upper(), food.replace("-", ""), food[:35], "nope", "%20" + food[1:]):
        assert market.get(f"/inbox/items/{wrong}").status_code == 404, wrong
        assert market.post(f"/inbox/items/{wrong}/claim").status_code == 404, wrong

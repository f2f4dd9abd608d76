"""The applicant's side: catalogue, the one merged form, progress, 一次告知 and 补正, results, rating."""
from __future__ import annotations

import re

from tests.web.helpers import APPLICATION, FRONT_DESK, MARKET, URBAN, accept, apply, item_id, ready


def test_the_catalogue_offers_scenarios_not_their_single_item_processes(client_for):
    page = client_for("zhangsan").page("/apply/")
    assert "开办餐饮店一件事" in page and "我要办理" in page
    assert "/apply/scenarios/open_restaurant" in page
    assert "/apply/scenarios/item_food_permit" not in page
    assert client_for("zhangsan").get("/apply/scenarios/item_food_permit").status_code == 404


def test_the_scenario_page_shows_one_form_built_from_the_bpmn_fields_and_the_items(client_for):
    page = client_for("canyin").page("/apply/scenarios/open_restaurant")
    for label in ("企业（个体工商户）名称", "法定代表人（经营者）身份证号码", "经营场所面积（平方米）", "办理方式",
                  "集成办理（四个事项一并办理）", "自选：食品经营许可（新办）"):
        assert label in page
    assert page.count('name="enterprise_name"') == 1  # asked once, though two forms use it
    assert 'maxlength="18"' in page and 'inputmode="numeric"' in page and 'type="radio"' in page
    assert 'value="package" checked' in page or 'checked value="package"' in page or re.search(
        r'<input[^>]*checked[^>]*value="package"|<input[^>]*value="package"[^>]*checked', page)
    for item, dept, limit in (("营业执照登记", "市场监管局", "3 日"), ("户外招牌设置", "城市管理局", "5 日"),
                              ("消防安全检查", "消防救援大队", "10 日")):
        assert item in page and dept in page and limit in page
    # Query arguments preselect a single item (单独办理).
    single = client_for("canyin").page("/apply/scenarios/open_restaurant?item_choice=custom&want_fire_check=true")
    assert re.search(r'<input[^>]*checked[^>]*value="custom"|<input[^>]*value="custom"[^>]*checked', single)
    assert re.search(r'<input[^>]*id="want_fire_check"[^>]*checked|<input[^>]*checked[^>]*id="want_fire_check"', single)


def test_bad_values_show_inline_errors_keep_the_input_and_start_nothing(client_for, web_engine):
    c = client_for("zhangsan")
    c.get("/apply/scenarios/open_restaurant")
    response = c.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "floor_area": "八十", "legal_rep_id_no": "12345", "enterprise_name": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "提交的内容有误" in page
    assert "请输入整数" in page and 'value="八十"' in page
    assert "长度不能少于 18 个字符" in page and 'value="12345"' in page
    assert "此项为必填项" in page
    assert 'value="成都市武侯区科华北路 1 号"' in page  # valid values stay too
    assert 'aria-invalid="true"' in page
    with web_engine.db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar() == 0


def test_applying_starts_a_case_waiting_for_the_front_desk(client_for, web_engine):
    c = client_for("zhangsan")
    case_id = apply(c)
    [item] = ready(web_engine, case_id)
    assert item.task_spec == "accept" and item.groups == "front_desk"
    page = c.page(f"/apply/cases/{case_id}")
    assert "开办餐饮店一件事：蓉城川味小馆" in page
    assert "综合窗口受理" in page and "综合窗口" in page and "办理中" in page
    assert "110101199001011237" in page  # the applicant sees his own data unmasked
    assert "bpmn-diagram" in page
    assert "/diagrams/" in page
    mine = c.page("/apply/cases")
    assert "蓉城川味小馆" in mine and "综合窗口受理" in mine


def test_one_time_notice_then_correction_then_acceptance(client_for, web_engine):
    c = client_for("zhangsan")
    case_id = apply(c)
    notice = "1. 营业执照副本不清晰，请重新上传；\n2. 缺少经营场所租赁合同。"
    desk = client_for("chuangkou")
    accept_id = item_id(web_engine, case_id, "accept")
    desk.get(f"/inbox/items/{accept_id}")
    response = desk.post(f"/inbox/items/{accept_id}", {"materials_complete": "", "missing_materials": notice})
    assert response.status_code == 302
    supplement_id = item_id(web_engine, case_id, "supplement")
    case_page = c.page(f"/apply/cases/{case_id}")
    assert "待您办理" in case_page and "缺少经营场所租赁合同" in case_page and "补正材料" in case_page
    task_page = c.page(f"/apply/tasks/{supplement_id}")
    assert "窗口一次告知的需补正材料" in task_page and "营业执照副本不清晰" in task_page
    assert 'value="蓉城川味小馆"' in task_page  # the earlier answers are filled in
    assert 'name="missing_materials"' not in task_page  # read-only: shown, never sent
    form = {k: v for k, v in APPLICATION.items()}
    form["business_address"] = "成都市武侯区科华北路 2 号"
    done = c.post(f"/apply/tasks/{supplement_id}", form)
    assert done.status_code == 302
    assert [r.task_spec for r in ready(web_engine, case_id)] == ["accept"]
    assert "科华北路 2 号" in c.page(f"/apply/cases/{case_id}")


def test_results_reach_the_applicant_who_rates_the_service(client_for, web_engine):
    c = client_for("zhangsan")
    case_id = apply(c)
    accept(web_engine, case_id)
    web_engine.cases.complete_work_item(item_id(web_engine, case_id, "review_food_permit"), {
        "food_permit_approved": "true", "food_permit_no": "JY15101070012345", "food_permit_reason": "符合条件"}, MARKET)
    web_engine.cases.complete_work_item(item_id(web_engine, case_id, "review_signboard"), {
        "signboard_approved": "true", "signboard_no": "ZP-2025-001"}, URBAN)
    web_engine.cases.complete_work_item(item_id(web_engine, case_id, "deliver"), {
        "delivery_method": "e_licence", "delivery_note": "电子证照已推送"}, FRONT_DESK)
    page = c.page(f"/apply/cases/{case_id}")
    assert "办理结果" in page and "JY15101070012345" in page and "ZP-2025-001" in page and "电子证照" in page
    rate_id = item_id(web_engine, case_id, "rate")
    assert "好差评" in page and f"/apply/tasks/{rate_id}" in page
    rate_page = c.page(f"/apply/tasks/{rate_id}")
    assert "好评" in rate_page and "差评" in rate_page
    missing = c.post(f"/apply/tasks/{rate_id}", {"rating": "", "comment": ""})
    assert missing.status_code == 422 and "此项为必填项" in missing.get_data(as_text=True)
    assert c.post(f"/apply/tasks/{rate_id}", {"rating": "good", "comment": "一次都没跑"}).status_code == 302
    final = c.page(f"/apply/cases/{case_id}")
    assert "已办结" in final and "您的评价：好评" in final and "案件办结" in final


def test_an_applicant_sees_only_his_own_cases_and_steps(client_for, web_engine):
    case_id = apply(client_for("zhangsan"))
    other = client_for("canyin")
    assert other.get(f"/apply/cases/{case_id}").status_code == 403
    assert "蓉城川味小馆" not in other.page("/apply/cases")
    accept_id = item_id(web_engine, case_id, "accept")
    assert other.get(f"/apply/tasks/{accept_id}").status_code == 403
    assert client_for("zhangsan").get(f"/apply/tasks/{accept_id}").status_code == 403  # the desk's step
    assert other.post(f"/apply/cases/{case_id}/withdraw").status_code == 403


def test_withdrawing_an_application(client_for, web_engine):
    c = client_for("zhangsan")
    case_id = apply(c)
    c.get(f"/apply/cases/{case_id}")
    assert c.post(f"/apply/cases/{case_id}/withdraw", {"reason": "暂不开店"}).status_code == 302
    page = c.page(f"/apply/cases/{case_id}")
    assert "已撤回" in page and "暂不开店" in page
    assert ready(web_engine, case_id) == []
    again = c.post(f"/apply/cases/{case_id}/withdraw")
    assert again.status_code == 302 and "不能再撤销" in c.page(f"/apply/cases/{case_id}")


def test_a_failing_start_leaves_no_case_behind(client_for, web_engine, monkeypatch, tmp_path):
    """Starting the case, submitting the application form and keeping the materials are one
    transaction: a start that fails (e.g. a timer the engine cannot arm) leaves no stuck draft case
    and no files; the applicant sees why, keeps what he typed, and can send it again."""
    import io

    from yijianshi.engine.errors import EngineError
    from tests.web.helpers import PDF

    c = client_for("zhangsan")
    c.get("/apply/scenarios/open_restaurant")
    real = web_engine.cases._submit_start_form

    def failing(started, submitted, *rest):
        real(started, submitted, *rest)  # the step completes, then the engine fails arming what follows
        raise EngineError("流程执行出错（测试）")

    def cases_and_materials():
        with web_engine.db.reader.connect() as conn:
            return [conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("cases", "materials")]

    monkeypatch.setattr(web_engine.cases, "_submit_start_form", failing)
    response = c.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF), "营业执照副本.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "未创建办件" in page and "流程执行出错（测试）" in page and 'value="蓉城川味小馆"' in page
    assert cases_and_materials() == [0, 0]
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]

    def crashing(started, submitted):
        real(started, submitted)
        raise AttributeError("'datetime.datetime' object has no attribute 'upper'")

    monkeypatch.setattr(web_engine.cases, "_submit_start_form", crashing)
    assert c.post("/apply/scenarios/open_restaurant", APPLICATION).status_code == 500
    assert cases_and_materials() == [0, 0]
    monkeypatch.setattr(web_engine.cases, "_submit_start_form", real)
    case_id = apply(c)
    assert [r.task_spec for r in ready(web_engine, case_id)] == ["accept"]


def test_numbers_are_checked_and_a_custom_choice_needs_an_item(client_for, web_engine):
    """身份证号 by its GB 11643 check digit, 统一社会信用代码 by its GB 32100 check character, and
    自选事项 with nothing ticked: refused on the page, in Chinese and in English, starting nothing."""
    c = client_for("zhangsan")
    c.get("/apply/scenarios/open_restaurant")
    nothing_ticked = {k: v for k, v in APPLICATION.items() if not k.startswith("want_")}
    response = c.post("/apply/scenarios/open_restaurant", {
        **nothing_ticked, "legal_rep_id_no": "110101199001011234", "credit_code": "91120221MA05TEQ0A1",
        "item_choice": "custom"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "身份证号码校验位不正确，请核对" in page and "统一社会信用代码校验位不正确，请核对" in page
    assert "请至少勾选一项：自选：企业营业执照信息核验/登记" in page
    c.get("/lang/en")
    english = c.post("/apply/scenarios/open_restaurant", {**APPLICATION, "legal_rep_id_no": "110101199002301238"})
    assert "The date of birth in this resident ID number is not a real date" in english.get_data(as_text=True)
    with web_engine.db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar() == 0

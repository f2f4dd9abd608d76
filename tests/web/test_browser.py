"""End to end in a real browser: Playwright drives Debian's Chromium against the app served by a
real HTTP server thread on 127.0.0.1 with a temporary SQLite database. Screenshots of each step go
to test-artifacts/screenshots/."""
from __future__ import annotations

import contextlib
import re
import threading
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import check_every_case, make_engine
from tests.web.conftest import ROOT, build_app
from tests.web.helpers import PDF, accept, item_id, start

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = ROOT / "test-artifacts" / "screenshots"


@contextlib.contextmanager
def live_app(tmp_path_factory, name: str):
    """The app on a real server thread with a database of its own; yields (base URL, engine) and
    checks every case it made afterwards."""
    folder = tmp_path_factory.mktemp(name)
    engine = make_engine(f"sqlite:///{folder}/yijianshi.sqlite3")
    app = build_app(engine, folder)
    with serving(app) as base:
        yield base, engine
    check_every_case(engine)
    engine.db.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on a real server thread; yields (base URL, engine)."""
    with live_app(tmp_path_factory, "browser") as served:
        yield served


@contextlib.contextmanager
def serving(app):
    """The app on a real HTTP server thread on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def people(browser, base: str, on_login_page=None, **context_options):
    """Yields sign_in(username) -> a page signed in through the login page, each person in a browser
    context of his own (own cookies) made with `context_options`; `on_login_page(page)` runs on the
    login page before signing in. The contexts are closed afterwards."""
    contexts = []

    def sign_in(username: str) -> Page:
        context = browser.new_context(locale="zh-CN", **context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/login")
        if on_login_page is not None:
            on_login_page(page)
        page.fill("#username", username)
        page.fill("#password", f"demo-{username}")
        page.click("button[type=submit]")
        expect(page.locator(".who")).to_be_attached()
        return page

    try:
        yield sign_in
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def person(browser, live):
    """A separate browser context (own cookies) per person, signed in through the login page."""
    with people(browser, live[0], viewport={"width": 1280, "height": 900}) as sign_in:
        yield lambda username: _visible_user(sign_in(username))


def _visible_user(page: Page) -> Page:
    expect(page.locator(".who")).to_be_visible()  # on a desktop the signed-in user is shown
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def open_item(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/inbox/")
    page.get_by_role("link", name=name).first.click()
    expect(page.locator("h1")).to_contain_text(name)


def test_apply_accept_two_departments_result_and_rating(person, live, tmp_path):
    base, engine = live
    applicant = person("zhangsan")
    shot(applicant, "01-applicant-catalogue")
    applicant.get_by_role("link", name="我要办理").first.click()
    expect(applicant.locator("h1")).to_have_text("开办餐饮店一件事")
    applicant.fill("#enterprise_name", "蓉城川味小馆")
    applicant.fill("#legal_rep_name", "张三")
    applicant.fill("#legal_rep_id_no", "110101199001011237")
    applicant.fill("#contact_phone", "13812345678")
    applicant.fill("#business_address", "成都市武侯区科华北路 1 号")
    applicant.fill("#floor_area", "80")
    applicant.fill("#seating", "40")
    applicant.check("input[name=item_choice][value=custom]")
    applicant.check("#want_food_permit")
    applicant.check("#want_signboard")
    licence = tmp_path / "营业执照副本.pdf"
    licence.write_bytes(PDF)
    applicant.set_input_files("#materials", str(licence))
    shot(applicant, "02-applicant-one-form")
    applicant.get_by_role("button", name="提交申请").click()
    expect(applicant.locator(".flash-success")).to_contain_text("申请已提交")
    expect(applicant.locator(".now-on")).to_contain_text("综合窗口受理")
    case_id = int(re.search(r"/apply/cases/(\d+)", applicant.url).group(1))
    shot(applicant, "03-applicant-progress")

    desk = person("chuangkou")
    expect(desk.locator("table.inbox")).to_contain_text("蓉城川味小馆")
    desk.locator("tr:has-text('蓉城川味小馆') button:has-text('认领')").click()
    expect(desk.locator(".flash-success")).to_contain_text("已认领")
    expect(desk.locator(".bpmn-diagram[data-rendered=true]")).to_have_count(1)
    expect(desk.locator(".yjs-current")).not_to_have_count(0)
    expect(desk.locator("table.materials")).to_contain_text("营业执照副本.pdf")
    expect(desk.locator("aside.side-col")).to_contain_text("110101199001011237")  # the desk checks identity
    shot(desk, "04-front-desk-task")
    desk.check("#materials_complete")
    desk.get_by_role("button", name="提交办理结果").click()
    expect(desk.locator(".flash-success")).to_contain_text("已办结“综合窗口受理”")

    market = person("shichang")
    open_item(market, base, "食品经营许可审查")
    expect(market.locator("aside.side-col")).to_contain_text("110101********1237")  # masked for the department
    expect(market.locator(".bpmn-diagram[data-rendered=true]")).to_have_count(2)  # scenario + called item
    shot(market, "05-market-task")
    market.check("#food_permit_approved")
    market.fill("#food_permit_no", "JY15101070012345")
    market.get_by_role("button", name="提交办理结果").click()
    expect(market.locator(".flash-success")).to_contain_text("已办结")

    urban = person("chengguan")
    open_item(urban, base, "户外招牌设置审核")
    urban.check("#signboard_approved")
    urban.fill("#signboard_no", "ZP-2025-001")
    urban.get_by_role("button", name="提交办理结果").click()
    expect(urban.locator(".flash-success")).to_contain_text("已办结")

    open_item(desk, base, "统一出件")
    desk.check("input[name=delivery_method][value=e_licence]")
    desk.get_by_role("button", name="提交办理结果").click()
    expect(desk.locator(".flash-success")).to_contain_text("已办结“统一出件”")

    applicant.goto(f"{base}/apply/cases/{case_id}")
    expect(applicant.locator("aside.side-col")).to_contain_text("JY15101070012345")
    expect(applicant.locator("aside.side-col")).to_contain_text("ZP-2025-001")
    shot(applicant, "06-applicant-result")
    applicant.locator("#your-turn").get_by_role("link", name="好差评").click()
    applicant.check("input[name=rating][value=good]")
    applicant.fill("#comment", "材料只交了一次，一次都没多跑。")
    applicant.get_by_role("button", name="提交").click()
    expect(applicant.locator("h1 .badge")).to_have_text("已办结")
    expect(applicant.locator(".rating")).to_contain_text("好评")
    shot(applicant, "07-applicant-rated")
    with engine.db.reader.connect() as conn:
        status = conn.exec_driver_sql(f"SELECT status FROM cases WHERE id = {case_id}").scalar()
    assert status == "completed"


def test_a_rejection_is_confirmed_in_the_page_and_needs_a_reason(person, live):
    """审查通过 left unticked means 不予许可: the page asks first (camunda:constraint confirm), and the
    server refuses a rejection without a reason (required_if)."""
    base, engine = live
    case_id = start(engine, enterprise_name="春熙路小吃店")
    accept(engine, case_id)
    market = person("shichang")
    market.goto(f"{base}/inbox/items/{item_id(engine, case_id, 'review_food_permit')}")
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    market.once("dialog", dismiss)
    market.get_by_role("button", name="提交办理结果").click()
    market.wait_for_timeout(300)
    assert asked and "确定审查不通过" in asked[0]
    assert item_id(engine, case_id, "review_food_permit")  # nothing was sent
    market.once("dialog", lambda dialog: dialog.accept())
    market.get_by_role("button", name="提交办理结果").click()
    expect(market.locator("#food_permit_reason-error")).to_contain_text("此项为必填项")


def test_a_clerk_cannot_see_another_departments_work(person, live):
    base, engine = live
    case_id = start(engine, enterprise_name="锦江面馆")
    accept(engine, case_id)
    signboard = item_id(engine, case_id, "review_signboard")
    market = person("shichang")
    market.goto(f"{base}/inbox/")
    expect(market.locator("table.inbox")).to_contain_text("锦江面馆")
    expect(market.locator("table.inbox")).not_to_contain_text("户外招牌设置审核")
    market.goto(f"{base}/inbox/items/{signboard}")
    expect(market.locator("h1")).to_have_text("无权访问")
    shot(market, "08-market-refused-other-department")
    urban = person("chengguan")
    urban.goto(f"{base}/inbox/")
    expect(urban.locator("table.inbox")).to_contain_text("户外招牌设置审核")
    urban.get_by_role("link", name="English").click()
    expect(urban.locator("h1")).to_have_text("Inbox")
    shot(urban, "09-urban-inbox-english")


def test_a_bad_value_shows_the_error_and_keeps_the_input(person, live):
    base, _ = live
    applicant = person("canyin")
    applicant.goto(f"{base}/apply/scenarios/open_restaurant")
    applicant.fill("#enterprise_name", "蓉城川味餐饮有限公司")
    applicant.fill("#legal_rep_name", "李四")
    applicant.fill("#legal_rep_id_no", "51010419851212104X")
    applicant.fill("#contact_phone", "028-86123456")
    applicant.fill("#business_address", "成都市锦江区春熙路 8 号")
    applicant.fill("#floor_area", "八十")
    applicant.fill("#seating", "-3")
    applicant.get_by_role("button", name="提交申请").click()
    expect(applicant.locator(".form-alert")).to_contain_text("提交的内容有误")
    area = applicant.locator(".field[data-field=floor_area]")
    expect(area.locator(".error")).to_have_text("请输入整数")
    expect(applicant.locator("#floor_area")).to_have_value("八十")
    expect(applicant.locator(".field[data-field=seating] .error")).to_have_text("不能小于 0")
    expect(applicant.locator("#seating")).to_have_value("-3")
    expect(applicant.locator("#enterprise_name")).to_have_value("蓉城川味餐饮有限公司")
    shot(applicant, "10-bad-value-kept")
    applicant.fill("#floor_area", "80")
    applicant.fill("#seating", "30")
    applicant.get_by_role("button", name="提交申请").click()
    expect(applicant.locator(".flash-success")).to_contain_text("申请已提交")


def test_a_clerk_downloads_a_material_and_an_auditor_exports_a_search(person, live, tmp_path):
    """Files written by the app are served back to the browser: the uploaded material to the front
    desk, the export of an audit search to the auditor."""
    base, _ = live
    applicant = person("zhangsan")
    applicant.goto(f"{base}/apply/scenarios/open_restaurant")
    applicant.fill("#enterprise_name", "青羊区下载测试小馆")
    applicant.fill("#legal_rep_name", "张三")
    applicant.fill("#legal_rep_id_no", "110101199001011237")
    applicant.fill("#contact_phone", "13812345678")
    applicant.fill("#business_address", "成都市青羊区人民中路 2 号")
    applicant.fill("#floor_area", "60")
    applicant.fill("#seating", "20")
    licence = tmp_path / "卫生许可证明.pdf"
    licence.write_bytes(PDF)
    pledge = tmp_path / "承诺书.ofd"
    with zipfile.ZipFile(pledge, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD/>")
    applicant.set_input_files("#materials", [str(licence), str(pledge)])
    applicant.get_by_role("button", name="提交申请").click()
    expect(applicant.locator(".flash-success")).to_contain_text("申请已提交")
    case_id = int(re.search(r"/apply/cases/(\d+)", applicant.url).group(1))

    desk = person("chuangkou")
    desk.locator("tr:has-text('青羊区下载测试小馆') button:has-text('认领')").click()
    expect(desk.locator(".flash-success")).to_contain_text("已认领")
    material = desk.locator("table.materials").get_by_role("link", name="卫生许可证明.pdf")
    expect(material).to_be_visible()
    shot(desk, "11-front-desk-material")
    # A PDF opens in a new tab (inline, in a sandbox); any other type is saved as the file uploaded.
    with desk.expect_popup() as popup:
        material.click()
    popup.value.wait_for_load_state()
    assert re.search(r"/materials/\d+$", popup.value.url)
    assert popup.value.evaluate("document.contentType") == "application/pdf"
    popup.value.close()
    with desk.expect_download() as download:
        desk.locator("table.materials").get_by_role("link", name="承诺书.ofd").click()
    assert download.value.suggested_filename == "承诺书.ofd"
    assert Path(download.value.path()).read_bytes() == pledge.read_bytes()

    auditor = person("shenji")
    auditor.goto(f"{base}/audit/")
    auditor.fill("#applicant", "zhangsan")
    auditor.get_by_role("button", name="查询").click()
    expect(auditor.locator("table.audit-cases")).to_contain_text("青羊区下载测试小馆")
    shot(auditor, "13-auditor-search-for-export")
    auditor.get_by_role("button", name="导出 CSV").click()
    expect(auditor.locator("#export-job")).to_have_attribute("data-state", "done")
    expect(auditor.get_by_role("link", name="下载导出文件")).to_be_visible()
    shot(auditor, "14-auditor-export-ready")
    with auditor.expect_download() as export:
        auditor.get_by_role("link", name="下载导出文件").click()
    assert export.value.suggested_filename.endswith(".csv")
    rows = Path(export.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("case_id,") and any(r.startswith(f"{case_id},") for r in rows[1:])


def test_a_clerk_searches_the_inbox_by_name_and_by_id_number(person, live):
    """The search box in a real browser: the start of a name, then an ID number, which finds the
    case but never shows up in the address bar (history, logs, Referer)."""
    base, engine = live
    number = "51010719850612004X"
    for case_id in (start(engine, enterprise_name="锦江面馆", legal_rep_id_no=number),
                    start(engine, enterprise_name="望江茶楼")):
        accept(engine, case_id)
    market = person("shichang")
    market.goto(f"{base}/inbox/")
    market.fill("#q", "锦江")
    market.get_by_role("button", name="查找").click()
    rows = market.locator("table.inbox tbody tr")
    expect(rows.filter(has_text="锦江面馆")).not_to_have_count(0)
    expect(rows.filter(has_text="望江茶楼")).to_have_count(0)
    assert "q=" in market.url
    market.fill("#q", number.lower())
    market.get_by_role("button", name="查找").click()
    expect(market.locator("#q")).to_have_value("510107********004X")
    expect(rows.filter(has_text="锦江面馆")).not_to_have_count(0)
    expect(rows.filter(has_text="望江茶楼")).to_have_count(0)
    assert number not in market.url.upper() and "19850612" not in market.url
    shot(market, "15-clerk-search-by-id-number")
    market.get_by_role("link", name="清除").click()
    expect(rows.filter(has_text="望江茶楼")).not_to_have_count(0)


# Last in the file: the tests above take the pictures.
def test_screenshots_exist():
    """The journey left its pictures for people to look at (CI keeps test-artifacts/)."""
    names = {p.stem for p in Path(SHOTS).glob("*.png")}
    assert {"02-applicant-one-form", "04-front-desk-task", "07-applicant-rated", "10-bad-value-kept",
            "11-front-desk-material", "14-auditor-export-ready", "15-clerk-search-by-id-number"} <= names

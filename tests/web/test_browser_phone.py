"""The pages people open on a phone, at 390×844 (a common phone width) in a real browser: the
applicant's catalogue, one-form application, case list and case page, and the clerk's inbox and task
page. Nothing may be wider than the screen (no sideways scrolling of the page; wide tables scroll in
their own box or stack), and the main action of each page is on screen. Screenshots go to
test-artifacts/screenshots/phone-*.png."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web import test_browser as journey
from tests.web.helpers import accept, start

browser = journey.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with journey.live_app(tmp_path_factory, "browser-phone") as served:
        yield served


@pytest.fixture
def phone(browser, live):
    with journey.people(browser, live[0], on_login_page=lambda page: fits(page, "phone-00-login"),
                        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True) as sign_in:
        yield sign_in


def fits(page: Page, name: str) -> None:
    """The page is no wider than the phone, and every element that is shown ends within it (an
    element may be wider only inside a box that scrolls sideways by itself)."""
    page.wait_for_load_state("load")
    widths = page.evaluate("""() => {
        const doc = document.documentElement;
        const vw = doc.clientWidth;
        const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p); if (s.overflowX === 'auto' || s.overflowX === 'scroll') return true; }
            return false; };
        const over = [];
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0 || scrolls(el)) continue;
            if (r.right > vw + 1 || r.left < -1) over.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
        }
        const squeezed = [];  // a column so narrow that its words break into one character per line
        for (const cell of document.body.querySelectorAll('td, table:not(.stack) th')) {
            const r = cell.getBoundingClientRect();
            if (r.width > 0 && r.width < 56 && cell.textContent.trim().length > 3) squeezed.push(`${cell.textContent.trim().slice(0, 12)} ${Math.round(r.width)}px`);
        }
        return {scroll: doc.scrollWidth, client: vw, over: over.slice(0, 8), squeezed: squeezed.slice(0, 8)};
    }""")
    page.screenshot(path=str(journey.SHOTS / f"{name}.png"), full_page=True)
    assert widths["client"] == PHONE["width"], widths
    assert widths["scroll"] <= PHONE["width"], f"{name}: the page scrolls sideways: {widths}"
    assert not widths["over"], f"{name}: elements end outside the screen: {widths['over']}"
    assert not widths["squeezed"], f"{name}: table columns too narrow to read: {widths['squeezed']}"


def on_screen(page: Page, locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_an_applicant_applies_and_follows_a_case_on_a_phone(phone, live):
    base, engine = live
    start(engine, enterprise_name="手机端测试面馆")
    page = phone("zhangsan")
    page.goto(f"{base}/apply/")
    fits(page, "phone-01-catalogue")
    page.get_by_role("link", name="我要办理").first.click()
    expect(page.locator("h1")).to_have_text("开办餐饮店一件事")
    fits(page, "phone-02-one-form")
    on_screen(page, page.get_by_role("button", name="提交申请"))
    page.goto(f"{base}/apply/cases")
    expect(page.locator("body")).to_contain_text("手机端测试面馆")
    fits(page, "phone-03-my-cases")
    page.get_by_role("link", name="手机端测试面馆").first.click()
    expect(page.locator("h1")).to_contain_text("开办餐饮店一件事")
    fits(page, "phone-04-case")


def test_a_clerk_works_the_inbox_and_a_task_on_a_phone(phone, live):
    base, engine = live
    case_id = start(engine, enterprise_name="手机端受理面馆")
    accept(engine, case_id)
    page = phone("shichang")
    page.goto(f"{base}/inbox/")
    expect(page.locator("body")).to_contain_text("手机端受理面馆")
    fits(page, "phone-05-inbox")
    page.get_by_role("link", name="食品经营许可审查").first.click()
    expect(page.locator("h1")).to_contain_text("食品经营许可审查")
    fits(page, "phone-06-task")
    submit = page.get_by_role("button", name="提交办理结果")
    if submit.count() == 0:  # not claimed yet: the claim button is the main action
        on_screen(page, page.get_by_role("button", name="认领").first)
    else:
        on_screen(page, submit)

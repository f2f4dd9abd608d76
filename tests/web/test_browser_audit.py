"""The auditor in a real browser (Playwright + Debian's Chromium): search, open a case, check its
history chain and re-execution, step through the replay on the diagram and watch the marks move,
export the search with its progress page. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.helpers import MARKET, accept, item_id, start
from tests.web.test_browser import SHOTS, browser, live, person, shot  # noqa: F401 - fixtures

__all__ = ["browser", "live", "person"]


def element(page: Page, element_id: str):
    """The drawn BPMN element (bpmn-js puts the markers on its group)."""
    return page.locator(f"#replay .bpmn-diagram[data-process=open_restaurant] g.djs-element[data-element-id={element_id}]")


def test_auditor_searches_opens_a_case_and_steps_through_the_replay(person, live):  # noqa: F811
    base, engine = live
    case_id = start(engine, "canyin", enterprise_name="太古里茶馆")
    accept(engine, case_id)
    engine.cases.complete_work_item(item_id(engine, case_id, "review_food_permit"), {
        "food_permit_approved": "true", "food_permit_no": "JY15101070099999", "food_permit_reason": "符合条件"}, MARKET)
    steps = len(engine.history(case_id))

    auditor = person("shenji")
    auditor.get_by_role("link", name="审计").click()
    expect(auditor.locator("h1")).to_have_text("审计：办件查询")
    auditor.fill("#applicant", "canyin")
    auditor.select_option("#scenario", "open_restaurant")
    auditor.get_by_role("button", name="查询").click()
    expect(auditor.locator("table.audit-cases tbody tr")).to_have_count(1)
    expect(auditor.locator("table.audit-cases")).to_contain_text("太古里茶馆")
    shot(auditor, "20-auditor-search")

    auditor.get_by_role("link", name="开办餐饮店一件事：太古里茶馆").click()
    expect(auditor.locator("#chain")).to_contain_text("完整")
    expect(auditor.locator("table.timeline tbody tr")).to_have_count(steps)
    expect(auditor.locator("table.timeline")).to_contain_text("110101********1237")  # masked for auditors
    auditor.get_by_role("link", name="重新执行并比对").click()
    expect(auditor.locator("#reexecution")).to_contain_text("结果与存储状态一致")

    replay = auditor.locator("#replay")
    expect(replay).to_have_attribute("data-ready", "true")
    expect(auditor.locator("#replay .bpmn-diagram[data-rendered=true]")).to_have_count(3)  # case + two items
    expect(replay.locator(".replay-counter")).to_have_text(f"第 1 / {steps} 步")
    expect(element(auditor, "apply")).to_have_class(_has("yjs-current"))
    expect(element(auditor, "accept")).not_to_have_class(_has("yjs-current"))
    expect(replay.locator(".replay-prev")).to_be_disabled()
    shot(auditor, "21-auditor-replay-start")

    next_button = replay.locator(".replay-next")
    next_button.click()
    next_button.click()  # event 3: the application is submitted
    expect(replay).to_have_attribute("data-seq", "3")
    expect(replay.locator(".replay-event")).to_contain_text("一表申请")
    expect(element(auditor, "apply")).to_have_class(_has("yjs-done"))
    expect(element(auditor, "apply")).not_to_have_class(_has("yjs-current"))
    expect(element(auditor, "accept")).to_have_class(_has("yjs-current"))
    expect(auditor.locator("table.timeline tr.replay-here")).to_have_attribute("data-seq", "3")
    shot(auditor, "22-auditor-replay-step-3")

    replay.locator(".replay-prev").click()
    expect(replay).to_have_attribute("data-seq", "2")
    expect(element(auditor, "apply")).to_have_class(_has("yjs-current"))
    expect(element(auditor, "accept")).not_to_have_class(_has("yjs-current"))

    for _ in range(steps):
        if next_button.is_disabled():
            break
        next_button.click()
    expect(replay.locator(".replay-counter")).to_have_text(f"第 {steps} / {steps} 步")
    expect(element(auditor, "call_food_permit")).to_have_class(_has("yjs-done"))
    expect(element(auditor, "call_signboard")).to_have_class(_has("yjs-current"))
    food = auditor.locator("#replay .bpmn-diagram[data-process=item_food_permit] "
                           "g.djs-element[data-element-id=review_food_permit]")
    expect(food).to_have_class(_has("yjs-done"))
    shot(auditor, "23-auditor-replay-end")

    auditor.goto(f"{base}/audit/?applicant=canyin")
    auditor.get_by_role("button", name="导出 XES").click()
    expect(auditor.locator("#export-job")).to_have_attribute("data-state", "done")
    expect(auditor.locator(".export-text")).to_have_text("已导出 1 / 1 个办件")
    expect(auditor.get_by_role("link", name="下载导出文件")).to_be_visible()
    shot(auditor, "24-auditor-export-done")
    with auditor.expect_download() as download:
        auditor.get_by_role("link", name="下载导出文件").click()
    assert download.value.suggested_filename.endswith(".xes")


def test_audit_screenshots_exist():
    names = {p.stem for p in SHOTS.glob("*.png")}
    assert {"20-auditor-search", "21-auditor-replay-start", "22-auditor-replay-step-3", "23-auditor-replay-end",
            "24-auditor-export-done"} <= names


def _has(css_class: str):
    import re

    return re.compile(rf"(^|\s){css_class}(\s|$)")

"""The designer in a real browser (Playwright + Debian's Chromium): uploads an invalid file and sees the
problem with its line number, uploads a valid one, deploys it, sees the new version and its diagram,
then compares two versions with the changes marked on the diagram. Screenshots go to
test-artifacts/screenshots/."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.web.test_browser import browser, live, person, shot  # noqa: F401 - fixtures shared with the journey

DESIGN = Path(__file__).parent / "fixtures" / "design"


def test_designer_uploads_invalid_then_valid_file_deploys_and_compares(person, live):  # noqa: F811
    base, engine = live
    page = person("sheji")
    page.get_by_role("link", name="流程设计").click()
    expect(page.locator("h1")).to_have_text("流程设计")
    expect(page.locator('.design-process[data-key="open_restaurant"]')).to_be_visible()
    page.get_by_role("link", name="上传并部署 BPMN/DMN 文件").click()

    page.set_input_files("#files", str(DESIGN / "stall_permit_broken.bpmn"))
    page.get_by_role("button", name="校验").click()
    problem = page.locator("ul.problems li").first
    expect(problem.locator(".where")).to_have_text("stall_permit_broken.bpmn:42")
    expect(problem).to_contain_text("[f_approved]")
    expect(problem).to_contain_text("表达式或脚本不被允许")
    expect(page.locator("#deploy")).to_have_count(0)
    shot(page, "21-designer-invalid-upload")

    page.set_input_files("#files", str(DESIGN / "stall_permit.bpmn"))
    page.get_by_role("button", name="校验").click()
    expect(page.locator(".valid")).to_contain_text("全部通过")
    expect(page.locator("table.planned")).to_contain_text("新版本 v1")
    shot(page, "22-designer-valid-upload")
    page.locator("#deploy").click()
    expect(page.locator(".flash-success")).to_contain_text("已部署 stall_permit 的新版本 v1")
    versions = page.locator('.design-process[data-key="stall_permit"] tr[data-version]')
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("最新")
    shot(page, "23-designer-deployed")

    page.locator('.design-process[data-key="stall_permit"]').get_by_role("link", name="v1").click()
    expect(page.locator("h1")).to_contain_text("临时占道经营许可")
    expect(page.locator(".bpmn-diagram[data-rendered=true]")).to_have_count(1)
    expect(page.locator(".djs-element[data-element-id=review]")).to_have_count(1)
    expect(page.locator("table.tasks")).to_contain_text("占道经营地点")
    shot(page, "24-designer-version")

    page.goto(f"{base}/design/upload")
    page.set_input_files("#files", str(DESIGN / "stall_permit_v2.bpmn"))
    page.get_by_role("button", name="校验").click()
    page.locator("#deploy").click()
    expect(page.locator(".flash-success")).to_contain_text("已部署 stall_permit 的新版本 v2")
    page.locator('.design-process[data-key="stall_permit"]').get_by_role("link", name="比较版本").click()
    expect(page.locator("h1")).to_contain_text("版本比较")
    expect(page.locator(".diff-diagram[data-rendered=true]")).to_have_count(2)
    expect(page.locator(".yjs-added[data-element-id=notify]")).to_have_count(1)
    expect(page.locator(".yjs-changed[data-element-id=review]")).to_have_count(1)
    expect(page.locator(".yjs-removed[data-element-id=end_rejected]")).to_have_count(1)
    shot(page, "25-designer-diff")

"""The designer's pages over HTTP: definitions with versions and case counts, a version's files and
forms, upload → check (problems with their lines) → deploy exactly what was checked, hostile files,
the differences between versions, and who may use them."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from yijianshi.engine.access.actors import Actor
from yijianshi.storage import definition_store
from tests.conftest import FIXTURES
from tests.web.helpers import start

DESIGN = Path(__file__).parent / "fixtures" / "design"
V1 = (DESIGN / "stall_permit.bpmn").read_bytes()
V2 = (DESIGN / "stall_permit_v2.bpmn").read_bytes()
BROKEN = (DESIGN / "stall_permit_broken.bpmn").read_bytes()


@pytest.fixture
def designer(client_for):
    return client_for("sheji")


def upload(client, *files: tuple[str, bytes]):
    client.get("/design/upload")
    return client.post("/design/upload", {"files": [(io.BytesIO(data), name) for name, data in files]},
                       content_type="multipart/form-data")


def staged(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "design-staging"
    return list(folder.iterdir()) if folder.exists() else []


def versions(app, key: str) -> list[int]:
    engine = app.extensions["yijianshi"]
    with engine.db.reader.connect() as conn:
        return [r.version for r in definition_store.versions_of(conn, key)]


def deploy_form_action(html: str) -> str:
    found = re.search(r'action="(/design/deploy/[0-9a-f]{32})"', html)
    assert found, html[-3000:]
    return found.group(1)


def row_of(html: str, key: str, version: int) -> str:
    block = html[html.index(f'data-key="{key}"'):]
    block = block[:block.index("</table>")]
    return re.search(rf'<tr data-version="{version}">(.*?)</tr>', block, re.S).group(1)


def test_definitions_with_versions_and_running_and_all_cases(app, designer, web_engine):
    first = start(web_engine)
    start(web_engine, applicant="canyin")
    web_engine.cases.cancel_case(first, Actor("admin", frozenset(), is_admin=True), "测试")
    html = designer.page("/design/")
    row = row_of(html, "open_restaurant", 1)
    assert re.search(r'class="running">1<', row) and re.search(r'class="total">2<', row)
    assert "最新" in row
    assert re.search(r'class="total">0<', row_of(html, "item_food_permit", 1))
    with web_engine.db.reader.connect() as conn:
        digest = definition_store.latest(conn, "open_restaurant").content_hash
    assert digest[:12] in row


def test_upload_invalid_file_shows_problems_with_lines_and_deploys_nothing(app, designer):
    response = upload(designer, ("stall_permit_broken.bpmn", BROKEN))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "stall_permit_broken.bpmn:42" in html and "[f_approved]" in html
    assert "表达式或脚本不被允许" in html
    assert "不能部署" in html and "/design/deploy/" not in html
    assert staged(app) == [] and versions(app, "stall_permit") == []


def test_lint_problem_blocks_the_deploy(app, designer):
    unregistered = V1.replace(b'camunda:candidateGroups="urban_mgmt"', b'camunda:candidateGroups="stall_office"')
    html = upload(designer, ("stall_permit.bpmn", unregistered)).get_data(as_text=True)
    assert "设计规范检查发现 1 个问题" in html
    assert "stall_permit.bpmn:18" in html and "stall_office" in html
    assert "/design/deploy/" not in html and staged(app) == []


def test_an_app_configured_without_a_registry_checks_against_the_project_registry(web_engine, tmp_path):
    from tests.web.conftest import build_app, Client

    app = build_app(web_engine, tmp_path, PROCESS_REGISTRY=None)
    designer = Client(app)
    designer.login("sheji")
    unregistered = V1.replace(b'camunda:candidateGroups="urban_mgmt"', b'camunda:candidateGroups="stall_office"')
    html = upload(designer, ("stall_permit.bpmn", unregistered)).get_data(as_text=True)
    assert "stall_permit.bpmn:18" in html and "stall_office" in html
    assert "/design/deploy/" not in html and staged(app) == []


def test_a_missing_registry_blocks_the_upload_with_a_sentence(web_engine, tmp_path):
    from tests.web.conftest import build_app, Client

    app = build_app(web_engine, tmp_path, PROCESS_REGISTRY=str(tmp_path / "missing.json"))
    designer = Client(app)
    designer.login("sheji")
    html = upload(designer, ("stall_permit.bpmn", V1)).get_data(as_text=True)
    assert "找不到部门登记表" in html
    assert "/design/deploy/" not in html and staged(app) == []


HOSTILE = [
    ("entity.bpmn", b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<d>&x;</d>',
     "DOCTYPE"),
    ("laughs.bpmn", b'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
     "DOCTYPE"),
    ("notes.bpmn", "这不是 XML，只是一段文字。".encode(), "不是格式正确的 XML"),
    ("other.bpmn", b'<?xml version="1.0"?>\n<definitions xmlns="http://example.com/not-bpmn"/>', "不是 BPMN 2.0 或 DMN"),
    # Read in its declared encoding (no longer refused), then refused for what it is: not BPMN.
    ("latin.bpmn", b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>', "根元素是 &lt;a&gt;"),
    ("gbk_lie.bpmn", b'<?xml version="1.0" encoding="GBK"?>\n<a>\xff\xff</a>', "不是有效的 GBK 文本"),
    ("empty.dmn", b"", "文件为空"),
    ("truncated.bpmn", V1[:len(V1) // 2], "不是格式正确的 XML"),
]


@pytest.mark.parametrize("name, data, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_or_broken_xml_is_reported_never_a_traceback(app, designer, name, data, message):
    response = upload(designer, (name, data))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{name}:" in html and message in html
    assert "Traceback" not in html and "/design/deploy/" not in html
    assert staged(app) == []


def test_upload_limits_are_form_errors(app, designer):
    html = upload(designer, ("stall_permit.pdf", V1)).get_data(as_text=True)
    assert "不是 .bpmn、.dmn 或 .xml 文件" in html
    huge = b'<?xml version="1.0"?>' + b" " * (5 * 1024 * 1024)
    html = upload(designer, ("huge.bpmn", huge)).get_data(as_text=True)
    assert "“huge.bpmn”超过每个文件 5 MB 的上限" in html
    app.config["DESIGN_MAX_FILES"] = 2
    html = upload(designer, *[(f"f{i}.bpmn", V1) for i in range(3)]).get_data(as_text=True)
    assert "一次最多上传 2 个文件，您选择了 3 个" in html
    html = upload(designer, ("a.bpmn", V1), ("a.bpmn", V2)).get_data(as_text=True)
    assert "有两个文件都叫“a.bpmn”" in html
    html = designer.post("/design/upload", {}).get_data(as_text=True)
    assert "请选择至少一个" in html
    assert staged(app) == [] and versions(app, "stall_permit") == []


def test_upload_too_large_for_the_request_limit_is_the_413_page(app, designer):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = upload(designer, ("big.bpmn", V1 + b" " * 100 * 1024))
    assert response.status_code == 413
    assert "上传内容过大" in response.get_data(as_text=True)


def test_valid_upload_deploys_what_was_checked_then_unchanged_is_a_no_op(app, designer):
    html = upload(designer, ("stall_permit.bpmn", V1)).get_data(as_text=True)
    assert "全部通过" in html and "新版本 v1" in html
    action = deploy_form_action(html)
    assert len(staged(app)) == 1 and versions(app, "stall_permit") == []
    response = designer.post(action)
    assert response.status_code == 302 and response.location.endswith("/design/")
    html = designer.page("/design/")
    assert "已部署 stall_permit 的新版本 v1。" in html
    assert re.search(r'class="total">0<', row_of(html, "stall_permit", 1))
    assert versions(app, "stall_permit") == [1] and staged(app) == []
    assert designer.post(action).status_code == 404  # deployed once; the staged files are gone

    html = upload(designer, ("stall_permit.bpmn", V1)).get_data(as_text=True)
    assert "未变化，沿用 v1（不会部署新版本）" in html
    designer.post(deploy_form_action(html))
    html = designer.page("/design/")
    assert "stall_permit 的文件没有变化，未部署新版本，仍为 v1。" in html
    assert versions(app, "stall_permit") == [1]

    html = upload(designer, ("stall_permit.bpmn", V2)).get_data(as_text=True)
    assert "新版本 v2" in html
    designer.post(deploy_form_action(html))
    assert versions(app, "stall_permit") == [2, 1]
    engine = app.extensions["yijianshi"]
    with engine.db.reader.connect() as conn:
        row = definition_store.latest(conn, "stall_permit")
        stored = definition_store.by_id(conn, row.id)
    assert stored.deployed_by == "sheji"


def test_deploy_uses_the_staged_bytes_of_its_owner_only(app, designer, client_for):
    action = deploy_form_action(upload(designer, ("stall_permit.bpmn", V1)).get_data(as_text=True))
    admin = client_for("admin")
    admin.get("/design/upload")  # a page with a CSRF token
    assert admin.post(action).status_code == 404  # another designer's upload
    assert designer.post("/design/deploy/" + "0" * 32).status_code == 404
    assert designer.post(action, token=False).status_code == 400  # CSRF
    assert versions(app, "stall_permit") == []
    assert designer.post(action).status_code == 302
    assert versions(app, "stall_permit") == [1]


def test_called_process_deployed_already_is_included_and_said_so(app, designer):
    parent = (FIXTURES / "callflow" / "parent.bpmn").read_bytes()
    child = (FIXTURES / "callflow" / "child.bpmn").read_bytes()
    html = upload(designer, ("parent.bpmn", parent)).get_data(as_text=True)
    assert "dept_review" in html and "/design/deploy/" not in html
    designer.post(deploy_form_action(upload(designer, ("child.bpmn", child)).get_data(as_text=True)))
    html = upload(designer, ("parent.bpmn", parent)).get_data(as_text=True)
    assert "以下已部署的文件" in html and "已部署/child.bpmn" in html
    designer.post(deploy_form_action(html))
    assert versions(app, "licence_bundle") == [1] and versions(app, "dept_review") == [1]


def test_version_page_files_forms_diagram_and_source_download(app, designer):
    designer.post(deploy_form_action(upload(designer, ("stall_permit.bpmn", V1)).get_data(as_text=True)))
    engine = app.extensions["yijianshi"]
    with engine.db.reader.connect() as conn:
        row = definition_store.latest(conn, "stall_permit")
    html = designer.page(f"/design/versions/{row.id}")
    assert "临时占道经营许可" in html and "stall_permit.bpmn" in html
    assert "窗口受理" in html and "占道经营地点" in html and "stall_address" in html and "必填" in html
    assert "城市管理局" in html and "now() + days(5)" in html
    assert f'data-xml="/diagrams/{row.id}/stall_permit.bpmn"' in html
    sha = re.search(rf'href="/design/versions/{row.id}/files/([0-9a-f]{{64}})"', html).group(1)
    response = designer.get(f"/design/versions/{row.id}/files/{sha}")
    assert response.status_code == 200 and response.data == V1
    assert "attachment" in response.headers["Content-Disposition"]
    assert designer.page(f"/diagrams/{row.id}/stall_permit.bpmn") == V1.decode()
    assert designer.get(f"/design/versions/{row.id}/files/{'a' * 64}").status_code == 404
    assert designer.get("/design/versions/99999").status_code == 404


def test_diff_between_versions(app, designer):
    for data in (V1, V2):
        designer.post(deploy_form_action(upload(designer, ("stall_permit.bpmn", data)).get_data(as_text=True)))
    html = designer.page("/design/processes/stall_permit/diff")  # latest against the one before
    assert "v1 → v2" in html and "新增 3 个元素，删除 2 个，修改 4 个。" in html
    added = html[html.index('class="table compact diff-added"'):html.index('class="table compact diff-removed"')]
    assert "notify" in added and "告知办理结果" in added and "用户任务" in added
    removed = html[html.index('class="table compact diff-removed"'):html.index('class="table compact diff-changed"')]
    assert "end_approved" in removed and "end_rejected" in removed
    changed = html[html.index('class="table compact diff-changed"'):]
    assert "candidateGroups" in changed and "urban_mgmt,market" in changed and "now() + days(3)" in changed
    assert "formField[stall_address]@label" in changed and "conditionExpression" in changed
    assert "data-added='[\"notify\", \"end\", \"f_notify_end\"]'" in html
    html = designer.page("/design/processes/stall_permit/diff?old=2&new=2")
    assert "两个版本的流程内容相同" in html
    html = designer.page("/design/processes/stall_permit/diff?old=2&new=1")
    assert "新增 2 个元素，删除 3 个，修改 4 个。" in html
    assert designer.get("/design/processes/stall_permit/diff?old=7").status_code == 404
    assert designer.get("/design/processes/nothing_here/diff").status_code == 404


@pytest.mark.parametrize("username", ["zhangsan", "chuangkou", "shichang", "shenji", "ducha"])
def test_only_designers_and_administrators(app, client_for, username):
    client = client_for(username)
    client.get("/password")  # a page with a CSRF token
    for url in ("/design/", "/design/upload", "/design/processes/open_restaurant/diff", "/design/versions/1"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in response.get_data(as_text=True)
    assert client.post("/design/deploy/" + "0" * 32).status_code == 403
    assert "/design/" not in client.page("/overview" if username != "zhangsan" else "/apply/")


def test_administrator_and_anonymous(app, client_for):
    admin = client_for("admin")
    assert 'href="/design/"' in admin.page("/design/")
    admin.get("/lang/en")
    page = admin.page("/design/")
    assert "Process design" in page and "Upload and deploy BPMN/DMN files" in page and "All cases" in page
    anonymous = client_for()
    response = anonymous.get("/design/")
    assert response.status_code == 302 and "/login" in response.location

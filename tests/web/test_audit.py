"""The auditor's pages over HTTP: case search, the timeline with data changes, the hash-chain and
re-execution checks (and what they say when history was altered), the replay steps, exports of one
case and of a search with their progress, and who may not look."""
from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime

import pytest
from lxml import etree
from sqlalchemy import text

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.audit.event_logs import XES_NS
from tests.web.helpers import APPLICATION, FRONT_DESK, MARKET, accept, item_id, start

X = f"{{{XES_NS}}}"
APPLICANT = Actor("zhangsan", frozenset({"applicant"}))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def cases(web_engine):
    """zhangsan's case accepted and reviewed by the market department (22 Sep), his corrected case
    (23 Sep: one-time notice, new address), canyin's new case (24 Sep)."""
    engine = web_engine
    engine.clock.set(at(2025, 9, 22, 9, 0))
    reviewed = start(engine, "zhangsan")
    accept(engine, reviewed)
    engine.cases.complete_work_item(item_id(engine, reviewed, "review_food_permit"), {
        "food_permit_approved": "true", "food_permit_no": "JY15101070012345", "food_permit_reason": "符合条件"}, MARKET)
    engine.clock.set(at(2025, 9, 23, 10, 30))
    corrected = start(engine, "zhangsan", enterprise_name="锦江面馆")
    engine.cases.complete_work_item(item_id(engine, corrected, "accept"),
                                    {"materials_complete": "", "missing_materials": "缺少租赁合同"}, FRONT_DESK)
    again = {k: ("true" if v == "y" else v) for k, v in APPLICATION.items()}
    again.update(enterprise_name="锦江面馆", business_address="成都市武侯区科华北路 2 号")
    engine.cases.complete_work_item(item_id(engine, corrected, "supplement"), again, APPLICANT)
    engine.clock.set(at(2025, 9, 24, 15, 0))
    fresh = start(engine, "canyin", enterprise_name="春熙路火锅")
    return {"reviewed": reviewed, "corrected": corrected, "fresh": fresh}


def _listed(page: str) -> list[int]:
    return sorted(int(i) for i in re.findall(r'<tr data-case="(\d+)"', page))


def test_search_filters(client_for, cases):
    c = client_for("shenji")
    page = c.page("/audit/")
    assert _listed(page) == sorted(cases.values()) and "共 3 件" in page
    assert _listed(c.page("/audit/?applicant=canyin")) == [cases["fresh"]]
    assert _listed(c.page("/audit/?department=market")) == [cases["reviewed"]]
    assert _listed(c.page("/audit/?started_from=2025-09-23&started_to=2025-09-23")) == [cases["corrected"]]
    assert _listed(c.page("/audit/?started_from=2025-09-23")) == [cases["corrected"], cases["fresh"]]
    assert _listed(c.page("/audit/?scenario=open_restaurant&status=running")) == sorted(cases.values())
    assert _listed(c.page("/audit/?status=completed")) == []
    assert "没有符合条件的办件" in c.page("/audit/?applicant=nobody")


def test_bad_search_input_says_what_is_wrong(client_for, cases):
    c = client_for("shenji")
    page = c.page("/audit/?started_from=2025-13-45")
    assert "日期格式应为 年-月-日" in page and _listed(page) == []
    page = c.page("/audit/?started_from=2025-09-24&started_to=2025-09-22")
    assert "结束日期不能早于开始日期" in page
    page = c.page("/audit/?status=exploded")
    assert "请从列表中选择" in page
    assert 'value="2025-09-24"' in c.page("/audit/?started_from=2025-09-24")  # what was typed stays


def test_search_pages(client_for, cases, monkeypatch):
    monkeypatch.setattr("yijianshi.web.audit.PAGE_SIZE", 2)
    c = client_for("shenji")
    first = c.page("/audit/?applicant=&scenario=open_restaurant")
    assert _listed(first) == [cases["corrected"], cases["fresh"]]  # newest first
    assert "page=2" in first and "scenario=open_restaurant" in first
    second = c.page("/audit/?scenario=open_restaurant&page=2")
    assert _listed(second) == [cases["reviewed"]] and "page=1" in second


def test_timeline_shows_who_did_what_and_the_data_changed(client_for, cases):
    c = client_for("shenji")
    page = c.page(f"/audit/cases/{cases['corrected']}")
    rows = re.findall(r'<tr data-seq="(\d+)">', page)
    assert rows == [str(i) for i in range(1, len(rows) + 1)] and len(rows) >= 8
    assert "补正材料" in page and "综合窗口受理" in page and "退回" not in page
    old_new = re.search(r'data-field="business_address">.*?<del>(.*?)</del> → <ins>(.*?)</ins>', page)
    assert old_new.groups() == ("成都市武侯区科华北路 1 号", "成都市武侯区科华北路 2 号")
    assert "110101********1237" in page and "110101199001011237" not in page  # auditors see it masked
    assert "完整" in page and "check-ok" in page
    admin = client_for("admin").page(f"/audit/cases/{cases['corrected']}")
    assert "110101199001011237" in admin  # administrators see personal data


def test_reexecution_reproduces_the_stored_state(client_for, cases, web_engine):
    c = client_for("shenji")
    page = c.page(f"/audit/cases/{cases['reviewed']}")
    assert "重新执行并比对" in page and "结果与存储状态一致" not in page
    with web_engine.db.reader.connect() as conn:
        version = conn.execute(text("SELECT version FROM cases WHERE id = :c"), {"c": cases["reviewed"]}).scalar()
    page = c.page(f"/audit/cases/{cases['reviewed']}?reexecute=1")
    assert re.search(r"重新执行 \d+ 条命令，结果与存储状态一致", page)
    with web_engine.db.reader.connect() as conn:  # read-only: the case did not move
        assert conn.execute(text("SELECT version FROM cases WHERE id = :c"), {"c": cases["reviewed"]}).scalar() == version


def _tamper(engine, sql: str, **params) -> None:
    with engine.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        conn.execute(text(sql), params)


@pytest.mark.tampers_history
def test_an_altered_record_breaks_the_chain_and_the_reexecution(client_for, cases, web_engine):
    case_id = cases["reviewed"]
    seq = web_engine.history(case_id)[2].seq  # the submitted application
    _tamper(web_engine, "UPDATE events SET data = REPLACE(data, :old, :new) WHERE case_id = :c AND seq = :s",
            old='"seating":40', new='"seating":4', c=case_id, s=seq)
    c = client_for("shenji")
    page = c.page(f"/audit/cases/{case_id}")
    assert "check-bad" in page and f"自第 {seq} 条记录起历史链不完整" in page and "哈希不符" in page
    page = c.page(f"/audit/cases/{case_id}?reexecute=1")
    assert "重新执行结果与存储状态不一致" in page and "seating" in page


@pytest.mark.tampers_history
def test_a_missing_record_is_named(client_for, cases, web_engine):
    case_id = cases["fresh"]
    _tamper(web_engine, "DELETE FROM events WHERE case_id = :c AND seq = 2", c=case_id)
    page = client_for("shenji").page(f"/audit/cases/{case_id}")
    assert "自第 2 条记录起历史链不完整" in page and "记录缺失" in page


def test_replay_steps_json(client_for, cases, web_engine):
    c = client_for("shenji")
    response = c.get(f"/audit/cases/{cases['reviewed']}/replay.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["problem"] == ""
    assert [s["seq"] for s in body["steps"]] == [e.seq for e in web_engine.history(cases["reviewed"])]
    first, last = body["steps"][0], body["steps"][-1]
    assert first["active"] == [{"process": "open_restaurant", "task": "apply"}] and first["label"] == "创建办件"
    assert {"process": "item_food_permit", "task": "review_food_permit"} in last["completed"]
    assert {"process": "item_signboard", "task": "review_signboard"} in last["active"]
    assert (last["type"], last["step"], last["label"], last["actor"]) == (
        "work_item_completed", "食品经营许可审查", "办结环节", "赵磊（市场监管局）")
    diagrams = {d["process"]: d["xml"] for d in body["diagrams"]}
    assert set(diagrams) == {"open_restaurant", "item_food_permit", "item_signboard"}
    assert c.get(diagrams["item_food_permit"]).status_code == 200


def test_export_one_case(client_for, cases):
    c = client_for("shenji")
    response = c.get(f"/audit/cases/{cases['reviewed']}/events.xes")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert f'filename="yijianshi-case-{cases["reviewed"]}.xes"' in response.headers["Content-Disposition"]
    root = etree.fromstring(response.data)
    (trace,) = root.findall(X + "trace")
    names = [e.find(X + "string[@key='concept:name']").get("value") for e in trace.findall(X + "event")]
    assert names[:3] == ["办件创建", "一表申请", "一表申请"] and "食品经营许可审查" in names
    response = c.get(f"/audit/cases/{cases['reviewed']}/events.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:7] == ["case_id", "activity", "timestamp", "resource", "lifecycle", "event_type", "seq"]
    assert ("食品经营许可审查", "shichang", "complete") in {(r[1], r[3], r[4]) for r in rows[1:]}
    assert c.get(f"/audit/cases/{cases['reviewed']}/events.pdf").status_code == 404
    assert c.get("/audit/cases/999/events.xes").status_code == 404


def _wait_for(c, url: str) -> dict:
    for _ in range(200):
        progress = c.get(url).get_json()
        if progress["state"] in ("done", "failed"):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"export did not finish: {progress}")


def test_export_a_search_in_the_background_with_progress(client_for, cases):
    c = client_for("shenji")
    c.get("/audit/?applicant=zhangsan")
    response = c.post("/audit/exports", {"format": "xes", "applicant": "zhangsan"})
    assert response.status_code == 302
    job_url = response.location
    job_id = int(re.search(r"/audit/exports/(\d+)$", job_url).group(1))
    page = c.page(job_url)
    assert "个办件" in page and "export_progress.js" in page and "<progress" in page
    progress = _wait_for(c, f"/audit/exports/{job_id}.json")
    assert progress["state"] == "done" and progress["percent"] == 100
    assert progress["text"] == "已导出 2 / 2 个办件"
    assert "已导出 2 / 2 个办件" in c.page(job_url) and "下载导出文件" in c.page(job_url)
    download = c.get(progress["download"])
    assert download.status_code == 200
    root = etree.fromstring(download.data)
    traces = [t.find(X + "string[@key='concept:name']").get("value") for t in root.findall(X + "trace")]
    assert traces == [str(cases["reviewed"]), str(cases["corrected"])]
    assert f"/audit/exports/{job_id}" in c.page("/audit/")  # listed under my recent exports


def test_export_csv_of_a_department_and_refusals(client_for, cases):
    c = client_for("admin")
    c.get("/audit/")
    response = c.post("/audit/exports", {"format": "csv", "department": "market"})
    job_id = int(re.search(r"/audit/exports/(\d+)$", response.location).group(1))
    progress = _wait_for(c, f"/audit/exports/{job_id}.json")
    rows = list(csv.reader(io.StringIO(c.get(progress["download"]).data.decode("utf-8-sig"))))
    assert {r[0] for r in rows[1:]} == {str(cases["reviewed"])}
    # A bad format or a bad filter is refused with a message, and no job is made.
    bad = c.post("/audit/exports", {"format": "pdf"}, follow_redirects=True)
    assert "请选择导出格式" in bad.get_data(as_text=True)
    bad = c.post("/audit/exports", {"format": "xes", "started_from": "yesterday"}, follow_redirects=True)
    assert "查询条件有误" in bad.get_data(as_text=True)
    assert c.get(f"/audit/exports/{job_id + 1}").status_code == 404
    # Without the CSRF token nothing is exported.
    assert c.post("/audit/exports", {"format": "xes"}, token=False).status_code == 400
    # Another auditor's export is not yours to read.
    assert client_for("shenji").get(f"/audit/exports/{job_id}").status_code == 403
    assert client_for("shenji").get(f"/audit/exports/{job_id}/download").status_code == 403


@pytest.mark.parametrize("username", ["shichang", "chuangkou", "zhangsan", "sheji"])
def test_others_may_not_audit(client_for, cases, username):
    c = client_for(username)
    case_id = cases["reviewed"]
    for url in ("/audit/", f"/audit/cases/{case_id}", f"/audit/cases/{case_id}/replay.json",
                f"/audit/cases/{case_id}/events.xes", f"/audit/cases/{case_id}?reexecute=1"):
        response = c.get(url)
        assert response.status_code == 403, url
        if url.endswith("/") or "?" in url:
            assert "无权访问" in response.get_data(as_text=True)
    c.get("/login")
    assert c.post("/audit/exports", {"format": "xes"}).status_code == 403
    assert "/audit/" not in c.page("/overview" if username != "zhangsan" else "/apply/")


def test_supervisors_read_audit_pages_and_anonymous_users_sign_in(client_for, cases):
    ducha = client_for("ducha")
    assert "/audit/" in ducha.page("/overview")
    assert _listed(ducha.page("/audit/")) == sorted(cases.values())
    page = ducha.page(f"/audit/cases/{cases['fresh']}")
    assert "<form" not in page.split("<main", 1)[1].split("</main>")[0]  # read-only: no form on the case page
    assert client_for("shenji").get("/audit/cases/999").status_code == 404
    anonymous = client_for()
    response = anonymous.get("/audit/")
    assert response.status_code == 302 and "/login" in response.location


def test_english_audit_pages(client_for, cases):
    c = client_for("shenji")
    c.get("/lang/en")
    page = c.page(f"/audit/cases/{cases['corrected']}")
    assert "History chain check" in page and "Re-execute and compare" in page and "Replay" in page
    assert "Step completed" in page


def test_department_filter_names_come_from_the_registry(client_for):
    """The filter shows the registry's names (the same the process pages show), never a raw code."""
    page = client_for("shenji").page("/audit/")
    assert '<option value="street">街镇园区为企服务人员</option>' in page
    assert '<option value="supervision">督查督办</option>' in page and "街道（乡镇）" not in page

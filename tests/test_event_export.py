"""Event-log exports (XES and CSV) of known cases, the case search they follow, the background
export job, and what a history row says it changed."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from lxml import etree

from yijianshi.engine.audit import event_logs as event_export
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.audit.case_record import audit_case, data_changes
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.audit.event_logs import CSV_COLUMNS, XES_NS, case_log, traces, write_xes
from yijianshi.engine.audit.export_jobs import ExportJobs
from yijianshi.storage import audit_store
from yijianshi.storage.audit_store import CaseSearch
from yijianshi.storage.file_store import FolderFiles
from tests.web.conftest import SCENARIO
from tests.web.helpers import APPLICATION, FRONT_DESK, accept, item_id, start

X = f"{{{XES_NS}}}"
LIFECYCLE = {"schedule", "assign", "reassign", "start", "suspend", "resume", "complete", "autoskip",
             "manualskip", "abort_activity", "withdraw", "ate_abort", "pi_abort"}
# A schema for the parts of IEEE 1849-2016 the export uses, written from the standard's element and
# attribute definitions (log, extension, global, classifier, trace, event; typed attributes).
XES_XSD = f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{XES_NS}" xmlns="{XES_NS}"
           elementFormDefault="qualified">
  <xs:complexType name="AttributableType">
    <xs:choice minOccurs="0" maxOccurs="unbounded">
      <xs:element name="string" type="StringAttr"/>
      <xs:element name="date" type="DateAttr"/>
      <xs:element name="int" type="IntAttr"/>
      <xs:element name="float" type="FloatAttr"/>
      <xs:element name="boolean" type="BoolAttr"/>
      <xs:element name="id" type="StringAttr"/>
    </xs:choice>
  </xs:complexType>
  <xs:complexType name="StringAttr"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="key" type="xs:Name" use="required"/>
    <xs:attribute name="value" type="xs:string" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="DateAttr"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="key" type="xs:Name" use="required"/>
    <xs:attribute name="value" type="xs:dateTime" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="IntAttr"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="key" type="xs:Name" use="required"/>
    <xs:attribute name="value" type="xs:long" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="FloatAttr"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="key" type="xs:Name" use="required"/>
    <xs:attribute name="value" type="xs:double" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="BoolAttr"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="key" type="xs:Name" use="required"/>
    <xs:attribute name="value" type="xs:boolean" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="GlobalsType"><xs:complexContent><xs:extension base="AttributableType">
    <xs:attribute name="scope" use="required"><xs:simpleType><xs:restriction base="xs:NCName">
      <xs:enumeration value="trace"/><xs:enumeration value="event"/></xs:restriction></xs:simpleType></xs:attribute>
  </xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="TraceType"><xs:sequence>
    <xs:group ref="Attributes"/>
    <xs:element name="event" type="AttributableType" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType>
  <xs:group name="Attributes"><xs:sequence>
    <xs:choice minOccurs="0" maxOccurs="unbounded">
      <xs:element name="string" type="StringAttr"/>
      <xs:element name="date" type="DateAttr"/>
      <xs:element name="int" type="IntAttr"/>
      <xs:element name="float" type="FloatAttr"/>
      <xs:element name="boolean" type="BoolAttr"/>
      <xs:element name="id" type="StringAttr"/>
    </xs:choice>
  </xs:sequence></xs:group>
  <xs:element name="log"><xs:complexType><xs:sequence>
    <xs:element name="extension" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
      <xs:attribute name="name" type="xs:NCName" use="required"/>
      <xs:attribute name="prefix" type="xs:NCName" use="required"/>
      <xs:attribute name="uri" type="xs:anyURI" use="required"/></xs:complexType></xs:element>
    <xs:element name="global" type="GlobalsType" minOccurs="0" maxOccurs="2"/>
    <xs:element name="classifier" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="keys" type="xs:token" use="required"/></xs:complexType></xs:element>
    <xs:group ref="Attributes"/>
    <xs:element name="trace" type="TraceType" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence>
  <xs:attribute name="xes.version" type="xs:string" use="required"/>
  <xs:attribute name="xes.features" type="xs:token"/>
  </xs:complexType></xs:element>
</xs:schema>"""


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def cases(engine):
    """Three cases: zhangsan's accepted one, zhangsan's corrected one (one-time notice, then the
    applicant changed his address), canyin's new one; a day apart."""
    engine.deploy([SCENARIO])
    engine.clock.set(at(2025, 9, 22, 9, 0))
    accepted = start(engine, "zhangsan")
    accept(engine, accepted)
    engine.clock.set(at(2025, 9, 23, 10, 30))
    corrected = start(engine, "zhangsan", enterprise_name="锦江面馆")
    engine.cases.claim(item_id(engine, corrected, "accept"), FRONT_DESK)
    engine.cases.complete_work_item(item_id(engine, corrected, "accept"),
                                    {"materials_complete": "", "missing_materials": "缺少租赁合同"}, FRONT_DESK)
    applicant = Actor("zhangsan", frozenset({"applicant"}))
    resubmitted = {k: ("true" if v == "y" else v) for k, v in APPLICATION.items()}
    resubmitted.update(enterprise_name="锦江面馆", business_address="成都市武侯区科华北路 2 号")
    engine.cases.complete_work_item(item_id(engine, corrected, "supplement"), resubmitted, applicant)
    engine.clock.set(at(2025, 9, 24, 15, 0))
    fresh = start(engine, "canyin", enterprise_name="春熙路火锅")
    return {"accepted": accepted, "corrected": corrected, "fresh": fresh}


def _xes(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    etree.XMLSchema(etree.fromstring(XES_XSD.encode())).assertValid(root)
    return root


def _attr(el: etree._Element, key: str) -> str | None:
    for child in el:
        if child.get("key") == key:
            return child.get("value")
    return None


def test_xes_of_one_case(engine, cases):
    root = _xes(case_log(engine, cases["accepted"], "xes"))
    assert root.tag == X + "log" and root.get("xes.version") == "1849-2016"
    extensions = {e.get("prefix"): e.get("uri") for e in root.findall(X + "extension")}
    assert extensions == {p: f"http://www.xes-standard.org/{name}.xesext"
                          for p, name in (("concept", "concept"), ("time", "time"), ("org", "org"),
                                          ("lifecycle", "lifecycle"))}
    (trace,) = root.findall(X + "trace")
    assert _attr(trace, "concept:name") == str(cases["accepted"])
    assert _attr(trace, "applicant") == "zhangsan" and _attr(trace, "definition_key") == "open_restaurant"
    events = trace.findall(X + "event")
    got = [(_attr(e, "concept:name"), _attr(e, "lifecycle:transition"), _attr(e, "org:resource"),
            _attr(e, "event_type"), _attr(e, "seq")) for e in events]
    assert got == [
        ("办件创建", "complete", "zhangsan", "case_started", "1"),
        ("一表申请", "schedule", "system", "work_item_ready", "2"),
        ("一表申请", "complete", "zhangsan", "work_item_completed", "3"),
        ("综合窗口受理", "schedule", "system", "work_item_ready", "4"),
        ("综合窗口受理", "complete", "chuangkou", "work_item_completed", "5"),
        ("食品经营许可审查", "schedule", "system", "work_item_ready", "6"),
        ("户外招牌设置审核", "schedule", "system", "work_item_ready", "7"),
    ]
    for e in events:
        assert datetime.fromisoformat(_attr(e, "time:timestamp")) == at(2025, 9, 22, 9, 0)
        assert _attr(e, "lifecycle:transition") in LIFECYCLE


def test_xes_of_every_case_a_search_matches_in_batches(engine, cases, monkeypatch):
    batches = []
    real = audit_store.case_batch

    def counting(conn, f, *, after_id=0, limit=100):
        rows = real(conn, f, after_id=after_id, limit=limit)
        batches.append([r.id for r in rows])
        return rows

    monkeypatch.setattr(audit_store, "case_batch", counting)
    out = io.BytesIO()
    write_xes(out, traces(engine, CaseSearch(started_by="zhangsan"), batch=1))
    root = _xes(out.getvalue())
    names = [_attr(t, "concept:name") for t in root.findall(X + "trace")]
    assert names == [str(cases["accepted"]), str(cases["corrected"])]
    assert batches == [[cases["accepted"]], [cases["corrected"]], []]  # one case per read, then the end
    corrected = root.findall(X + "trace")[1]
    transitions = [(_attr(e, "concept:name"), _attr(e, "lifecycle:transition"), _attr(e, "org:resource"))
                   for e in corrected.findall(X + "event")]
    assert ("综合窗口受理", "assign", "chuangkou") in transitions
    assert ("补正材料", "complete", "zhangsan") in transitions
    # Every trace and event carries what the globals promise.
    for t in root.findall(X + "trace"):
        assert _attr(t, "concept:name")
        for e in t.findall(X + "event"):
            assert all(_attr(e, k) for k in ("concept:name", "time:timestamp", "org:resource", "lifecycle:transition"))


def test_csv_of_one_case(engine, cases):
    data = case_log(engine, cases["corrected"], "csv")
    assert data.startswith("\ufeff".encode())  # spreadsheet programs then read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = rows[1:]
    assert [r[6] for r in body] == [str(i) for i in range(1, len(body) + 1)]
    assert {r[0] for r in body} == {str(cases["corrected"])}
    claims = [(r[1], r[3], r[4]) for r in body if r[5] == "work_item_claimed"]
    assert claims == [("综合窗口受理", "chuangkou", "assign")]
    completed = [(r[1], r[3], r[4]) for r in body if r[5] == "work_item_completed"]
    assert completed == [("一表申请", "zhangsan", "complete"), ("综合窗口受理", "chuangkou", "complete"),
                         ("补正材料", "zhangsan", "complete")]
    assert all(datetime.fromisoformat(r[2]) == at(2025, 9, 23, 10, 30) for r in body)


def test_search_filters(engine, cases):
    def ids(**kw):
        with engine.db.reader.connect() as conn:
            found = [r.id for r in audit_store.search_cases(conn, CaseSearch(**kw))]
            assert audit_store.count_cases(conn, CaseSearch(**kw)) == len(found)
        return sorted(found)

    assert ids() == sorted(cases.values())
    assert ids(started_by="canyin") == [cases["fresh"]]
    assert ids(department="market") == [cases["accepted"]]  # only it reached the food-permit review
    assert ids(department="urban_mgmt") == [cases["accepted"]]
    assert ids(department="front_desk") == sorted(cases.values())  # every application reached the desk
    assert ids(department="fire") == []
    assert ids(started_from=at(2025, 9, 23, 0, 0), started_before=at(2025, 9, 24, 0, 0)) == [cases["corrected"]]
    assert ids(started_from=at(2025, 9, 23, 0, 0)) == sorted([cases["corrected"], cases["fresh"]])
    assert ids(definition_key="open_restaurant", status="running") == sorted(cases.values())
    assert ids(definition_key="nothing_like_it") == []
    engine.cases.cancel_case(cases["fresh"], Actor("admin", frozenset(), is_admin=True), "测试撤销")
    assert ids(status="cancelled") == [cases["fresh"]]


def test_what_each_step_changed(engine, cases):
    audited = audit_case(engine, cases["corrected"])
    assert audited.chain.ok
    by_type = [(e.row.type, e.row.item_name) for e in audited.events]
    assert ("work_item_completed", "补正材料") in by_type
    supplement = next(e for e in audited.events if e.row.item_name == "补正材料" and e.row.type == "work_item_completed")
    changes = {c.field: (c.old if c.had_value else None, c.new) for c in supplement.changes}
    assert changes == {"business_address": ("成都市武侯区科华北路 1 号", "成都市武侯区科华北路 2 号")}
    first = next(e for e in audited.events if e.row.item_name == "一表申请" and e.row.type == "work_item_completed")
    assert {c.field for c in first.changes} >= {"enterprise_name", "legal_rep_id_no"}
    assert not any(c.had_value for c in first.changes)
    assert data_changes("message_delivered", {"payload": {"reply": "ok"}})[0].new == "ok"
    assert data_changes("work_item_claimed", {}) == []


def test_export_job_progress_and_file(engine, cases, tmp_path, monkeypatch):
    monkeypatch.setattr("yijianshi.engine.audit.export_jobs.PROGRESS_EVERY", 1)
    seen = []
    jobs = ExportJobs(engine, FolderFiles(tmp_path / "files"))
    real_update = jobs.update

    def recording(job_id, **values):
        seen.append(values.get("done"))
        real_update(job_id, **values)

    monkeypatch.setattr(jobs, "update", recording)
    job = jobs.create("shenji", "csv", CaseSearch(definition_key="open_restaurant"))
    assert (job.state, job.total, job.done, job.percent) == ("queued", 3, 0, 0)
    done = jobs.run(job.id)
    assert (done.state, done.done, done.total, done.percent) == ("done", 3, 3, 100)
    assert [s for s in seen if s is not None][:3] == [1, 2, 3]  # progress after every case
    path = jobs.content_of(done).path
    assert path.exists() and path.parent == tmp_path / "files" / "exports"
    assert not list((tmp_path / "files").rglob("*.part"))
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len({r[0] for r in rows[1:]}) == 3 and done.events == len(rows) - 1
    assert [j.id for j in jobs.recent("shenji")] == [job.id]


def test_a_failing_export_leaves_no_file(engine, cases, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("磁盘已满")

    monkeypatch.setattr("yijianshi.engine.audit.export_jobs.write_log", broken)
    jobs = ExportJobs(engine, FolderFiles(tmp_path / "files"))
    job = jobs.create("shenji", "xes", CaseSearch())
    failed = jobs.run(job.id)
    assert failed.state == "failed" and "磁盘已满" in failed.error
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert jobs.content_of(failed) is None


def test_unknown_format_is_refused(engine, tmp_path):
    from yijianshi.engine.errors import EngineError

    with pytest.raises(EngineError, match="不支持的导出格式"):
        ExportJobs(engine, tmp_path).create("shenji", "pdf", CaseSearch())
    with pytest.raises(ValueError):
        event_export.write_log("pdf", io.BytesIO(), [])


def test_search_round_trips_through_json():
    search = CaseSearch(started_by="zhangsan", started_from=at(2025, 9, 1, 0, 0),
                        started_before=at(2025, 9, 1, 0, 0) + timedelta(days=30), status="running")
    assert CaseSearch.from_dict(search.as_dict()) == search


def test_a_job_whose_process_died_shows_as_failed(engine, cases, tmp_path):
    from yijianshi.engine.audit.export_jobs import ABANDONED

    jobs = ExportJobs(engine, FolderFiles(tmp_path / "files"))
    job = jobs.create("shenji", "csv", CaseSearch())  # queued, and no thread ever runs it
    engine.clock.advance(minutes=9)
    assert jobs.get(job.id).state == "queued"
    engine.clock.advance(minutes=2)
    stale = jobs.get(job.id)
    assert (stale.state, stale.error) == ("failed", ABANDONED)
    assert [j.state for j in jobs.recent("shenji")] == ["failed"]

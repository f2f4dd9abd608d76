"""Materials: allowed types by content, size and count limits, content-addressed storage, and an
upload that is all-or-nothing."""
from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from yijianshi.engine.errors import FormErrors, NotPermitted
from yijianshi.engine.cases.materials import MaterialRefused, MaterialService, Upload, clean_filename, material_key
from yijianshi.storage.file_store import FolderFiles
from yijianshi.storage import material_store
from tests.web.helpers import APPLICATION, FRONT_DESK, MARKET, PDF, PNG, apply, item_id


ACCEPTED = {"materials_complete": "true"}


def _service(engine, tmp_path, **kw) -> MaterialService:
    return MaterialService(engine.db, FolderFiles(tmp_path / "store"), engine.clock, **kw)


def _up(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def _ofd() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD/>")
    return buf.getvalue()


def _stored_files(tmp_path) -> list:
    root = tmp_path / "store"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_types_are_recognised_by_content(web_engine, tmp_path):
    svc = _service(web_engine, tmp_path)
    staged = svc.stage([_up("营业执照.pdf", PDF), _up("门头照片.PNG", PNG), _up("承诺书.ofd", _ofd())])
    assert [s.file_type.content_type for s in staged] == ["application/pdf", "image/png", "application/ofd"]
    svc.discard(staged)
    with pytest.raises(MaterialRefused, match="不是允许的类型"):
        svc.stage([_up("脚本.pdf", b"<script>alert(1)</script>")])
    with pytest.raises(MaterialRefused, match="扩展名与内容不符"):
        svc.stage([_up("照片.pdf", PNG)])
    with pytest.raises(MaterialRefused, match="不是允许的类型"):
        svc.stage([_up("压缩包.ofd", b"PK\x03\x04not really a zip")])
    with pytest.raises(MaterialRefused, match="空文件"):
        svc.stage([_up("空.pdf", b"")])
    assert _stored_files(tmp_path) == []  # nothing left behind, not even temporary files


def test_size_and_count_limits_refuse_the_whole_upload(web_engine, tmp_path):
    svc = _service(web_engine, tmp_path, max_bytes=1024, max_files=2)
    with pytest.raises(MaterialRefused, match="超过 .* 的大小上限"):
        svc.stage([_up("小.pdf", PDF), _up("大.pdf", PDF + b"0" * 2000)])
    with pytest.raises(MaterialRefused, match="一次最多上传 2 个文件"):
        svc.stage([_up("a.pdf", PDF), _up("b.pdf", PDF), _up("c.pdf", PDF)])
    assert _stored_files(tmp_path) == []


def test_files_are_stored_once_per_content_and_listed_per_case(app, client_for, web_engine, tmp_path):
    c = client_for("zhangsan")
    case_id = apply(c)
    accept_id = item_id(web_engine, case_id, "accept")
    svc = _service(web_engine, tmp_path)
    first = svc.publish(svc.stage([_up("受理回执.pdf", PDF)])).materials
    second = svc.publish(svc.stage([_up("副本.pdf", PDF)])).materials
    assert first[0].sha256 == second[0].sha256
    assert len(_stored_files(tmp_path)) == 1
    web_engine.cases.complete_work_item(accept_id, ACCEPTED, FRONT_DESK, materials=first + second)
    listed = svc.for_case(case_id)
    content = svc.content_of(listed[0])
    assert content.path.read_bytes() == PDF and content.path.name == first[0].sha256
    assert [m.filename for m in listed] == ["受理回执.pdf", "副本.pdf"]
    assert {m.kind for m in listed} == {"result"}  # attached by the front desk at its own step


def test_only_who_may_act_on_the_step_may_attach(client_for, web_engine, tmp_path):
    case_id = apply(client_for("zhangsan"))
    svc = _service(web_engine, tmp_path)
    published = svc.publish(svc.stage([_up("x.pdf", PDF)]))
    with pytest.raises(NotPermitted):
        web_engine.cases.complete_work_item(item_id(web_engine, case_id, "accept"), ACCEPTED, MARKET,
                                            materials=published.materials)
    svc.forget(published)
    assert _stored_files(tmp_path) == [] or all(p.parent.name == "tmp" for p in _stored_files(tmp_path))
    with web_engine.db.reader.connect() as conn:
        assert material_store.for_case(conn, case_id) == []


def test_a_refused_completion_attaches_nothing(client_for, web_engine, tmp_path):
    """The files and the completion are one command: a form the engine refuses leaves no material
    rows and no stored file behind, and the case's history is unchanged."""
    case_id = apply(client_for("zhangsan"))
    svc = _service(web_engine, tmp_path)
    before = web_engine.history(case_id)
    published = svc.publish(svc.stage([_up("受理回执.pdf", PDF)]))
    with pytest.raises(FormErrors):
        web_engine.cases.complete_work_item(item_id(web_engine, case_id, "accept"), {"materials_complete": "maybe"},
                                            FRONT_DESK, materials=published.materials)
    svc.forget(published)
    assert svc.for_case(case_id) == [] and _stored_files(tmp_path) == []
    assert len(web_engine.history(case_id)) == len(before)


def test_attached_materials_are_in_the_hash_chain(client_for, web_engine, tmp_path):
    """The completion's history event names every file it attached, with its SHA-256, so altering a
    material row or swapping a file is seen against the chain."""
    case_id = apply(client_for("zhangsan"))
    svc = _service(web_engine, tmp_path)
    published = svc.publish(svc.stage([_up("受理回执.pdf", PDF), _up("门头.png", PNG)]))
    web_engine.cases.complete_work_item(item_id(web_engine, case_id, "accept"), ACCEPTED, FRONT_DESK,
                                        materials=published.materials)
    completed = [e for e in web_engine.history(case_id) if e.type == "work_item_completed"][-1]
    recorded = json.loads(completed.data)["materials"]
    stored = svc.for_case(case_id)
    assert [(m["filename"], m["sha256"], m["kind"]) for m in recorded] == \
        [(m.filename, m.sha256, m.kind) for m in stored] == [("受理回执.pdf", stored[0].sha256, "result"),
                                                                ("门头.png", stored[1].sha256, "result")]
    assert all(r.ok for r in web_engine.verify(case_id))


def test_upload_with_the_application_and_download_rights(client_for, web_engine):
    applicant = client_for("zhangsan")
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF), "营业执照副本.pdf"), (io.BytesIO(PNG), "门头.png")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    case_id = int(response.location.rsplit("/", 1)[1])
    page = applicant.page(f"/apply/cases/{case_id}")
    assert "营业执照副本.pdf" in page and "门头.png" in page and "申请材料" in page
    with web_engine.db.reader.connect() as conn:
        rows = material_store.for_case(conn, case_id)
    assert len(rows) == 2 and rows[0].task_name == "一表申请"
    download = applicant.get(f"/materials/{rows[0].id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert client_for("chuangkou").get(f"/materials/{rows[0].id}").status_code == 200
    assert client_for("canyin").get(f"/materials/{rows[0].id}").status_code == 403  # another applicant
    assert client_for("xiaofang").get(f"/materials/{rows[0].id}").status_code == 403  # fire: not involved
    assert client_for("shenji").get(f"/materials/{rows[0].id}").status_code == 200  # the auditor


def test_a_refused_upload_starts_no_case_and_keeps_the_typed_values(client_for, web_engine, tmp_path):
    applicant = client_for("zhangsan")
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF), "好的.pdf"), (io.BytesIO(b"MZ\x90\x00"), "病毒.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "不是允许的类型" in page and "蓉城川味小馆" in page
    with web_engine.db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM materials").scalar() == 0
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_an_oversized_request_gets_a_page_not_a_traceback(web_engine, tmp_path):
    from tests.web.conftest import Client, build_app

    app = build_app(web_engine, tmp_path, settings={"max_upload_bytes": 1024, "max_upload_files": 1})
    c = Client(app)
    c.login("zhangsan")
    c.get("/apply/scenarios/open_restaurant")
    response = c.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF + b"0" * (2 * 1024 * 1024)), "大.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 413 and "上传内容过大" in response.get_data(as_text=True)


def test_display_names_are_cleaned():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\张三\\营业执照.PDF") == "营业执照.PDF"
    assert clean_filename("a\x00b\u202e.pdf") == "ab.pdf"
    assert clean_filename("") == "材料"


def test_the_uploader_of_a_material_is_shown_by_display_name(client_for, web_engine):
    applicant = client_for("zhangsan")
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PDF), "营业执照副本.pdf")]}, content_type="multipart/form-data")
    case_id = int(response.location.rsplit("/", 1)[1])
    for page in (applicant.page(f"/apply/cases/{case_id}"), client_for("chuangkou").page(f"/inbox/cases/{case_id}")):
        row = re.search(r"营业执照副本\.pdf</a></td>(.*?)</tr>", page, re.DOTALL).group(1)
        assert 'data-label="上传人">张三</td>' in row and "zhangsan" not in row


def test_materials_in_the_database_store(web_engine, tmp_path):
    """With the database file store the upload folder keeps nothing: the file is a stored_files row
    (written before the material row that refers to it), downloads stream from the database, and a
    refused upload leaves no row and no chunk."""
    from tests.web.conftest import Client, build_app

    app = build_app(web_engine, tmp_path, settings={"file_store": "database"})
    c = Client(app)
    c.login("zhangsan")
    c.get("/apply/scenarios/open_restaurant")
    big_pdf = PDF + b"%" * (3 * 1024 * 1024)  # more than one chunk
    response = c.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(big_pdf), "营业执照副本.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    case_id = int(response.location.rsplit("/", 1)[1])
    with web_engine.db.reader.connect() as conn:
        row = material_store.for_case(conn, case_id)[0]
        assert conn.exec_driver_sql("SELECT count(*) FROM stored_file_chunks").scalar() == 4
    download = c.get(f"/materials/{row.id}")
    assert download.status_code == 200 and download.data == big_pdf
    assert download.headers["Content-Length"] == str(len(big_pdf))
    uploads = tmp_path / "uploads"
    assert not [p for p in uploads.rglob("*") if p.is_file()]  # not even a staged file left

    c.get("/apply/scenarios/open_restaurant")
    refused = c.post("/apply/scenarios/open_restaurant", {
        **APPLICATION, "materials": [(io.BytesIO(PNG), "门头.png"), (io.BytesIO(b"MZ\x90\x00"), "病毒.pdf")]},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    with web_engine.db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stored_files").scalar() == 1

    with web_engine.db.writer.begin() as conn:  # the file lost: a clear 404, not a traceback
        conn.exec_driver_sql("DELETE FROM stored_file_chunks")
        conn.exec_driver_sql("DELETE FROM stored_files")
    missing = c.get(f"/materials/{row.id}")
    assert missing.status_code == 404 and "已不在文件存储中" in missing.get_data(as_text=True)


def test_a_refused_completion_leaves_no_file_in_the_database_store(client_for, web_engine, tmp_path):
    from yijianshi.storage.file_store import DatabaseFiles

    case_id = apply(client_for("zhangsan"))
    db = web_engine.db
    svc = MaterialService(db, DatabaseFiles(db.reader, db.writer, tmp_path / "scratch"), web_engine.clock)
    published = svc.publish(svc.stage([_up("受理回执.pdf", PDF + b"distinct")]))
    assert svc.store.exists(material_key(published.new_hashes[0]))
    with pytest.raises(FormErrors):
        web_engine.cases.complete_work_item(item_id(web_engine, case_id, "accept"),
                                            {"materials_complete": "maybe"}, FRONT_DESK, materials=published.materials)
    svc.forget(published)
    with db.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stored_files").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM stored_file_chunks").scalar() == 0

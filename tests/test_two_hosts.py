"""Several hosts (README "Production shape"): two independent `yijianshi serve` processes, each in
its own empty working folder (its own YIJIANSHI_HOME), sharing nothing but one PostgreSQL database.
A session signed in on one is valid on the other (the session key is kept in the database), a
material uploaded on one downloads from the other, an export started on one downloads from the
other (files are in the database file store), and a case started on one is completed on the other."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from tests.test_serve_end_to_end import READY, Browser, _free_port, _read, stop
from tests.web.helpers import PDF

pytestmark = pytest.mark.postgres


def _serve(url: str, home: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    home.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIJIANSHI_")}
    env.update(PYTHONUNBUFFERED="1", YIJIANSHI_LOG_FORMAT="text", YIJIANSHI_HOME=str(home),
               YIJIANSHI_DATABASE_URL=url, YIJIANSHI_CHECKPOINT_EVERY_SECONDS="0")
    exe = Path(sys.executable).with_name("yijianshi")
    log = (home / "serve.log").open("w+", encoding="utf-8")
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--processes",
                             str(FIXTURES / "two_hosts"), *extra], cwd=home, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"yijianshi serve exited with {proc.returncode}:\n{_read(log)}")
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"yijianshi serve did not start in time:\n{_read(log)}")
        if READY in _read(log):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc, f"http://127.0.0.1:{port}"
            except OSError:
                pass
        time.sleep(0.2)


def _on(other: str, browser: Browser) -> Browser:
    """The same browser (its cookies) pointed at another host."""
    moved = Browser(other)
    moved.http = browser.http
    return moved


def _stored_here(home: Path) -> list[Path]:
    uploads = home / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file() and "tmp" not in p.relative_to(uploads).parts] \
        if uploads.exists() else []


def test_two_hosts_share_only_the_database(migrated_pg_url, tmp_path):
    with ExitStack() as stack:
        proc_a, host_a = _serve(migrated_pg_url, tmp_path / "a")  # upgrades, deploys, seeds, schedules
        stack.callback(stop, proc_a)
        proc_b, host_b = _serve(migrated_pg_url, tmp_path / "b", "--no-scheduler")
        stack.callback(stop, proc_b)

        # Signed in on A, the same session cookie works on B.
        applicant = Browser(host_a)
        applicant.login("zhangsan")
        assert _on(host_b, applicant).get("/apply/cases", allow_redirects=False).status_code == 200

        # A case started on A with a material; the material downloads from B, byte for byte.
        applicant.get("/apply/scenarios/two_hosts")
        response = applicant.post("/apply/scenarios/two_hosts", {"subject": "两台主机"},
                                  files=[("materials", ("营业执照副本.pdf", PDF, "application/pdf"))])
        assert response.status_code == 302, response.text[-3000:]
        case_id = int(re.search(r"/apply/cases/(\d+)", response.headers["Location"]).group(1))
        page = applicant.get(f"/apply/cases/{case_id}")
        material = re.search(r'href="(/materials/\d+)"', page.text).group(1)
        download = _on(host_b, applicant).get(material)
        assert download.status_code == 200 and download.content == PDF

        # The front desk completes the case on B.
        clerk = Browser(host_b)
        clerk.login("chuangkou")
        inbox = clerk.get("/inbox/")
        item = re.search(r'data-item="([0-9a-f-]{36})"', inbox.text).group(1)
        clerk.get(f"/inbox/items/{item}")
        done = clerk.post(f"/inbox/items/{item}", {"approved": "y"})
        assert done.status_code == 302, done.text[-2000:]
        db = create_engine(migrated_pg_url)
        with db.connect() as conn:
            status = conn.execute(text("SELECT status FROM cases WHERE id = :c"), {"c": case_id}).scalar()
        assert status == "completed"
        db.dispose()

        # An export started on B downloads from A.
        auditor = Browser(host_b)
        auditor.login("shenji")
        auditor.get("/audit/?applicant=zhangsan")
        response = auditor.post("/audit/exports", {"format": "csv", "applicant": "zhangsan"})
        assert response.status_code == 302, response.text[:500]
        job = re.search(r"/audit/exports/\d+$", response.headers["Location"]).group(0)
        deadline = time.monotonic() + 30
        while (progress := auditor.get(f"{job}.json").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, progress
            time.sleep(0.2)
        assert progress["state"] == "done", progress
        export = _on(host_a, auditor).get(progress["download"])
        assert export.status_code == 200, export.text[:500]
        assert str(case_id) in export.content.decode("utf-8-sig")

        # Nothing was kept in either host's folder: no files, no secret key file.
        for home in (tmp_path / "a", tmp_path / "b"):
            assert _stored_here(home) == [] and not (home / "secret_key").exists()

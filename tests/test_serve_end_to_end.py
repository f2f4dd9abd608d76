"""The app started exactly as `./run.sh` starts it: the real `yijianshi serve` command in its own
process, with the default relative paths (YIJIANSHI_HOME=var, resolved against the folder it starts
in, which is not the package's), on a free port. Over HTTP, as a browser would (cookies, the CSRF
token): an applicant applies with a material and downloads it, an auditor exports a search and
downloads the export. Uploads written to one folder and read from another gave 500s here."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.web.helpers import PDF

ROOT = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
READY = "请在浏览器中打开"
# The shipped open_restaurant scenario's application form, packaged items.
APPLICATION = {
    "enterprise_name": "蓉城川味小馆", "credit_code": "", "legal_rep_name": "张三",
    "legal_rep_id_no": "110101199001011237", "contact_phone": "13812345678",
    "business_address": "成都市武侯区科华北路 1 号", "floor_area": "80", "seating": "40",
    "item_choice": "package",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """`yijianshi serve` as run.sh runs it, started in an empty folder; yields (base URL, folder)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIJIANSHI_")}
    env.update(PYTHONUNBUFFERED="1", YIJIANSHI_LOG_FORMAT="text")
    exe = Path(sys.executable).with_name("yijianshi")
    log = (tmp_path / "serve.log").open("w+", encoding="utf-8")
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"yijianshi serve exited with {proc.returncode}:\n{_read(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"yijianshi serve did not start in time:\n{_read(log)}")
            if READY in _read(log):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    pass
            time.sleep(0.2)
        yield base, tmp_path
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started in its own session: SIGTERM, then SIGKILL after 15 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _read(log) -> str:
    log.flush()
    return Path(log.name).read_text(encoding="utf-8", errors="replace")


class Browser:
    """Cookies and the CSRF token of the last page, like a browser."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.token: str | None = None

    def get(self, path: str, **kw) -> requests.Response:
        response = self.http.get(self.base + path, timeout=30, **kw)
        found = TOKEN.search(response.text) if "text/html" in response.headers.get("Content-Type", "") else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict, **kw) -> requests.Response:
        return self.http.post(self.base + path, data={**data, "csrf_token": self.token}, timeout=30,
                              allow_redirects=False, **kw)

    def login(self, username: str) -> None:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": f"demo-{username}"})
        assert response.status_code == 302, response.text[:500]


def test_run_sh_start_serves_material_and_export_downloads(served):
    base, folder = served
    assert (folder / "var" / "yijianshi.sqlite3").is_file()  # the relative default, in the start folder

    applicant = Browser(base)
    applicant.login("zhangsan")
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", APPLICATION,
                              files=[("materials", ("营业执照副本.pdf", PDF, "application/pdf"))])
    assert response.status_code == 302, response.text[-3000:]
    case_path = re.search(r"/apply/cases/\d+", response.headers["Location"]).group(0)
    page = applicant.get(case_path)
    assert page.status_code == 200 and "营业执照副本.pdf" in page.text
    material = re.search(r'href="(/materials/\d+)"', page.text).group(1)
    download = applicant.get(material)
    assert download.status_code == 200, download.text[:500]
    assert download.content == PDF
    assert list((folder / "var" / "uploads").rglob("*"))  # stored under the start folder's var/

    auditor = Browser(base)
    auditor.login("shenji")
    assert auditor.get("/audit/?applicant=zhangsan").status_code == 200
    response = auditor.post("/audit/exports", {"format": "csv", "applicant": "zhangsan"})
    assert response.status_code == 302, response.text[:500]
    job = re.search(r"/audit/exports/\d+$", response.headers["Location"]).group(0)
    deadline = time.monotonic() + 60
    while (progress := auditor.get(f"{job}.json").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, progress
        time.sleep(0.2)
    assert progress["state"] == "done", progress
    export = auditor.get(progress["download"])
    assert export.status_code == 200, export.text[:500]
    assert "case_id" in export.content.decode("utf-8-sig").splitlines()[0]

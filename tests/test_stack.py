"""`yijianshi stack`: the production shape from one command, stopped cleanly by Ctrl-C."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from yijianshi.cli.stack import free_port

ROOT = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stack_command_starts_everything_and_stops_on_ctrl_c():
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("yijianshi")), "stack", "--workers", "2",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if "Ctrl-C" in line:
                break
        out = "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        master, *workers = re.search(r"gunicorn 主进程 (\d+)，2 个工作进程 \[(\d+), (\d+)\]", out).groups()
        schedulers = re.search(r"期限调度器进程：\[(\d+), (\d+)\]（主：(\d+)）", out).groups()
        assert schedulers[2] in schedulers[:2]
        assert "chuangkou" in out and "demo-chuangkou" in out and "postgresql+psycopg://" in out
        pids = [int(master), *map(int, workers), *map(int, schedulers[:2])]
        assert all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "已全部停止" in rest
    assert not any(_alive(p) for p in pids)

"""gunicorn settings for Prometheus multi-process mode: `gunicorn -c web/gunicorn_conf.py yijianshi.web.wsgi:app`
with PROMETHEUS_MULTIPROC_DIR set to a folder the workers can write. At start the *.db files that
prometheus_client writes there are removed, so counters of an earlier run do not linger; a worker
that exits is marked dead so its live gauges (scheduler leadership) stop counting."""
from __future__ import annotations

import os
from pathlib import Path


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

"""gunicorn settings for Prometheus multi-process mode: `gunicorn -c web/gunicorn_conf.py yijianshi.web.wsgi:app`
with PROMETHEUS_MULTIPROC_DIR set to a folder the workers can write. At start the *.db files that
prometheus_client writes there are removed, so counters of an earlier run do not linger; a worker
that exits is marked dead so its live gauges (scheduler leadership) stop counting.

The gunicorn master reads the environment here, into the settings (engine/settings.py); each worker
reads it again in web/wsgi.py."""
from __future__ import annotations

import os

from yijianshi.engine.settings import Settings

settings = Settings.from_environ(os.environ)


def on_starting(server):
    folder = settings.prometheus_multiproc_dir
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()


def child_exit(server, worker):
    if settings.prometheus_multiproc_dir is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

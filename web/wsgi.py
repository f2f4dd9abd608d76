"""The WSGI entry point for a production server, configured by the environment.


    gunicorn -w 4 -b 127.0.0.1:8000 yijianshi.web.wsgi:app

YIJIANSHI_DATABASE_URL (or YIJIANSHI_HOME for the default SQLite file), YIJIANSHI_SECRET_KEY (the
same in every worker; otherwise it is kept in <YIJIANSHI_HOME>/secret_key), YIJIANSHI_UPLOADS. The
schema must be upgraded first (`yijianshi db upgrade`). Logs are JSON lines on stderr
(YIJIANSHI_LOG_FORMAT, YIJIANSHI_LOG_LEVEL); for Prometheus with several workers see
web/gunicorn_conf.py."""
from __future__ import annotations

from yijianshi.engine.ops.structured_logs import configure
from yijianshi.web.app import create_app

configure("INFO")
app = create_app()

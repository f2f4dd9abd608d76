"""The WSGI entry point for a production server, configured by the environment.


    gunicorn -w 4 -b 127.0.0.1:8000 yijianshi.web.wsgi:app

The environment is read here, once, into the settings (engine/settings.py lists them all):
YIJIANSHI_DATABASE_URL (or YIJIANSHI_HOME for the default SQLite file), YIJIANSHI_SECRET_KEY (the
same in every worker on every host; otherwise generated once into the database, or with the folder
file store into <YIJIANSHI_HOME>/secret_key), YIJIANSHI_FILE_STORE, YIJIANSHI_UPLOADS. The
schema must be upgraded first (`yijianshi db upgrade`). Logs are JSON lines on stderr
(YIJIANSHI_LOG_FORMAT, YIJIANSHI_LOG_LEVEL); for Prometheus with several workers see
web/gunicorn_conf.py."""
from __future__ import annotations

import os

from yijianshi.engine.composition import System
from yijianshi.engine.ops.structured_logs import configure_from
from yijianshi.engine.settings import Settings
from yijianshi.web.app import create_app

settings = Settings.from_environ(os.environ)
configure_from(settings, "INFO")
app = create_app(System.build(settings))

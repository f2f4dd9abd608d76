"""The Flask configuration of the web app, made from the process's settings (engine/settings.py).
The secret key that signs sessions must be the same in every worker process on every host, so
without YIJIANSHI_SECRET_KEY it is generated once and kept in the database (with the database file
store, where several hosts share nothing else: storage/secret_store.py), or else in a file in the
home folder (one machine)."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta

from yijianshi.engine.settings import Settings
from yijianshi.storage import secret_store
from yijianshi.storage.database import Database

SESSION_KEY = "session_secret_key"


def flask_config(settings: Settings) -> dict:
    return dict(
        JSON_AS_ASCII=False,
        # Read-only copies for templates and messages; the services use the settings themselves.
        UPLOAD_FOLDER=str(settings.uploads),
        MAX_UPLOAD_BYTES=settings.max_upload_bytes,
        MAX_UPLOAD_FILES=settings.max_upload_files,
        # How long a worker may reuse an account it loaded for a session (a disabled account or a
        # changed password takes effect at most this late).
        ACCOUNT_CACHE_SECONDS=5.0,
        # Who sees ID and phone numbers unmasked besides the applicant himself: roles with
        # sees_personal_data, plus members of these departments.
        PERSONAL_DATA_GROUPS=("front_desk",),
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        LANGUAGES={"zh_Hans_CN": "中文", "en": "English"},
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_seconds),
        # A clerk keeps a task page open for a long time; the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        INBOX_PAGE_SIZE=50,
        # /healthz answers 503 when no deadline scheduler has held its lease for this long (a few
        # lease periods); 0 leaves the scheduler out of the check.
        HEALTH_SCHEDULER_STALE_SECONDS=settings.health_scheduler_stale_seconds,
    )


# Configuration that the services were built with: changing it in the Flask config alone would make
# the app and its services disagree, so create_app refuses it (change the Settings instead).
FROM_SETTINGS_ONLY = ("UPLOAD_FOLDER", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_FILES", "PASSWORD_HASH_METHOD",
                      "DATABASE_URL")


def secret_key(settings: Settings, db: Database) -> str:
    """YIJIANSHI_SECRET_KEY, else a key generated once into the database (Settings.secrets_in_database)
    or into <home>/secret_key (mode 600)."""
    if settings.secret_key:
        return settings.secret_key
    if settings.secrets_in_database:
        return secret_store.shared_secret(db.writer, SESSION_KEY, lambda: secrets.token_hex(32))
    path = settings.secret_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside and linked into place: workers starting together all read the same key.
        temp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return path.read_text().strip()


def max_request_bytes(config) -> int:
    """Werkzeug refuses bigger bodies before reading them: every allowed file plus the form."""
    return config["MAX_UPLOAD_FILES"] * config["MAX_UPLOAD_BYTES"] + 1024 * 1024

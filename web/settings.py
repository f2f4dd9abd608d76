"""Configuration defaults of the web app, read from environment variables where a deployment
sets them. The secret key that signs sessions must be the same in every worker process, so without
YIJIANSHI_SECRET_KEY it is generated once and kept in a file beside the database."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from yijianshi.engine.cases.materials import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES


def home() -> Path:
    return Path(os.environ.get("YIJIANSHI_HOME", "var"))


def defaults() -> dict:
    return dict(
        DATABASE_URL=None,
        JSON_AS_ASCII=False,
        UPLOAD_FOLDER=os.environ.get("YIJIANSHI_UPLOADS") or str(home() / "uploads"),
        MAX_UPLOAD_BYTES=DEFAULT_MAX_BYTES,
        MAX_UPLOAD_FILES=DEFAULT_MAX_FILES,
        # werkzeug.security method; tests use a cheaper one, production keeps scrypt.
        PASSWORD_HASH_METHOD="scrypt",
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
        SESSION_COOKIE_SECURE=os.environ.get("YIJIANSHI_SECURE_COOKIES") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        # A clerk keeps a task page open for a long time; the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        INBOX_PAGE_SIZE=50,
        # /healthz answers 503 when no deadline scheduler has held its lease for this long (a few
        # lease periods); 0 leaves the scheduler out of the check.
        HEALTH_SCHEDULER_STALE_SECONDS=float(
            os.environ.get("YIJIANSHI_HEALTH_SCHEDULER_STALE_SECONDS", "15")),
    )


def secret_key() -> str:
    """YIJIANSHI_SECRET_KEY, else a key generated once into <YIJIANSHI_HOME>/secret_key (mode 600)."""
    from_env = os.environ.get("YIJIANSHI_SECRET_KEY")
    if from_env:
        return from_env
    path = home() / "secret_key"
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

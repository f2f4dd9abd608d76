"""Per-client throttling of sign-in (Flask-Limiter): a client address may fail to sign in only so
often (Settings.login_rate_limit, counted where Settings.rate_limit_storage says). Successful
sign-ins are not counted, so a busy front desk behind one address is not slowed down; a guesser is
answered 429 with a page that says to wait, before any password is checked. Together with the
account's own temporary lock (engine/access/accounts.py) this bounds how often anyone can guess, and
how long a guesser can keep someone else's account locked."""
from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from yijianshi.engine.settings import Settings

LIMITER = "yijianshi.limiter"


def _failed(response) -> bool:
    """Only refused sign-ins count (a success redirects)."""
    return response.status_code != 302


def init_throttling(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.rate_limit_storage,
                      headers_enabled=True, key_prefix="yijianshi")
    login = app.view_functions["auth.login"]
    app.view_functions["auth.login"] = limiter.limit(
        settings.login_rate_limit, methods=["POST"], deduct_when=_failed, scope="login")(login)
    app.extensions[LIMITER] = limiter
    return limiter

"""Fixtures for the web tests: an app on a real database with the shipped scenario deployed and the
demo accounts seeded, and a test client that signs in and sends CSRF tokens like a browser."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import _check_unless_tampered, check_every_case, make_engine
from yijianshi.engine.access.org_seed import seed_organisation
from yijianshi.engine.composition import System
from yijianshi.engine.settings import Settings
from yijianshi.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
# The open-restaurant scenario as first shipped, frozen here so that these tests keep their meaning
# while processes/ grows and changes; test_shipped_scenarios.py covers whatever processes/ holds.
SCENARIO = Path(__file__).parent / "fixtures" / "restaurant"
# The production hash (Argon2id, 64 MiB) costs ~0.1-0.3 s per sign-in; the tests only need a real, salted hash.
FAST_HASH = "argon2:1:8:1"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def web_settings(tmp_path: Path, **fields) -> Settings:
    """The settings of a test app: its files in tmp_path, the fast password hash."""
    return Settings.at(tmp_path, uploads=tmp_path / "uploads", password_hash_method=FAST_HASH, **fields)


def web_config(**extra) -> dict:
    return {"SECRET_KEY": "test-secret", "ACCOUNT_CACHE_SECONDS": 0, **extra}


def web_system(engine, tmp_path: Path, **fields) -> System:
    """The composition root around the test's engine (the test drives that engine directly too)."""
    return System.around(engine, web_settings(tmp_path, **fields))


def build_app(engine, tmp_path: Path, *, processes: Path = SCENARIO, settings: dict | None = None, **extra):
    """The app on `engine` with `processes` deployed and the demo accounts seeded; `settings`:
    Settings fields to change, `extra`: Flask configuration."""
    engine.deploy([processes])
    system = web_system(engine, tmp_path, **(settings or {}))
    app = create_app(system, web_config(**extra))
    system.accounts.seed_demo()
    seed_organisation(system.db)
    return app


@pytest.fixture
def web_engine(migrated_sqlite_url, request):
    engine = make_engine(migrated_sqlite_url)
    yield engine
    _check_unless_tampered(engine, request)
    engine.db.dispose()


@pytest.fixture
def pg_web_engine(migrated_pg_url):
    engine = make_engine(migrated_pg_url)
    yield engine
    check_every_case(engine)
    engine.db.dispose()


@pytest.fixture
def app(web_engine, tmp_path):
    return build_app(web_engine, tmp_path)


class Client:
    """A signed-in (or anonymous) browser stand-in: keeps cookies, finds the CSRF token on pages."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token: str | None = None

    def _remember(self, response):
        if response.mimetype == "text/html":
            found = _TOKEN.search(response.get_data(as_text=True))
            if found:
                self.token = found.group(1)
        return response

    def get(self, url: str, **kw):
        return self._remember(self.http.get(url, **kw))

    def post(self, url: str, data: dict | None = None, *, token: bool = True, **kw):
        body = dict(data or {})
        if token:
            if self.token is None:
                self.get("/login")
            body.setdefault("csrf_token", self.token)
        return self._remember(self.http.post(url, data=body, **kw))

    def login(self, username: str, password: str | None = None):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password or f"demo-{username}"})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.token = None
        return response

    def page(self, url: str) -> str:
        response = self.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def client_for(app):
    def make(username: str | None = None) -> Client:
        c = Client(app)
        if username:
            c.login(username)
        return c
    return make


@pytest.fixture
def api_app(web_engine, tmp_path):
    """An app with the integration API's example processes deployed (tests/web/api_support.py)."""
    from tests.web.api_support import make_api_app
    return make_api_app(web_engine, tmp_path)


@pytest.fixture
def api_for(api_app):
    """api_for(name, scopes, processes): a new API client and an HTTP client holding its token."""
    from tests.web.api_support import client_maker
    return client_maker(api_app)

"""The Flask application factory: configuration, the process's System (engine/composition.py: every
engine service, built from the settings), sign-in, CSRF,
languages, error pages, and one blueprint per audience (apply: applicants; inbox: clerks and those
who oversee them; auth: signing in; resources: materials and diagrams; overview: staff; supervise:
supervisors and administrators; admin: 系统管理, administrators; counter: staff starting cases for others)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from yijianshi.engine.cases.materials import allowed_types_text
from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.composition import System
from yijianshi.web import admin
from yijianshi.web import apply
from yijianshi.web import audit
from yijianshi.web import auth
from yijianshi.web import counter
from yijianshi.web import design
from yijianshi.web import handoffs, inbox
from yijianshi.web import notifications
from yijianshi.web import overview
from yijianshi.web import resources
from yijianshi.web import supervise
from yijianshi.web.api import routes as api
from yijianshi.web import engine_rest
from yijianshi.web.bpmn_forms import field_hint
from yijianshi.web.case_view import departments_of, status_label
from yijianshi.web.scenarios import limit_text
from yijianshi.web.errors import init_errors
from yijianshi.web.i18n import init_babel, select_locale
from yijianshi.web.operations import init_operations
from yijianshi.web.services import install
from yijianshi.web.settings import FROM_SETTINGS_ONLY, flask_config, max_request_bytes, secret_key
from yijianshi.web.task_submit import UPLOAD_FIELD
from yijianshi.web.throttling import init_throttling
from yijianshi.web.users import init_login

VENDOR = Path(__file__).parent / "static" / "vendor"

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "frame-ancestors 'none'; form-action 'self'")


def create_app(system: System, config: dict | None = None) -> Flask:
    """The web app on `system`; `config` overrides Flask configuration (tests), but not what the
    services were built with: that comes from system.settings alone."""
    clash = sorted(set(config or {}) & set(FROM_SETTINGS_ONLY))
    if clash:
        raise ValueError(f"set {', '.join(clash)} in the Settings the System is built from, "
                         "not in the Flask config")
    app = Flask(__name__)
    app.config.from_mapping(flask_config(system.settings))
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(system.settings, system.db)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = max_request_bytes(app.config)
    install(app, system)

    init_operations(app, system)  # first, so that its timing and request log see every request
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # bearer tokens, no cookies: nothing to forge
    csrf.exempt(engine_rest.bp)  # the same clients' tokens (Basic or bearer)
    init_babel(app)
    init_login(app)
    init_errors(app)
    for blueprint in (auth.bp, admin.bp, apply.bp, counter.bp, inbox.bp, handoffs.bp, notifications.bp, resources.bp,
                      overview.bp, design.bp, audit.bp, supervise.bp,
                      api.bp, engine_rest.bp):
        app.register_blueprint(blueprint)
    init_throttling(app, system.settings)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    _template_helpers(app)
    return app


def _template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(
        field_hint=field_hint, status_label=status_label, departments_of=departments_of, limit_text=limit_text,
        starts_for_others=counter.startable, unread_notifications=notifications.unread_count,
        vendor_ready=(VENDOR / "bpmn-js" / "bpmn-navigated-viewer.production.min.js").exists(),
        upload_rules={"types": allowed_types_text(), "field": UPLOAD_FIELD, "files": app.config["MAX_UPLOAD_FILES"],
                      "mb": f"{app.config['MAX_UPLOAD_BYTES'] / 1024 / 1024:g}"})

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(SHANGHAI).strftime(fmt) if value else "—"

    @app.template_filter("filesize")
    def filesize(n: int) -> str:
        if n < 1024:
            return f"{n} B"
        if n < 1024 * 1024:
            return f"{n / 1024:.1f} KB"
        return f"{n / 1024 / 1024:.1f} MB"

    @app.context_processor
    def page_globals():
        return {"current_language": select_locale()}

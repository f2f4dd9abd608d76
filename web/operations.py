"""Operations endpoints and request instrumentation: `/healthz` (database and scheduler liveness),
`/metrics` (Prometheus), and one structured log line per request.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty folder, before the
server starts; read into the settings, engine/settings.py) and start gunicorn with `-c web/gunicorn_conf.py`: each worker then writes its
counters there and whichever worker answers a scrape sums them all."""
from __future__ import annotations

import logging
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from yijianshi.engine.ops import health
from yijianshi.engine.ops.structured_logs import bind, unbind
from yijianshi.engine.ops.prometheus import ProjectionCollector
from yijianshi.engine.scripting.foreground_gate import FOREGROUND

log = logging.getLogger("yijianshi.web")
bp = Blueprint("operations", __name__)

REQUESTS = Counter("yijianshi_http_requests", "HTTP requests answered, by endpoint and status",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("yijianshi_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")))
UNMATCHED = "(unmatched)"


@bp.get("/healthz")
def healthz():
    engine = current_app.extensions["yijianshi"]
    result = health.check(engine, float(current_app.config["HEALTH_SCHEDULER_STALE_SECONDS"]))
    response = jsonify(result.details)
    response.status_code = 200 if result.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics():
    registry = current_app.extensions["yijianshi.metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _Forward:
    """Hands a scrape the process-wide metrics: this process's, or all workers' in multi-process mode."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        yield from self.source.collect()


def scrape_registry(engine, multiprocess_mode: bool) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode:
        from prometheus_client import multiprocess

        source = CollectorRegistry()
        multiprocess.MultiProcessCollector(source)
        registry.register(_Forward(source))
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(ProjectionCollector(engine))
    return registry


class Foreground:
    """WSGI middleware: answering a request (from the request context's push to the response made)
    is foreground work (engine/scripting/foreground_gate.py): long script calls on this machine pause
    meanwhile. Sending the response's bytes is not: a client that never reads them must not keep
    the gate."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        with FOREGROUND.foreground():
            return self.app(environ, start_response)


def init_operations(app: Flask, system) -> None:
    app.wsgi_app = Foreground(app.wsgi_app)  # type: ignore[method-assign]
    multiprocess_mode = system.settings.prometheus_multiproc_dir is not None
    app.extensions["yijianshi.metrics"] = scrape_registry(system.engine, multiprocess_mode)
    app.register_blueprint(bp)

    @app.before_request
    def _start():
        g._started = time.perf_counter()
        g._log_token = bind(request_id=request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16],
                            method=request.method, path=request.path)

    @app.after_request
    def _measure(response):
        started = g.pop("_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(request.method, endpoint).observe(elapsed)
        if request.endpoint != "static":
            user = g.get("_login_user")  # only if the request loaded the signed-in user anyway
            actor = getattr(user, "username", None)
            log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"endpoint": endpoint, "status": response.status_code, "actor": actor,
                            "duration_ms": round(elapsed * 1000, 2)})
        return response

    @app.teardown_request
    def _end(_exc):
        token = g.pop("_log_token", None)
        if token is not None:
            try:
                unbind(token)
            except ValueError:  # reset from another context (a streamed response): nothing to undo
                pass

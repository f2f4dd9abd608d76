"""Errors of the engine-rest subset in Camunda's shape: {"type": "...", "message": "..."} with the
HTTP status Camunda gives (400 bad request, 401, 403, 404, 500), and the engine's errors mapped to
them."""
from __future__ import annotations

from flask import Response, json

from yijianshi.engine.errors import (
    AmbiguousCorrelation,
    EngineError,
    FormErrors,
    NotFound,
    NotPermitted,
    WorkItemUnavailable,
)


class RestError(Exception):
    def __init__(self, status: int, type_: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.headers = status, type_, message, headers or {}


def bad_request(message: str) -> RestError:
    return RestError(400, "InvalidRequestException", message)


def from_engine(err: EngineError) -> RestError:
    if isinstance(err, FormErrors):
        text = "；".join(f"{k}: {v}" if k != "__all__" else v for k, v in err.errors.items())
        return RestError(400, "InvalidRequestException", text or str(err))
    if isinstance(err, NotFound):
        return RestError(404, "InvalidRequestException", str(err))
    if isinstance(err, WorkItemUnavailable):
        return RestError(400, "BadUserRequestException", str(err))
    if isinstance(err, AmbiguousCorrelation):
        return RestError(400, "MismatchingMessageCorrelationException", str(err))
    if isinstance(err, NotPermitted):
        return RestError(403, "AuthorizationException", str(err))
    return RestError(500, "ProcessEngineException", str(err))


def error_response(err: RestError) -> Response:
    response = Response(json.dumps({"type": err.type, "message": err.message}, ensure_ascii=False),
                        status=err.status, mimetype="application/json")
    for name, value in err.headers.items():
        response.headers[name] = value
    return response

"""Errors of the integration API as RFC 9457 problem details (application/problem+json).

Every refusal and failure under /api is one of the problem types below: `type` points to its
explanation on /api/docs, `title` is the fixed English title of the type, `detail` says in the
reader's language what is wrong with this request, `errors` lists what is wrong with each field."""
from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from flask import Response, json, request

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str  # for the documentation


PROBLEM_TYPES: dict[str, ProblemType] = {p.slug: p for p in (
    ProblemType("malformed-request", 400, "Malformed Request",
                "The body is not valid UTF-8 JSON, a query parameter is invalid, or a required header is missing."),
    ProblemType("unauthorized", 401, "Unauthorized",
                "No bearer token, an unknown token, or the token of a revoked client."),
    ProblemType("forbidden", 403, "Forbidden",
                "The client lacks the scope the operation needs, or may not use the process concerned."),
    ProblemType("not-found", 404, "Not Found",
                "No such case, route, or process; or no case waits for the message with these correlation keys."),
    ProblemType("method-not-allowed", 405, "Method Not Allowed", "The route does not support this HTTP method."),
    ProblemType("conflict", 409, "Conflict",
                "The request conflicts with the case's state, e.g. the correlation keys match several cases."),
    ProblemType("payload-too-large", 413, "Payload Too Large", "The request body is larger than the API accepts."),
    ProblemType("unsupported-media-type", 415, "Unsupported Media Type", "The body must be sent as application/json."),
    ProblemType("validation-failed", 422, "Validation Failed",
                "The JSON is well-formed but its content is not acceptable; `errors` says what is wrong where."),
    ProblemType("idempotency-key-reused", 422, "Idempotency Key Reused",
                "The Idempotency-Key was used before by this client for a request with a different body."),
    ProblemType("internal-error", 500, "Internal Server Error",
                "The server failed unexpectedly; nothing was changed. The failure is logged."),
)}
_BY_STATUS = {400: "malformed-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
              405: "method-not-allowed", 409: "conflict", 413: "payload-too-large",
              415: "unsupported-media-type", 422: "validation-failed", 500: "internal-error"}


@dataclass
class ApiProblem(Exception):
    """Raised inside an API view; answered as a problem document."""

    slug: str
    detail: str
    errors: list[dict] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def type_uri(slug: str) -> str:
    return f"/api/docs#problem-{slug}"


def problem_response(slug: str | None, detail: str, *, errors: list[dict] | None = None,
                     headers: dict[str, str] | None = None, status: int | None = None) -> Response:
    """A problem document of one of PROBLEM_TYPES, or (slug None) the plain HTTP status `status`
    as type about:blank with the status phrase as title."""
    if slug is None:
        kind = ProblemType("", status or 500, HTTPStatus(status or 500).phrase, "")
        type_ = "about:blank"
    else:
        kind, type_ = PROBLEM_TYPES[slug], type_uri(slug)
    body = {"type": type_, "title": kind.title, "status": kind.status, "detail": detail,
            "instance": request.path}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=kind.status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if kind.status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="yijianshi-api"')
    response.headers["Cache-Control"] = "no-store"
    return response


def from_problem(err: ApiProblem) -> Response:
    return problem_response(err.slug, err.detail, errors=err.errors, headers=err.headers)


def slug_for_status(status: int) -> str | None:
    """The problem type of an HTTP status, or None (about:blank) for the rare others (406, 414, …)."""
    return _BY_STATUS.get(status)


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")

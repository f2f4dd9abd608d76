"""The integration API (JSON over HTTP, under /api/v1): start a case, deliver a department system's
reply by correlation key, read a case's state and history; the OpenAPI document and its page.

No cookies, no CSRF: every call carries its client's bearer token. Every error is a problem
document (web/api/problems.py)."""
from __future__ import annotations

import re

from flask import Blueprint, Response, json, render_template, request, url_for

from yijianshi.engine.errors import AmbiguousCorrelation, EngineError, FormErrors, NotFound, NotPermitted
from yijianshi.engine.modeling.forms import ALL_KEY
from yijianshi.engine.cases.idempotent_start import IdempotencyKeyReused
from yijianshi.storage import case_store
from yijianshi.storage import inbox_store
from yijianshi.web.failure_text import failure_text
from yijianshi.web.api.auth import current_client, require_process, requires
from yijianshi.web.api.bodies import json_body, max_body_bytes
from yijianshi.web.api.case_document import case_document, command_result, event_document
from yijianshi.web.api.openapi import IDEMPOTENCY_KEY, MAX_HISTORY_PAGE, MAX_ID, build_document
from yijianshi.web.api.problems import PROBLEM_TYPES, ApiProblem, from_problem
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services

bp = Blueprint("api", __name__, url_prefix="/api")
bp.register_error_handler(ApiProblem, from_problem)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY)


@bp.before_request
def limit_body() -> None:
    request.max_content_length = max_body_bytes()


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _form_problem(err: FormErrors, base: str) -> ApiProblem:
    errors = [{"pointer": base if field == ALL_KEY else f"{base}/{field}", "detail": message}
              for field, message in err.errors.items()]
    return ApiProblem("validation-failed", _("提交的数据未通过校验，请按 errors 中列出的字段逐项修改。"), errors)


@bp.post("/v1/cases")
@requires("cases:start")
def start_case():
    client = current_client()
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise ApiProblem("malformed-request", _("缺少请求头 Idempotency-Key：立案请求必须带幂等键，重试时原样重发，以免重复立案。"),
                         [{"header": "Idempotency-Key", "detail": _("此项为必填项。")}])
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiProblem("malformed-request", _("请求头 Idempotency-Key 无效：须为 1–255 个可见 ASCII 字符（不含空格）。"),
                         [{"header": "Idempotency-Key", "detail": _("格式不正确。")}])
    body = json_body("StartCaseRequest")
    process = body["process"]
    require_process(client, process)
    applicant = body.get("applicant")
    if applicant is not None:
        account = services().accounts.get(applicant)
        if account is None or not account.active or not account.role.applicant:
            raise ApiProblem("validation-failed", _("申请人账号无效。"), [
                {"pointer": "/applicant", "detail": _("“%(name)s”不是有效的申请人账号。", name=applicant)}])
    submitted = body.get("data") or {}
    try:
        # A start-event form takes the data as the case's start data; else it is the first step's form.
        if services().engine.cases.start_event_form(process) is not None:
            data, start_form = submitted, None
        else:
            data, start_form = {}, submitted
        started = services().starts.start(
            client, key, body, definition_key=process, data=data, business_key=body.get("business_key"),
            title=body.get("title"), start_form=start_form, started_by=applicant)
    except IdempotencyKeyReused as err:
        raise ApiProblem("idempotency-key-reused", str(err), [{"header": "Idempotency-Key", "detail": str(err)}])
    except FormErrors as err:
        raise _form_problem(err, "/data")
    except NotFound as err:  # the process is not deployed
        raise ApiProblem("validation-failed", str(err), [{"pointer": "/process", "detail": str(err)}])
    except EngineError as err:  # the process itself failed while starting (e.g. a script)
        raise ApiProblem("validation-failed", _("立案失败，未创建案件：%(why)s", why=failure_text(err)))
    headers = {"Location": url_for("api.get_case", case_id=started.case_id)}
    if started.replayed:
        headers["Idempotency-Replayed"] = "true"
    return _json(command_result(started.outcome), 201, headers)


def _readable_case(conn, case_id: int):
    row = inbox_store.case_row(conn, case_id) if case_id <= MAX_ID else None
    if row is None:
        raise ApiProblem("not-found", _("案件 %(id)s 不存在。", id=case_id))
    require_process(current_client(), row.definition_key)
    return row


@bp.get("/v1/cases/<int:case_id>")
@requires("cases:read")
def get_case(case_id: int):
    with services().engine.db.reader.connect() as conn:
        row = _readable_case(conn, case_id)
        return _json(case_document(conn, row))


def _int_parameter(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,10}", text) or not low <= int(text) <= high:
        raise ApiProblem("malformed-request", _("查询参数 %(name)s 无效：须为 %(low)s 到 %(high)s 之间的整数。",
                                                name=name, low=low, high=high),
                         [{"parameter": name, "detail": _("须为 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)}])
    return int(text)


@bp.get("/v1/cases/<int:case_id>/history")
@requires("cases:read")
def case_history(case_id: int):
    after = _int_parameter("after", 0, 0, 2**31 - 1)
    limit = _int_parameter("limit", 50, 1, MAX_HISTORY_PAGE)
    with services().engine.db.reader.connect() as conn:
        row = _readable_case(conn, case_id)
        rows = case_store.case_events_page(conn, row.id, after, limit + 1)
    events = [event_document(e, row.definition_key) for e in rows[:limit]]
    following = (url_for("api.case_history", case_id=case_id, after=events[-1]["seq"], limit=limit)
                 if len(rows) > limit else None)
    return _json({"case_id": case_id, "events": events, "next": following})


@bp.post("/v1/messages")
@requires("messages:deliver")
def deliver_message():
    client = current_client()
    body = json_body("DeliverMessageRequest")
    try:
        summary = services().engine.cases.deliver_message(
            body["message"], body["correlation"], body.get("payload") or {}, client.actor,
            processes=client.process_limit)
    except NotFound as err:
        raise ApiProblem("not-found", str(err))
    except NotPermitted as err:
        raise ApiProblem("forbidden", str(err))
    except AmbiguousCorrelation as err:
        raise ApiProblem("conflict", str(err))
    except FormErrors as err:
        raise _form_problem(err, "/payload")
    except EngineError as err:
        raise ApiProblem("conflict", _("消息未能投递：%(why)s", why=failure_text(err)))
    outcome = {"case_id": summary.id, "status": summary.status, "version": summary.version,
               "opened": [{"id": r.id, "task_spec": r.task_spec, "name": r.name} for r in summary.ready]}
    return _json(command_result(outcome))


@bp.get("/v1/openapi.json")
def openapi_document():
    return _json(build_document(url_for("api.start_case").rsplit("/", 1)[0]))


@bp.get("/docs")
def docs():
    return render_template("api/docs.html", doc=build_document(), problems=PROBLEM_TYPES.values())

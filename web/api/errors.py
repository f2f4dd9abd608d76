"""Errors raised anywhere under /api (unknown routes, wrong methods, oversize bodies, engine refusals,
unexpected failures) answered as problem documents instead of HTML pages."""
from __future__ import annotations

import logging

from flask import request
from werkzeug.exceptions import HTTPException

from yijianshi.engine.errors import NotFound, NotPermitted, ProcessFailed
from yijianshi.web.api.bodies import max_body_bytes
from yijianshi.web.api.problems import ApiProblem, from_problem, problem_response, slug_for_status
from yijianshi.web.failure_text import failure_text
from yijianshi.web.i18n import gettext as _

log = logging.getLogger(__name__)


def problem_for(err: BaseException):
    if isinstance(err, ApiProblem):
        return from_problem(err)
    if isinstance(err, NotPermitted):
        return problem_response("forbidden", str(err))
    if isinstance(err, NotFound):
        return problem_response("not-found", str(err))
    if isinstance(err, HTTPException):
        return _http(err)
    if isinstance(err, ProcessFailed):
        return problem_response("internal-error", failure_text(err))
    log.exception("unexpected error in the API", exc_info=err)
    return problem_response("internal-error", _("服务器内部错误，请求未能完成，也未做任何更改。我们已记录此问题；请稍后重试。"))


def _http(err: HTTPException):
    code = err.code or 500
    headers = {}
    if code == 404:
        detail = _("接口地址不存在：%(path)s。可用的接口见 /api/docs。", path=request.path)
    elif code == 405:
        allowed = sorted(getattr(err, "valid_methods", None) or ())
        headers["Allow"] = ", ".join(allowed)
        detail = _("此接口不支持 %(method)s 方法（支持：%(allowed)s）。", method=request.method,
                   allowed="、".join(allowed) or "—")
    elif code == 413:
        detail = _("请求体超过 %(kb)s KB 上限。", kb=max_body_bytes() // 1024)
    elif code == 400:
        detail = _("请求无效：%(why)s", why=err.description or "")
    elif code >= 500:
        log.error("HTTP %s in the API: %s", code, err.description)
        detail = _("服务器内部错误，请求未能完成，也未做任何更改。我们已记录此问题；请稍后重试。")
    else:
        detail = _("请求无法完成（%(code)s）：%(why)s", code=code, why=err.description or "")
    return problem_response(slug_for_status(code), detail, headers=headers, status=code)

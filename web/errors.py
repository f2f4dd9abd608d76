"""Error pages: every refusal or failure reaches a person as a page in their language that says what
happened and what to do, never as a traceback (under /api: a problem document, see web/api/errors.py)."""
from __future__ import annotations

import logging
from functools import wraps

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException

from flask_login import current_user

from yijianshi.engine.errors import NotFound, NotPermitted, ProcessFailed
from yijianshi.web.failure_text import failure_text
from yijianshi.web.i18n import gettext as _

log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str):
    return render_template("errors.html", status=status, title=title, message=message), status


def _or_problem(handler):
    """Under /api the same errors are answered as problem documents (JSON), not pages."""
    @wraps(handler)
    def wrapped(err):
        from yijianshi.web.api.errors import problem_for
        from yijianshi.web.api.problems import is_api_request

        if is_api_request():
            return problem_for(err)
        return handler(err)
    return wrapped


def init_errors(app) -> None:
    def on(kind):
        return lambda handler: app.errorhandler(kind)(_or_problem(handler))

    @on(CSRFError)
    def csrf_failed(err):
        return _page(400, _("页面已过期"), _("表单的安全令牌无效或已过期。请刷新页面后重新提交。"))

    @on(400)
    def bad_request(err):
        # A page that refuses a value says which (abort(400, description=...)); werkzeug's own
        # English description is not shown.
        said = err.description if err.description != BadRequest.description else None
        return _page(400, _("请求无法完成"), said or _("请求无法完成（%(code)s）。请返回上一页重试。", code=400))

    @on(403)
    def forbidden(err):
        return _page(403, _("无权访问"), _("您没有权限查看或办理此内容。如需办理，请联系所在部门或系统管理员。"))

    @on(404)
    def not_found(err):
        return _page(404, _("页面不存在"), _("您访问的页面或事项不存在，可能已被删除或地址有误。"))

    @on(405)
    def not_allowed(err):
        return _page(405, _("操作方式不正确"), _("此地址不支持这种操作。请从页面上的按钮进入。"))

    @on(413)
    def too_large(err):
        limit = app.config["MAX_UPLOAD_BYTES"] / 1024 / 1024
        return _page(413, _("上传内容过大"),
                     _("上传的文件总量超过上限（每个文件不超过 %(mb)s MB）。请压缩或拆分后重试。", mb=f"{limit:g}"))

    @on(429)
    def too_many(err):
        return _page(429, _("尝试过于频繁"), _("登录尝试过于频繁，请稍等几分钟后再试。"))

    @on(NotPermitted)
    def engine_refused(err):
        return _page(403, _("无权办理"), str(err))

    @on(ProcessFailed)
    def process_failed(err):
        return _page(500, _("办理环节出错"), failure_text(err, current_user))

    @on(NotFound)
    def engine_not_found(err):
        return _page(404, _("不存在"), str(err))

    @on(HTTPException)
    def other_http(err):
        return _page(err.code or 500, _("请求无法完成"), _("请求无法完成（%(code)s）。请返回上一页重试。", code=err.code))

    @on(Exception)
    def unexpected(err):
        log.exception("unexpected error")
        return _page(500, _("系统出错"), _("系统暂时无法完成您的请求，我们已记录此问题。请稍后重试；如一直出现，请联系系统管理员。"))

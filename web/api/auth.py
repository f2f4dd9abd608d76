"""Bearer-token authentication of API clients and their scopes."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from yijianshi.engine.access.api_clients import ApiClient
from yijianshi.web.api.problems import ApiProblem
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services


def current_client() -> ApiClient:
    return g.api_client


def requires(scope: str):
    """View decorator: a valid bearer token (else 401) of a client holding `scope` (else 403)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            client = _authenticate()
            if not client.has_scope(scope):
                raise ApiProblem("forbidden", _("接口客户端“%(name)s”没有“%(scope)s”权限。", name=client.name, scope=scope))
            g.api_client = client
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _authenticate() -> ApiClient:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if not header:
        raise ApiProblem("unauthorized", _("缺少身份令牌：请在请求头中加入 Authorization: Bearer <令牌>。"))
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem("unauthorized", _("身份令牌格式不正确：应为 Authorization: Bearer <令牌>。"))
    client = services().api_clients.authenticate(token.strip())
    if client is None:
        raise ApiProblem("unauthorized", _("身份令牌无效或已被吊销。"),
                         headers={"WWW-Authenticate": 'Bearer realm="yijianshi-api", error="invalid_token"'})
    return client


def require_process(client: ApiClient, process_key: str) -> None:
    if not client.may_use(process_key):
        raise ApiProblem("forbidden", _("接口客户端“%(name)s”无权使用流程“%(process)s”。", name=client.name,
                                        process=process_key))

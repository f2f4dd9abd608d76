"""Who calls /engine-rest: an integration API client (engine/access/api_clients.py), by its token
sent as a bearer token (`Authorization: Bearer yjs_…`, camunda-external-task-client-python3's
`auth_bearer`) or as HTTP Basic with the client's name as user and the token as password (its
`auth_basic`, a requests session's auth). Each endpoint needs a scope of the client's."""
from __future__ import annotations

import base64
import binascii
from functools import wraps

from flask import g, request

from yijianshi.engine.access.api_clients import ApiClient
from yijianshi.web.engine_rest.errors import RestError
from yijianshi.web.services import services

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="yijianshi-engine-rest"'}


def current_client() -> ApiClient:
    return g.engine_rest_client


def requires(scope: str):
    """View decorator: a valid client (else 401) holding `scope` (else 403)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            client = _authenticate()
            if not client.has_scope(scope):
                raise RestError(403, "AuthorizationException", f"接口客户端“{client.name}”没有“{scope}”权限。")
            g.engine_rest_client = client
            return view(*args, **kwargs)
        return wrapped
    return decorate


def require_process(process_key: str) -> None:
    client = current_client()
    if not client.may_use(process_key):
        raise RestError(403, "AuthorizationException", f"接口客户端“{client.name}”无权使用流程“{process_key}”。")


def _authenticate() -> ApiClient:
    header = request.headers.get("Authorization", "")
    scheme, _sep, credentials = header.partition(" ")
    if not header:
        raise RestError(401, "AuthenticationException",
                        "缺少身份凭据：请用 HTTP Basic（用户名为接口客户端名称，密码为令牌）或 Authorization: Bearer <令牌>。",
                        _CHALLENGE)
    client = None
    if scheme.lower() == "bearer":
        client = services().api_clients.authenticate(credentials.strip())
    elif scheme.lower() == "basic":
        try:
            user, _colon, token = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise RestError(401, "AuthenticationException", "HTTP Basic 凭据格式不正确。", _CHALLENGE) from None
        client = services().api_clients.authenticate(token)
        if client is not None and client.name != user:
            client = None
    if client is None:
        raise RestError(401, "AuthenticationException", "身份凭据无效或已被吊销。", _CHALLENGE)
    return client

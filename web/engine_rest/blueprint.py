"""The /engine-rest blueprint and what its endpoints share: Camunda-shaped errors, JSON bodies checked
field by field, Camunda's date format and definition ids."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, json, request

from yijianshi.engine.errors import EngineError
from yijianshi.web.api.bodies import max_body_bytes
from yijianshi.web.engine_rest.errors import RestError, bad_request, error_response, from_engine

bp = Blueprint("engine_rest", __name__, url_prefix="/engine-rest")


@bp.errorhandler(RestError)
def _rest_error(err: RestError) -> Response:
    return error_response(err)


@bp.errorhandler(EngineError)
def _engine_error(err: EngineError) -> Response:
    return error_response(from_engine(err))


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = max_body_bytes()


def ok(body: Any, status: int = 200) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def no_content() -> Response:
    return Response(status=204)


def body() -> dict:
    """The JSON object sent, or a 400 saying what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise bad_request(f"请求体不是有效的 JSON：{err}") from None
    if not isinstance(value, dict):
        raise bad_request("请求体必须是 JSON 对象。")
    return value


def field(data: dict, name: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"缺少必填字段 {name}。")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = {str: "字符串", int: "整数", bool: "布尔值", list: "数组", dict: "对象"}
        wanted = "或".join(names.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise bad_request(f"字段 {name} 应为{wanted}，收到的是 {value!r}。")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise bad_request(f"字段 {name} 不能为负数。")
    return value


def camunda_time(when: datetime | None) -> str | None:
    """Camunda's date format (yyyy-MM-dd'T'HH:mm:ss.SSSZ), in UTC."""
    if when is None:
        return None
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def definition_id(key: str, definition_id_: int) -> str:
    return f"{key}:{definition_id_}"



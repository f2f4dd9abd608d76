"""Reading a JSON request body: media type, size, UTF-8, syntax, then the document's schema. Each
failure is a problem saying what is wrong, with a JSON pointer per field where there is one."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from flask import current_app, request
from jsonschema import Draft202012Validator

from yijianshi.web.api.openapi import validation_schema
from yijianshi.web.api.problems import ApiProblem
from yijianshi.web.i18n import gettext as _

DEFAULT_MAX_BODY_BYTES = 512 * 1024
MAX_REPORTED_ERRORS = 20

_TYPE_WORDS = {"string": "字符串", "integer": "整数", "number": "数值", "boolean": "布尔值",
               "object": "对象", "array": "数组", "null": "null"}


def max_body_bytes() -> int:
    return current_app.config.get("API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


def json_body(schema_name: str) -> dict:
    """The request's JSON object, valid against the OpenAPI schema `schema_name`, or an ApiProblem."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiProblem("unsupported-media-type", _("请求体必须是 JSON，并以 Content-Type: application/json 发送（收到的是“%(type)s”）。",
                                                     type=request.mimetype or _("未指定")))
    raw = request.get_data(cache=True)  # over the size limit: 413 (raised by werkzeug)
    if not raw.strip():
        raise ApiProblem("malformed-request", _("请求体为空，应为一个 JSON 对象。"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiProblem("malformed-request", _("请求体不是有效的 UTF-8 文本（第 %(pos)s 个字节处）。", pos=err.start)) from err
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ApiProblem("malformed-request", _("请求体不是有效的 JSON：第 %(line)s 行第 %(col)s 列：%(msg)s。",
                                                line=err.lineno, col=err.colno, msg=err.msg)) from err
    except (ValueError, RecursionError) as err:
        raise ApiProblem("malformed-request", _("请求体不是有效的 JSON：%(msg)s。", msg=str(err)[:200])) from err
    if not _encodable(value):
        raise ApiProblem("malformed-request", _("请求体含有无效的 Unicode 字符（孤立的代理项）。"))
    errors = schema_errors(schema_name, value)
    if errors:
        raise ApiProblem("validation-failed", _("请求内容不符合要求，请按 errors 中列出的字段逐项修改。"), errors)
    return value


def _refuse_constant(name: str):
    raise ValueError(_("不支持 %(name)s（JSON 不允许非数值常量）", name=name))


def _encodable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k, depth + 1) and _encodable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v, depth + 1) for v in value)
    return True


@lru_cache(maxsize=None)
def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(validation_schema(schema_name))


def pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def schema_errors(schema_name: str, value: Any) -> list[dict]:
    """[{"pointer", "detail"}] for every way `value` breaks the schema (at most MAX_REPORTED_ERRORS)."""
    out: list[dict] = []
    for err in sorted(_validator(schema_name).iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        out.extend(_describe(err))
        if len(out) >= MAX_REPORTED_ERRORS:
            break
    return out[:MAX_REPORTED_ERRORS]


def _describe(err) -> list[dict]:
    where = pointer(err.absolute_path)
    kind, limit, instance = err.validator, err.validator_value, err.instance
    if kind == "required":
        return [{"pointer": f"{where}/{name}", "detail": _("此项为必填项。")}
                for name in limit if isinstance(instance, dict) and name not in instance]
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(err.schema.get("properties", {}))
        return [{"pointer": pointer([*err.absolute_path, name]), "detail": _("不允许的字段。")}
                for name in sorted(instance) if name not in known]
    if kind == "type":
        types = limit if isinstance(limit, list) else [limit]
        return [{"pointer": where, "detail": _("类型应为%(types)s。", types="、".join(_(_TYPE_WORDS.get(t, t)) for t in types))}]
    if kind == "propertyNames" or "propertyNames" in err.absolute_schema_path:
        return [{"pointer": pointer([*err.absolute_path, instance]),
                 "detail": _("字段名“%(name)s”无效（须为字母开头的字母、数字、下划线）。", name=str(instance)[:80])}]
    messages = {
        "minLength": lambda: _("长度不能少于 %(n)s 个字符。", n=limit),
        "maxLength": lambda: _("长度不能超过 %(n)s 个字符。", n=limit),
        "pattern": lambda: _("格式不正确（不能含控制字符，并须符合：%(pattern)s）。", pattern=limit),
        "minProperties": lambda: _("至少需要 %(n)s 项。", n=limit),
        "maxProperties": lambda: _("最多允许 %(n)s 项。", n=limit),
        "minimum": lambda: _("不能小于 %(n)s。", n=limit),
        "maximum": lambda: _("不能大于 %(n)s。", n=limit),
        "anyOf": lambda: _("值无效：应为非空文本或整数。"),
    }
    make = messages.get(kind)
    return [{"pointer": where, "detail": make() if make else _("值无效。")}]

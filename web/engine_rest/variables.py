"""Camunda's typed variables, both ways: {"name": {"value": ..., "type": "String|Boolean|Integer|
Long|Short|Double|Json|Object|Date|Null", "valueInfo": {...}}} to the case's plain JSON data and back.
A value sent without a type (the Python clients often do) is taken as it is."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from yijianshi.web.engine_rest.errors import bad_request

_INT32 = 2 ** 31


def to_camunda(data: dict[str, Any]) -> dict[str, dict]:
    return {name: typed(value) for name, value in data.items()}


def typed(value: Any) -> dict:
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        return {"type": "Integer" if -_INT32 <= value < _INT32 else "Long", "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, ensure_ascii=False), "valueInfo": {}}


def from_camunda(variables: Any, where: str = "variables") -> dict[str, Any]:
    """Plain values from a Camunda variables object; a clear 400 for anything malformed."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise bad_request(f"{where} 必须是 JSON 对象：{{\"变量名\": {{\"value\": …, \"type\": …}}}}。")
    return {name: _plain(name, entry, where) for name, entry in variables.items()}


def _plain(name: str, entry: Any, where: str) -> Any:
    if not isinstance(entry, dict) or "value" not in entry:
        raise bad_request(f"{where}.{name} 必须是含 value 的对象，例如 {{\"value\": 1, \"type\": \"Integer\"}}。")
    value, kind = entry["value"], (entry.get("type") or "").lower()
    try:
        if value is None or kind in ("", "null"):
            return value
        if kind == "string":
            return str(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(value)
        if kind in ("integer", "long", "short"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "double":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind in ("json", "object"):
            return json.loads(value) if isinstance(value, str) else value
        if kind == "date":
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return str(value)
    except (TypeError, ValueError) as err:
        raise bad_request(f"{where}.{name} 的值 {value!r} 不是类型 {entry.get('type')} 的有效值。") from err
    raise bad_request(f"{where}.{name} 的类型“{entry.get('type')}”不受支持（支持 String、Boolean、Integer、Long、"
                      f"Short、Double、Json、Object、Date、Null）。")

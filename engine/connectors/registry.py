"""The data-sharing registers (户籍, 社保参保, 电子证照 …) behind one HTTP contract, and the demo
register the shipped demo answers from.

Contract (JSON over HTTP, UTF-8):

    POST <base>/registers/<register>/lookup        Authorization: Bearer <token> when configured
    {"id_no": "11010520150101001X"}   or   {"credit_code": "91120221MA05XXXX0X"}
    200 {"found": true, "record": {...fields of the register...}}
    200 {"found": false}
    any other status, a body that is not this JSON, or no answer within the timeout: a failure
    (the worker retries it with backoff; when the retries run out the case has an incident).

Registers: household (户籍), residence_permit (居住证), property (不动产登记), social_insurance
(社保参保缴费), licence (营业执照等电子证照, by credit_code), marriage (婚姻登记)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

REGISTERS = ("household", "residence_permit", "property", "social_insurance", "licence", "marriage")
DEMO = "demo"  # YIJIANSHI_REGISTRY_URL=demo: the built-in demo register, no HTTP


class RegistryError(Exception):
    """The register did not answer as the contract says (retried by the worker)."""


@dataclass(frozen=True)
class Answer:
    found: bool
    record: dict[str, Any] = field(default_factory=dict)


class Registry(Protocol):
    def lookup(self, register: str, query: dict[str, str]) -> Answer: ...


class HttpRegistry:
    """The registers behind the HTTP contract above, at `base_url`."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.token = token

    def lookup(self, register: str, query: dict[str, str]) -> Answer:
        body = json.dumps(query, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.base_url}/registers/{register}/lookup", data=body,
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read(1_000_000)
        except urllib.error.HTTPError as e:
            raise RegistryError(f"共享接口 {register} 返回 HTTP {e.code}") from e
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RegistryError(f"共享接口 {register} 无应答（{self.timeout_s:g} 秒超时或连接失败：{reason}）") from e
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise RegistryError(f"共享接口 {register} 的应答不是 JSON") from e
        if not isinstance(data, dict) or not isinstance(data.get("found"), bool):
            raise RegistryError(f"共享接口 {register} 的应答缺少 found（true/false）")
        record = data.get("record") or {}
        if not isinstance(record, dict):
            raise RegistryError(f"共享接口 {register} 的应答中 record 不是对象")
        return Answer(data["found"], record if data["found"] else {})


class DemoRegistry:
    """The demo's register (YIJIANSHI_REGISTRY_URL=demo, which ./run.sh sets): every well-formed
    number is on record with made-up fields, except numbers ending in 0000 (and credit codes ending
    in 00), which are not found, so the demo shows both outcomes. Never for production."""

    def lookup(self, register: str, query: dict[str, str]) -> Answer:
        key = query.get("id_no") or query.get("credit_code") or ""
        if register not in REGISTERS:
            raise RegistryError(f"演示共享接口没有登记簿 {register}")
        if not key or key.endswith("0000") or (register == "licence" and key.endswith("00")):
            return Answer(False)
        records: dict[str, dict[str, Any]] = {
            "household": {"hukou_address": "示范区东城街道人民路 1 号", "household_head": "户主（演示）"},
            "residence_permit": {"permit_no": f"JZ{key[-6:]}", "valid_until": "2027-12-31"},
            "property": {"certificate_no": f"不动产权第{key[-7:]}号", "address": "示范区东城街道人民路 1 号"},
            "social_insurance": {"insured": True, "months_paid": 24},
            "licence": {"name": "演示企业有限公司", "status": "存续", "licence_no": key},
            "marriage": {"status": "已婚", "registered_on": "2020-05-20", "office": "示范区民政局婚姻登记处"},
        }
        return Answer(True, {"register": register, **records[register]})

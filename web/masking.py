"""数据脱敏: ID and phone numbers are shown masked to people whose role does not need them.

A value is treated as personal when its form field is named like an ID or phone field, and free
text is scanned for anything shaped like a PRC ID number or a phone number."""
from __future__ import annotations

import re
from typing import Any

from yijianshi.engine.modeling.personal_fields import personal_kind

_ID_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[0-9Xx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE_TEXT = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")


def mask_id(value: str) -> str:
    """110101199001011237 -> 110101********1237: the region stays, the birthday goes."""
    text = value.strip()
    if len(text) > 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    if len(text) > 4:
        return text[:1] + "*" * (len(text) - 2) + text[-1:]
    return "*" * len(text)


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    text = value.strip()
    if len(text) <= 4:
        return "*" * len(text)
    keep = 3 if len(text) > 7 else 1
    return text[:keep] + "*" * (len(text) - keep - 4) + text[-4:]


def mask_text(text: str) -> str:
    """Mask every ID-shaped and phone-shaped number inside free text."""
    text = _ID_TEXT.sub(lambda m: mask_id(m.group(0)), text)
    text = _MOBILE_TEXT.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _LANDLINE_TEXT.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


class Masker:
    """Masks values for one viewer; `enabled=False` shows everything (the applicant, the front desk)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def value(self, field_id: str, value: Any) -> Any:
        if not self.enabled or not isinstance(value, str) or not value:
            return value
        kind = personal_kind(field_id)
        if kind == "id":
            return mask_id(value)
        if kind == "phone":
            return mask_phone(value)
        return mask_text(value)

    def text(self, value: str) -> str:
        return mask_text(value) if self.enabled and value else value

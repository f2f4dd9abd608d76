"""Which form fields hold personal data (ID and phone numbers), told by their names. Masking
(数据脱敏) hides them from those who need not see them; case titles never show them."""
from __future__ import annotations

import re

_ID_FIELD = re.compile(r"(^|_)(id_?no|id_?number|id_?card|idcard|sfz|sfzh|identity|passport)(_|$)")
_PHONE_FIELD = re.compile(r"(^|_)(phone|mobile|tel|telephone|contact_number)(_|$)")


def personal_kind(field_id: str) -> str | None:
    """"id", "phone", or None for a field that is not named like personal data."""
    name = field_id.lower()
    if _ID_FIELD.search(name):
        return "id"
    if _PHONE_FIELD.search(name):
        return "phone"
    return None

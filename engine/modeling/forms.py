"""Form model of the Camunda 7 formData dialect and server-side validation of submissions."""
from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yijianshi.engine.errors import FormErrors

FIELD_TYPES = ("string", "long", "boolean", "date", "enum")
# camunda:validation constraints (no config) checking the numbers Chinese forms ask for.
FORMATS = ("idcard", "mobile", "uscc")
# Applies even without a maxlength constraint so one submission cannot bloat the stored case data.
MAX_STRING_CHARS = 10_000
# Camunda's "long" is a Java long; values outside it would not round-trip to other systems.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
ALL_KEY = "__all__"

_TRUE = {"true", "on", "1"}
_FALSE = {"false", "off", "0"}
_INT_RE = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII only: int() would also accept "١٢" and "1_000"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class FormField:
    """One camunda:formField, reduced to what the server validates."""

    id: str
    label: str
    type: str
    default: str | None = None
    required: bool = False
    readonly: bool = False
    minlength: int | None = None
    maxlength: int | None = None
    # Numbers for "long"; ISO date strings for "date".
    min: float | str | None = None
    max: float | str | None = None
    options: tuple[tuple[str, str], ...] = ()
    # One of FORMATS: a resident ID, a mobile number or a unified social credit code.
    format: str | None = None
    # required_if: required when every (other field, value) holds in the same submission; a value may
    # list alternatives separated by "|", any of which holds.
    required_if: tuple[tuple[str, str], ...] = ()
    # at_least_one: when this field has the value, at least one of these boolean fields is ticked.
    at_least_one: tuple[str, tuple[str, ...]] | None = None
    # confirm: the question the page asks before sending the form with this field's value (value, question).
    confirm: tuple[str, str] | None = None
    # Booleans only: the box must be ticked (constraint "checked"); `required` only asks for a value.
    checked: bool = False
    # shown_if: the field is on the form only when every (case variable, value) holds in the data the
    # task sees when it is opened (a bare variable: set and not empty/false); a hidden field is never
    # required and may not be submitted (e.g. the 好差评 rating of an item that did not run).
    shown_if: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict."""
        return {"id": self.id, "label": self.label, "type": self.type, "default": self.default,
                "required": self.required, "readonly": self.readonly, "minlength": self.minlength,
                "maxlength": self.maxlength, "min": self.min, "max": self.max,
                "options": [[value, label] for value, label in self.options], "format": self.format,
                "required_if": [list(c) for c in self.required_if],
                "at_least_one": [self.at_least_one[0], list(self.at_least_one[1])] if self.at_least_one else None,
                "confirm": list(self.confirm) if self.confirm else None, "checked": self.checked,
                "shown_if": [list(c) for c in self.shown_if]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormField:
        """Rebuild a field from to_dict() output."""
        return cls(id=data["id"], label=data.get("label") or data["id"], type=data["type"],
                   default=data.get("default"), required=bool(data.get("required", False)),
                   readonly=bool(data.get("readonly", False)), minlength=data.get("minlength"),
                   maxlength=data.get("maxlength"), min=data.get("min"), max=data.get("max"),
                   options=tuple((str(v), str(lbl)) for v, lbl in data.get("options", ())),
                   format=data.get("format"),
                   required_if=tuple((str(f), str(v)) for f, v in data.get("required_if") or ()),
                   at_least_one=((str(data["at_least_one"][0]), tuple(data["at_least_one"][1]))
                                 if data.get("at_least_one") else None),
                   confirm=tuple(data["confirm"]) if data.get("confirm") else None,
                   checked=bool(data.get("checked", False)),
                   shown_if=tuple((str(v), str(w)) for v, w in data.get("shown_if") or ()))


@dataclass(frozen=True)
class Form:
    """The ordered fields of one user task's form."""

    fields: tuple[FormField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict."""
        return {"fields": [f.to_dict() for f in self.fields]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Form:
        """Rebuild a form from to_dict() output."""
        return cls(tuple(FormField.from_dict(f) for f in data.get("fields", ())))

    def field(self, field_id: str) -> FormField | None:
        """Return the field with this id, or None."""
        return next((f for f in self.fields if f.id == field_id), None)

    @property
    def conditional(self) -> bool:
        """Whether some field is shown only under a condition on the case variables (shown_if)."""
        return any(f.shown_if for f in self.fields)

    def shown(self, variables: Mapping[str, Any]) -> Form:
        """The form as the task shows it with these case variables: the fields whose shown_if holds."""
        if not self.conditional:
            return self
        return Form(tuple(f for f in self.fields if is_shown(f, variables)))


def is_shown(field: FormField, variables: Mapping[str, Any]) -> bool:
    """Whether every shown_if condition of the field holds in the case variables: `name=value` (or
    value|value) compares as _holds does; a bare `name` (value "") holds when it is set and not
    empty, false or null."""
    for name, value in field.shown_if:
        if value == "":
            got = variables.get(name)
            if got is None or got is False or (isinstance(got, str) and not got.strip()):
                return False
        elif not _holds(variables, name, value):
            return False
    return True


def _number(value: float | str) -> str:
    """Format a bound the way a person would write it (100, not 100.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _to_long(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("请输入整数")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("请输入整数")
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError("数值超出允许范围")
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("请选择“是”或“否”")


def parse_iso_date(value: Any) -> _dt.date:
    """Parse a strict YYYY-MM-DD string (or a date) into a real calendar date."""
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("请输入有效日期（YYYY-MM-DD）")


def coerce_value(field: FormField, value: Any) -> Any:
    """Convert a non-blank raw value to the field's type and check constraints; ValueError(中文) if not."""
    if field.type == "long":
        number = _to_long(value)
        if isinstance(field.min, (int, float)) and number < field.min:
            raise ValueError(f"不能小于 {_number(field.min)}")
        if isinstance(field.max, (int, float)) and number > field.max:
            raise ValueError(f"不能大于 {_number(field.max)}")
        return number
    if field.type == "boolean":
        return _to_bool(value)
    if field.type == "date":
        day = parse_iso_date(value)
        # ISO dates compare correctly as strings, so bounds need no parsing here.
        if isinstance(field.min, str) and day.isoformat() < field.min:
            raise ValueError(f"不能早于 {field.min}")
        if isinstance(field.max, str) and day.isoformat() > field.max:
            raise ValueError(f"不能晚于 {field.max}")
        return day.isoformat()
    if field.type == "enum":
        if not isinstance(value, str) or value.strip() not in {opt for opt, _ in field.options}:
            raise ValueError("请选择列表中的一项")
        return value.strip()
    if field.type == "string":
        if not isinstance(value, str):
            raise ValueError("请输入文本")
        text = value.strip()
        if len(text) > MAX_STRING_CHARS:
            raise ValueError(f"长度不能超过 {MAX_STRING_CHARS} 个字符")
        if field.minlength is not None and len(text) < field.minlength:
            raise ValueError(f"长度不能少于 {field.minlength} 个字符")
        if field.maxlength is not None and len(text) > field.maxlength:
            raise ValueError(f"长度不能超过 {field.maxlength} 个字符")
        if field.format is not None:
            text = check_format(field.format, text)
        return text
    raise ValueError(f"不支持的字段类型 {field.type}")


# -- the numbers Chinese forms ask for ---------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def idcard_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) of a resident ID's first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character of a unified social credit code's first 17 characters."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def check_format(kind: str, text: str) -> str:
    """The value in its normal form (upper case X / letters), or ValueError(中文) naming the problem."""
    if kind == "idcard":
        value = text.upper()
        if not _ID_RE.fullmatch(value):
            raise ValueError("身份证号码应为 18 位，前 17 位为数字，最后一位为数字或 X")
        try:
            _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            raise ValueError("身份证号码中的出生日期无效") from None
        if idcard_check_char(value[:17]) != value[17]:
            raise ValueError("身份证号码校验位不正确，请核对")
        return value
    if kind == "mobile":
        if not _MOBILE_RE.fullmatch(text):
            raise ValueError("请输入 11 位手机号码（以 13–19 开头）")
        return text
    if kind == "uscc":
        value = text.upper()
        if len(value) != 18 or any(c not in USCC_CHARS for c in value):
            raise ValueError("统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）")
        if uscc_check_char(value[:17]) != value[17]:
            raise ValueError("统一社会信用代码校验位不正确，请核对")
        return value
    raise ValueError(f"不支持的格式 {kind}")


def _holds(cleaned: Mapping[str, Any], field_id: str, value: str) -> bool:
    """Whether a field's cleaned value is `value` as written in a constraint (true/false for booleans);
    alternatives separated by "|" hold when any of them does (rating=unsatisfied|very_unsatisfied)."""
    got = cleaned.get(field_id)
    wanted = [v.strip() for v in value.split("|")]
    if isinstance(got, bool):
        return str(got).lower() in [w.lower() for w in wanted]
    return got is not None and str(got) in wanted


def _cross_field(form: Form, cleaned: dict[str, Any], errors: dict[str, str]) -> None:
    """The rules between fields: required_if and at_least_one."""
    for field in form.fields:
        if field.readonly or field.id in errors:
            continue
        if field.required_if and all(_holds(cleaned, other, value) for other, value in field.required_if):
            value = cleaned.get(field.id)
            if field.type == "boolean" and value is not True:
                errors[field.id] = "请勾选此项"
            elif field.type != "boolean" and _is_blank(value):
                errors[field.id] = "此项为必填项"
        if field.at_least_one and _holds(cleaned, field.id, field.at_least_one[0]):
            if not any(cleaned.get(other) is True for other in field.at_least_one[1]):
                labels = [_label_of(form, o) for o in field.at_least_one[1]]
                errors[field.id] = f"请至少勾选一项：{'、'.join(labels)}"


def validate_submission(form: Form, submitted: Mapping[str, Any]) -> dict[str, Any]:
    """Return the cleaned, typed values of a submission, or raise FormErrors listing every problem."""
    errors: dict[str, str] = {}
    known = {f.id for f in form.fields}
    # A hostile client must not be able to write arbitrary variables into the case data.
    unknown = sorted(str(key) for key in submitted if key not in known)
    if unknown:
        errors[ALL_KEY] = f"提交了表单中不存在的字段：{'、'.join(unknown)[:200]}"
    cleaned: dict[str, Any] = {}
    for field in form.fields:
        if field.readonly:
            # Read-only values come from the process, never from the person submitting.
            continue
        raw = submitted.get(field.id)
        if field.type == "boolean":
            # As in Camunda, "required" means "has a value" and false is a value (a reject path must be
            # reachable); "must be ticked" is the explicit constraint "checked". A field that is not
            # required and not sent is false: an unticked HTML checkbox is simply absent.
            if _is_blank(raw) and field.required:
                errors[field.id] = "此项为必填项，请选择“是”或“否”"
                continue
            try:
                value = False if _is_blank(raw) else _to_bool(raw)
            except ValueError as exc:
                errors[field.id] = str(exc)
                continue
            if field.checked and not value:
                errors[field.id] = "请勾选此项"
            else:
                cleaned[field.id] = value
            continue
        if _is_blank(raw):
            if field.required:
                errors[field.id] = "此项为必填项"
            elif field.default is not None:
                try:
                    cleaned[field.id] = coerce_value(field, field.default)
                except ValueError:
                    pass  # the deploy-time lint reports bad defaults; a person cannot fix them here
            elif field.id in submitted:
                # A field sent blank clears what an earlier round put there (e.g. a resubmitted
                # 一次告知 list); a field not sent at all leaves the case data alone.
                cleaned[field.id] = "" if field.type == "string" else None
            continue
        try:
            cleaned[field.id] = coerce_value(field, raw)
        except ValueError as exc:
            errors[field.id] = str(exc)
    _cross_field(form, cleaned, errors)
    if errors:
        raise FormErrors(errors)
    return cleaned


def _label_of(form: Form, field_id: str) -> str:
    found = form.field(field_id)
    return found.label if found is not None else field_id

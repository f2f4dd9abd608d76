"""WTForms forms generated from the camunda:formData fields of a user task.

The form renders the fields (with their constraints as HTML attributes), keeps what the person
typed, and shows per-field errors. Validation itself is the engine's (engine.forms), which the
server applies to every submission: its Chinese messages are put on the fields, so the browser and
the engine never disagree. Field names are the BPMN field ids; CSRF is checked for every POST by
CSRFProtect."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.form import BaseForm

from yijianshi.engine.modeling.forms import ALL_KEY, Form, FormField
from yijianshi.web.i18n import gettext as _

TEXTAREA_FROM = 300  # a string field allowed this many characters or more gets a text area
RADIO_UP_TO = 4  # enums with at most this many options are radio buttons, else a drop-down


def _render_kw(field: FormField) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    # A checkbox always has a value (ticked or not): the browser must insist on a tick only for "checked".
    if field.checked if field.type == "boolean" else field.required:
        kw["required"] = True
        kw["aria-required"] = "true"
    if field.confirm is not None:
        # app.js asks the question before the form is sent with this value (e.g. 审查不通过)
        kw["data-confirm-when"], kw["data-confirm-question"] = field.confirm
    if field.type == "string":
        if field.maxlength is not None:
            kw["maxlength"] = field.maxlength
        if field.minlength is not None:
            kw["minlength"] = field.minlength
    elif field.type == "long":
        kw["inputmode"] = "numeric"
        kw["autocomplete"] = "off"
        if field.min is not None:
            kw["data-min"] = _num(field.min)
        if field.max is not None:
            kw["data-max"] = _num(field.max)
    elif field.type == "date":
        kw["type"] = "date"
        if field.min is not None:
            kw["min"] = field.min
        if field.max is not None:
            kw["max"] = field.max
    return kw


def _num(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _unbound(field: FormField):
    kw = _render_kw(field)
    if field.type == "boolean":
        return BooleanField(field.label, false_values=("false", "off", "0", ""), render_kw=kw or None)
    if field.type == "enum":
        choices = [SelectChoice(value, label) for value, label in field.options]
        if len(choices) <= RADIO_UP_TO:
            return RadioField(field.label, choices=choices, validate_choice=False, render_kw=kw or None)
        if not field.required or field.default is None:
            choices = [SelectChoice("", "—")] + choices
        return SelectField(field.label, choices=choices, validate_choice=False, render_kw=kw or None)
    if field.type == "string" and (field.maxlength is None or field.maxlength >= TEXTAREA_FROM):
        kw["rows"] = 4
        return TextAreaField(field.label, render_kw=kw)
    return StringField(field.label, render_kw=kw or None)


@lru_cache(maxsize=512)
def _unbound_fields(form: Form, withheld: frozenset[str]) -> tuple:
    return tuple((f.id, _unbound(f)) for f in form.fields if not f.readonly and f.id not in withheld)


def field_hint(field: FormField) -> str:
    """The constraints of a field in words, shown under the input."""
    parts = []
    if field.type == "string":
        if field.minlength is not None and field.minlength == field.maxlength:
            parts.append(_("%(n)s 个字符", n=field.minlength))
        elif field.minlength is not None and field.maxlength is not None:
            parts.append(_("%(a)s–%(b)s 个字符", a=field.minlength, b=field.maxlength))
        elif field.maxlength is not None:
            parts.append(_("最多 %(n)s 个字符", n=field.maxlength))
        elif field.minlength is not None:
            parts.append(_("至少 %(n)s 个字符", n=field.minlength))
    elif field.type == "long":
        parts.append(_("整数"))
        if field.min is not None:
            parts.append(_("不小于 %(n)s", n=_num(field.min)))
        if field.max is not None:
            parts.append(_("不大于 %(n)s", n=_num(field.max)))
    elif field.type == "date":
        if field.min is not None:
            parts.append(_("不早于 %(d)s", d=field.min))
        if field.max is not None:
            parts.append(_("不晚于 %(d)s", d=field.max))
    return " · ".join(parts)


class TaskForm:
    """A bound WTForms form for one BPMN form, plus the read-only fields shown beside it."""

    def __init__(self, bpmn_form: Form, formdata=None, values: Mapping[str, Any] | None = None, *,
                 withheld: frozenset[str] = frozenset()):
        """`withheld`: fields this person may not see unmasked; they are shown read-only and not
        sent, so the case keeps its value."""
        self.bpmn_form = bpmn_form
        self.withheld = withheld
        self.wtform = BaseForm(_unbound_fields(bpmn_form, withheld))
        self.wtform.process(formdata, data=_initial(bpmn_form, values or {}))
        self.form_errors: list[str] = []
        self.readonly = [f for f in bpmn_form.fields if f.readonly or f.id in withheld]

    def __iter__(self):
        return iter(self.wtform)

    def __getitem__(self, name):
        return self.wtform[name]

    def spec(self, field_id: str) -> FormField | None:
        return self.bpmn_form.field(field_id)

    def submission(self) -> dict[str, Any]:
        """What the engine validates: one value per editable field, as typed."""
        data: dict[str, Any] = {}
        for f in self.bpmn_form.fields:
            if f.readonly or f.id in self.withheld:
                continue
            field = self.wtform[f.id]
            if f.type == "boolean":
                data[f.id] = "true" if field.data else "false"
            else:
                data[f.id] = field.data if field.data is not None else ""
        return data

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Put the engine's messages on their fields (the typed values stay)."""
        for key, message in errors.items():
            message = _(message)  # the engine's fixed messages have English in the catalogue
            if key in self.wtform._fields:
                self.wtform[key].errors = [message]
            elif key == ALL_KEY or key not in self.wtform._fields:
                self.form_errors.append(message)

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(f.errors for f in self.wtform)


def _initial(form: Form, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values to show before anything is typed: the case's current data, else the field default."""
    initial: dict[str, Any] = {}
    for f in form.fields:
        value = values.get(f.id)
        if value is None:
            value = f.default
        if value is None:
            continue
        if f.type == "boolean":
            initial[f.id] = value is True or str(value).strip().lower() in ("true", "on", "1")
        else:
            initial[f.id] = str(value)
    return initial

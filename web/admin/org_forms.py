"""The forms of the organisation page (系统管理 → 组织架构): a unit, a membership, a deputy period, an
absence. Kinds and membership roles come from engine/access/org_rules.py; the rules themselves are
checked by the engine's OrganisationService."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from yijianshi.engine.access.org_rules import KINDS, MEMBER_ROLES
from yijianshi.web.i18n import gettext as _

_DATE = {"invalid_value_message": _l("请按 YYYY-MM-DD 填写日期。")}


def _unit_choices(lines, *, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [("", blank)] if blank is not None else []
    return choices + [(line.unit.code, "　" * line.depth + f"{line.unit.name}（{line.unit.code}）") for line in lines]


class UnitForm(FlaskForm):
    code = StringField(_l("单位代码"), validators=[InputRequired(_l("请输入单位代码。")), Length(max=64)])
    name = StringField(_l("单位名称"), validators=[InputRequired(_l("请输入单位名称。")), Length(max=100)])
    kind = SelectField(_l("单位类型"))
    parent = SelectField(_l("上级单位"), validate_choice=False)
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)])

    def fill_choices(self, lines) -> None:
        self.kind.choices = [(k, _(v)) for k, v in KINDS.items()]
        self.parent.choices = _unit_choices(lines, blank=_("（无，顶层单位）"))


class MembershipForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)])
    unit = SelectField(_l("单位"), validate_choice=False)
    role = SelectField(_l("成员角色"))

    def fill_choices(self, lines) -> None:
        self.unit.choices = _unit_choices(lines)
        self.role.choices = [(k, _(v)) for k, v in MEMBER_ROLES.items()]


class DeputyForm(FlaskForm):
    deputy = StringField(_l("代理人用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)])
    principal = StringField(_l("被代理人用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)])
    starts_on = DateField(_l("开始日期"), validators=[InputRequired(_l("请填写日期。"))], **_DATE)
    ends_on = DateField(_l("结束日期（含）"), validators=[InputRequired(_l("请填写日期。"))], **_DATE)


class AbsenceForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)])
    starts_on = DateField(_l("开始日期"), validators=[InputRequired(_l("请填写日期。"))], **_DATE)
    ends_on = DateField(_l("结束日期（含）"), validators=[InputRequired(_l("请填写日期。"))], **_DATE)
    reason = StringField(_l("事由"), validators=[Optional(), Length(max=200)])


class RemoveForm(FlaskForm):
    """A delete button's form (its CSRF token)."""

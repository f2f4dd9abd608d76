"""The forms of the administrators' pages. Role and department names come from the engine (the
registry of processes/registry.json for departments), translated where shown."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from yijianshi.engine.access.accounts import ROLES, assignable_departments
from yijianshi.web.i18n import gettext as _


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RoleForm(FlaskForm):
    role = SelectField(_l("角色"), validators=[InputRequired(_l("请选择角色。"))])
    departments = CheckboxList(_l("所属部门（部门审批人员必选）"), validate_choice=False)

    def fill_choices(self) -> None:
        self.role.choices = [(code, _(r.label)) for code, r in ROLES.items()]
        self.departments.choices = [(code, _(name)) for code, name in assignable_departments().items()]


class NewAccountForm(RoleForm):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)],
                           render_kw={"autocomplete": "off"})
    display_name = StringField(_l("姓名或单位名称"), validators=[InputRequired(_l("请填写姓名或单位名称。")),
                                                           Length(max=100)])
    password = PasswordField(_l("初始密码"), validators=[InputRequired(_l("请输入初始密码。"))],
                             render_kw={"autocomplete": "new-password"})


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("撤销原因"), validators=[DataRequired(_l("请填写撤销原因。")), Length(max=200)])
